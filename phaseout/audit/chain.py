"""The audit chain's cryptography: each entry's MAC is HMAC-SM3 (GB/T 32905-2016, GB/T 15852.2) over the
previous entry's MAC and this entry's canonical content, so an entry edited, removed or put out of order
breaks every link after it.

Key access is in `key()` alone, so that it can be pointed at the platform's cryptography adapter (a
keyring, or a cipher machine) without touching the rest. Until then the key is the setting AUDIT_MAC_KEY
(hex); never derived from SECRET_KEY.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# The link before the first entry.
GENESIS = "0" * 64
MIN_KEY_BYTES = 32

# Every field of an entry that its MAC covers, in a fixed order (the serialisation sorts keys anyway).
FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "unit",
    "ip",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "reason",
    "data",
    "key_version",
)


def current_version() -> int:
    return int(settings.AUDIT_MAC_KEY_VERSION)


def key(version: int) -> bytes:
    """The MAC key of this version (the one place keys are read)."""
    if version == current_version():
        text = settings.AUDIT_MAC_KEY
    else:
        text = settings.AUDIT_MAC_OLD_KEYS.get(version, "")
    if not text:
        raise ImproperlyConfigured(
            f"no audit MAC key of version {version} (AUDIT_MAC_KEY, AUDIT_MAC_OLD_KEYS)"
        )
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"the audit MAC key of version {version} is not hex") from exc
    if len(raw) < MIN_KEY_BYTES:
        raise ImproperlyConfigured(f"the audit MAC key of version {version} is under {MIN_KEY_BYTES} bytes")
    return raw


def mac(key_version: int, prev_mac: str, content: bytes) -> str:
    """HMAC-SM3 under the key of `key_version` over the previous MAC (raw bytes) and the content; hex."""
    h = hmac.HMAC(key(key_version), hashes.SM3())
    h.update(bytes.fromhex(prev_mac))
    h.update(content)
    return h.finalize().hex()


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def address(ip: str | None) -> str | None:
    return str(ipaddress.ip_address(ip)) if ip else None


def fields(event: Any) -> dict[str, Any]:
    """An entry's covered fields as plain JSON values (a model instance; see `canonical`)."""
    return {
        "seq": event.seq,
        "at": timestamp(event.at),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "unit": event.unit,
        "ip": address(event.ip),
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": str(event.outcome),
        "reason": event.reason,
        "data": event.data,
        "key_version": event.key_version,
    }


def canonical(values: dict[str, Any]) -> bytes:
    """The fixed serialisation the MAC covers: every field of FIELDS, JSON with sorted keys, no spaces,
    UTF-8. Extra keys (id, prev_mac, mac in an archive line) are left out."""
    return json.dumps(
        {name: values[name] for name in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
