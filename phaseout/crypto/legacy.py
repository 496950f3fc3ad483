"""Reading the tokens written before SM4: reporters' identities in Fernet (AES-128-CBC + HMAC-SHA256),
keyed by REPORTER_KEY or, when that was empty, derived from SECRET_KEY. Only the migration to SM4
(`phaseout keys rotate`, and the data migration that runs it) reads them; nothing writes them."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

FERNET_PREFIX = "gAAAAA"  # version byte 0x80 and a timestamp's high bytes, base64url


def is_fernet(value: str) -> bool:
    return value.startswith(FERNET_PREFIX)


def _fernet() -> Fernet:
    # Exactly as phaseout/complaints/identity.py derived it before the SM4 adapter.
    key = settings.REPORTER_KEY
    if not key:
        digest = hashlib.sha256(("phaseout-reporter:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def fernet_decrypt(token: str) -> str | None:
    """The plaintext of a legacy token, or None when the old key does not open it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
