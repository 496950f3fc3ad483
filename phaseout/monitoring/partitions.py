"""Monthly partitions of the readings table on PostgreSQL (elsewhere: nothing to do).

A partition covers one calendar month of data time in the platform's zone (Asia/Shanghai). The receiver
creates the partitions a batch needs before writing it (cached, so once a month per process); the sweep
job creates this month's and next month's ahead, so that the first packet of a month finds its table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

TABLE = "monitoring_reading"
SUMMARY = gettext_lazy("Monitoring: reading partitions created: %(created)d.")
_known: set[tuple[str, tuple[int, int]]] = set()


def month_of(moment: dt.datetime) -> tuple[int, int]:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return local.year, local.month


def partition_name(month: tuple[int, int]) -> str:
    return f"{TABLE}_p{month[0]:04d}{month[1]:02d}"


def _bounds(month: tuple[int, int]) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_default_timezone()
    year, mon = month
    start = dt.datetime(year, mon, 1, tzinfo=zone)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start, end


def ensure(months: Iterable[tuple[int, int]], *, using: str | None = None) -> int:
    """Create the partitions of these months that do not exist yet; how many were created."""
    from django.db import connections

    conn = connections[using or "default"]
    if conn.vendor != "postgresql":
        return 0
    created = 0
    for month in sorted(set(months)):
        key = (conn.settings_dict["NAME"], month)
        if key in _known:
            continue
        start, end = _bounds(month)
        name = partition_name(month)
        # CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator (the second fails on the
        # catalog once the first commits): writers of the same month take turns under an advisory lock
        # held to the end of their transaction, so the second looks only after the first has committed.
        with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            (exists,) = cursor.fetchone()
            if not exists:
                cursor.execute(
                    f'CREATE TABLE "{name}" PARTITION OF "{TABLE}" FOR VALUES FROM (%s) TO (%s)',
                    [start, end],
                )
                created += 1
        # Remembered once the partition is surely there: at once outside a transaction, else when the
        # transaction commits — a rolled-back one (a test's, or a failed batch) takes its table with it.
        if conn.in_atomic_block:
            transaction.on_commit(lambda key=key: _known.add(key), using=conn.alias)  # type: ignore[misc]
        else:
            _known.add(key)
    return created


def forget() -> None:
    """Forget which partitions exist (a test database was dropped and made anew)."""
    _known.clear()


def job(*, now: dt.datetime, today: dt.date) -> Mapping[str, int]:
    this = (today.year, today.month)
    following = (today.year + (today.month == 12), today.month % 12 + 1)
    return {"created": ensure([this, following]) if connection.vendor == "postgresql" else 0}
