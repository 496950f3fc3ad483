"""Moving every sealed value to the current key version, and counting values by version.

Set-based and resumable: each sealed column is walked by primary key (keyset: `id > last ORDER BY id
LIMIT batch`), selecting only values not yet on the current version; each batch is re-encrypted and
written back in its own transaction with a compare-and-set on the old value, so a value changed
meanwhile is left to its writer (who wrote it under the current version). Stopped half-way, a re-run
continues where the values still need it. Legacy values — plaintext written before encryption, the
reporters' Fernet tokens — are migrated the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from phaseout import crypto
from phaseout.crypto import legacy as legacy_tokens
from phaseout.crypto.fields import SealedTextField


@dataclass(frozen=True)
class Column:
    table: str
    column: str
    pk: str
    purpose: str
    legacy: str  # "plaintext", "fernet" or ""

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def sealed_columns() -> list[Column]:
    """Every column of an installed model declared with a SealedTextField (or EncryptedTextField)."""
    found = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, SealedTextField):
                found.append(
                    Column(model._meta.db_table, f.column, model._meta.pk.column, f.purpose, f.legacy)
                )
    return sorted(found, key=lambda c: c.label)


@dataclass
class ColumnResult:
    reencrypted: int = 0
    from_legacy: int = 0
    unreadable: list[str] = field(default_factory=list)  # primary keys of values no key opens


def plaintext_of(value: str, column: Column) -> str | None:
    """The plaintext of a stored value, whatever its generation; None if nothing opens it."""
    if crypto.is_token(value):
        try:
            return crypto.decrypt(value, column.purpose)
        except crypto.DecryptionError:
            return None
    if column.legacy == "fernet" and legacy_tokens.is_fernet(value):
        return legacy_tokens.fernet_decrypt(value)
    if column.legacy == "plaintext":
        return value
    return None


def _batches(
    column: Column, current_prefix: str, batch: int, db: BaseDatabaseWrapper
) -> Iterator[list[tuple[int, str]]]:
    quote = db.ops.quote_name
    table, col, pk = quote(column.table), quote(column.column), quote(column.pk)
    last = None
    while True:
        where = f"{col} <> '' AND {col} NOT LIKE %s"
        params: list[Any] = [current_prefix + "%"]
        if last is not None:
            where += f" AND {pk} > %s"
            params.append(last)
        with db.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {col} FROM {table} WHERE {where} ORDER BY {pk} LIMIT %s",  # noqa: S608
                [*params, batch],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def reencrypt_column(
    column: Column,
    *,
    batch: int,
    db: BaseDatabaseWrapper | None = None,
    progress: Callable[[Column, int], None] | None = None,
) -> ColumnResult:
    """Every value of the column not on the current key version, re-encrypted to it."""
    db = db or connection
    version = crypto.backend().current_version()
    prefix = f"{crypto.PREFIX}v{version}:"
    quote = db.ops.quote_name
    update = (
        f"UPDATE {quote(column.table)} SET {quote(column.column)} = %s"  # noqa: S608
        f" WHERE {quote(column.pk)} = %s AND {quote(column.column)} = %s"
    )
    result = ColumnResult()
    for rows in _batches(column, prefix, batch, db):
        changes = []
        for pk, old in rows:
            plain = plaintext_of(old, column)
            if plain is None:
                result.unreadable.append(str(pk))
                continue
            changes.append((crypto.encrypt(column.purpose, plain), pk, old))
            if not crypto.is_token(old):
                result.from_legacy += 1
        with transaction.atomic(using=db.alias), db.cursor() as cursor:
            cursor.executemany(update, changes)
        result.reencrypted += len(changes)
        if progress:
            progress(column, result.reencrypted)
    return result


def status(db: BaseDatabaseWrapper | None = None) -> dict[str, dict[str, int]]:
    """For each sealed column: how many values are on each key version, legacy, or empty."""
    db = db or connection
    versions = crypto.backend().versions()
    quote = db.ops.quote_name
    counts: dict[str, dict[str, int]] = {}
    for column in sealed_columns():
        col = quote(column.column)
        cases = [f"SUM(CASE WHEN {col} LIKE %s THEN 1 ELSE 0 END)" for _ in versions]
        sql = (
            f"SELECT COUNT(*), SUM(CASE WHEN {col} = '' OR {col} IS NULL THEN 1 ELSE 0 END),"  # noqa: S608
            f" SUM(CASE WHEN {col} LIKE 'sm4:%%' THEN 1 ELSE 0 END)"
            + "".join(", " + c for c in cases)
            + f" FROM {quote(column.table)}"
        )
        with db.cursor() as cursor:
            cursor.execute(sql, [f"{crypto.PREFIX}v{v}:%" for v in versions])
            total, empty, tokens, *by_version = (int(n or 0) for n in cursor.fetchone())
        row = {f"v{v}": n for v, n in zip(versions, by_version, strict=True)}
        row["unknown version"] = tokens - sum(by_version)
        row["legacy"] = total - empty - tokens
        row["empty"] = empty
        counts[column.label] = row
    return counts


def decrypt_column(column: Column, *, batch: int, db: BaseDatabaseWrapper | None = None) -> int:
    """The column's tokens back to plaintext: only to undo the migration that encrypted a column
    which held plaintext before (a downgrade); nothing else writes plaintext."""
    db = db or connection
    quote = db.ops.quote_name
    update = (
        f"UPDATE {quote(column.table)} SET {quote(column.column)} = %s"  # noqa: S608
        f" WHERE {quote(column.pk)} = %s AND {quote(column.column)} = %s"
    )
    done = 0
    # Plaintext never starts with "sm4:", so the walk by the "not current" filter does not apply:
    # select the tokens by their prefix instead.
    last = None
    table, col, pk = quote(column.table), quote(column.column), quote(column.pk)
    while True:
        where = f"{col} LIKE %s" + (f" AND {pk} > %s" if last is not None else "")
        params: list[Any] = [crypto.PREFIX + "%", *([last] if last is not None else [])]
        with db.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {col} FROM {table} WHERE {where} ORDER BY {pk} LIMIT %s",  # noqa: S608
                [*params, batch],
            )
            rows = cursor.fetchall()
        if not rows:
            return done
        changes = [(crypto.decrypt(old, column.purpose), pk_value, old) for pk_value, old in rows]
        with transaction.atomic(using=db.alias), db.cursor() as cursor:
            cursor.executemany(update, changes)
        done += len(changes)
        last = rows[-1][0]


def migration(
    table: str, column: str, purpose: str, legacy: str
) -> tuple[Callable[..., None], Callable[..., None]]:
    """The forward and backward functions of a data migration that seals a column (RunPython)."""
    target = Column(table, column, "id", purpose, legacy)

    def forward(apps: object, schema_editor: Any) -> None:
        reencrypt_column(target, batch=2000, db=schema_editor.connection)

    def backward(apps: object, schema_editor: Any) -> None:
        if legacy == "plaintext":
            decrypt_column(target, batch=2000, db=schema_editor.connection)
        # Fernet tokens are not written again: the SM4 tokens stay, readable by this adapter only.

    return forward, backward
