from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from phaseout.audit.models import AuditEvent, Outcome

_request_ip = threading.local()


def set_request_ip(ip: str | None) -> None:
    _request_ip.value = ip


def request_ip() -> str | None:
    return getattr(_request_ip, "value", None)


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    outcome: Outcome = Outcome.SUCCESS,
) -> AuditEvent:
    """Write one audit entry. Events without an object (a failed login for an unknown name) pass obj=None.

    Called inside the action's transaction: if the entry cannot be written, the action fails with it.
    """
    return AuditEvent.objects.create(
        actor=actor if isinstance(actor, User) else None,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip=request_ip(),
        reason=reason,
        data=data or {},
        outcome=outcome,
    )
