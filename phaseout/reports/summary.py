"""The year summary the office sends to the city government and the province: counted in the
database (GROUP BY), so it stays fast over a million cases."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from phaseout.cases.models import CaseState, CaseTally
from phaseout.orgs.models import Territory
from phaseout.registry.models import Industry, LineStatus, ProductionLine
from phaseout.reports.ledger import plain_figure

ORDERED = [CaseState.EXIT_ORDERED, CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
EXITED = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]


FIGURES = ("found", "rectifying", "ordered", "exited", "closed")


def _figures(state: str) -> tuple[int, ...]:
    """Which of the summary's columns a case in `state` counts in (found, rectifying, ordered to
    exit, exited, closed compliant)."""
    return (
        1,
        int(state in (CaseState.RECTIFYING, CaseState.OVERDUE)),
        int(state in ORDERED),
        int(state in EXITED),
        int(state == CaseState.CLOSED),
    )


def _rolled_up(groups: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The counts by state, territory, industry and dimension, from the year's case tally grouped by
    (territory, industry, dimension, state), a few thousand groups at most, added up here."""
    territories = dict(Territory.objects.values_list("code", "name"))
    industries = dict(Industry.objects.values_list("code", "name"))
    by_state: dict[str, int] = defaultdict(int)
    keyed: dict[str, dict[str, list[int]]] = {
        "territory__name": defaultdict(lambda: [0] * len(FIGURES)),
        "industry__name": defaultdict(lambda: [0] * len(FIGURES)),
        "dimension": defaultdict(lambda: [0] * len(FIGURES)),
    }
    for territory, industry, dimension, state, n in groups:
        by_state[state] += n
        figures = _figures(state)
        for key, value in (
            ("territory__name", territory),  # by code, named below: GB/T 2260 order
            ("industry__name", industries.get(industry, industry)),
            ("dimension", dimension),
        ):
            totals = keyed[key][value]
            for i, counted in enumerate(figures):
                totals[i] += counted * n
    result: dict[str, Any] = {"by_state": dict(by_state)}
    for name, key in (
        ("by_territory", "territory__name"),
        ("by_industry", "industry__name"),
        ("by_dimension", "dimension"),
    ):
        named = territories if key == "territory__name" else {}
        result[name] = [
            {key: named.get(value, value), **dict(zip(FIGURES, totals, strict=True))}
            for value, totals in sorted(keyed[key].items())
        ]
    return result


def year_summary(
    year: int, tallies: QuerySet[CaseTally] | None = None, lines: QuerySet[ProductionLine] | None = None
) -> dict[str, Any]:
    """The year's figures: the cases opened in `year` (local calendar) from the case tally
    (phaseout.cases.tally; `tallies`: the person's, by `cases.scope.tallies`), the lines exited in it."""
    from phaseout.cases import tally

    tallies = tallies if tallies is not None else CaseTally.objects.all()
    lines = (lines if lines is not None else ProductionLine.objects.all()).filter(
        status=LineStatus.EXITED, exited_on__year=year
    )
    # By the industry the lines keep (their enterprise's: ProductionLine.industry), read from the index of
    # the exited lines; named here.
    industries = dict(Industry.objects.values_list("code", "name"))
    capacity = sorted(
        (
            {
                "enterprise__industry__name": industries.get(row["industry_id"], row["industry_id"]),
                "capacity_unit": row["capacity_unit"],
                "lines": row["lines"],
                "total": plain_figure(row["total"] or Decimal(0)),
            }
            for row in lines.values("industry_id", "capacity_unit")
            .annotate(lines=Count("id"), total=Sum("capacity"))
            .order_by()
        ),
        key=lambda row: (row["enterprise__industry__name"], row["capacity_unit"]),
    )
    groups = tally.grouped(tallies.filter(year=year), "territory", "industry", "dimension", "state")
    return {
        "year": year,
        **_rolled_up(groups),
        "capacity": capacity,
        "exited_lines": sum(row["lines"] for row in capacity),
        "exited_enterprises": lines.values("enterprise").distinct().count(),
    }
