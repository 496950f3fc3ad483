"""Reporters' identities, encrypted at rest. Only `reveal` decrypts, and every call is recorded."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.REPORTER_KEY
    if not key:
        digest = hashlib.sha256(("phaseout-reporter:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def seal(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode() if text else ""


def open_sealed(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return "（无法解密）"
