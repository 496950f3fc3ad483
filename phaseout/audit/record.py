from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from phaseout.audit.models import AuditEvent

_request_ip = threading.local()


def set_request_ip(ip: str | None) -> None:
    _request_ip.value = ip


def record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if isinstance(actor, User) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        ip=getattr(_request_ip, "value", None),
        reason=reason,
        data=data or {},
    )
