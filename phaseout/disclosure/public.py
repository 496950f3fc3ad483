"""What the public sees of a list: a published snapshot's approved entries, paged and searched in the
database, every answer bounded.

Paging: PAGE_SIZE entries a page, at most MAX_PAGES pages (the first MAX_PAGES × PAGE_SIZE entries of a list
or of a search); the whole list is in the open-data files, streamed. Search: a name substring (on
PostgreSQL through the trigram indexes of migration 0004) or an exact USCC. A list's count is the one kept
at publication; a search's is exact up to COUNT_CAP and "more than" beyond it, so no request counts
a million rows (counting 10,000 matches of a common term cost 70–95 ms at 1 M entries; 1,000, 7–10 ms).
A search shows at most COUNT_CAP matches (search_page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from phaseout.disclosure.models import Decision, Entry, Snapshot, search_text

PAGE_SIZE = 50
MAX_PAGES = 200
COUNT_CAP = 1000
MAX_QUERY = 50
USCC = re.compile(r"[0-9A-Z]{18}")
PAGE = re.compile(r"[1-9][0-9]{0,2}")
PUBLIC_FIELDS = ("enterprise", "uscc", "territory", "industry", "equipment", "capacity", "basis", "since")
OPEN_DATA_FIELDS = (*PUBLIC_FIELDS, "measured", "limit")


class BadQuery(ValueError):
    pass


def public_entries(snapshot: Snapshot) -> QuerySet[Entry]:
    """A published snapshot's approved entries, in the list's order (none for any other snapshot)."""
    if snapshot.status != Snapshot.Status.PUBLISHED:
        return Entry.objects.none()
    return Entry.objects.filter(snapshot=snapshot, decision=Decision.APPROVED).order_by("position")


def clean_query(raw: str) -> str:
    q = raw.strip()
    if len(q) > MAX_QUERY:
        raise BadQuery(_("The search is too long (at most %(max)d characters).") % {"max": MAX_QUERY})
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in q):
        raise BadQuery(_("The search contains characters that cannot be searched for."))
    return q


def clean_page(raw: str | None) -> int:
    """The page asked for: absent is 1; anything but a number from 1 to MAX_PAGES is refused."""
    if raw is None:
        return 1
    if not PAGE.fullmatch(raw) or int(raw) > MAX_PAGES:
        raise BadQuery(_("There is no such page (pages 1 to %(max)d).") % {"max": MAX_PAGES})
    return int(raw)


def matching(entries: QuerySet[Entry], q: str) -> QuerySet[Entry]:
    """Entries whose enterprise name contains q (normalised as search_text), or whose USCC is q. Two
    characters are looked up as a word of `bigrams` (a trigram index cannot serve a two-character
    substring); one character is refused (it would match most of a list)."""
    if not q:
        return entries
    text = search_text(q)
    if len(text) < 2:
        raise BadQuery(_("Please enter at least two characters of the name."))
    condition = Q(bigrams__contains=f" {text} ") if len(text) == 2 else Q(search__contains=text)
    if USCC.fullmatch(q.upper()):
        condition |= Q(uscc=q.upper())
    return entries.filter(condition)


@dataclass
class Page:
    rows: list[dict[str, Any]]
    number: int
    total: int  # the entries shown page by page (a search: at most COUNT_CAP)
    more: bool  # a search that matches more than COUNT_CAP: only COUNT_CAP of them are shown
    last: int
    capped: bool = False  # a list longer than the pages offer (the rest is in the open-data files)
    browsable: int = PAGE_SIZE * MAX_PAGES

    @property
    def has_next(self) -> bool:
        return self.number < self.last

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _last(total: int, number: int, bound: int) -> int:
    last = min(bound, max(1, -(-total // PAGE_SIZE)))
    if number > last:
        raise BadQuery(_("There is no such page (pages 1 to %(max)d).") % {"max": last})
    return last


def list_page(entries: QuerySet[Entry], number: int, *, total: int) -> Page:
    """A page of a whole list, whose count is known (Snapshot.public_entries): an offset on the position
    index, at most MAX_PAGES deep."""
    last = _last(total, number, MAX_PAGES)
    start = (number - 1) * PAGE_SIZE
    rows = list(entries.values(*OPEN_DATA_FIELDS)[start : start + PAGE_SIZE])
    return Page(
        rows=rows, number=number, total=total, more=False, last=last, capped=total > PAGE_SIZE * MAX_PAGES
    )


def search_page(entries: QuerySet[Entry], number: int) -> Page:
    """A page of a search: one statement reads at most COUNT_CAP + 1 matches (in the order the index gives
    them, so no sort over every match), and they are counted, ordered by position and paged here. A term
    matching more than COUNT_CAP is said to, and COUNT_CAP of its matches are shown: sorting every match of
    a common term by position cost 140 ms at 1 M entries under load, where this costs one bounded read.
    Entries are written in position order, so the matches read first are in practice the list's first."""
    found = list(entries.order_by().values("position", *OPEN_DATA_FIELDS)[: COUNT_CAP + 1])
    more = len(found) > COUNT_CAP
    found = sorted(found[:COUNT_CAP], key=lambda row: row["position"])
    last = _last(len(found), number, -(-COUNT_CAP // PAGE_SIZE))
    start = (number - 1) * PAGE_SIZE
    return Page(rows=found[start : start + PAGE_SIZE], number=number, total=len(found), more=more, last=last)
