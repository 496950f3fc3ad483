"""Bulk inserts for the set-based jobs (the deadline sweep and the writers it calls): on PostgreSQL the rows
go in by COPY — no statement per row, no model instance per row, no parameter list parsed on the client —
and the ids a caller needs are drawn from the table's sequence beforehand; on SQLite (the embedded
default, not the scale target) by the ORM's bulk_create.

Callers give attribute names (`case_id`, not `case`) and plain Python values; JSON fields take dicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Rows a caller should hand over at once (its own batching; bounded memory).
BATCH = 1000


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys of `model` drawn from its sequence (PostgreSQL only)."""
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, ids: bool = False
) -> list[int]:
    """Insert `rows` (values in the order of `columns`, attribute names) into `model`'s table; the new
    rows' primary keys in the same order when `ids` (else an empty list). No conflict handling: the
    caller has made sure the rows are new."""
    if not rows:
        return []
    if not _is_postgres():
        made = model._default_manager.bulk_create(
            model(**dict(zip(columns, row, strict=True))) for row in rows
        )
        return [obj.pk for obj in made] if ids else []
    fields = [model._meta.get_field(name) for name in columns]
    names: list[str] = [field.column for field in fields]  # type: ignore[union-attr,misc]
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    keys: list[int] = []
    if ids:
        keys = reserve_ids(model, len(rows))
        pk = model._meta.pk
        assert pk is not None
        names = [pk.column, *names]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f"COPY {qn(str(model._meta.db_table))} ({', '.join(qn(n) for n in names)}) FROM STDIN"
        ) as copy:
            for i, row in enumerate(rows):
                values = list(row)
                for at in json_at:
                    values[at] = json.dumps(values[at], ensure_ascii=False)
                copy.write_row([keys[i], *values] if ids else values)
    return keys


def insert_new(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert those of `rows` that no unique constraint of the table already holds (INSERT ... ON
    CONFLICT DO NOTHING: decided by the database, so two writers at once still insert each row once);
    `returning` (column names) of the rows inserted. On PostgreSQL the rows go by COPY into a temporary
    table first. Plain values only (no JSON fields)."""
    if not rows:
        return []
    qn = connection.ops.quote_name
    table = qn(str(model._meta.db_table))
    names: list[str] = [model._meta.get_field(name).column for name in columns]  # type: ignore[union-attr,misc]
    column_list = ", ".join(qn(n) for n in names)
    back = ", ".join(qn(n) for n in returning)
    with connection.cursor() as cursor:
        if _is_postgres():
            staging = qn(f"bulk_{model._meta.db_table}")
            # Only quoted names from the model are put into these statements; the values go by COPY.
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS"  # noqa: S608
                f" SELECT {column_list} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging}"  # noqa: S608
                f" ON CONFLICT DO NOTHING RETURNING {back}"
            )
            inserted = cursor.fetchall()
            cursor.execute(f"DELETE FROM {staging}")  # noqa: S608 (for the next batch in this transaction)
            return inserted
        fields = [model._meta.get_field(name) for name in columns]
        params: list[Any] = []
        for row in rows:
            params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]  # type: ignore[union-attr]
        placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) VALUES {', '.join([placeholders] * len(rows))}"  # noqa: S608
            f" ON CONFLICT DO NOTHING RETURNING {back}",
            params,
        )
        return cursor.fetchall()
