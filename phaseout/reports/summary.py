"""The year summary the office sends to the city government and the province: counted in the
database (GROUP BY), so it stays fast over a million cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from phaseout.cases.models import Case, CaseState
from phaseout.registry.models import LineStatus, ProductionLine
from phaseout.reports.ledger import plain_figure

ORDERED = [CaseState.EXIT_ORDERED, CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
EXITED = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]


def _counts(cases: QuerySet[Case], key: str) -> list[dict[str, Any]]:
    return list(
        cases.values(key)
        .annotate(
            found=Count("id"),
            rectifying=Count("id", filter=Q(state__in=[CaseState.RECTIFYING, CaseState.OVERDUE])),
            ordered=Count("id", filter=Q(state__in=ORDERED)),
            exited=Count("id", filter=Q(state__in=EXITED)),
            closed=Count("id", filter=Q(state=CaseState.CLOSED)),
        )
        .order_by(key)
    )


def year_summary(
    year: int, cases: QuerySet[Case] | None = None, lines: QuerySet[ProductionLine] | None = None
) -> dict[str, Any]:
    cases = (cases if cases is not None else Case.objects.all()).filter(opened_at__year=year)
    lines = (lines if lines is not None else ProductionLine.objects.all()).filter(
        status=LineStatus.EXITED, exited_on__year=year
    )
    capacity = list(
        lines.values("enterprise__industry__name", "capacity_unit")
        .annotate(lines=Count("id"), total=Sum("capacity"))
        .order_by("enterprise__industry__name", "capacity_unit")
    )
    for row in capacity:
        row["total"] = plain_figure(row["total"] or Decimal(0))
    return {
        "year": year,
        "by_state": dict(cases.values_list("state").annotate(n=Count("id")).order_by()),
        "by_territory": _counts(cases, "territory__name"),
        "by_industry": _counts(cases, "industry__name"),
        "by_dimension": _counts(cases, "dimension"),
        "capacity": capacity,
        "exited_lines": lines.count(),
        "exited_enterprises": lines.values("enterprise").distinct().count(),
    }
