"""Uploaded files sealed at rest (GB/T 39786-2021 重要数据存储机密性).

A register as uploaded carries the contacts' names and phones the database keeps encrypted, and an
evidence photo can show people and places; kept as uploaded under MEDIA_ROOT, anyone reading the disk
or a backup would read them. `SealedFileStorage` is the file system storage with SM4-GCM in between:
`save` seals the content under the keyring's current version for the field's purpose, `open` unseals
it (a file stored before sealing is read as it is, until `phaseout keys rotate --resume` seals it).
Names, paths and checksums of the upload are unchanged; the bytes on disk are not the upload's.

Files are sealed whole in memory: uploads are bounded (MAX_UPLOAD_BYTES) before they get here.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils.deconstruct import deconstructible

from phaseout import crypto

# What sealing adds to a file: the header (at most 8 + 7 + 1 + 40 + 1 bytes) is read from the file
# itself; the GCM nonce and tag are fixed.
_GCM_OVERHEAD = 12 + 16


@deconstructible(path="phaseout.crypto.storage.SealedFileStorage")
class SealedFileStorage(FileSystemStorage):
    def __init__(self, purpose: str = "file", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purpose = purpose

    def _save(self, name: str, content: File) -> str:
        content.seek(0)
        data = b"".join(content.chunks())
        return super()._save(name, ContentFile(crypto.seal_bytes(self.purpose, data)))  # type: ignore[misc]

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode not in {"rb", "r"}:
            raise ValueError(f"sealed files are read only through the storage, not opened with {mode!r}")
        return _SealedFile(self, name)

    def read_plain(self, name: str) -> bytes:
        """The file's plaintext (DecryptionError if it was altered or sealed for another purpose)."""
        with open(self.path(name), "rb") as raw:
            blob = raw.read()
        if crypto.sealed_version(blob) is None:
            return blob  # stored before sealing
        return crypto.unseal_bytes(blob, self.purpose)

    def size(self, name: str) -> int:
        """The plaintext's size, as the upload had it."""
        stored = super().size(name)
        with open(self.path(name), "rb") as raw:
            head = raw.read(64)
        if crypto.sealed_version(head) is None:
            return stored
        return stored - (head.index(b"\n") + 1) - _GCM_OVERHEAD

    def write_raw(self, name: str, blob: bytes) -> None:
        """Replace a stored file's bytes at once (a reader sees the old or the new file, never half)."""
        path = self.path(name)
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".reseal-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(blob)
            os.chmod(tmp, self.file_permissions_mode or 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class _SealedFile(File):
    """The plaintext in memory; opened again (a closed FieldFile is reopened) it is read again."""

    def __init__(self, storage: SealedFileStorage, name: str) -> None:
        self._storage = storage
        super().__init__(io.BytesIO(storage.read_plain(name)), name=name)

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> _SealedFile:
        if self.closed:
            self.file = io.BytesIO(self._storage.read_plain(str(self.name)))
        else:
            self.seek(0)
        return self


@dataclass
class FileResult:
    resealed: int = 0
    from_plaintext: int = 0
    missing: list[Any] = field(default_factory=list)
    unreadable: list[Any] = field(default_factory=list)


def sealed_file_fields() -> list[tuple[type[models.Model], models.FileField]]:
    """Every file field of an installed model whose storage seals its files."""
    found = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if isinstance(f, models.FileField) and isinstance(f.storage, SealedFileStorage):
                found.append((model, f))
    return found


def reseal_files(
    model: type[models.Model],
    file_field: models.FileField,
    *,
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
    plaintext: bool = False,
) -> FileResult:
    """Seal every file of the field under the current key version (or, `plaintext`, unseal them all:
    a migration's way back). Walked by primary key in batches; a file already right is left alone, so
    a run stopped half-way continues where files still need it."""
    storage = file_field.storage
    assert isinstance(storage, SealedFileStorage)
    current = crypto.backend().current_version()
    result = FileResult()
    label = f"{model._meta.label}.{file_field.name}"
    last: Any = None
    manager = model._default_manager
    while True:
        rows = manager.exclude(**{file_field.name: ""}).order_by("pk")
        if last is not None:
            rows = rows.filter(pk__gt=last)
        chunk = list(rows.values_list("pk", file_field.name)[:batch])
        if not chunk:
            return result
        for pk, name in chunk:
            try:
                with open(storage.path(name), "rb") as raw:
                    blob = raw.read()
            except FileNotFoundError:
                result.missing.append(pk)
                continue
            version = crypto.sealed_version(blob)
            if (version is None) if plaintext else (version == current):
                continue
            try:
                data = blob if version is None else crypto.unseal_bytes(blob, storage.purpose)
            except crypto.DecryptionError:
                result.unreadable.append(pk)
                continue
            storage.write_raw(name, data if plaintext else crypto.seal_bytes(storage.purpose, data))
            result.resealed += 1
            result.from_plaintext += version is None
        last = chunk[-1][0]
        if progress is not None:
            progress(label, result.resealed)


def migration(
    app_label: str, model_name: str, field_name: str
) -> tuple[Callable[..., None], Callable[..., None]]:
    """The forward and backward functions of a data migration that seals a file field's files."""

    def run(apps_: Any, schema_editor: Any, *, plaintext: bool) -> None:
        model = apps_.get_model(app_label, model_name)
        reseal_files(model, model._meta.get_field(field_name), plaintext=plaintext)

    def forward(apps_: Any, schema_editor: Any) -> None:
        run(apps_, schema_editor, plaintext=False)

    def backward(apps_: Any, schema_editor: Any) -> None:
        run(apps_, schema_editor, plaintext=True)

    return forward, backward
