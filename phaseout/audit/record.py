from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from phaseout import bulk
from phaseout.audit import chain
from phaseout.audit.models import AuditEvent, EntryCounter, Outcome, Unchained

_request_ip = threading.local()
logger = logging.getLogger("phaseout.audit")

# The PostgreSQL sequence entry numbers come from (migration 0009).
SEQUENCE = "audit_entry_seq"

# One entry for record_many: action, object type (a model's label_lower), object id, reason, data.
Entry = tuple[str, str, str, str, dict[str, Any] | None]

UNIT_MAX = AuditEvent._meta.get_field("unit").max_length or 200


class AuditWriteError(RuntimeError):
    """The audit entry could not be written; the action it records fails with it.

    Deliberately not a database error: a caller that catches IntegrityError for its own reasons (another run
    created the row first) cannot mistake a failed audit write for that and carry on unaudited."""


def set_request_ip(ip: str | None) -> None:
    _request_ip.value = ip


def request_ip() -> str | None:
    return getattr(_request_ip, "value", None)


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None  # not an address (a forged header): stored as unknown rather than failing the action


def unit_of(user: User | None) -> str:
    """The person's unit at the time: their department, else their territory, else their enterprise."""
    if user is None:
        return ""
    try:
        person = user.person
    except (ObjectDoesNotExist, AttributeError):
        return ""
    for place in (person.department, person.territory, person.enterprise):
        if place is not None:
            return str(place.name)[:UNIT_MAX]
    return ""


def allocate(count: int = 1) -> list[int]:
    """`count` new entry numbers, ascending. PostgreSQL: from the sequence, which waits for no other
    writer (a number taken by a transaction that rolls back is never used: the numbers have gaps, which
    the chain's positions do not). SQLite: one counter row, in the writer's transaction (SQLite runs one
    writing transaction at a time anyway)."""
    if count <= 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCE, count])
            return sorted(row[0] for row in cursor.fetchall())
    counter = EntryCounter.objects.filter(pk=1).first()
    if counter is None:  # a new database, or one emptied by the test suite's flush
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        counter = EntryCounter.objects.create(pk=1, last=last)
    first = counter.last + 1
    EntryCounter.objects.filter(pk=1).update(last=counter.last + count)
    return list(range(first, first + count))


def _chain_after_commit() -> None:
    """Ask the sequencer, once per transaction, to link this transaction's entries as soon as it commits
    (it does not wait for another run of the sequencer: see sequencer.nudge)."""
    from phaseout.audit import sequencer

    if any(pending[1] is sequencer.nudge for pending in connection.run_on_commit):
        return
    transaction.on_commit(sequencer.nudge, robust=True)


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    outcome: Outcome = Outcome.SUCCESS,
) -> AuditEvent:
    """Write one audit entry, sealed with its MAC. Events without an object (a failed login for an
    unknown name) pass obj=None.

    Called inside the action's transaction: if the entry cannot be written, AuditWriteError is raised and
    the action fails with it (its transaction rolls back). No lock is shared with other writers: the entry
    takes a number from a sequence and is queued for the sequencer, which links it into the chain once
    it has committed (ADR 27).
    """
    user = actor if isinstance(actor, User) else None
    # The data as the database gives it back (JSON), so that the MAC computed now is the one verified later.
    content = json.loads(json.dumps(data or {}))
    try:
        with transaction.atomic():
            (seq,) = allocate()
            event = AuditEvent(
                seq=seq,
                at=timezone.now(),
                actor=user,
                actor_name=user.get_username() if user else "",
                unit=unit_of(user),
                action=action,
                object_type=obj._meta.label_lower if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
                ip=_valid_ip(request_ip()),
                reason=reason,
                data=content,
                outcome=outcome,
                key_version=chain.current_version(),
                prev_mac=chain.GENESIS,  # sealed on its own; the sequencer links it
            )
            event.mac = chain.mac(event.key_version, event.prev_mac, chain.canonical(chain.fields(event)))
            event.save(force_insert=True)
            Unchained.objects.bulk_create([Unchained(seq=seq)])
            _chain_after_commit()
    except DatabaseError as exc:
        raise AuditWriteError(f"audit entry {action!r} not written: {exc}") from exc
    return event


AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "unit",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "reason",
    "data",
    "key_version",
    "prev_mac",
    "mac",
)


def record_many(
    entries: Iterable[Entry],
    *,
    actor: User | AnonymousUser | None = None,
    outcome: Outcome = Outcome.SUCCESS,
) -> int:
    """Write many audit entries by one actor at once (the sweep's marks and messages), each sealed as
    `record` seals it, numbered in the order given and inserted in batches (COPY on PostgreSQL,
    phaseout.bulk); the sequencer links them in that order once they have committed.
    `entries` are (action, object type, object id, reason, data). Returns how many were written.

    Called inside the caller's transaction, as `record` is."""
    user = actor if isinstance(actor, User) else None
    version = chain.current_version()
    common = {
        "actor_id": user.pk if user else None,
        "actor_name": user.get_username() if user else "",
        "unit": unit_of(user),
        "ip": _valid_ip(request_ip()),
        "outcome": str(outcome),
        "key_version": version,
    }
    written = 0
    prev = chain.GENESIS
    try:
        with transaction.atomic():
            at = timezone.now()
            batch: list[tuple[Any, ...]] = []
            pending: list[dict[str, Any]] = []

            def flush() -> None:
                nonlocal written, batch, pending
                numbers = allocate(len(pending))
                for values, seq in zip(pending, numbers, strict=True):
                    values["seq"] = seq
                    content = chain.canonical(chain.fields(SimpleNamespace(**values)))
                    values["mac"] = chain.mac(version, prev, content)
                    batch.append(tuple(values[c] for c in AUDIT_COLUMNS))
                bulk.insert(AuditEvent, AUDIT_COLUMNS, batch)
                bulk.insert(Unchained, ("seq",), [(seq,) for seq in numbers])
                written += len(batch)
                batch, pending = [], []

            for action, object_type, object_id, reason, data in entries:
                pending.append(
                    {
                        **common,
                        "at": at,
                        "action": action,
                        "object_type": object_type,
                        "object_id": object_id,
                        "reason": reason,
                        # The data as the database gives it back (JSON), as in `record`.
                        "data": json.loads(json.dumps(data)) if data else {},
                        "prev_mac": prev,
                    }
                )
                if len(pending) >= bulk.BATCH:
                    flush()
            if pending:
                flush()
            if written:
                _chain_after_commit()
    except DatabaseError as exc:
        raise AuditWriteError(f"audit entries not written: {exc}") from exc
    return written
