"""Screening the monitors' data into data checks (超标数据核查), the periodic job.

For each active point, the hourly data of the screening window is read from its readings, turned into
valid averages and judged against the limits of the lines it serves (phaseout.rules.monitoring: HJ 212-2017
Appendix D, the marking rules, the environment rulebook). An exceedance episode, a monitor silent for longer
than MONITORING_OFFLINE_HOURS, or data completeness below MONITORING_COMPLETENESS_MIN over the last
MONITORING_COMPLETENESS_DAYS becomes one open data check for the environment department of the point's
city, with the averages behind it — a proposal, never a decision. The steel ultra-low rule (95 % of valid
hours) is judged once a month over the month before.

Safe to run twice and concurrently: a check is keyed (point, kind, pollutant, rule, start) and written with
ON CONFLICT DO NOTHING; an open episode that goes on across windows is extended, not duplicated. Points are
read in keyset batches of BATCH, their readings by one query a batch: memory stays bounded at a province's
10,000 points.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.record import record, record_many
from phaseout.messaging.actions import Notice, notify_many
from phaseout.messaging.models import Kind as MessageKind
from phaseout.monitoring.models import CheckKind, CheckStatus, DataCheck, DataKind, MonitoringPoint, Reading
from phaseout.orgs.scope import competent_people
from phaseout.registry.facts import line_facts
from phaseout.registry.models import ProductionLine
from phaseout.rules import monitoring as rules
from phaseout.rules.rulebook import library
from phaseout.signals.actions import Candidate, dimension_of_line, raise_signals
from phaseout.signals.models import SignalKind
from phaseout.signals.screening import CLOSED_STATUSES

BATCH = 500
SUMMARY = gettext_lazy(
    "Data checks raised: %(exceedance)d exceedances, %(offline)d monitors offline, %(incomplete)d with "
    "incomplete data; %(extended)d exceedances extended; %(resumed)d exited lines still emitting signalled."
)
EVIDENCE_MAX = 24 * 40  # averages kept with one check: beyond that the episode is summarised by its counts


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The hours screened: those ended by `now` (local time), MONITORING_SCREEN_HOURS back."""
    end = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return end - dt.timedelta(hours=_setting("MONITORING_SCREEN_HOURS", 48)), end


def value_of(
    fields: Mapping[str, Any], oxygen: Mapping[str, Any] | None, reference: Decimal | None
) -> Decimal | None:
    """The hourly value judged: the logger's O₂-corrected average (ZsAvg) where it sent one; else the average
    corrected here from the hour's O₂ when the equipment has a reference oxygen; else the average as
    measured. None when the packet carries no usable number."""
    for name in ("ZsAvg",) if reference is not None else ():
        if name in fields:
            return _number(fields[name])
    average = _number(fields.get("Avg", fields.get("Rtd")))
    if average is None or reference is None:
        return average
    measured = _number(oxygen.get("Avg")) if oxygen else None
    if measured is None:
        return None  # cannot be corrected: not judged rather than judged wrong
    return rules.correct_oxygen(average, measured, reference)


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def hourly_series(
    readings: Sequence[tuple[dt.datetime, Mapping[str, Any]]], code: str, reference: Decimal | None
) -> list[rules.Average]:
    """A pollutant's hourly averages from a point's hourly readings (sorted by time, local time)."""
    series = []
    for data_time, values in readings:
        fields = values.get(code)
        if fields is None:
            legacy = rules.POLLUTANTS[code].legacy_code
            fields = values.get(legacy)
        start = timezone.localtime(data_time)
        if not isinstance(fields, Mapping):
            series.append(rules.reported_hour(start, None, rules.Flag.COMMUNICATION))
            continue
        oxygen = values.get(rules.OXYGEN_CODE)
        value = value_of(fields, oxygen if isinstance(oxygen, Mapping) else None, reference)
        series.append(rules.reported_hour(start, value, str(fields.get("Flag", rules.Flag.NORMAL))[:1]))
    return series


@dataclass
class Counts:
    exceedance: int = 0
    offline: int = 0
    incomplete: int = 0
    extended: int = 0
    resumed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _points(after: int) -> list[MonitoringPoint]:
    return list(
        MonitoringPoint.objects.filter(active=True, pk__gt=after)
        .select_related("enterprise")
        .prefetch_related("lines")
        .order_by("pk")[:BATCH]
    )


def _batches() -> Iterator[list[MonitoringPoint]]:
    last = 0
    while True:
        batch = _points(last)
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _evidence(averages: Iterable[rules.Average]) -> list[list[Any]]:
    rows = []
    for average in averages:
        value = (
            None if average.value is None else f"{average.value.quantize(Decimal('0.0001')).normalize():f}"
        )
        rows.append([average.start.isoformat(), value, average.flag, average.valid])
        if len(rows) >= EVIDENCE_MAX:
            break
    return rows


def _limits(point: MonitoringPoint, on: dt.date) -> list[tuple[ProductionLine, rules.Limit]]:
    lib = library()
    found: list[tuple[ProductionLine, rules.Limit]] = []
    for line in point.lines.all():
        facts = line_facts(line, industry=point.enterprise.industry_id)
        found.extend((line, limit) for limit in rules.limits_for(lib, facts, on))
    return found


def _check(
    point: MonitoringPoint, kind: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> DataCheck:
    return DataCheck(
        point=point,
        enterprise_id=point.enterprise_id,
        territory_id=point.enterprise.territory_id,
        kind=kind,
        period_start=start,
        period_end=end,
        raised_at=now,
    )


def _exceedance_checks(
    point: MonitoringPoint,
    readings: Sequence[tuple[dt.datetime, Mapping[str, Any]]],
    today: dt.date,
    now: dt.datetime,
    counts: Counts,
) -> list[DataCheck]:
    made = []
    for line, limit in _limits(point, today):
        if limit.averaging is rules.Averaging.HOURS_SHARE:
            continue
        series = hourly_series(readings, limit.pollutant.code, limit.reference_oxygen)
        for episode in rules.exceedances(limit, series):
            covered = _extend(point, limit, episode)
            if covered is not None:
                counts.extended += covered
                continue
            check = _check(point, CheckKind.EXCEEDANCE, episode.start, episode.end, now)
            check.line = line
            _describe(check, limit)
            check.peak = episode.peak.quantize(Decimal("0.0001"))
            check.count = episode.count
            check.evidence = _evidence(episode.averages)
            made.append(check)
    return made


def _describe(check: DataCheck, limit: rules.Limit) -> None:
    check.pollutant = limit.pollutant.code
    check.rule_id = limit.rule.id
    check.rule_version = limit.rule.version
    check.rule_title = limit.rule.title[:200]
    check.limit_value = limit.value.quantize(Decimal("0.0001"))
    check.averaging = limit.averaging.value
    check.unconfirmed = limit.unconfirmed


def _extend(point: MonitoringPoint, limit: rules.Limit, episode: rules.Exceedance) -> int | None:
    """An open check of the same episode seen by an earlier window (it started before, and ended at most an
    hour before this one starts, or overlaps it) grows to cover this one instead of a second check: 1 when
    it grew, 0 when it held the episode already, None when there is none (a new check is due)."""
    step = dt.timedelta(days=1) if limit.averaging is rules.Averaging.DAY else dt.timedelta(hours=1)
    with transaction.atomic():
        earlier = (
            DataCheck.objects.select_for_update()
            .filter(
                point=point,
                kind=CheckKind.EXCEEDANCE,
                status=CheckStatus.OPEN,
                pollutant=limit.pollutant.code,
                rule_id=limit.rule.id,
                period_start__lte=episode.start,
                period_end__gte=episode.start - step,
            )
            .order_by("-period_start")
            .first()
        )
        if earlier is None:
            return None
        if not (episode.end > earlier.period_end or episode.peak > (earlier.peak or Decimal(0))):
            return 0
        known = {row[0] for row in earlier.evidence}
        added = [row for row in _evidence(episode.averages) if row[0] not in known]
        earlier.evidence = (earlier.evidence + added)[:EVIDENCE_MAX]
        earlier.period_end = max(earlier.period_end, episode.end)
        earlier.peak = max(earlier.peak or Decimal(0), episode.peak.quantize(Decimal("0.0001")))
        earlier.count = sum(
            1 for row in earlier.evidence if row[3] and row[1] is not None and Decimal(row[1]) > limit.value
        )
        earlier.save(update_fields=["evidence", "period_end", "peak", "count"])
        record(
            actor=None,
            action="monitoring.check_extend",
            obj=earlier,
            data={"until": earlier.period_end.isoformat(), "peak": str(earlier.peak), "count": earlier.count},
        )
    return 1


def _share_checks(
    point: MonitoringPoint, month: tuple[dt.datetime, dt.datetime], today: dt.date, now: dt.datetime
) -> list[DataCheck]:
    """The ultra-low rule over the month before: fewer than 95 % of valid hours at or below the figure."""
    limits = [
        (line, limit)
        for line, limit in _limits(point, today)
        if limit.averaging is rules.Averaging.HOURS_SHARE
    ]
    if not limits:
        return []
    readings = list(
        Reading.objects.filter(
            point=point, cn=DataKind.HOURLY, data_time__gte=month[0], data_time__lt=month[1]
        )
        .order_by("data_time")
        .values_list("data_time", "values")
    )
    made = []
    for line, limit in limits:
        series = hourly_series(readings, limit.pollutant.code, limit.reference_oxygen)
        result = rules.hours_share(limit, series)
        if result.meets is not False:
            continue
        check = _check(point, CheckKind.EXCEEDANCE, month[0], month[1] - dt.timedelta(hours=1), now)
        check.line = line
        _describe(check, limit)
        check.count = result.valid_hours - result.compliant_hours
        check.peak = result.share
        check.evidence = [
            ["share", f"{result.share}", f"{result.compliant_hours}/{result.valid_hours}", True]
        ]
        made.append(check)
    return made


def _emitting(values: Mapping[str, Any]) -> bool:
    """A valid reading above zero of a pollutant or of the flue-gas flow: the outlet is discharging."""
    for code in (*rules.POLLUTANTS, "a00000"):
        fields = values.get(code)
        if isinstance(fields, Mapping) and rules.usable(str(fields.get("Flag", "N"))[:1]):
            value = _number(fields.get("Avg", fields.get("Rtd")))
            if value is not None and value > 0:
                return True
    return False


def _resumed(
    point: MonitoringPoint,
    readings: Sequence[tuple[dt.datetime, Mapping[str, Any]]],
    month: tuple[dt.date, dt.date],
) -> list[Candidate]:
    """Resumed production (回头看, Heyuan 二(三)1): a point serving an exited, sealed or dismantled line that
    reports valid emissions is a signal for re-inspection of that line — one per line and month, for a
    person to confirm or dismiss (phaseout.signals)."""
    closed = [line for line in point.lines.all() if line.status in CLOSED_STATUSES]
    if not closed:
        return []
    emitting = [timezone.localtime(t) for t, values in readings if _emitting(values)]
    if not emitting:
        return []
    evidence = {
        "mn": point.mn,
        "outlet": point.outlet_name,
        "hours_emitting": len(emitting),
        "first": emitting[0].isoformat(),
        "last": emitting[-1].isoformat(),
    }
    return [
        Candidate(
            kind=SignalKind.RESUMED_EMISSION,
            enterprise_id=point.enterprise_id,
            territory_id=point.enterprise.territory_id,
            dimension=dimension_of_line(line.pk),
            evidence={**evidence, "line": line.name, "status": line.status},
            observed_from=month[0],
            observed_to=month[1],
            line_id=line.pk,
        )
        for line in closed
    ]


def _this_month(now: dt.datetime) -> tuple[dt.date, dt.date]:
    first = timezone.localtime(now).date().replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _month_before(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    local = timezone.localtime(now)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    return previous, first


def _silent_points(now: dt.datetime) -> list[MonitoringPoint]:
    """Active points silent for longer than the offline limit (never heard from: since registration)."""
    since = now - dt.timedelta(hours=_setting("MONITORING_OFFLINE_HOURS", 24))
    return list(
        MonitoringPoint.objects.filter(active=True)
        .filter(Q(last_seen_at__lt=since) | Q(last_seen_at__isnull=True, created_at__lt=since))
        .exclude(checks__kind=CheckKind.OFFLINE, checks__status=CheckStatus.OPEN)
        .select_related("enterprise")
        .order_by("pk")[: _setting("MONITORING_CHECKS_PER_RUN", 2000)]
    )


def _incomplete_points(
    now: dt.datetime,
) -> tuple[dt.datetime, dt.datetime, list[tuple[MonitoringPoint, int]]]:
    """Active points whose valid hourly data over the last days is below the completeness floor."""
    days = _setting("MONITORING_COMPLETENESS_DAYS", 7)
    floor = Decimal(_setting("MONITORING_COMPLETENESS_MIN", 90))
    end = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    expected = days * 24
    hours = (
        Reading.objects.filter(cn=DataKind.HOURLY, data_time__gte=start, data_time__lt=end)
        .values("point")
        .annotate(n=Count("id"))
    )
    got = {row["point"]: row["n"] for row in hours}
    found = []
    points = (
        MonitoringPoint.objects.filter(active=True, created_at__lt=start)
        .exclude(checks__kind=CheckKind.INCOMPLETE, checks__status=CheckStatus.OPEN)
        .select_related("enterprise")
        .order_by("pk")
    )
    for point in points.iterator(chunk_size=BATCH):
        share = rules.completeness(got.get(point.pk, 0), expected)
        if share is not None and share < floor:
            found.append((point, got.get(point.pk, 0)))
            if len(found) >= _setting("MONITORING_CHECKS_PER_RUN", 2000):
                break
    return start, end, found


def _save(checks: list[DataCheck], now: dt.datetime) -> list[DataCheck]:
    """Insert what is new (the database decides: a second run or a concurrent one inserts nothing), then
    audit and notify what was inserted."""
    if not checks:
        return []
    with transaction.atomic():
        before = set(
            DataCheck.objects.filter(raised_at=now, point__in={c.point_id for c in checks}).values_list(
                "pk", flat=True
            )
        )
        DataCheck.objects.bulk_create(checks, ignore_conflicts=True, batch_size=BATCH)
        made = list(
            DataCheck.objects.filter(raised_at=now, point__in={c.point_id for c in checks})
            .exclude(pk__in=before)
            .select_related("point", "enterprise")
        )
        record_many(
            [
                (
                    "monitoring.check_raise",
                    "monitoring.datacheck",
                    str(c.pk),
                    "",
                    {"kind": c.kind, "mn": c.point.mn},
                )
                for c in made
            ]
        )
        notify_many([_notice(c) for c in made], now=now)
    return made


def _notice(check: DataCheck) -> Notice:
    title = _("Data check waiting: %(enterprise)s — %(kind)s") % {
        "enterprise": check.enterprise.name,
        "kind": check.get_kind_display(),
    }
    return Notice(
        recipients=competent_people("environment", check.territory_id),
        kind=MessageKind.PROPOSAL,
        title=title[:200],
        key=f"monitoring.check:{check.pk}",
        body=_("Online monitoring data awaits your department's check."),
        object_type="monitoring.datacheck",
        object_id=str(check.pk),
        url=reverse("monitoring-check", args=[check.pk]),
    )


def screen(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """One screening run: exceedances over the window, the ultra-low share over the month before (on the
    first days of a month), monitors offline and data incomplete."""
    counts = Counts()
    start, end = window(now)
    month = _month_before(now)
    this_month = _this_month(now)
    judge_month = timezone.localtime(now).day <= _setting("MONITORING_SHARE_DAYS", 3)
    for batch in _batches():
        by_point: dict[int, list[tuple[dt.datetime, Mapping[str, Any]]]] = defaultdict(list)
        rows = (
            Reading.objects.filter(
                point__in=[p.pk for p in batch], cn=DataKind.HOURLY, data_time__gte=start, data_time__lt=end
            )
            .order_by("point", "data_time")
            .values_list("point", "data_time", "values")
        )
        for point_id, data_time, values in rows.iterator(chunk_size=5000):
            by_point[point_id].append((data_time, values if isinstance(values, Mapping) else {}))
        made: list[DataCheck] = []
        resumed: list[Candidate] = []
        for point in batch:
            made.extend(_exceedance_checks(point, by_point.get(point.pk, []), today, now, counts))
            if judge_month:
                made.extend(_share_checks(point, month, today, now))
            resumed.extend(_resumed(point, by_point.get(point.pk, []), this_month))
        counts.exceedance += len(_save(made, now))
        counts.resumed += raise_signals(resumed, now=now)
    offline = [
        _check(p, CheckKind.OFFLINE, p.last_seen_at or p.created_at, now, now) for p in _silent_points(now)
    ]
    counts.offline = len(_save(offline, now))
    incomplete = []
    since, until, points = _incomplete_points(now)
    expected = int((until - since).total_seconds()) // 3600
    for point, got in points:
        check = _check(point, CheckKind.INCOMPLETE, since, until, now)
        check.count = expected - min(got, expected)
        check.evidence = [["completeness", f"{rules.completeness(got, expected)}", f"{got}/{expected}", True]]
        incomplete.append(check)
    counts.incomplete = len(_save(incomplete, now))
    return counts.as_dict()
