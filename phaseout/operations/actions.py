"""The operations' writes: each backup and restore leaves an entry in the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from phaseout.audit.record import record


def record_backup(*, by: User | None, target: str, manifest: dict[str, Any], os_user: str) -> None:
    """A backup was written: where, its seal and what it holds (entered in the live trail, after it)."""
    with transaction.atomic():
        record(
            actor=by,
            action="platform.backup",
            data={
                "dir": target[:500],
                "seal": manifest["seal"],
                "files": len(manifest["files"]),
                "rows": sum(manifest["rows"].values()),
                "os_user": os_user[:100],
            },
        )


def record_restore(*, by: User | None, source: str, manifest: dict[str, Any], os_user: str) -> None:
    """A backup was restored into this installation (the first entry after the restored trail)."""
    with transaction.atomic():
        record(
            actor=by,
            action="platform.restore",
            data={
                "dir": source[:500],
                "seal": manifest["seal"],
                "created_at": str(manifest.get("created_at", ""))[:40],
                "files": len(manifest["files"]),
                "os_user": os_user[:100],
            },
        )
