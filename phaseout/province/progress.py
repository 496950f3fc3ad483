"""Every city's progress for the provincial office: its plan of the year and the plan's approval, what the
units owe under it, its cases rolled up from the districts, and its year summary — counted in the
database (GROUP BY over the page's cities), with the province's total rolled up from all of them. The
cases are read from the case tally (ADR 23, phaseout.cases.tally): a few hundred rows per year, not a
pass over a million cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from phaseout.cases import tally
from phaseout.cases.models import CaseTally
from phaseout.orgs.models import Territory
from phaseout.plans.models import Plan, Submission
from phaseout.province.models import SummaryOverdue, YearSummary
from phaseout.reports.summary import EXITED, ORDERED


@dataclass
class CityRow:
    city: Territory
    plan: Plan | None = None
    submissions: dict[str, int] = field(default_factory=dict)
    # What the city owes the province under the province's own plans of the year (ADR 0030).
    duties: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    summary: YearSummary | None = None
    overdue: SummaryOverdue | None = None

    @property
    def summary_due(self) -> dt.date | None:
        """The date the city's summary is due at the province: its plan's, else its provincial plan's."""
        if self.plan is None:
            return None
        if self.plan.summary_due is not None:
            return self.plan.summary_due
        provincial = self.plan.provincial_plan
        return provincial.summary_due if provincial is not None else None


def _submission_counts(today: dt.date) -> dict[str, Any]:
    return {
        "owed": Count("id"),
        "on_time": Count("id", filter=Submission.status_filter(Submission.Status.ON_TIME, today)),
        "late": Count("id", filter=Submission.status_filter(Submission.Status.LATE, today)),
        "missing": Count("id", filter=Submission.status_filter(Submission.Status.MISSING, today)),
        "pending": Count("id", filter=Submission.status_filter(Submission.Status.PENDING, today)),
    }


CASE_FIGURES = ("found", "ordered", "exited")


def _case_counts(city_codes: Any, year: int) -> dict[str, dict[str, int]]:
    """The year's cases of the cities (`city_codes`: codes or a query of them) and their districts, by
    city: found, ordered to exit, exited — summed from the case tally by (territory, state). A case's
    city: its territory's parent when it lies in a county, its own territory when it lies in the city
    itself. A city with no case of the year is absent."""
    places = Territory.objects.filter(Q(code__in=city_codes) | Q(parent__in=city_codes))
    city_of: dict[str, str] = {
        code: (parent if level == Territory.Level.COUNTY and parent else code)
        for code, parent, level in places.values_list("code", "parent", "level")
    }
    tallies = CaseTally.objects.filter(year=year, territory__in=list(city_of))  # a few hundred codes at most
    counted: dict[str, dict[str, int]] = {}
    for territory, state, n in tally.grouped(tallies, "territory", "state"):
        figures = counted.setdefault(city_of[territory], dict.fromkeys(CASE_FIGURES, 0))
        figures["found"] += n
        figures["ordered"] += n if state in ORDERED else 0
        figures["exited"] += n if state in EXITED else 0
    return counted


def cities(province: str) -> QuerySet[Territory]:
    return Territory.objects.filter(parent=province, level=Territory.Level.CITY).order_by("code")


def rows(page: list[Territory], year: int, today: dt.date) -> list[CityRow]:
    """The rows of one page of cities: a few grouped queries whatever the number of records."""
    codes = [c.code for c in page]
    found = {c.code: CityRow(city=c) for c in page}
    plans = (
        Plan.objects.filter(territory__in=codes, year=year)
        .exclude(status=Plan.Status.DRAFT)
        .select_related("provincial_plan")
        .order_by("territory", "-id")
    )
    for plan in plans:
        row = found[plan.territory_id]  # type: ignore[index]
        if row.plan is None:  # the newest confirmed plan of the year
            row.plan = plan
    plan_ids = [r.plan.pk for r in found.values() if r.plan is not None]
    for counted in (
        Submission.objects.filter(plan__in=plan_ids)
        .values("plan__territory")
        .annotate(**_submission_counts(today))
        .order_by()
    ):
        found[counted.pop("plan__territory")].submissions = counted
    for counted in (
        Submission.objects.filter(
            territory__in=codes,
            plan__territory__level=Territory.Level.PROVINCE,
            plan__year=year,
            plan__status__in=Plan.CONFIRMED_STATES,
        )
        .values("territory")
        .annotate(**_submission_counts(today))
        .order_by()
    ):
        found[counted.pop("territory")].duties = counted
    for city, counted in _case_counts(codes, year).items():
        found[city].cases = counted
    for summary in YearSummary.objects.filter(city__in=codes, year=year):
        found[summary.city_id].summary = summary
    for overdue in SummaryOverdue.objects.filter(city__in=codes, year=year):
        found[overdue.city_id].overdue = overdue
    return [found[c] for c in codes]


def provincial_plans(province: str, year: int) -> list[Plan]:
    """The province's own plans of the year the provincial office confirmed (usually one)."""
    return list(
        Plan.objects.filter(territory=province, year=year, status__in=Plan.CONFIRMED_STATES).order_by("-id")
    )


def province_total(province: str, year: int, today: dt.date) -> dict[str, Any]:
    """The province's figures rolled up from every city (and its districts): one aggregate each."""
    city_codes = cities(province).values("code")
    cases = dict.fromkeys(CASE_FIGURES, 0)
    for counted in _case_counts(city_codes, year).values():
        for figure, n in counted.items():
            cases[figure] += n
    plans = Plan.objects.filter(territory__in=city_codes, year=year)
    summaries = YearSummary.objects.filter(city__in=city_codes, year=year)
    linked = plans.filter(status__in=Plan.CONFIRMED_STATES, provincial_plan__territory=province)
    return {
        "plans_linked": linked.values("territory").distinct().count(),
        "plans_linked_approved": linked.filter(status=Plan.Status.APPROVED)
        .values("territory")
        .distinct()
        .count(),
        "overdue": SummaryOverdue.objects.filter(city__in=city_codes, year=year).count(),
        "cities": cities(province).count(),
        "plans_approved": plans.filter(status=Plan.Status.APPROVED).values("territory").distinct().count(),
        "plans_confirmed": plans.filter(status__in=Plan.CONFIRMED_STATES)
        .values("territory")
        .distinct()
        .count(),
        "summaries": dict(
            summaries.values_list("state").annotate(n=Coalesce(Count("id"), Value(0))).order_by()
        ),
        **cases,
    }
