"""Data completeness of monitoring points over a period: hours with a valid hourly reading (CN 2061) over
the hours expected, counted in the database.

A valid hour is an hourly reading that carries at least one pollutant and whose every pollutant's flag
is usable (phaseout.rules.monitoring.USABLE_FLAGS: N, T; a field without a flag counts as N): a
calibration, maintenance, fault, stopped, manual or communication flag on any pollutant makes the hour
invalid. Expected hours are the whole hours of the period (local days, Asia/Shanghai) that have ended by
`now`: the hourly value of the hour now running has not been sent yet.

Counting is one grouped query over the readings of the points asked for (a page of them), using the
unique key (point, cn, data_time) — never a query per point."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Count, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone

from phaseout.monitoring.models import DataKind, Reading
from phaseout.rules.monitoring import USABLE_FLAGS

MAX_DAYS = 366  # a period is at most a year (a leap year's days)
_USABLE = sorted(str(flag) for flag in USABLE_FLAGS)


@dataclass(frozen=True)
class Period:
    """Local calendar days `first`..`last`, both included."""

    first: dt.date
    last: dt.date

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        zone = timezone.get_default_timezone()
        start = dt.datetime.combine(self.first, dt.time(), tzinfo=zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return start, end

    def expected_hours(self, now: dt.datetime) -> int:
        """The whole hours of the period that have ended by `now`."""
        start, end = self.bounds()
        until = min(end, now)
        if until <= start:
            return 0
        return int((until - start).total_seconds() // 3600)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _valid_flags() -> RawSQL:
    """True for a reading with at least one pollutant and only usable flags (the table unaliased, as the
    ORM writes a query on one table)."""
    marks = ", ".join(["%s"] * len(_USABLE))
    column = '"monitoring_reading"."values"'
    if connection.vendor == "postgresql":
        pairs = f"jsonb_each({column}) AS e"
        not_usable = (
            f"jsonb_typeof(e.value) <> 'object' OR COALESCE(e.value ->> 'Flag', 'N') NOT IN ({marks})"
        )
    else:
        pairs = f"json_each({column}) AS e"
        not_usable = f"e.type <> 'object' OR COALESCE(json_extract(e.value, '$.Flag'), 'N') NOT IN ({marks})"
    # Constant text only: the flags go in as parameters.
    sql = f"(EXISTS (SELECT 1 FROM {pairs}) AND NOT EXISTS (SELECT 1 FROM {pairs} WHERE {not_usable}))"  # noqa: S608
    return RawSQL(sql, _USABLE, output_field=BooleanField())  # noqa: S611 (no outside input in the SQL)


def _hourly(point_ids: Iterable[int], period: Period) -> QuerySet[Reading]:
    start, end = period.bounds()
    return Reading.objects.filter(
        point__in=list(point_ids), cn=DataKind.HOURLY, data_time__gte=start, data_time__lt=end
    ).filter(_valid_flags())


def valid_hours(point_ids: Iterable[int], period: Period) -> dict[int, int]:
    """Valid hours of each point over the period (points without any: absent), one grouped query."""
    ids = list(point_ids)
    if not ids:
        return {}
    rows = _hourly(ids, period).order_by().values("point_id").annotate(n=Count("id"))
    return {row["point_id"]: row["n"] for row in rows}


def valid_hours_by_day(point_id: int, period: Period) -> dict[dt.date, int]:
    """Valid hours of one point per local day of the period, one grouped query."""
    zone = timezone.get_default_timezone()
    rows = (
        _hourly([point_id], period)
        .order_by()
        .annotate(day=TruncDate("data_time", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"))
    )
    return {row["day"]: row["n"] for row in rows}
