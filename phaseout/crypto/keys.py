"""Key versions: adding one to the key file, and the rotation that moves every value to it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from phaseout import crypto
from phaseout.crypto import keyring, rotation, storage


class KeyManagementError(RuntimeError):
    pass


def key_file() -> Path:
    """The key file a new version is written to; refused when the keys are not in a file."""
    if settings.PHASEOUT_CRYPTO_BACKEND != "software":
        raise KeyManagementError(
            "the keys are held by the cipher machine: create the new key version there, make it"
            " current, then run `phaseout keys rotate --resume`"
        )
    if settings.PHASEOUT_KEYS:
        raise KeyManagementError(
            "the keys come from PHASEOUT_KEYS: add the new version to it, make it current, restart,"
            " then run `phaseout keys rotate --resume`"
        )
    path = keyring.keys_file(
        keys_file=settings.PHASEOUT_KEYS_FILE,
        development=settings.PHASEOUT_DEV_KEYRING,
        var_dir=settings.VAR_DIR,
    )
    if path is None:  # pragma: no cover - settings refuse to start without keys
        raise KeyManagementError("no key file")
    return path


def add_version() -> int:
    """A new SM4 key appended to the key file and made current (mode 0600, written atomically)."""
    path = key_file()
    fresh = keyring.read_file(path).with_new_version()
    keyring.write_file(path, fresh)
    crypto.backend.cache_clear()
    if crypto.backend().current_version() != fresh.current:  # pragma: no cover - defensive
        raise KeyManagementError("the new key version was written but is not the one in use")
    return fresh.current


def add_signing_version() -> int:
    """A new SM2 signing seed appended to the key file and made current: documents signed from now on
    name the new version; those signed before keep theirs and still verify."""
    path = key_file()
    fresh = keyring.read_file(path).with_new_signing_version()
    keyring.write_file(path, fresh)
    crypto.backend.cache_clear()
    return fresh.signing_current


def add_audit_version() -> int:
    """A new audit-chain key appended to the key file and made current: entries from now on are
    chained under it; older entries name their version and verify with the older key."""
    path = key_file()
    current = keyring.read_file(path)
    version = max([*current.audit, int(settings.AUDIT_MAC_KEY_VERSION), *settings.AUDIT_MAC_OLD_KEYS]) + 1
    keyring.write_file(path, current.with_audit_key(version, secrets.token_bytes(32), current=True))
    crypto.backend.cache_clear()
    return version


def import_audit_keys() -> list[int]:
    """The audit keys of the settings (AUDIT_MAC_KEY at AUDIT_MAC_KEY_VERSION, AUDIT_MAC_OLD_KEYS) copied
    into the key file at the same versions, the settings' current one made current, so that the chain
    continues and every entry verifies; then the settings can be dropped. A version the keyring holds
    with another key is refused (nothing written)."""
    path = key_file()
    current = keyring.read_file(path)
    found: dict[int, str] = {**settings.AUDIT_MAC_OLD_KEYS}
    if settings.AUDIT_MAC_KEY:
        found[int(settings.AUDIT_MAC_KEY_VERSION)] = settings.AUDIT_MAC_KEY
    if not found:
        raise KeyManagementError("AUDIT_MAC_KEY is not set: there is no audit key to import")
    for version in sorted(found):
        try:
            key = bytes.fromhex(found[version])
        except ValueError:
            raise KeyManagementError(f"the audit key of version {version} is not hex") from None
        try:
            current = current.with_audit_key(
                version, key, current=version == int(settings.AUDIT_MAC_KEY_VERSION)
            )
        except keyring.KeyringError as exc:
            raise KeyManagementError(str(exc)) from None
    keyring.write_file(path, current)
    crypto.backend.cache_clear()
    return sorted(found)


@dataclass
class Rotation:
    version: int
    added: bool
    columns: dict[str, rotation.ColumnResult] = field(default_factory=dict)
    files: dict[str, storage.FileResult] = field(default_factory=dict)

    @property
    def reencrypted(self) -> int:
        return sum(c.reencrypted for c in self.columns.values())

    @property
    def unreadable(self) -> int:
        return sum(len(c.unreadable) for c in self.columns.values()) + sum(
            len(f.unreadable) for f in self.files.values()
        )

    def summary(self) -> dict[str, object]:
        return {
            "version": self.version,
            "added_version": self.added,
            "reencrypted": self.reencrypted,
            "unreadable": self.unreadable,
            "columns": {
                label: {
                    "reencrypted": c.reencrypted,
                    "from_legacy": c.from_legacy,
                    "unreadable": len(c.unreadable),
                    "unreadable_ids": c.unreadable[:50],
                }
                for label, c in self.columns.items()
            },
            "files": {
                label: {
                    "resealed": f.resealed,
                    "from_plaintext": f.from_plaintext,
                    "missing": len(f.missing),
                    "unreadable": len(f.unreadable),
                    "unreadable_ids": f.unreadable[:50],
                }
                for label, f in self.files.items()
            },
        }


def rotate(
    *,
    new_version: bool,
    batch: int | None = None,
    progress: Callable[[rotation.Column, int], None] | None = None,
) -> Rotation:
    """Optionally add a key version, then re-encrypt every sealed value not on the current one."""
    added = new_version
    version = add_version() if new_version else crypto.backend().current_version()
    result = Rotation(version=version, added=added)
    for column in rotation.sealed_columns():
        result.columns[column.label] = rotation.reencrypt_column(
            column, batch=batch or settings.KEY_ROTATION_BATCH, progress=progress
        )
    for model, file_field in storage.sealed_file_fields():
        result.files[f"{model._meta.label}.{file_field.name}"] = storage.reseal_files(
            model, file_field, batch=batch or settings.KEY_ROTATION_BATCH
        )
    return result
