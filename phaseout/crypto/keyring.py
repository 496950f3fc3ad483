"""The keyring: SM4 keys by version and one HMAC-SM3 key, never derived from SECRET_KEY.

Sources, in order: PHASEOUT_KEYS (the keyring's JSON in the environment), PHASEOUT_KEYS_FILE (a JSON
file readable by the platform's user only). With neither, the embedded demo (DEBUG) generates a
development keyring once under VAR_DIR (mode 0600); production refuses to start.

    {"current": 2, "encryption": {"1": "<32 hex>", "2": "<32 hex>"}, "mac": "<64 hex>"}

`current` is the version new values are encrypted with; older versions stay to read values not yet
rotated. The MAC key is not rotated: the audit chain and blind indexes are computed with it.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SM4_KEY_BYTES = 16
MAC_KEY_BYTES = 32
DEV_KEYRING_NAME = "dev-keyring.json"


class KeyringError(RuntimeError):
    """The keys are missing or unusable: the platform does not start."""


@dataclass(frozen=True)
class Keyring:
    current: int
    encryption: dict[int, bytes]
    mac: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "encryption": {str(v): k.hex() for v, k in sorted(self.encryption.items())},
            "mac": self.mac.hex(),
        }

    def with_new_version(self) -> Keyring:
        version = max(self.encryption) + 1
        return Keyring(
            current=version,
            encryption={**self.encryption, version: secrets.token_bytes(SM4_KEY_BYTES)},
            mac=self.mac,
        )


def generate() -> Keyring:
    return Keyring(
        current=1, encryption={1: secrets.token_bytes(SM4_KEY_BYTES)}, mac=secrets.token_bytes(MAC_KEY_BYTES)
    )


def _hex_key(value: Any, size: int, where: str) -> bytes:
    try:
        key = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) != size:
        raise KeyringError(f"{where}: expected {size * 2} hexadecimal digits ({size} bytes)")
    if key == bytes(size):
        raise KeyringError(f"{where}: an all-zero key is refused")
    return key


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
    return Keyring(current=current, encryption=encryption, mac=mac)


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
    return read_file(path)
