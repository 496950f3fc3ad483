"""Retention: entries older than AUDIT_RETENTION_MONTHS (whole calendar months) move from the table to a
write-once compressed archive file, never silently dropped.

A segment file `audit-<first>-<last>.jsonl.gz` under AUDIT_ARCHIVE_DIR holds a header line (the
format, the range of chain positions, the anchor: the MAC the first link continues, and the last link's
MAC) and one JSON line per entry, in chain order, with every field, its prev_mac and its MAC and its link
(position, prev, MAC, key version), so `phaseout audit verify` continues the chain through the archives
into the table. It cuts at a chain position: every entry linked up to it is older than the cut-off
(an entry that committed late and was linked after a newer one waits for the next run). Lines of files
written before ADR 27 carry no link: their entries were chained through prev_mac. The whole run holds
the sequencer's lock (writers do not wait for it; entries written meanwhile are linked after it):
the file is written as `.partial`, the entries are deleted through the maintenance path
(phaseout.audit.maintenance), an audit.archive entry records the file, its SHA-256 and the range, and the
file gets its name, read-only, once the transaction has committed. A run that failed leaves its
`.partial` file, which the next run removes (entries still in the table) or names (they are not).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit import chain, sequencer
from phaseout.audit.maintenance import maintenance, owns_the_trail
from phaseout.audit.models import AuditEvent, ChainLink
from phaseout.audit.record import record

MIN_RETENTION_MONTHS = 6
FORMAT = "phaseout-audit-archive/1"
SUFFIX = ".jsonl.gz"
PARTIAL = ".partial"
SUMMARY = gettext_lazy("Audit entries archived: %(archived)d.")
logger = logging.getLogger("phaseout.audit")


class RetentionTooShort(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    path: Path
    first_seq: int
    last_seq: int
    count: int
    sha256: str


def cutoff(now: dt.datetime, months: int) -> dt.datetime:
    """The first moment kept: the start of the local calendar month `months` months before now's month, so
    every entry archived is at least `months` months old."""
    local = timezone.localtime(now)
    index = local.year * 12 + (local.month - 1) - months
    return timezone.make_aware(dt.datetime(index // 12, index % 12 + 1, 1))  # noqa: DTZ001 (made aware)


def retention(months: int | None = None) -> int:
    months = settings.AUDIT_RETENTION_MONTHS if months is None else months
    if months < MIN_RETENTION_MONTHS:
        raise RetentionTooShort(
            _(
                "Audit entries must be kept at least %(min)d months; "
                "a retention of %(months)d months is refused."
            )
            % {"min": MIN_RETENTION_MONTHS, "months": months}
        )
    return months


def directory() -> Path:
    return Path(settings.AUDIT_ARCHIVE_DIR)


def line(event: AuditEvent, link: ChainLink) -> dict[str, Any]:
    return {
        "id": event.pk,
        **chain.fields(event),
        "prev_mac": event.prev_mac,
        "mac": event.mac,
        "link": {"pos": link.pos, "prev": link.prev, "mac": link.mac, "key_version": link.key_version},
    }


def read_header(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header: dict[str, Any] = json.loads(fh.readline())
    if header.get("format") != FORMAT:
        raise ValueError(f"{path.name}: not an audit archive")
    return header


def _finish_interrupted(folder: Path) -> None:
    """A .partial file left by a run that stopped: named if its entries left the table (the run committed),
    removed if they are still there (it rolled back). Called under the sequencer's lock."""
    for partial in sorted(folder.glob(f"*{SUFFIX}{PARTIAL}")):
        try:
            header = read_header(partial)
        except (OSError, ValueError, EOFError):
            partial.unlink()
            continue
        if ChainLink.objects.filter(pos__range=(header["first_seq"], header["last_seq"])).exists():
            partial.unlink()
        else:
            _publish(partial)


def _publish(partial: Path) -> None:
    final = partial.with_name(partial.name.removesuffix(PARTIAL))
    if partial.exists():
        os.replace(partial, final)
    if final.exists():
        final.chmod(0o444)


def _write(path: Path, rows: list[tuple[ChainLink, AuditEvent]], limit: dt.datetime) -> str:
    header = {
        "format": FORMAT,
        "first_seq": rows[0][0].pos,  # chain positions
        "last_seq": rows[-1][0].pos,
        "count": len(rows),
        "anchor": rows[0][0].prev,  # the MAC the first link continues
        "last_mac": rows[-1][0].mac,
        "before": chain.timestamp(limit),
    }
    with open(path, "xb") as raw:  # never overwrites
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            for item in (header, *(line(event, link) for link, event in rows)):
                fh.write(json.dumps(item, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archive(*, now: dt.datetime, by: User | None = None, months: int | None = None) -> Segment | None:
    """Move the entries older than the retention to a new archive segment; None when there are none."""
    limit = cutoff(now, retention(months))
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True)
    partial: Path | None = None
    committed = False

    def publish(path: Path) -> None:
        nonlocal committed
        committed = True  # from here on the entries are gone from the table: the file must stay
        _publish(path)

    if not AuditEvent.objects.filter(at__lt=limit).exists() and not any(folder.glob(f"*{PARTIAL}")):
        return None  # nothing past the retention (most days): one look at the time index, no lock
    try:
        with transaction.atomic():
            sequencer.lock()
            sequencer.link_waiting()  # everything committed is linked before the cut is chosen
            _finish_interrupted(folder)
            # The cut: the link before the first one, in chain order, whose entry is not past the
            # retention (links are read from the oldest: the cost is the part archived, not the table).
            entry_at = AuditEvent.objects.filter(seq=OuterRef("seq")).values("at")[:1]
            newer = (
                ChainLink.objects.annotate(entry_at=Subquery(entry_at))
                .filter(entry_at__gte=limit)
                .order_by("pos")
                .values_list("pos", flat=True)
                .first()
            )
            last = newer - 1 if newer is not None else ChainLink.objects.aggregate(last=Max("pos"))["last"]
            links = list(ChainLink.objects.filter(pos__lte=last or 0).order_by("pos"))
            if not links:
                return None
            events = {
                e.seq: e
                for e in AuditEvent.objects.filter(
                    seq__in=ChainLink.objects.filter(pos__lte=last).values("seq")
                )
            }
            missing = [link.seq for link in links if link.seq not in events]
            if missing:
                raise RuntimeError(f"audit archive: entries {missing[:5]} are linked but missing: run verify")
            rows = [(link, events[link.seq]) for link in links]
            name = f"audit-{links[0].pos:012d}-{last:012d}{SUFFIX}"
            partial = folder / f"{name}{PARTIAL}"
            digest = _write(partial, rows, limit)
            with maintenance():
                deleted, _by_model = AuditEvent.objects.filter(
                    seq__in=ChainLink.objects.filter(pos__lte=last).values("seq")
                ).delete()
                unlinked, _by_model = ChainLink.objects.filter(pos__lte=last).delete()
            if deleted != len(rows) or unlinked != len(rows):
                raise RuntimeError(f"audit archive: {deleted} entries deleted, {len(rows)} written")
            segment = Segment(folder / name, links[0].pos, last, len(rows), digest)
            record(
                actor=by,
                action="audit.archive",
                reason=_("Entries older than %(months)d months moved to an archive file.")
                % {"months": retention(months)},
                data={
                    "file": name,
                    "first_seq": links[0].pos,
                    "last_seq": last,
                    "count": len(rows),
                    "anchor": links[0].prev,
                    "last_mac": links[-1].mac,
                    "sha256": digest,
                    "before": chain.timestamp(limit),
                },
            )
            written = partial
            transaction.on_commit(lambda: publish(written))
    except BaseException:
        if partial is not None and not committed and partial.exists():
            partial.unlink()
        raise
    return segment


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """The periodic job: archive whole months past the retention (nothing most days). Run as the
    application's own role, which may not delete entries, it leaves the archive to `phaseout audit
    archive` run as the tables' owner."""
    if not owns_the_trail():
        logger.info("audit archive skipped: run `phaseout audit archive` as the audit table's owner")
        return {"archived": 0}
    segment = archive(now=now)
    return {"archived": segment.count if segment else 0}
