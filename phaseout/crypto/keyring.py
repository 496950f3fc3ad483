"""The keyring: SM4 keys by version, one HMAC-SM3 key, the audit chain's MAC keys by version and the SM2
signing seeds by version; never derived from SECRET_KEY.

Sources, in order: PHASEOUT_KEYS (the keyring's JSON in the environment), PHASEOUT_KEYS_FILE (a JSON
file readable by the platform's user only). With neither, the embedded demo (DEBUG) generates a
development keyring once under VAR_DIR (mode 0600); production refuses to start.

    {"current": 2, "encryption": {"1": "<32 hex>", "2": "<32 hex>"}, "mac": "<64 hex>",
     "audit": {"current": 1, "keys": {"1": "<64 hex or more>"}},
     "signing": {"current": 1, "keys": {"1": "<64 hex>"}}}

`current` is the version new values are encrypted with; older versions stay to read values not yet
rotated. The MAC key is not rotated: blind indexes and the access-control MACs are computed with it.
"audit" holds the audit chain's HMAC-SM3 keys: each entry names the version it was chained with, so
old versions stay for `phaseout audit verify` (a keyring without it falls back to the settings
AUDIT_MAC_KEY / AUDIT_MAC_OLD_KEYS that came before; `phaseout keys import-audit-key` moves them in).
"signing" holds the seeds each issuing body's SM2 key is derived from (phaseout.crypto.signing): old
versions stay so that documents signed under them still verify. The demo's keyring, made before
either existed, gets a signing seed derived from its MAC key (development only).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

SM4_KEY_BYTES = 16
MAC_KEY_BYTES = 32
SIGNING_SEED_BYTES = 32
MIN_AUDIT_KEY_BYTES = 32
DEV_KEYRING_NAME = "dev-keyring.json"


class KeyringError(RuntimeError):
    """The keys are missing or unusable: the platform does not start."""


@dataclass(frozen=True)
class Keyring:
    current: int
    encryption: dict[int, bytes]
    mac: bytes
    audit: dict[int, bytes] = field(default_factory=dict)
    audit_current: int = 0  # 0: no audit key in the keyring (the settings' keys are used)
    signing: dict[int, bytes] = field(default_factory=dict)
    signing_current: int = 0  # 0: no signing seed (documents cannot be signed)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "current": self.current,
            "encryption": {str(v): k.hex() for v, k in sorted(self.encryption.items())},
            "mac": self.mac.hex(),
        }
        if self.audit:
            data["audit"] = {
                "current": self.audit_current,
                "keys": {str(v): k.hex() for v, k in sorted(self.audit.items())},
            }
        if self.signing:
            data["signing"] = {
                "current": self.signing_current,
                "keys": {str(v): k.hex() for v, k in sorted(self.signing.items())},
            }
        return data

    def with_new_version(self) -> Keyring:
        version = max(self.encryption) + 1
        return replace(
            self, current=version, encryption={**self.encryption, version: secrets.token_bytes(SM4_KEY_BYTES)}
        )

    def with_new_signing_version(self) -> Keyring:
        version = max(self.signing, default=0) + 1
        return replace(
            self,
            signing={**self.signing, version: secrets.token_bytes(SIGNING_SEED_BYTES)},
            signing_current=version,
        )

    def with_audit_key(self, version: int, key: bytes, *, current: bool) -> Keyring:
        if len(key) < MIN_AUDIT_KEY_BYTES:
            raise KeyringError(f"an audit key is at least {MIN_AUDIT_KEY_BYTES} bytes")
        if version in self.audit and self.audit[version] != key:
            raise KeyringError(f"the keyring already holds another audit key of version {version}")
        return replace(
            self,
            audit={**self.audit, version: key},
            audit_current=version if current or not self.audit_current else self.audit_current,
        )


def generate() -> Keyring:
    return Keyring(
        current=1,
        encryption={1: secrets.token_bytes(SM4_KEY_BYTES)},
        mac=secrets.token_bytes(MAC_KEY_BYTES),
        audit={1: secrets.token_bytes(MAC_KEY_BYTES)},
        audit_current=1,
        signing={1: secrets.token_bytes(SIGNING_SEED_BYTES)},
        signing_current=1,
    )


def _hex_key(value: Any, size: int, where: str, *, at_least: bool = False) -> bytes:
    try:
        key = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) < size if at_least else len(key) != size:
        more = " or more" if at_least else ""
        raise KeyringError(f"{where}: expected {size * 2} hexadecimal digits{more} ({size} bytes)")
    if key == bytes(len(key)):
        raise KeyringError(f"{where}: an all-zero key is refused")
    return key


def _versioned(
    data: Any, source: str, name: str, size: int, *, at_least: bool = False
) -> tuple[int, dict[int, bytes]]:
    """An optional {"current": n, "keys": {"1": hex, ...}} section; (0, {}) when absent."""
    if data is None:
        return 0, {}
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict) or not data["keys"]:
        raise KeyringError(f'{source}: "{name}" needs "current" and "keys" (version: key)')
    keys: dict[int, bytes] = {}
    for version, key in data["keys"].items():
        if not str(version).isdigit() or int(version) < 1:
            raise KeyringError(f"{source}: {name} key version {version!r} is not a positive number")
        keys[int(version)] = _hex_key(key, size, f"{source}: {name} key {version}", at_least=at_least)
    current = data.get("current")
    if not isinstance(current, int) or current not in keys:
        raise KeyringError(f"{source}: current {name} version {current!r} has no key in the keyring")
    return current, keys


def parse(text: str, source: str) -> Keyring:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringError(f"{source} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("encryption"), dict) or not data["encryption"]:
        raise KeyringError(f'{source} needs "current", "encryption" (version: key) and "mac"')
    encryption: dict[int, bytes] = {}
    for version, key in data["encryption"].items():
        if not str(version).isdigit() or int(version) < 1:
            raise KeyringError(f"{source}: key version {version!r} is not a positive number")
        encryption[int(version)] = _hex_key(key, SM4_KEY_BYTES, f"{source}: encryption key {version}")
    current = data.get("current")
    if not isinstance(current, int) or current not in encryption:
        raise KeyringError(f"{source}: current version {current!r} has no key in the keyring")
    mac = _hex_key(data.get("mac"), MAC_KEY_BYTES, f"{source}: mac key")
    audit_current, audit = _versioned(data.get("audit"), source, "audit", MIN_AUDIT_KEY_BYTES, at_least=True)
    signing_current, signing = _versioned(data.get("signing"), source, "signing", SIGNING_SEED_BYTES)
    return Keyring(
        current=current,
        encryption=encryption,
        mac=mac,
        audit=audit,
        audit_current=audit_current,
        signing=signing,
        signing_current=signing_current,
    )


def read_file(path: Path) -> Keyring:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyringError(f"PHASEOUT_KEYS_FILE {path} cannot be read ({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"PHASEOUT_KEYS_FILE {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    return parse(text, f"PHASEOUT_KEYS_FILE {path}")


def write_file(path: Path, keyring: Keyring) -> None:
    """Write the keyring with mode 0600, atomically (a new file renamed over the old one)."""
    temporary = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keyring.as_json(), handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def development_keyring(var_dir: Path) -> Path:
    """The demo's keyring under VAR_DIR, generated on first use with mode 0600. Published with a hard
    link, which never replaces a file: processes starting together all end up with the same keys."""
    path = var_dir / DEV_KEYRING_NAME
    if not path.exists():
        temporary = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
        write_file(temporary, generate())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process published one first: use it
            pass
        finally:
            temporary.unlink()
    return path


def keys_file(*, keys_file: str, development: bool, var_dir: Path) -> Path | None:
    """The key file in use: PHASEOUT_KEYS_FILE, or the demo's; None when the keys are in the environment."""
    if keys_file:
        return Path(keys_file)
    if development:
        return development_keyring(var_dir)
    return None


def load(*, keys_json: str, keys_file_setting: str, development: bool, var_dir: Path) -> Keyring:
    """The keyring from PHASEOUT_KEYS, PHASEOUT_KEYS_FILE or (`development`: the embedded demo) the
    generated development keyring."""
    if keys_json:
        return parse(keys_json, "PHASEOUT_KEYS")
    path = keys_file(keys_file=keys_file_setting, development=development, var_dir=var_dir)
    if path is None:
        raise KeyringError(
            "No encryption keys: set PHASEOUT_KEYS_FILE to the keyring file (mode 600) or PHASEOUT_KEYS to"
            " its JSON; generate one with `phaseout keys generate FILE`. Production never runs on"
            " generated or derived keys."
        )
    loaded = read_file(path)
    if development and not keys_file_setting and not loaded.signing:
        # The demo's keyring from before signatures: a seed of its own, derived from its MAC key so
        # that every process of the demo has the same one without rewriting the file.
        seed = hmac.HMAC(loaded.mac, hashes.SM3())
        seed.update(b"phaseout-development-signing-seed")
        loaded = replace(loaded, signing={1: seed.finalize()}, signing_current=1)
    return loaded
