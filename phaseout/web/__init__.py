"""Helpers every app's views share: who is asking, paging, form errors shown as messages, throttling.

A small app of its own (it also carries the shared template tags, phaseout/web/templatetags), just
above orgs: it reads a person from orgs and nothing from the apps that use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest

if TYPE_CHECKING:  # the package is imported while the apps load: no models at import time
    from django.contrib.auth.models import User

    from phaseout.orgs.models import Person

PAGE_SIZE = 50
# Pages beyond this are not offered (5 million rows in): a larger number is read as this one, so that a
# hand-made ?page= never reaches the database as an offset it cannot hold.
MAX_PAGE = 100_000


def page_number(raw: str) -> int:
    """The page asked for, clamped to 1..MAX_PAGE; anything that is not a number is page 1."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1  # "abc", "-1", "1.5", "" and the like
    return MAX_PAGE if len(raw) > 12 else min(MAX_PAGE, max(1, int(raw)))


def current_person(request: HttpRequest) -> Person:
    """The person the access middleware found for the request."""
    return request.person  # type: ignore[attr-defined]


def current_user(request: HttpRequest) -> User:
    from django.contrib.auth.models import User

    assert isinstance(request.user, User)  # the access middleware has let only people in
    return request.user


def paginate(request: HttpRequest, qs: QuerySet[Any] | Sequence[Any]) -> dict[str, Any]:
    """Offset paging without COUNT(*): fetch one row more than shown to know if there is a next page
    (a query set or a list already in memory)."""
    page = page_number(request.GET.get("page", "1"))
    rows = list(qs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "rows": rows[:PAGE_SIZE],
        "page": page,
        "has_next": len(rows) > PAGE_SIZE,
        "has_previous": page > 1,
        "query": query.urlencode(),
    }


def posted_id(request: HttpRequest, name: str) -> int | None:
    """A record id posted in a field, or None (then nothing is found: a 404) for anything that is not
    one — a hand-made value must not reach the database as a malformed key."""
    raw = request.POST.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def form_errors(request: HttpRequest, form: Any) -> None:
    """A form's errors as messages, each with its field's label (not the confirmation checkbox's: its
    label is the sentence saying what will follow, and its message says it all)."""
    for field, errs in form.errors.items():
        label = form.fields[field].label if field in form.fields and field != "confirm" else ""
        for err in errs:
            messages.error(request, f"{label}：{err}" if label else err)


def throttled(request: HttpRequest, scope: str) -> bool:
    """At most PUBLIC_POSTS_PER_HOUR posts per address per hour for this scope."""
    address = request.META.get("REMOTE_ADDR", "")
    key = f"throttle:{scope}:{hashlib.sha256(address.encode()).hexdigest()}"
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)
        count = 1
    return count > settings.PUBLIC_POSTS_PER_HOUR
