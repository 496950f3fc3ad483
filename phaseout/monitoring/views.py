"""The registry of online monitoring (污染源自动监控): which key discharge units must have monitors, which
have them, which are online now, and each monitoring point's data completeness over a period.

Seen by the coordination office and a department enforcing the environment dimension (their city) and
by a district (its territory): phaseout.monitoring.scope. Counts are made in the database: the units'
points by one grouped query with the page, the completeness of a page of points by one grouped query
over the readings (phaseout.monitoring.completeness); the export reads the rows in chunks, each chunk's
completeness one query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from phaseout.audit.exports import audited_export, exported
from phaseout.monitoring import completeness, scope
from phaseout.monitoring.completeness import MAX_DAYS, Period
from phaseout.monitoring.models import DataKind, KeyDischargeUnit, MonitoringPoint, PointKind
from phaseout.orgs.access import allow
from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import territories
from phaseout.rules.monitoring import completeness as percent
from phaseout.web import current_person, form_errors
from phaseout.web.lists import (
    EXPORT_CHUNK,
    Column,
    ListSpec,
    filters_of,
    list_response,
    listing,
    xlsx_response,
)

FIRST_YEAR = 2000  # dates before this, or after LAST_YEAR, are refused (no month of readings holds them)
LAST_YEAR = 2099
RECENT_HOURS = 24  # the hourly readings a point's page shows


def _person(request: HttpRequest) -> Person:
    """The person, if monitoring is theirs to see (a department: only one enforcing the environment)."""
    person = current_person(request)
    if not scope.may_see(person):
        raise PermissionDenied(
            _("Online monitoring is for the office, the environment department and districts.")
        )
    return person


def _cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=settings.MONITORING_ONLINE_MINUTES)


# ── filters ──


class UnitFilterForm(forms.Form):
    STATUS = [
        ("", "—"),
        ("missing", gettext_lazy("A required monitor is missing")),
        ("offline", gettext_lazy("A monitor is offline")),
        ("complete", gettext_lazy("Every required monitor online")),
    ]
    q = forms.CharField(label=gettext_lazy("Enterprise name or USCC"), max_length=60, required=False)
    territory = forms.ChoiceField(label=gettext_lazy("Territory"), required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=STATUS, required=False)

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        territory: Any = self.fields["territory"]
        territory.choices = [("", "—")] + [(t.code, t.name) for t in territories(person).order_by("code")]


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(label=label, required=False, input_formats=["%Y-%m-%d"])


class PointFilterForm(forms.Form):
    """The points' filters and the period of their completeness (`from`, `to`: local days, at most a
    year, both within FIRST_YEAR..LAST_YEAR; absent: the last seven days up to today)."""

    ONLINE = [("", "—"), ("yes", gettext_lazy("Online")), ("no", gettext_lazy("Offline"))]
    q = forms.CharField(label=gettext_lazy("Enterprise name or MN"), max_length=60, required=False)
    territory = forms.ChoiceField(label=gettext_lazy("Territory"), required=False)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=[("", "—"), *PointKind.choices], required=False
    )
    online = forms.ChoiceField(label=gettext_lazy("Online now"), choices=ONLINE, required=False)

    def __init__(self, *args: Any, person: Person, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["from"] = _date_field(pgettext_lazy("date range", "From"))
        self.fields["to"] = _date_field(pgettext_lazy("date range", "To"))
        territory: Any = self.fields["territory"]
        territory.choices = [("", "—")] + [(t.code, t.name) for t in territories(person).order_by("code")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        last = data.get("to") or self.today
        first = data.get("from") or (last - dt.timedelta(days=6))
        for day in (first, last):
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise ValidationError(
                    _("Dates must lie between %(first)d and %(last)d.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR}
                )
        if first > last:
            raise ValidationError(_("The period's start is after its end."))
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(_("A period is at most a year (%(days)d days).") % {"days": MAX_DAYS})
        data["period"] = Period(first, last)
        return data


def _period(form: PointFilterForm, today: dt.date) -> Period:
    if form.is_bound and form.is_valid():
        period: Period = form.cleaned_data["period"]
        return period
    return Period(today - dt.timedelta(days=6), today)


# ── key discharge units ──


def _units(qs: QuerySet[KeyDischargeUnit], cutoff: dt.datetime) -> QuerySet[KeyDischargeUnit]:
    active = Q(enterprise__monitoring_points__active=True)
    online = active & Q(enterprise__monitoring_points__last_seen_at__gte=cutoff)
    gas = Q(enterprise__monitoring_points__kind=PointKind.FLUE_GAS)
    water = Q(enterprise__monitoring_points__kind=PointKind.WASTEWATER)
    return qs.select_related("enterprise__territory").annotate(
        gas_points=Count("enterprise__monitoring_points", filter=active & gas),
        gas_online=Count("enterprise__monitoring_points", filter=online & gas),
        water_points=Count("enterprise__monitoring_points", filter=active & water),
        water_online=Count("enterprise__monitoring_points", filter=online & water),
    )


# A unit missing a monitor it must have; one with an installed monitor that is not online now.
MISSING = Q(flue_gas=True, gas_points=0) | Q(wastewater=True, water_points=0)
OFFLINE = Q(gas_online__lt=F("gas_points")) | Q(water_online__lt=F("water_points"))


def _missing(unit: KeyDischargeUnit) -> list[str]:
    u: Any = unit
    return [
        str(label)
        for required, count, label in (
            (unit.flue_gas, u.gas_points, _("flue gas")),
            (unit.wastewater, u.water_points, _("wastewater")),
        )
        if required and not count
    ]


def unit_status(unit: KeyDischargeUnit) -> str:
    u: Any = unit
    missing = _missing(unit)
    if missing:
        return _("No %(kinds)s monitor") % {"kinds": "、".join(missing)}
    offline = u.gas_points - u.gas_online + u.water_points - u.water_online
    if offline:
        return _("%(n)d offline") % {"n": offline}
    return _("All online")


def _required(unit: KeyDischargeUnit) -> str:
    kinds = [
        str(label) for on, label in ((unit.flue_gas, _("flue gas")), (unit.wastewater, _("wastewater"))) if on
    ]
    return "、".join(kinds)


def _online_of(points: int, online: int) -> str:
    return f"{online}/{points}"


UNITS = ListSpec(
    columns=(
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda u: u.enterprise.name, sort="enterprise__name"
        ),
        Column("uscc", gettext_lazy("USCC"), lambda u: u.enterprise.uscc, on_page=False),
        Column(
            "territory",
            gettext_lazy("Territory"),
            lambda u: u.enterprise.territory.name,
            sort="enterprise__territory_id",
        ),
        Column("year", gettext_lazy("Listed in"), lambda u: u.listed_year, sort="listed_year"),
        Column("required", gettext_lazy("Monitors required"), _required),
        Column(
            "gas",
            gettext_lazy("Flue gas monitors online/installed"),
            lambda u: _online_of(u.gas_points, u.gas_online),
        ),
        Column(
            "water",
            gettext_lazy("Wastewater monitors online/installed"),
            lambda u: _online_of(u.water_points, u.water_online),
        ),
        Column("status", gettext_lazy("Status"), unit_status),
    ),
    default_order=("enterprise__territory_id", "enterprise__name", "id"),
)


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
@audited_export("export.monitoring_units")
def key_units(request: HttpRequest) -> HttpResponseBase:
    person = _person(request)
    now = timezone.now()
    form = UnitFilterForm(request.GET or None, person=person)
    rows = _units(scope.key_units(person), _cutoff(now))
    if form.is_valid():
        q = (form.cleaned_data["q"] or "").strip()
        if q:
            rows = rows.filter(Q(enterprise__name__contains=q) | Q(enterprise__uscc=q.upper()))
        if form.cleaned_data["territory"]:
            rows = rows.filter(enterprise__territory=form.cleaned_data["territory"])
        status = form.cleaned_data["status"]
        if status == "missing":
            rows = rows.filter(MISSING)
        elif status == "offline":
            rows = rows.exclude(MISSING).filter(OFFLINE)
        elif status == "complete":
            rows = rows.exclude(MISSING).exclude(OFFLINE)
    return list_response(
        request, rows, UNITS, template="monitoring/key_units.html",
        context={"form": form, "online_minutes": settings.MONITORING_ONLINE_MINUTES}, form=form,
        filename="key-discharge-units.xlsx", title=str(_("Key discharge units")), rows=_with_status,
    )  # fmt: skip


def _with_status(units: list[KeyDischargeUnit]) -> list[KeyDischargeUnit]:
    for unit in units:
        shown: Any = unit
        shown.missing = bool(_missing(unit))
        shown.status = unit_status(unit)
    return units


# ── monitoring points ──


def _completeness_text(point: Any) -> str:
    value = percent(point.valid_hours, point.expected_hours)
    return "—" if value is None else f"{value}%"


POINTS = ListSpec(
    columns=(
        Column("mn", gettext_lazy("MN"), lambda p: p.mn, sort="mn"),
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda p: p.enterprise.name, sort="enterprise__name"
        ),
        Column("territory", gettext_lazy("Territory"), lambda p: p.enterprise.territory.name, on_page=False),
        Column(
            "outlet",
            gettext_lazy("Discharge outlet"),
            lambda p: f"{p.outlet_code} {p.outlet_name}",
            sort="outlet_code",
        ),
        Column("kind", gettext_lazy("Kind"), lambda p: p.get_kind_display(), sort="kind"),
        Column(
            "last_seen", gettext_lazy("Last data received"), lambda p: p.last_seen_at, sort="last_seen_at"
        ),
        Column("online", gettext_lazy("Online now"), lambda p: _("Yes") if p.online else _("No")),
        Column("valid", gettext_lazy("Valid hours"), lambda p: p.valid_hours),
        Column("expected", gettext_lazy("Expected hours"), lambda p: p.expected_hours),
        Column("completeness", gettext_lazy("Completeness"), _completeness_text),
    ),
    default_order=("enterprise__territory_id", "enterprise__name", "outlet_code", "id"),
)


def _with_completeness(
    points: list[MonitoringPoint], period: Period, now: dt.datetime
) -> list[MonitoringPoint]:
    """The points with their valid hours (one grouped query for all of them), expected hours and whether
    they are online now."""
    found = completeness.valid_hours([p.pk for p in points], period)
    expected = period.expected_hours(now)
    cutoff = _cutoff(now)
    for p in points:
        shown: Any = p
        shown.valid_hours = found.get(p.pk, 0)
        shown.expected_hours = expected
        shown.online = p.active and p.last_seen_at is not None and p.last_seen_at >= cutoff
        shown.completeness = percent(shown.valid_hours, expected)
    return points


def _chunks(qs: QuerySet[MonitoringPoint], period: Period, now: dt.datetime) -> Iterator[MonitoringPoint]:
    batch: list[MonitoringPoint] = []
    for point in qs.iterator(chunk_size=EXPORT_CHUNK):
        batch.append(point)
        if len(batch) == EXPORT_CHUNK:
            yield from _with_completeness(batch, period, now)
            batch = []
    yield from _with_completeness(batch, period, now)


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
@audited_export("export.monitoring_points")
def points(request: HttpRequest) -> HttpResponseBase:
    person = _person(request)
    now = timezone.now()
    today = timezone.localdate(now)
    form = PointFilterForm(request.GET or None, person=person, today=today)
    rows = scope.points(person).select_related("enterprise__territory")
    if form.is_valid():
        q = (form.cleaned_data["q"] or "").strip()
        if q:
            rows = rows.filter(Q(enterprise__name__contains=q) | Q(mn=q))
        if form.cleaned_data["territory"]:
            rows = rows.filter(enterprise__territory=form.cleaned_data["territory"])
        if form.cleaned_data["kind"]:
            rows = rows.filter(kind=form.cleaned_data["kind"])
        online = Q(active=True, last_seen_at__gte=_cutoff(now))
        if form.cleaned_data["online"] == "yes":
            rows = rows.filter(online)
        elif form.cleaned_data["online"] == "no":
            rows = rows.exclude(online)
    period = _period(form, today)
    if request.GET.get("format") == "xlsx":
        if form.is_bound and not form.is_valid():
            form_errors(request, form)
            rows = rows.none()
        shown = listing(request, rows, POINTS)
        response, count = xlsx_response(
            _chunks(shown["ordered"], period, now), POINTS,
            filename="monitoring-points.xlsx", title=str(_("Monitoring points")),
        )  # fmt: skip
        what: dict[str, Any] = {"from": period.first.isoformat(), "to": period.last.isoformat()}
        return exported(response, None, format="xlsx", rows=count, filter=filters_of(request), **what)
    return list_response(
        request, rows, POINTS, template="monitoring/points.html",
        context={
            "form": form, "period": period, "online_minutes": settings.MONITORING_ONLINE_MINUTES,
            "period_query": urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()}),
        },
        form=form, filename="monitoring-points.xlsx", title=str(_("Monitoring points")),
        rows=lambda page: _with_completeness(page, period, now),
    )  # fmt: skip


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def point_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    now = timezone.now()
    today = timezone.localdate(now)
    point = get_object_or_404(scope.points(person).select_related("enterprise__territory"), pk=pk)
    form = PointFilterForm(request.GET or None, person=person, today=today)
    if form.is_bound and not form.is_valid():
        form_errors(request, form)
    period = _period(form, today)
    _with_completeness([point], period, now)
    by_day = completeness.valid_hours_by_day(point.pk, period)
    days = []
    if period.days <= 62:  # a day per row for two months at most; a longer period: its total only
        for n in range(period.days):
            day = period.first + dt.timedelta(days=n)
            expected = Period(day, day).expected_hours(now)
            days.append({"day": day, "valid": by_day.get(day, 0), "expected": expected,
                         "completeness": percent(by_day.get(day, 0), expected)})  # fmt: skip
    recent = point.readings.filter(cn=DataKind.HOURLY).order_by("-data_time")[:RECENT_HOURS]
    return render(
        request,
        "monitoring/point_detail.html",
        {
            "point": point,
            "lines": point.lines.all(),
            "form": form,
            "period": period,
            "days": days,
            "recent": [{"reading": r, "values": sorted(r.values.items())} for r in recent],
            "online_minutes": settings.MONITORING_ONLINE_MINUTES,
        },
    )
