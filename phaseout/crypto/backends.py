"""Where the keys live and where the cipher runs: a backend.

The software backend (the default) holds the keyring in memory and runs SM4-GCM and HMAC-SM3 through
`cryptography` (OpenSSL). A certified cipher machine (密码机) replaces it by a class with the same
three operations calling the machine's SDK, named in PHASEOUT_CRYPTO_BACKEND; the keys then never
leave the machine and the platform only names a key version.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from phaseout.crypto import sm2
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

    # The audit chain's HMAC-SM3 keys, by version (0: the backend holds none; the settings' keys serve).
    def audit_version(self) -> int: ...

    def audit_versions(self) -> list[int]: ...

    def audit_mac(self, version: int, data: bytes) -> bytes: ...

    # SM2 signatures (GB/T 32918.2): each signer (an issuing body, the platform) has a key per version;
    # the private key never leaves the backend.
    def signing_version(self) -> int: ...

    def sign(self, signer: str, version: int, message: bytes) -> bytes: ...

    def signing_public_key(self, signer: str, version: int) -> bytes: ...


class MissingKey(LookupError):
    """The backend holds no key of this version (the caller may have another source, or refuses)."""


class SoftwareBackend:
    """SM4-GCM (GB/T 32907 block cipher in the GCM mode of GB/T 36624 / ISO/IEC 19772) with the
    keyring's version keys, HMAC-SM3 (GB/T 32905, GB/T 15852.2) with its MAC key."""

    def __init__(self, keyring: Keyring, reload: Callable[[], Keyring] | None = None) -> None:
        self.keyring = keyring
        self._reload = reload
        self._mac_keys: dict[str, bytes] = {}
        self._ciphers: dict[int, algorithms.SM4] = {}
        self._public_keys: dict[tuple[str, int], bytes] = {}

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
                self.keyring = replace(
                    fresh,
                    current=self.keyring.current,
                    audit_current=self.keyring.audit_current,
                    signing_current=self.keyring.signing_current,
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

    def _fresh(self, versions: Callable[[Keyring], dict[int, bytes]], version: int) -> dict[int, bytes]:
        """The keys of a kind, read again from the key file when `version` is newer than this process
        knows (a command added it after the process started)."""
        known = versions(self.keyring)
        if version not in known and self._reload is not None and version > max(known, default=0):
            fresh = self._reload()
            if fresh.mac == self.keyring.mac:
                self.keyring = replace(
                    fresh,
                    current=self.keyring.current,
                    audit_current=self.keyring.audit_current,
                    signing_current=self.keyring.signing_current,
                )
            known = versions(self.keyring)
        return known

    def audit_version(self) -> int:
        return self.keyring.audit_current

    def audit_versions(self) -> list[int]:
        return sorted(self.keyring.audit)

    def audit_mac(self, version: int, data: bytes) -> bytes:
        key = self._fresh(lambda k: k.audit, version).get(version)
        if key is None:
            raise MissingKey(f"no audit key of version {version} in the keyring")
        return hmac_sm3_raw(key, data)

    def signing_version(self) -> int:
        return self.keyring.signing_current

    def _private_key(self, signer: str, version: int) -> int:
        seed = self._fresh(lambda k: k.signing, version).get(version)
        if seed is None:
            raise MissingKey(f"no signing key of version {version} in the keyring")
        return derive_private_key(seed, signer)

    def sign(self, signer: str, version: int, message: bytes) -> bytes:
        return sm2.sign(
            self._private_key(signer, version), message, public=self.signing_public_key(signer, version)
        )

    def signing_public_key(self, signer: str, version: int) -> bytes:
        public = self._public_keys.get((signer, version))
        if public is None:
            public = self._public_keys[(signer, version)] = sm2.public_key(self._private_key(signer, version))
        return public


def derive_private_key(seed: bytes, signer: str) -> int:
    """The signer's SM2 private key of a seed version: 64 bytes of HMAC-SM3 under the seed, reduced
    into [1, n-2] (the bias of a 512-bit value reduced modulo a 256-bit n is negligible). Each issuing
    body thus has a key of its own that no other body's key or signature reveals; the keyring holds
    the seed (a cipher machine would hold each body's key instead)."""
    label = signer.encode("utf-8")
    material = hmac_sm3_raw(seed, b"phaseout-sm2:1:" + label) + hmac_sm3_raw(seed, b"phaseout-sm2:2:" + label)
    return int.from_bytes(material, "big") % (sm2.SM2P256V1.n - 2) + 1


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
    try:
        sm2.self_test()
    except Exception as exc:
        problems.append(str(exc))
    if problems:
        raise RuntimeError("cryptographic self-test failed: " + "; ".join(problems))
