"""The exit ledger: every exited line with the case that exited it, and aggregates over it.

Capacity is summed per unit (10,000 t/year, t/d, 10,000 weight cases/year) and never across units.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from phaseout.cases.models import Case, CaseState
from phaseout.registry.models import CapacityUnit, LineStatus, ProductionLine

EXITED = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
GROUPS = ("year", "industry", "territory", "department", "dimension", "method")


@dataclass
class Row:
    line_id: int
    enterprise_id: int
    enterprise: str
    uscc: str
    territory_code: str
    territory: str
    industry_code: str
    industry: str
    line: str
    capacity: Decimal
    unit: str
    unit_label: str
    exited_on: dt.date | None
    case_id: int | None = None
    case_number: str = ""
    method: str = ""
    method_label: str = ""
    dimension: str = ""
    department_code: str = ""
    department: str = ""
    measures: list[tuple[str, dt.date | None]] = field(default_factory=list)
    accepted_on: dt.date | None = None
    acceptance_team: str = ""
    announced_on: dt.date | None = None

    def key(self, group: str) -> tuple[str, str]:
        """(value, label) of this row for an aggregate group."""
        if group == "year":
            year = str(self.exited_on.year) if self.exited_on else ""
            return year, year
        if group == "industry":
            return self.industry_code, self.industry
        if group == "territory":
            return self.territory_code, self.territory
        if group == "department":
            return self.department_code, self.department
        if group == "dimension":
            return self.dimension, self.dimension
        return self.method, self.method_label


def ledger(lines: QuerySet[ProductionLine] | None = None) -> list[Row]:
    from phaseout.cases.models import EXIT_PLAN_CHOICES, MeasureKind

    lines = (lines if lines is not None else ProductionLine.objects.all()).filter(status=LineStatus.EXITED)
    lines = lines.select_related("enterprise__territory", "enterprise__industry").order_by("exited_on", "id")
    cases: dict[int, Case] = {}
    for case in (
        Case.objects.filter(line__in=lines, state__in=EXITED)
        .select_related("finding__inspection__department")
        .prefetch_related("measures")
        .order_by("id")
    ):
        assert case.line_id is not None
        cases[case.line_id] = case
    units = dict(CapacityUnit.choices)
    measure_labels = dict(MeasureKind.choices)
    plans = dict(EXIT_PLAN_CHOICES)
    rows = []
    for line in lines:
        enterprise = line.enterprise
        row = Row(
            line_id=line.pk,
            enterprise_id=enterprise.pk,
            enterprise=enterprise.name,
            uscc=enterprise.uscc,
            territory_code=enterprise.territory_id,
            territory=enterprise.territory.name,
            industry_code=enterprise.industry_id,
            industry=enterprise.industry.name,
            line=line.name,
            capacity=line.capacity,
            unit=line.capacity_unit,
            unit_label=str(units.get(line.capacity_unit, line.capacity_unit)),
            exited_on=line.exited_on,
        )
        exit_case = cases.get(line.pk)
        if exit_case is not None:
            case = exit_case
            row.case_id, row.case_number = case.pk, case.number
            row.method = case.exit_plan
            row.method_label = str(plans.get(case.exit_plan, case.exit_plan))
            row.dimension = case.dimension
            department = case.finding.inspection.department if case.finding else None
            row.department_code = department.code if department else ""
            row.department = department.name if department else ""
            row.measures = [(str(measure_labels.get(m.kind, m.kind)), m.done_on) for m in case.measures.all()]
            row.accepted_on, row.acceptance_team = case.accepted_on, case.acceptance_team
            row.announced_on = next(
                (m.done_on for m in case.measures.all() if m.kind == MeasureKind.WEBSITE_ANNOUNCEMENT), None
            )
        rows.append(row)
    return rows


def filtered(rows: Iterable[Row], params: dict[str, str]) -> list[Row]:
    result = list(rows)
    for group in GROUPS:
        value = params.get(group)
        if value:
            result = [r for r in result if r.key(group)[0] == value]
    if params.get("unit"):
        result = [r for r in result if r.unit == params["unit"]]
    q = params.get("q", "").strip()
    if q:
        result = [r for r in result if q in r.enterprise or q.upper() == r.uscc]
    return result


def aggregate(rows: Iterable[Row], group: str) -> list[dict[str, Any]]:
    """Lines and capacity per (group value, unit): one total per unit, never summed across units."""
    totals: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"lines": 0, "enterprises": set(), "capacity": Decimal(0)}
    )
    labels: dict[str, str] = {}
    unit_labels: dict[str, str] = {}
    for row in rows:
        value, label = row.key(group)
        labels[value] = label
        unit_labels[row.unit] = row.unit_label
        total = totals[(value, row.unit, label)]
        total["lines"] += 1
        total["enterprises"].add(row.enterprise_id)
        total["capacity"] += row.capacity
    return [
        {
            "value": value,
            "label": label or "—",
            "unit": unit,
            "unit_label": unit_labels[unit],
            "lines": total["lines"],
            "enterprises": len(total["enterprises"]),
            "capacity": plain_figure(total["capacity"]),
        }
        for (value, unit, label), total in sorted(totals.items())
    ]


def plain_figure(value: Decimal) -> Decimal:
    """600, not 6E+2 nor 600.0000: a figure as officials write it."""
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
