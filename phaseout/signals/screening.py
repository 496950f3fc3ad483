"""The periodic screening of power use (registered in phaseout.jobs from the app's ready()).

Three screens over the readings of the last SIGNALS_LOOKBACK_DAYS days, each a filtered query the
database answers from the readings' period index joined to their accounts — only the rows that breach
come back to Python, streamed in chunks, and go to `raise_signals` in batches:

1. resumed production (回头看, Heyuan 二(三)1): an exited, sealed or dismantled line whose meter shows more
   than SIGNALS_RESIDUAL_KWH_PER_DAY × the days of a period (after the day it exited);
2. a furnace drawing most of its power at night (the valley-tariff part above
   phaseout.rules.furnaces.NIGHT_SHARE), where the data carries the night figure;
3. a furnace registered as stopped or dismantled whose account draws above the same residual threshold
   (what monthly data without a night figure can show).

Safe to run twice: a signal is one per kind, subject and period (a second run raises none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy

from phaseout.cases.models import Case
from phaseout.registry.models import LineStatus
from phaseout.rules.furnaces import NIGHT_SHARE, night_to_day_ratio, over_threshold
from phaseout.signals.actions import EXITED_CASE_STATES, Candidate, raise_signals
from phaseout.signals.models import FurnaceStatus, Granularity, PowerReading, SignalKind
from phaseout.signals.scope import FURNACE_DIMENSION

SUMMARY = gettext_lazy(
    "Signals raised: %(resumed)d for lines drawing power after exit or sealing, %(night)d for furnaces used "
    "mostly at night, %(stopped)d for stopped furnaces drawing power."
)
CLOSED_STATUSES = (LineStatus.EXITED, LineStatus.SEALED, LineStatus.DISMANTLED)
CHUNK = 2000
SHORTEST_MONTH = 28


def _over(per_day: Decimal) -> Q:
    """A coarse filter the database applies (a day over the daily threshold; a month over 28 days of
    it); the exact check on the month's own length is made on the few rows that pass."""
    return Q(granularity=Granularity.DAY, kwh__gt=per_day) | Q(
        granularity=Granularity.MONTH, kwh__gt=per_day * SHORTEST_MONTH
    )


def _days(row: dict[str, Any]) -> int:
    return (row["period_end"] - row["period_start"]).days + 1


def _reading(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": row["account__number"],
        "granularity": row["granularity"],
        "from": row["period_start"].isoformat(),
        "to": row["period_end"].isoformat(),
        "kwh": str(row["kwh"]),
        "night_kwh": str(row["valley_kwh"]) if row["valley_kwh"] is not None else None,
    }


def resumed_candidates(*, today: dt.date, per_day: Decimal) -> Iterator[Candidate]:
    since = today - dt.timedelta(days=settings.SIGNALS_LOOKBACK_DAYS)
    exit_dimension = Subquery(
        Case.objects.filter(line=OuterRef("account__line"), state__in=EXITED_CASE_STATES)
        .order_by("-id")
        .values("dimension")[:1]
    )
    rows = (
        PowerReading.objects.filter(period_start__gte=since, account__line__status__in=CLOSED_STATUSES)
        .filter(Q(account__line__exited_on__isnull=True) | Q(period_start__gt=F("account__line__exited_on")))
        .filter(_over(per_day))
        .annotate(dimension=exit_dimension)
        .values(
            "id",
            "account__number",
            "account__line",
            "account__line__status",
            "account__line__exited_on",
            "account__line__enterprise",
            "account__line__territory",
            "granularity",
            "period_start",
            "period_end",
            "kwh",
            "valley_kwh",
            "dimension",
        )
        .order_by("id")
    )
    for row in rows.iterator(chunk_size=CHUNK):
        days = _days(row)
        if not over_threshold(kwh=row["kwh"], days=days, per_day=per_day):
            continue
        exited_on = row["account__line__exited_on"]
        yield Candidate(
            kind=SignalKind.RESUMED_POWER,
            enterprise_id=row["account__line__enterprise"],
            territory_id=row["account__line__territory"],
            dimension=row["dimension"] or FURNACE_DIMENSION,
            line_id=row["account__line"],
            observed_from=row["period_start"],
            observed_to=row["period_end"],
            evidence={
                "reading": _reading(row),
                "threshold_kwh": str(per_day * days),
                "threshold_basis": "SIGNALS_RESIDUAL_KWH_PER_DAY",
                "per_day_kwh": str(per_day),
                "days": days,
                "line_status": row["account__line__status"],
                "exited_on": exited_on.isoformat() if exited_on else None,
            },
        )


_FURNACE_COLUMNS = (
    "id",
    "account__number",
    "account__furnaces",
    "account__furnaces__status",
    "account__furnaces__use",
    "account__furnaces__enterprise",
    "account__furnaces__territory",
    "granularity",
    "period_start",
    "period_end",
    "kwh",
    "valley_kwh",
)


def night_candidates(*, today: dt.date, per_day: Decimal) -> Iterator[Candidate]:
    since = today - dt.timedelta(days=settings.SIGNALS_LOOKBACK_DAYS)
    rows = (
        PowerReading.objects.filter(
            period_start__gte=since,
            account__furnaces__isnull=False,
            valley_kwh__isnull=False,
            valley_kwh__gt=F("kwh") * NIGHT_SHARE,
        )
        .filter(_over(per_day))
        .values(*_FURNACE_COLUMNS)
        .order_by("id", "account__furnaces")
    )
    for row in rows.iterator(chunk_size=CHUNK):
        days = _days(row)
        if not over_threshold(kwh=row["kwh"], days=days, per_day=per_day):
            continue
        ratio = night_to_day_ratio(total_kwh=row["kwh"], valley_kwh=row["valley_kwh"])
        yield Candidate(
            kind=SignalKind.FURNACE_NIGHT_USE,
            enterprise_id=row["account__furnaces__enterprise"],
            territory_id=row["account__furnaces__territory"],
            dimension=FURNACE_DIMENSION,
            furnace_id=row["account__furnaces"],
            observed_from=row["period_start"],
            observed_to=row["period_end"],
            evidence={
                "reading": _reading(row),
                "night_share": str((row["valley_kwh"] / row["kwh"]).quantize(Decimal("0.001"))),
                "night_share_threshold": str(NIGHT_SHARE),
                "night_to_day_ratio": str(ratio.quantize(Decimal("0.01"))) if ratio is not None else None,
                "registered_use": row["account__furnaces__use"],
            },
        )


def stopped_candidates(*, today: dt.date, per_day: Decimal) -> Iterator[Candidate]:
    since = today - dt.timedelta(days=settings.SIGNALS_LOOKBACK_DAYS)
    rows = (
        PowerReading.objects.filter(
            period_start__gte=since,
            account__furnaces__status__in=[FurnaceStatus.STOPPED, FurnaceStatus.DISMANTLED],
        )
        .filter(_over(per_day))
        .values(*_FURNACE_COLUMNS)
        .order_by("id", "account__furnaces")
    )
    for row in rows.iterator(chunk_size=CHUNK):
        if row["account__furnaces__status"] not in (FurnaceStatus.STOPPED, FurnaceStatus.DISMANTLED):
            continue  # another furnace on the same account
        days = _days(row)
        if not over_threshold(kwh=row["kwh"], days=days, per_day=per_day):
            continue
        yield Candidate(
            kind=SignalKind.FURNACE_STOPPED_DRAWING,
            enterprise_id=row["account__furnaces__enterprise"],
            territory_id=row["account__furnaces__territory"],
            dimension=FURNACE_DIMENSION,
            furnace_id=row["account__furnaces"],
            observed_from=row["period_start"],
            observed_to=row["period_end"],
            evidence={
                "reading": _reading(row),
                "threshold_kwh": str(per_day * days),
                "per_day_kwh": str(per_day),
                "days": days,
                "registered_status": row["account__furnaces__status"],
            },
        )


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    per_day = Decimal(settings.SIGNALS_RESIDUAL_KWH_PER_DAY)
    return {
        "resumed": raise_signals(resumed_candidates(today=today, per_day=per_day), now=now),
        "night": raise_signals(night_candidates(today=today, per_day=per_day), now=now),
        "stopped": raise_signals(stopped_candidates(today=today, per_day=per_day), now=now),
    }
