"""The platform's cryptography, behind one adapter (GB/T 39786-2021 应用和数据安全).

    encrypt(purpose, plaintext) -> "sm4:v<version>:<purpose>:<nonce|ciphertext|tag, base64url>"
    decrypt(token[, purpose]) -> plaintext
    hmac_sm3(purpose, data) -> 32-byte MAC (the audit chain)
    blind_index(purpose, value) -> hex HMAC-SM3 (equality search over an encrypted field)
    audit_mac(version, data) -> 32-byte HMAC-SM3 under the audit chain's key of that version
    sign(signer, message) -> Signed(key_id "<signer>:v<version>", 64-byte SM2 signature r || s)
    verify_signature(key_id, message, signature) -> bool

SM4-GCM with the keyring's current version; the purpose is authenticated with the token, so a token
cannot be moved to another field unnoticed. Which backend holds the keys (software keyring by
default, or a cipher machine) is the setting PHASEOUT_CRYPTO_BACKEND; nothing outside this package
touches a key or a cipher.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from phaseout.crypto.backends import CryptoBackend, DecryptionError, MissingKey, SoftwareBackend
from phaseout.crypto.sm2 import verify as sm2_verify

__all__ = [
    "CryptoBackend",
    "DecryptionError",
    "MissingKey",
    "Signed",
    "SigningError",
    "audit_mac",
    "backend",
    "blind_index",
    "decrypt",
    "encrypt",
    "encrypt_many",
    "hmac_sm3",
    "is_token",
    "public_key",
    "seal_bytes",
    "sealed_version",
    "sign",
    "token_version",
    "unseal_bytes",
    "verify_signature",
]

PREFIX = "sm4:"
_PURPOSE = re.compile(r"[a-z0-9_.-]{1,40}")
_TOKEN = re.compile(r"sm4:v([0-9]{1,6}):([a-z0-9_.-]{1,40}):([A-Za-z0-9_-]+)")


@cache
def backend() -> CryptoBackend:
    """The configured backend, built once per process (the keyring is read at start)."""
    path = settings.PHASEOUT_CRYPTO_BACKEND
    if path == "software":
        from phaseout.crypto import keyring

        def load() -> keyring.Keyring:
            return keyring.load(
                keys_json=settings.PHASEOUT_KEYS,
                keys_file_setting=settings.PHASEOUT_KEYS_FILE,
                development=settings.PHASEOUT_DEV_KEYRING,
                var_dir=settings.VAR_DIR,
            )

        return SoftwareBackend(load(), reload=None if settings.PHASEOUT_KEYS else load)
    built = import_string(path)()
    if not isinstance(built, CryptoBackend):
        raise TypeError(f"{path} is not a CryptoBackend")
    return built


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs: object) -> None:
    if setting in {"PHASEOUT_CRYPTO_BACKEND", "PHASEOUT_KEYS", "PHASEOUT_KEYS_FILE", "PHASEOUT_DEV_KEYRING"}:
        backend.cache_clear()


def _b64(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_purpose(purpose: str) -> bytes:
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"bad purpose {purpose!r}")
    return purpose.encode("ascii")


def encrypt(purpose: str, plaintext: str) -> str:
    """The plaintext as a token under the current key version; "" stays "" (nothing to hide)."""
    if not plaintext:
        return ""
    aad = _check_purpose(purpose)
    b = backend()
    version = b.current_version()
    return f"{PREFIX}v{version}:{purpose}:{_b64(b.encrypt(version, plaintext.encode('utf-8'), aad))}"


def encrypt_many(purpose: str, values: Iterable[str]) -> list[str]:
    """`encrypt` over many values (an import's column), with the look-ups done once."""
    aad = _check_purpose(purpose)
    b = backend()
    version = b.current_version()
    head = f"{PREFIX}v{version}:{purpose}:"
    seal = b.encrypt
    return [head + _b64(seal(version, v.encode("utf-8"), aad)) if v else "" for v in values]


def token_version(token: str) -> int | None:
    """The key version of an sm4 token; None for anything else (plaintext, a legacy token)."""
    if not token.startswith(PREFIX):
        return None
    match = _TOKEN.fullmatch(token)
    return int(match.group(1)) if match else None


def is_token(value: str) -> bool:
    return token_version(value) is not None


def decrypt(token: str, purpose: str | None = None) -> str:
    """The plaintext of a token; DecryptionError if it is not one of ours, was altered, was made for
    another purpose than `purpose` (when given) or its key version is not in the keyring."""
    if not token:
        return ""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise DecryptionError("not an sm4 token")
    version, token_purpose, body = int(match.group(1)), match.group(2), match.group(3)
    if purpose is not None and token_purpose != purpose:
        raise DecryptionError(f"token made for {token_purpose}, not {purpose}")
    try:
        blob = _unb64(body)
    except (binascii.Error, ValueError):
        raise DecryptionError("token body is not base64") from None
    return backend().decrypt(version, blob, token_purpose.encode("ascii")).decode("utf-8")


# ── Sealed files ───────────────────────────────────────────────────────────────────────────────────
# A file at rest: b"PHSM4F1 v<version> <purpose>\n" then nonce | ciphertext | tag. The header is the
# token's prefix in bytes; the purpose is authenticated, so a sealed register cannot pass for evidence.

_FILE_MAGIC = b"PHSM4F1 "
_FILE_HEADER = re.compile(rb"PHSM4F1 v([0-9]{1,6}) ([a-z0-9_.-]{1,40})\n")


def seal_bytes(purpose: str, data: bytes) -> bytes:
    """The bytes of a file, sealed under the current key version for `purpose`."""
    aad = _check_purpose(purpose)
    b = backend()
    version = b.current_version()
    return b"%sv%d %s\n" % (_FILE_MAGIC, version, aad) + b.encrypt(version, data, aad)


def sealed_version(blob: bytes) -> int | None:
    """The key version a sealed file was sealed under; None for bytes that are not sealed (plaintext)."""
    match = _FILE_HEADER.match(blob[:64])
    return int(match.group(1)) if match else None


def unseal_bytes(blob: bytes, purpose: str) -> bytes:
    """The plaintext of a sealed file; DecryptionError if it is not sealed, was altered or was sealed
    for another purpose."""
    match = _FILE_HEADER.match(blob[:64])
    if match is None:
        raise DecryptionError("not a sealed file")
    version, file_purpose = int(match.group(1)), match.group(2)
    if file_purpose != _check_purpose(purpose):
        raise DecryptionError(f"file sealed for {file_purpose.decode('ascii')}, not {purpose}")
    return backend().decrypt(version, blob[match.end() :], file_purpose)


def hmac_sm3(purpose: str, data: bytes) -> bytes:
    """HMAC-SM3 of `data` with the purpose's MAC key (32 bytes)."""
    _check_purpose(purpose)
    return backend().mac(purpose, data)


def blind_index(purpose: str, value: str) -> str:
    """A searchable stand-in for an encrypted value: HMAC-SM3, hex. Equal values give equal indexes
    (that is the point, and what it reveals); without the MAC key nothing is learnt from it."""
    return hmac_sm3(purpose, value.strip().encode("utf-8")).hex()


def audit_mac(version: int, data: bytes) -> bytes:
    """HMAC-SM3 of `data` under the audit chain's key of `version` (MissingKey if the backend has none)."""
    return backend().audit_mac(version, data)


# ── SM2 signatures ─────────────────────────────────────────────────────────────────────────────────

_SIGNER = re.compile(r"[a-z0-9_.-]{1,60}")
_KEY_ID = re.compile(r"([a-z0-9_.-]{1,60}):v([0-9]{1,6})")


class SigningError(RuntimeError):
    """The backend holds no signing key: the document is not issued unsigned."""


class Signed(tuple[str, bytes]):
    """(key id, signature): which signer's key of which version, and r || s."""

    __slots__ = ()

    def __new__(cls, key_id: str, signature: bytes) -> Signed:
        return super().__new__(cls, (key_id, signature))

    @property
    def key_id(self) -> str:
        return self[0]

    @property
    def signature(self) -> bytes:
        return self[1]


def signer_id(kind: str, code: str) -> str:
    """A signer's name in key ids: "platform", or e.g. "dept.jm-fgj" (lower case, safe characters)."""
    name = f"{kind}.{code}".lower() if code else kind
    cleaned = re.sub(r"[^a-z0-9_.-]", "-", name)[:60]
    if not _SIGNER.fullmatch(cleaned):  # pragma: no cover - the substitution leaves only these
        raise ValueError(f"bad signer {name!r}")
    return cleaned


def sign(signer: str, message: bytes) -> Signed:
    """The SM2 signature of `message` by `signer`'s key of the current signing version."""
    if not _SIGNER.fullmatch(signer):
        raise ValueError(f"bad signer {signer!r}")
    b = backend()
    version = b.signing_version()
    if not version:
        raise SigningError(
            "the keyring holds no signing key: add one with `phaseout keys add-signing-version`"
        )
    return Signed(f"{signer}:v{version}", b.sign(signer, version, message))


def parse_key_id(key_id: str) -> tuple[str, int] | None:
    match = _KEY_ID.fullmatch(key_id)
    return (match.group(1), int(match.group(2))) if match else None


def public_key(key_id: str) -> bytes:
    """The public key (x || y) of a key id; MissingKey if its version is not in the backend."""
    parsed = parse_key_id(key_id)
    if parsed is None:
        raise MissingKey(f"not a key id: {key_id!r}")
    return backend().signing_public_key(*parsed)


def verify_signature(key_id: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key_id`'s SM2 signature of `message`; False for an unknown key too."""
    try:
        public = public_key(key_id)
    except MissingKey:
        return False
    return sm2_verify(public, message, signature)
