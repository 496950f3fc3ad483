"""`phaseout audit verify`: walk the chain from its first entry (in the archive files) through the table to
the chain head, recomputing every MAC, and report the first broken link."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils.translation import gettext as _

from phaseout.audit import anchor, archive, chain, maintenance
from phaseout.audit.models import AuditEvent, ChainHead

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
    last_seq: int = 0
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
        self.expected_seq = 1
        self.prev_mac = chain.GENESIS
        self.anchors = anchors or {}

    def problem(self, message: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(message)

    def check(self, entry: dict[str, Any]) -> None:
        seq, ident = entry["seq"], entry.get("id")
        where = {"seq": seq, "id": ident}
        if seq > self.expected_seq:
            self.problem(
                _("Entries %(first)d to %(last)d are missing (before entry %(seq)d, id %(id)s).")
                % {"first": self.expected_seq, "last": seq - 1, **where}
            )
        elif seq < self.expected_seq:
            self.problem(
                _("Entry %(seq)d (id %(id)s) is out of order: number %(expected)d was expected.")
                % {"expected": self.expected_seq, **where}
            )
        elif entry["prev_mac"] != self.prev_mac:
            self.problem(
                _(
                    "Entry %(seq)d (id %(id)s) does not link to the entry before it: "
                    "an entry before it was removed, replaced or reordered."
                )
                % where
            )
        try:
            expected = chain.mac(entry["key_version"], entry["prev_mac"], chain.canonical(entry))
        except ImproperlyConfigured:
            self.problem(
                _("Entry %(seq)d (id %(id)s): no key of version %(version)d to check it.")
                % {"version": entry["key_version"], **where}
            )
        else:
            if expected != entry["mac"]:
                self.problem(
                    _("Entry %(seq)d (id %(id)s): its content does not match its MAC: the entry was altered.")
                    % where
                )
        anchored = self.anchors.get(seq)
        if anchored is not None and anchored.mac != entry["mac"]:
            self.problem(
                _(
                    "Entry %(seq)d (id %(id)s) is not the entry anchored outside the database on %(at)s: "
                    "entries from there on were replaced."
                )
                % {"at": anchored.at, **where}
            )
        self.report.checked += 1
        self.report.last_seq = seq
        self.expected_seq = max(self.expected_seq, seq + 1)
        self.prev_mac = entry["mac"]


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


def _table() -> Iterator[dict[str, Any]]:
    """The table's entries in order, as plain values (no model instances: a million of them is slow)."""
    rows = AuditEvent.objects.order_by("seq").values_list(*COLUMNS).iterator(chunk_size=5000)
    for row in rows:
        entry = dict(zip(COLUMNS, row, strict=True))
        entry["at"] = chain.timestamp(entry["at"])
        entry["ip"] = chain.address(entry["ip"])
        yield entry


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
    report = Report()
    anchors = _anchors(report)
    walker = _Walker(report, anchors)
    for _first, path in _segments(folder or archive.directory()):
        try:
            for entry in _archived(path):
                walker.check(entry)
                report.archived += 1
        except (OSError, ValueError, KeyError, EOFError) as exc:
            walker.problem(
                _("The archive file %(file)s cannot be read: %(error)s") % {"file": path.name, "error": exc}
            )
    for entry in _table():
        walker.check(entry)
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
