"""`phaseout audit verify`: link what waits to be linked (the sequencer), then walk the chain from its
first link (in the archive files) through the table to the chain head, recomputing every MAC, check
every entry's own MAC and that each entry is linked or waiting in the queue, and report the first
broken link (ADR 10, ADR 27)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from phaseout.audit import anchor, archive, chain, maintenance, sequencer
from phaseout.audit.models import AuditEvent, ChainHead, ChainLink, Unchained

MAX_PROBLEMS = 50

# Other records sealed with a MAC that `verify` checks too, registered by their apps in ready() (this
# module imports no other app): each returns its problems, as sentences.
INTEGRITY_CHECKS: dict[str, Callable[[], list[str]]] = {}


def register_integrity_check(name: str, check: Callable[[], list[str]]) -> None:
    INTEGRITY_CHECKS[name] = check


@dataclass
class Report:
    checked: int = 0
    archived: int = 0
    last_seq: int = 0  # the last position of the chain
    waiting: int = 0  # entries committed while verify ran, not linked yet (each checked by its own MAC)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return _(
                "The audit trail is intact: %(count)d entries checked "
                "(%(archived)d of them in archive files), the last is number %(last)d."
            ) % {"count": self.checked, "archived": self.archived, "last": self.last_seq}
        lines = [_("The audit trail is broken. First broken link: %(first)s") % {"first": self.problems[0]}]
        lines += self.problems[1:]
        return "\n".join(lines)


class _Walker:
    def __init__(self, report: Report, anchors: dict[int, anchor.Anchor] | None = None) -> None:
        self.report = report
        self.expected_pos = 1
        self.prev_mac = chain.GENESIS
        self.anchors = anchors or {}

    def problem(self, message: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(message)

    def entry(self, entry: dict[str, Any]) -> bool:
        """The entry's own MAC (its seal; for an entry of before ADR 27, its link in the old chain)."""
        where = {"seq": entry["seq"], "id": entry.get("id")}
        self.report.checked += 1
        try:
            expected = chain.mac(entry["key_version"], entry["prev_mac"], chain.canonical(entry))
        except ImproperlyConfigured:
            self.problem(
                _("Entry %(seq)d (id %(id)s): no key of version %(version)d to check it.")
                % {"version": entry["key_version"], **where}
            )
            return False
        if expected != entry["mac"]:
            self.problem(
                _("Entry %(seq)d (id %(id)s): its content does not match its MAC: the entry was altered.")
                % where
            )
            return False
        return True

    def link(self, link: dict[str, Any], entry: dict[str, Any] | None) -> None:
        """One link of the chain, with the entry it names (None: not found)."""
        pos, seq = link["pos"], link["seq"]
        where = {"pos": pos, "seq": seq, "id": entry.get("id") if entry else None}
        if pos > self.expected_pos:
            self.problem(
                _("Entries %(first)d to %(last)d are missing (before entry %(seq)d, id %(id)s).")
                % {"first": self.expected_pos, "last": pos - 1, "seq": pos, "id": where["id"]}
            )
        elif pos < self.expected_pos:
            self.problem(
                _("Entry %(seq)d (id %(id)s) is out of order: number %(expected)d was expected.")
                % {"expected": self.expected_pos, "seq": pos, "id": where["id"]}
            )
        elif link["prev"] != self.prev_mac:
            self.problem(
                _(
                    "Entry %(seq)d (id %(id)s) does not link to the entry before it: "
                    "an entry before it was removed, replaced or reordered."
                )
                % {"seq": pos, "id": where["id"]}
            )
        if link.get("legacy"):
            pass  # an entry of before ADR 27: its own MAC is its link, checked as the entry
        else:
            try:
                expected = sequencer.link_mac(pos, seq, link["entry_mac"], link["key_version"], link["prev"])
            except ImproperlyConfigured:
                expected = None
                self.problem(
                    _("Link %(pos)d of the chain: no key of version %(version)d to check it.")
                    % {"version": link["key_version"], "pos": pos}
                )
            if expected is not None and expected != link["mac"]:
                self.problem(
                    _("Link %(pos)d of the chain does not match its MAC: the chain was altered.") % where
                )
            if entry is None:
                self.problem(
                    _("Entry %(seq)d, linked into the chain at position %(pos)d, is missing: it was deleted.")
                    % where
                )
            elif entry["mac"] != link["entry_mac"]:
                self.problem(
                    _(
                        "Entry %(seq)d (id %(id)s) is not the entry linked into the chain at position "
                        "%(pos)d: it was replaced."
                    )
                    % where
                )
        anchored = self.anchors.get(pos)
        if anchored is not None and anchored.mac != link["mac"]:
            self.problem(
                _(
                    "Entry %(seq)d (id %(id)s) is not the entry anchored outside the database on %(at)s: "
                    "entries from there on were replaced."
                )
                % {"at": anchored.at, "seq": pos, "id": where["id"]}
            )
        self.report.last_seq = pos
        self.expected_pos = max(self.expected_pos, pos + 1)
        self.prev_mac = link["mac"]

    def archived(self, line: dict[str, Any]) -> None:
        self.entry(line)
        found = line.get("link")
        if found is None:  # written before ADR 27: the entry chained through prev_mac
            self.link(
                {
                    "pos": line["seq"],
                    "seq": line["seq"],
                    "prev": line["prev_mac"],
                    "mac": line["mac"],
                    "legacy": True,
                },
                line,
            )
        else:
            self.link({**found, "seq": line["seq"], "entry_mac": line["mac"]}, line)


def _segments(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob(f"*{archive.SUFFIX}"):
        try:
            found.append((int(archive.read_header(path)["first_seq"]), path))
        except (OSError, ValueError, KeyError, EOFError):
            found.append((0, path))  # reported when read
    return sorted(found)


def _archived(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if header.get("format") != archive.FORMAT:
            raise ValueError("not an audit archive")
        for text in fh:
            yield json.loads(text)


COLUMNS = ("id", *(name for name in chain.FIELDS), "prev_mac", "mac")


def _table(walker: _Walker) -> None:
    """Every entry of the table: its own MAC, and linked or waiting to be (a committed entry that is
    neither had its queue row removed); then the links in chain order, each with the entry it names; then
    queue rows whose entry is gone. Streamed (no model instances: a million of them is slow)."""
    entries = (
        AuditEvent.objects.order_by("seq")
        .annotate(
            linked=Exists(ChainLink.objects.filter(seq=OuterRef("seq"))),
            waiting=Exists(Unchained.objects.filter(seq=OuterRef("seq"))),
        )
        .values_list(*COLUMNS, "linked", "waiting")
        .iterator(chunk_size=5000)
    )
    for row in entries:
        entry = dict(zip(COLUMNS, row[: len(COLUMNS)], strict=True))
        linked, waiting = row[len(COLUMNS) :]
        entry["at"] = chain.timestamp(entry["at"])
        entry["ip"] = chain.address(entry["ip"])
        walker.entry(entry)
        if not linked and not waiting:
            walker.problem(
                _("Entry %(seq)d (id %(id)s) is neither linked into the chain nor waiting to be.")
                % {"seq": entry["seq"], "id": entry["id"]}
            )
        elif not linked:
            walker.report.waiting += 1
    named = AuditEvent.objects.filter(seq=OuterRef("seq"))
    links = (
        ChainLink.objects.order_by("pos")
        .annotate(entry_id=Subquery(named.values("id")[:1]), found_mac=Subquery(named.values("mac")[:1]))
        .values_list("pos", "seq", "entry_mac", "key_version", "prev", "mac", "entry_id", "found_mac")
        .iterator(chunk_size=5000)
    )
    for pos, seq, entry_mac, version, prev, mac, ident, found_mac in links:
        link = {
            "pos": pos,
            "seq": seq,
            "entry_mac": entry_mac,
            "key_version": version,
            "prev": prev,
            "mac": mac,
        }
        walker.link(link, None if ident is None else {"id": ident, "mac": found_mac})
    gone = Unchained.objects.filter(~Exists(named)).order_by("seq").values_list("seq", flat=True)
    for seq in gone.iterator(chunk_size=5000):
        walker.problem(
            _("Entry %(seq)d was written but is missing before it was linked into the chain: it was deleted.")
            % {"seq": seq}
        )


def _anchors(report: Report) -> dict[int, anchor.Anchor]:
    """The anchors written outside the database, by entry number; a line forged or unreadable is a problem."""
    found: dict[int, anchor.Anchor] = {}
    for item in anchor.read():
        try:
            genuine = isinstance(item, anchor.Anchor) and item.genuine()
        except ImproperlyConfigured:
            genuine = False
        if isinstance(item, anchor.Anchor) and genuine:
            found[item.seq] = item
        elif len(report.problems) < MAX_PROBLEMS:
            shown = item if isinstance(item, str) else f"{item.seq} {item.at}"
            report.problems.append(
                _("An anchor line of the audit chain is not genuine: %(line)s") % {"line": shown}
            )
    return found


def verify(folder: Path | None = None) -> Report:
    sequencer.run(wait=True)  # what has committed is linked first
    report = Report()
    anchors = _anchors(report)
    walker = _Walker(report, anchors)
    for _first, path in _segments(folder or archive.directory()):
        try:
            for entry in _archived(path):
                walker.archived(entry)
                report.archived += 1
        except (OSError, ValueError, KeyError, EOFError) as exc:
            walker.problem(
                _("The archive file %(file)s cannot be read: %(error)s") % {"file": path.name, "error": exc}
            )
    _table(walker)
    beyond = [a for seq, a in sorted(anchors.items()) if seq > report.last_seq]
    if beyond:
        walker.problem(
            _(
                "Entry %(seq)d was anchored outside the database on %(at)s, but the last entry found is "
                "number %(last)d: entries at the end were removed."
            )
            % {"seq": beyond[-1].seq, "at": beyond[-1].at, "last": report.last_seq}
        )
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.seq != report.last_seq:
        walker.problem(
            _(
                "The chain head says the last entry is number %(head)d, but the last entry found is number "
                "%(last)d: entries at the end were removed."
            )
            % {"head": head.seq, "last": report.last_seq}
        )
    elif head is not None and head.mac != walker.prev_mac:
        walker.problem(_("The chain head's MAC differs from the last entry's."))
    if not maintenance.installed(connection):
        walker.problem(_("The append-only triggers are missing from the audit table."))
    for check in INTEGRITY_CHECKS.values():
        for message in check():
            walker.problem(message)
    return report
