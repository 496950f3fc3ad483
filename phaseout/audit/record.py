from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from phaseout import bulk
from phaseout.audit import chain
from phaseout.audit.models import AuditEvent, ChainHead, Outcome

_request_ip = threading.local()

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


def _lock_head() -> ChainHead:
    """The chain head, locked until the caller's transaction ends (PostgreSQL: SELECT ... FOR UPDATE; SQLite
    serialises writers with IMMEDIATE transactions). Created from the last entry when missing."""
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        last = AuditEvent.objects.order_by("-seq").first()
        ChainHead.objects.bulk_create(
            [ChainHead(pk=1, seq=last.seq if last else 0, mac=last.mac if last else chain.GENESIS)],
            ignore_conflicts=True,
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    outcome: Outcome = Outcome.SUCCESS,
) -> AuditEvent:
    """Write one audit entry, chained to the one before. Events without an object (a failed login for an
    unknown name) pass obj=None.

    Called inside the action's transaction: if the entry cannot be written, AuditWriteError is raised and
    the action fails with it (its transaction rolls back). The chain head stays locked until that
    transaction ends, so entries are appended one at a time in a single line.
    """
    user = actor if isinstance(actor, User) else None
    # The data as the database gives it back (JSON), so that the MAC computed now is the one verified later.
    content = json.loads(json.dumps(data or {}))
    try:
        with transaction.atomic():
            head = _lock_head()
            event = AuditEvent(
                seq=head.seq + 1,
                at=timezone.now(),  # taken under the lock: time never goes back along the chain
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
                prev_mac=head.mac,
            )
            event.mac = chain.mac(event.key_version, event.prev_mac, chain.canonical(chain.fields(event)))
            event.save(force_insert=True)
            ChainHead.objects.filter(pk=head.pk).update(seq=event.seq, mac=event.mac)
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
    """Write many audit entries by one actor at once (the sweep's marks and messages), chained one after
    the other exactly as `record` chains them: the chain head is locked once, each MAC is computed over
    the one before, and the entries are inserted in batches (COPY on PostgreSQL, phaseout.bulk).
    `entries` are (action, object type, object id, reason, data) in the order they are to be chained.
    Returns how many were written.

    Called inside the caller's transaction, as `record` is; the head stays locked until it ends."""
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
    try:
        with transaction.atomic():
            head = _lock_head()
            seq, prev = head.seq, head.mac
            at = timezone.now()  # taken under the lock, as in `record`: time never goes back
            batch: list[tuple[Any, ...]] = []
            for action, object_type, object_id, reason, data in entries:
                seq += 1
                values = {
                    **common,
                    "seq": seq,
                    "at": at,
                    "action": action,
                    "object_type": object_type,
                    "object_id": object_id,
                    "reason": reason,
                    # The data as the database gives it back (JSON), as in `record`.
                    "data": json.loads(json.dumps(data)) if data else {},
                    "prev_mac": prev,
                }
                content = chain.canonical(chain.fields(SimpleNamespace(**values)))
                values["mac"] = prev = chain.mac(version, prev, content)
                batch.append(tuple(values[c] for c in AUDIT_COLUMNS))
                if len(batch) >= bulk.BATCH:
                    bulk.insert(AuditEvent, AUDIT_COLUMNS, batch)
                    written += len(batch)
                    batch = []
            bulk.insert(AuditEvent, AUDIT_COLUMNS, batch)
            written += len(batch)
            if written:
                ChainHead.objects.filter(pk=head.pk).update(seq=seq, mac=prev)
    except DatabaseError as exc:
        raise AuditWriteError(f"audit entries not written: {exc}") from exc
    return written
