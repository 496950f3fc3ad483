"""Reporters' identities, encrypted at rest with SM4 through phaseout.crypto (keys by version, never
derived from SECRET_KEY). Only `reveal` (complaints.actions) opens them, and every call is recorded;
tokens written in Fernet before the SM4 adapter are still opened until `phaseout keys rotate` (or the
migration that runs it) has moved them."""

from __future__ import annotations

from phaseout import crypto
from phaseout.crypto import legacy

NAME = "complaints.reporter_name"
PHONE = "complaints.reporter_phone"
UNREADABLE = "（无法解密）"


def seal(text: str, purpose: str) -> str:
    return crypto.encrypt(purpose, text)


def open_sealed(token: str, purpose: str) -> str:
    if not token:
        return ""
    if legacy.is_fernet(token):
        plain = legacy.fernet_decrypt(token)
        return UNREADABLE if plain is None else plain
    try:
        return crypto.decrypt(token, purpose)
    except crypto.DecryptionError:
        return UNREADABLE
