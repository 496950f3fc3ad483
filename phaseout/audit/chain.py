"""The audit chain's cryptography: each entry's MAC is HMAC-SM3 (GB/T 32905-2016, GB/T 15852.2) over the
previous entry's MAC and this entry's canonical content, so an entry edited, removed or put out of order
breaks every link after it.

The keys are the cryptography adapter's (phaseout.crypto: the keyring's "audit" section, versioned, or a
cipher machine), never derived from SECRET_KEY. Each entry names the version it was chained with. A
version the adapter does not hold is read from the settings that held the key before it moved into the
keyring (AUDIT_MAC_KEY at AUDIT_MAC_KEY_VERSION, AUDIT_MAC_OLD_KEYS), so chains made before still
verify; `phaseout keys import-audit-key` copies those into the keyring at their versions.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from phaseout import crypto

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
    """The version new entries are chained with: the adapter's, else the settings'."""
    return crypto.backend().audit_version() or int(settings.AUDIT_MAC_KEY_VERSION)


def settings_key(version: int) -> bytes:
    """The MAC key of this version from the settings (the source before the keyring)."""
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


def source(version: int) -> str:
    """Where the key of `version` comes from: "keyring" (the adapter) or "settings"; raises
    ImproperlyConfigured when neither has it."""
    if version in crypto.backend().audit_versions():
        return "keyring"
    settings_key(version)
    return "settings"


def mac(key_version: int, prev_mac: str, content: bytes) -> str:
    """HMAC-SM3 under the key of `key_version` over the previous MAC (raw bytes) and the content; hex."""
    data = bytes.fromhex(prev_mac) + content
    try:
        return crypto.audit_mac(key_version, data).hex()
    except crypto.MissingKey:
        pass
    h = hmac.HMAC(settings_key(key_version), hashes.SM3())
    h.update(data)
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
