"""Where the keys live and where the cipher runs: a backend.

The software backend (the default) holds the keyring in memory and runs SM4-GCM and HMAC-SM3 through
`cryptography` (OpenSSL). A certified cipher machine (密码机) replaces it by a class with the same
three operations calling the machine's SDK, named in PHASEOUT_CRYPTO_BACKEND; the keys then never
leave the machine and the platform only names a key version.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from phaseout.crypto.keyring import Keyring

NONCE = 12  # bytes: the GCM nonce recommended by NIST SP 800-38D and GB/T 36624
TAG = 16


class DecryptionError(ValueError):
    """A token that is not ours, was altered, or whose key version is unknown."""


@runtime_checkable
class CryptoBackend(Protocol):
    """What the platform asks of its cryptography. `encrypt` returns an opaque blob (nonce, cipher
    text and tag for SM4-GCM); `aad` is authenticated, not encrypted (the purpose)."""

    def current_version(self) -> int: ...

    def versions(self) -> list[int]: ...

    def encrypt(self, version: int, plaintext: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, version: int, blob: bytes, aad: bytes) -> bytes: ...

    def mac(self, purpose: str, data: bytes) -> bytes: ...


class SoftwareBackend:
    """SM4-GCM (GB/T 32907 block cipher in the GCM mode of GB/T 36624 / ISO/IEC 19772) with the
    keyring's version keys, HMAC-SM3 (GB/T 32905, GB/T 15852.2) with its MAC key."""

    def __init__(self, keyring: Keyring, reload: Callable[[], Keyring] | None = None) -> None:
        self.keyring = keyring
        self._reload = reload
        self._mac_keys: dict[str, bytes] = {}
        self._ciphers: dict[int, algorithms.SM4] = {}

    def current_version(self) -> int:
        return self.keyring.current

    def versions(self) -> list[int]:
        return sorted(self.keyring.encryption)

    def _cipher(self, version: int) -> algorithms.SM4:
        cipher = self._ciphers.get(version)
        if cipher is None:
            cipher = self._ciphers[version] = algorithms.SM4(self._key(version))
        return cipher

    def _key(self, version: int) -> bytes:
        key = self.keyring.encryption.get(version)
        if key is None and self._reload is not None and version > max(self.keyring.encryption):
            # A newer version than this process knows: `phaseout keys rotate` added it to the key
            # file after the process started. Read the file again (new values are still written
            # under the version this process started with until it restarts; see `keys status`).
            fresh = self._reload()
            if fresh.mac == self.keyring.mac:
                self.keyring = Keyring(
                    current=self.keyring.current, encryption=fresh.encryption, mac=fresh.mac
                )
            key = self.keyring.encryption.get(version)
        if key is None:
            raise DecryptionError(f"no key of version {version}")
        return key

    def encrypt(self, version: int, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        encryptor = Cipher(self._cipher(version), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + body + encryptor.tag

    def decrypt(self, version: int, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < NONCE + TAG:
            raise DecryptionError("token too short")
        nonce, body, tag = blob[:NONCE], blob[NONCE:-TAG], blob[-TAG:]
        decryptor = Cipher(self._cipher(version), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag:
            raise DecryptionError("token altered or key wrong") from None

    def mac(self, purpose: str, data: bytes) -> bytes:
        key = self._mac_keys.get(purpose)
        if key is None:
            # One key per purpose, so a blind index cannot be matched against another purpose's MACs.
            key = self._mac_keys[purpose] = hmac_sm3_raw(
                self.keyring.mac, b"phaseout-mac:" + purpose.encode()
            )
        return hmac_sm3_raw(key, data)


def hmac_sm3_raw(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm4_block(key: bytes, block: bytes) -> bytes:
    """One SM4 block, for the national test vector only (ECB is never used for data)."""
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(block) + encryptor.finalize()


# Known answers: GB/T 32907-2016 appendix A (SM4, one block) and GB/T 32905-2016 appendix A ("abc").
SM4_VECTOR = ("0123456789abcdeffedcba9876543210",) * 2 + ("681edf34d206965e86b3e94f536e4246",)
SM3_VECTOR = (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


@cache
def self_test() -> None:
    """Power-on self-test, as a cryptographic module runs one (GM/T 0028): the national vectors and
    an SM4-GCM round trip. A library or OpenSSL build that fails them stops the platform at start."""
    key, block, expected = SM4_VECTOR
    problems = []
    try:
        if sm4_block(bytes.fromhex(key), bytes.fromhex(block)).hex() != expected:
            problems.append("SM4 gives the wrong answer to the GB/T 32907 vector")
        if sm3(SM3_VECTOR[0]).hex() != SM3_VECTOR[1]:
            problems.append("SM3 gives the wrong answer to the GB/T 32905 vector")
        probe = SoftwareBackend(Keyring(current=1, encryption={1: bytes.fromhex(key)}, mac=bytes(32)))
        if probe.decrypt(1, probe.encrypt(1, b"self-test", b"t"), b"t") != b"self-test":
            problems.append("SM4-GCM does not give back what it encrypted")
    except Exception as exc:
        problems.append(f"SM4/SM3 unavailable in this OpenSSL build: {exc!r}")
    if problems:
        raise RuntimeError("cryptographic self-test failed: " + "; ".join(problems))
