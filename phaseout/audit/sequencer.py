"""The sequencer: links committed audit entries into the hash chain, one at a time, in the order they
committed (ADR 27).

A writer seals its entry on its own (its MAC over its content, in its transaction) and queues its number
(`Unchained`); it shares no lock with other writers. The sequencer — one at a time, under an advisory
lock on PostgreSQL (SQLite runs one writing transaction at a time anyway) — takes the queued entries
that have committed, in number order, and appends one link per entry:

    link.mac = HMAC-SM3(key, prev link's mac || {"pos", "seq", "entry_mac", "key_version"})

so the chain fixes which entries exist, with which content (their MAC), in which order, exactly as the
chain of entries did before; `phaseout audit verify` walks it. Its head (`ChainHead`) is what the anchors
write outside the database.

It runs: right after every transaction that wrote an entry commits (`nudge`, which never waits: if
another run holds the lock, that run looks again before it stops); as the periodic job (Celery beat,
every AUDIT_CHAIN_SECONDS; and inside the anchor job); and on demand before `verify`, `anchor` and
`archive`. Running it again, or twice at once, links nothing twice: the queue row goes in the
transaction that adds the link.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from phaseout import bulk
from phaseout.audit import chain
from phaseout.audit.models import AuditEvent, ChainHead, ChainLink, Unchained

logger = logging.getLogger("phaseout.audit")

BATCH = 5000
LOCK = "SELECT %s(hashtext('phaseout.audit_chain'))"
# How often `nudge` goes round again when entries committed while it ran (bounded: the periodic job
# takes what is left).
NUDGE_ROUNDS = 20


def link_content(pos: int, seq: int, entry_mac: str, key_version: int) -> bytes:
    return json.dumps(
        {"entry_mac": entry_mac, "key_version": key_version, "pos": pos, "seq": seq},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def link_mac(pos: int, seq: int, entry_mac: str, key_version: int, prev: str) -> str:
    return chain.mac(key_version, prev, link_content(pos, seq, entry_mac, key_version))


def _lock(*, wait: bool) -> bool:
    """The sequencer's lock, until the transaction ends (PostgreSQL: an advisory lock; SQLite: the
    IMMEDIATE transaction already holds the database's write lock)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(LOCK % ("pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"))
        row = cursor.fetchone()
    return bool(row[0]) if not wait else True


def lock() -> None:
    """Hold the sequencer's lock until the caller's transaction ends (the archive holds it while it
    moves links and entries out of the table)."""
    if not connection.in_atomic_block:
        raise RuntimeError("the sequencer's lock is taken inside a transaction")
    _lock(wait=True)


def _head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        last = ChainLink.objects.order_by("-pos").first()
        ChainHead.objects.bulk_create(
            [ChainHead(pk=1, seq=last.pos if last else 0, mac=last.mac if last else chain.GENESIS)],
            ignore_conflicts=True,
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def link_waiting(limit: int | None = None) -> int:
    """Link every committed, queued entry (at most `limit`); the caller holds the lock."""
    head = _head()
    pos, prev = head.seq, head.mac
    version = chain.current_version()
    linked = 0
    # Queue rows whose entry is gone (deleted before it was linked) are left for verify to report.
    waiting = Unchained.objects.filter(Exists(AuditEvent.objects.filter(seq=OuterRef("seq"))))
    while limit is None or linked < limit:
        size = BATCH if limit is None else min(BATCH, limit - linked)
        numbers = list(waiting.order_by("seq").values_list("seq", flat=True)[:size])
        if not numbers:
            break
        entries = AuditEvent.objects.filter(seq__in=numbers).order_by("seq").values_list("seq", "mac")
        rows = []
        for seq, entry_mac in entries:
            pos += 1
            mac = link_mac(pos, seq, entry_mac, version, prev)
            rows.append((pos, seq, entry_mac, version, prev, mac))
            prev = mac
        bulk.insert(ChainLink, ("pos", "seq", "entry_mac", "key_version", "prev", "mac"), rows)
        Unchained.objects.filter(seq__in=numbers).delete()
        linked += len(rows)
    if linked:
        ChainHead.objects.filter(pk=1).update(seq=pos, mac=prev)
    return linked


def run(*, wait: bool = True, limit: int | None = None) -> int | None:
    """Link the committed entries waiting in the queue; how many were linked, or None when `wait` is
    False and another run holds the lock. In its own transaction (a savepoint inside the caller's)."""
    with transaction.atomic():
        if not _lock(wait=wait):
            return None
        return link_waiting(limit)


def nudge() -> None:
    """After a transaction that wrote entries commits: link them now, without waiting for the lock. If
    another run holds it, that run looks at the queue again once it has let go (below), and so links
    this transaction's entries, which committed before it looked. Never raises: the writer's transaction
    has committed; what is not linked now the periodic job links."""
    try:
        for _round in range(NUDGE_ROUNDS):
            if run(wait=False) is None:
                return
            if not Unchained.objects.filter(Exists(AuditEvent.objects.filter(seq=OuterRef("seq")))).exists():
                return
    except Exception:
        logger.exception("the audit sequencer failed after a commit; the periodic job will link the entries")


def oldest_waiting() -> dt.datetime | None:
    """When the oldest entry still waiting to be linked was written (for `doctor` and `verify`)."""
    return (
        AuditEvent.objects.filter(Exists(Unchained.objects.filter(seq=OuterRef("seq"))))
        .order_by("seq")
        .values_list("at", flat=True)
        .first()
    )


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """The periodic job (Celery beat, phaseout.audit.tasks.chain_entries): link what is waiting."""
    return {"chained": run(wait=True) or 0}
