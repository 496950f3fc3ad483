"""Writing readings in batches, idempotently: the same packet twice is one reading.

PostgreSQL: COPY into a temporary staging table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into
the partitioned table (the partitions a batch needs are made first). Elsewhere: INSERT ... ON CONFLICT DO
NOTHING, many rows at a time. Either way one transaction, and the count of rows actually inserted.

Readings are the data loggers' data, not a person's act: no audit row per reading or batch (ADR 0017);
the receiver's counts and the rejected-packet log say what came in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from phaseout.monitoring import partitions
from phaseout.monitoring.models import MonitoringPoint, RejectedPackets

COLUMNS = 'point_id, cn, data_time, "values", qn, received_at'


@dataclass(slots=True)
class Row:
    point_id: int
    cn: str
    data_time: dt.datetime  # aware
    values: dict[str, Any] | str  # or already as JSON text (hj212.Packet.values_json)
    qn: str
    received_at: dt.datetime  # aware


@dataclass(slots=True)
class Rejection:
    mn: str
    reason: str
    count: int
    first_at: dt.datetime
    last_at: dt.datetime
    peer: str = ""
    detail: str = ""
    sample: str = ""


def write(
    rows: Sequence[Row], rejections: Sequence[Rejection] = (), *, lock_timeout_ms: int | None = None
) -> int:
    """Store the rows (and the counts of refused packets); how many readings were new."""
    inserted = 0
    if lock_timeout_ms is not None and connection.vendor == "sqlite":
        _lock_timeout(lock_timeout_ms)  # before BEGIN IMMEDIATE, which is what waits for the lock
    with transaction.atomic():
        if lock_timeout_ms is not None and connection.vendor == "postgresql":
            _lock_timeout(lock_timeout_ms)
        if rows and connection.vendor == "postgresql":
            # In the transaction, under its lock timeout: a partition made here is remembered only if
            # the batch commits (phaseout.monitoring.partitions); a locked table fails the batch.
            partitions.ensure({partitions.month_of(r.data_time) for r in rows})
        if rows:
            inserted = _copy(rows) if connection.vendor == "postgresql" else _insert(rows)
            seen = max(r.received_at for r in rows)
            points = sorted({r.point_id for r in rows})
            if connection.vendor == "postgresql":
                _mark_seen(points, seen)
            else:
                MonitoringPoint.objects.filter(pk__in=points).update(last_seen_at=seen)
        if rejections:
            RejectedPackets.objects.bulk_create(
                RejectedPackets(
                    mn=r.mn[:24], reason=r.reason[:20], count=r.count, first_at=r.first_at, last_at=r.last_at,
                    peer=r.peer[:64], detail=r.detail[:200], sample=r.sample[:200],
                )
                for r in rejections
            )  # fmt: skip
    return inserted


def _mark_seen(points: list[int], seen: dt.datetime) -> None:
    """The points' last_seen_at, locked in the order of their ids (two writers marking the same points
    wait for each other, never deadlock) and never moved back by a writer whose batch is older."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_monitoringpoint SET last_seen_at = GREATEST(last_seen_at, %s) WHERE id IN "
            "(SELECT id FROM monitoring_monitoringpoint WHERE id = ANY(%s) ORDER BY id FOR UPDATE)",
            [seen, points],
        )


def _lock_timeout(ms: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET LOCAL lock_timeout = {int(ms)}")
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {int(ms)}")


def _json(values: dict[str, Any] | str) -> str:
    return values if isinstance(values, str) else json.dumps(values)


def _copy_text(value: str) -> str:
    """A value for COPY's text format: backslash, tab, newline and CR escaped (JSON text has no raw
    control characters, but json.dumps writes a backslash before an escaped character)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_rows(rows: Sequence[Row]) -> bytes:
    """The rows as one block of COPY text: formatted here in one pass, written in one call (psycopg's
    per-row write_row adapts each value in Python, several times slower)."""
    text = _copy_text
    lines = [
        f"{r.point_id}\t{text(r.cn)}\t{r.data_time.isoformat()}\t{text(_json(r.values))}\t{text(r.qn)}\t"
        f"{r.received_at.isoformat()}\n"
        for r in rows
    ]
    return "".join(lines).encode("utf-8")


def _copy(rows: Sequence[Row]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS monitoring_reading_stage (point_id bigint, cn varchar(4), "
            'data_time timestamptz, "values" jsonb, qn varchar(20), received_at timestamptz) '
            "ON COMMIT DELETE ROWS"
        )
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(f"COPY monitoring_reading_stage ({COLUMNS}) FROM STDIN") as copy:
            copy.write(copy_rows(rows))
        cursor.execute(
            f"INSERT INTO monitoring_reading ({COLUMNS}) SELECT {COLUMNS} FROM monitoring_reading_stage "  # noqa: S608
            "ORDER BY point_id, cn, data_time ON CONFLICT (point_id, cn, data_time) DO NOTHING"
        )
        return int(cursor.rowcount)


def _insert(rows: Sequence[Row]) -> int:
    with connection.cursor() as cursor:
        ops = connection.ops
        params = [
            (
                r.point_id, r.cn, ops.adapt_datetimefield_value(r.data_time), _json(r.values), r.qn,
                ops.adapt_datetimefield_value(r.received_at),
            )
            for r in rows
        ]  # fmt: skip
        cursor.executemany(
            f"INSERT INTO monitoring_reading ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (point_id, cn, data_time) DO NOTHING",
            params,
        )
        return int(cursor.rowcount)
