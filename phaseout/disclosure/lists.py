"""What each public list holds on a day, computed from the cases, findings, lines and licences.

Entries follow the cases: an enterprise is on the yellow list from its rectification order until the
case closes compliant or moves on to exit (then the red list), and so on. Rows hold only what the
public may see — never a reporter, a person or an internal note.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from phaseout.cases.models import OPEN_STATES, Case, CaseState, ExitMeasure, Finding, MeasureKind
from phaseout.disclosure.models import ListKind
from phaseout.monitoring.models import CheckStatus, DataCheck
from phaseout.registry.models import Licence, LineStatus, ProductionLine

EXIT_STATES = [CaseState.EXIT_ORDERED, CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
YELLOW_STATES = [
    CaseState.RECTIFYING,
    CaseState.RESTRICTED,
    CaseState.SUSPENDED,
    CaseState.OVERDUE,
    CaseState.VERIFIED,
    CaseState.CLOSURE_PROPOSED,
]


def _case_row(case: Case, since: dt.date | None) -> dict[str, Any]:
    finding = case.finding
    department = finding.inspection.department if finding else None
    return {
        "enterprise": case.enterprise.name,
        "uscc": case.enterprise.uscc,
        "territory": case.territory.name,
        "industry": case.industry.name,
        "equipment": case.line.name if case.line else "",
        "capacity": case.line.capacity_display if case.line else "",
        "basis": finding.rule_title if finding else "",
        "legal_basis": finding.rule_source if finding else "",
        "since": since.isoformat() if since else "",
        "case": case.number,
        "department": department.code if department else "",
    }


def _cases() -> Any:
    return Case.objects.select_related(
        "enterprise", "territory", "industry", "line", "finding__inspection__department"
    )


def _serious_rows(today: dt.date) -> list[dict[str, Any]]:
    checks = (
        DataCheck.objects.filter(
            status=CheckStatus.CONFIRMED, serious=True, decided_on__year=today.year, decided_on__lte=today
        )
        .select_related("enterprise__territory", "enterprise__industry", "line", "finding__case", "point")
        .order_by("decided_on", "id")
    )
    rows = []
    seen_cases = set()
    for check in checks:
        case = getattr(check.finding, "case", None) if check.finding_id else None
        if case is not None:
            seen_cases.add(case.pk)
        enterprise = check.enterprise
        rows.append(
            {
                "enterprise": enterprise.name,
                "uscc": enterprise.uscc,
                "territory": enterprise.territory.name,
                "industry": enterprise.industry.name,
                "equipment": check.line.name if check.line else check.point.outlet_name,
                "capacity": check.line.capacity_display if check.line else "",
                "basis": check.rule_title,
                "legal_basis": "",
                "measured": f"{check.peak.normalize():f}" if check.peak is not None else "",
                "limit": f"{check.limit_value.normalize():f}" if check.limit_value is not None else "",
                "since": check.decided_on.isoformat() if check.decided_on else "",
                "case": case.number if case is not None else "",
                "department": "",
            }
        )
    closed = _cases().filter(
        Q(state=CaseState.CLOSURE_PROPOSED)
        | Q(state__in=EXIT_STATES, exit_ordered_on__year=today.year, exit_ordered_on__lte=today),
        dimension="environment",
    )
    rows.extend(
        _case_row(c, c.exit_ordered_on or c.order_date)
        for c in closed.order_by("id")
        if c.pk not in seen_cases
    )
    return rows


def rows_for(kind: str, today: dt.date) -> list[dict[str, Any]]:
    if kind == ListKind.YELLOW:
        # Under an order of any dimension's path (rectification, restricted production, suspension),
        # failing it, or proposed for closure and not yet decided.
        cases = _cases().filter(state__in=YELLOW_STATES)
        return [_case_row(c, c.order_date) for c in cases.order_by("order_date", "id")]
    if kind == ListKind.RED:
        # Closed after failing an order of any dimension (rectification, restricted production,
        # suspension): the order was served, and the closure or revocation followed.
        cases = _cases().filter(state__in=EXIT_STATES, order_date__isnull=False)
        return [_case_row(c, c.exit_ordered_on) for c in cases.order_by("exit_ordered_on", "id")]
    if kind == ListKind.OVER_EMISSION:
        cases = _cases().filter(dimension="environment", state__in=OPEN_STATES)
        return [
            _case_row(c, c.finding.inspection.inspected_on if c.finding else None)
            for c in cases.order_by("id")
        ]
    if kind == ListKind.SERIOUS_OVER_EMISSION:
        # Heyuan 三(四): the environment bureau publishes the serious over-emitters: exceedances its officers
        # confirmed as serious (情节严重) this year, and environment cases taken to closure, which the law
        # allows only in serious cases (环境保护法 art. 60).
        return _serious_rows(today)
    if kind == ListKind.SEALED:
        sealed = ExitMeasure.objects.filter(kind=MeasureKind.EQUIPMENT_SEALING, done_on__isnull=False).values(
            "case"
        )
        dismantled = ExitMeasure.objects.filter(kind=MeasureKind.DISMANTLING, done_on__isnull=False).values(
            "case"
        )
        cases = _cases().filter(pk__in=sealed).exclude(pk__in=dismantled).filter(state__in=EXIT_STATES)
        return [_case_row(c, c.exit_ordered_on) for c in cases.order_by("id")]
    if kind in (ListKind.ENERGY, ListKind.QUALITY):
        dimension = "energy" if kind == ListKind.ENERGY else "quality"
        findings = (
            Finding.objects.filter(
                inspection__dimension=dimension,
                inspection__inspected_on__year=today.year,
                inspection__inspected_on__lte=today,
            )
            .exclude(conclusion=Finding.Conclusion.COMPLIANT)
            .select_related(
                "inspection__enterprise__territory",
                "inspection__enterprise__industry",
                "inspection__department",
                "line",
            )
            .order_by("inspection__inspected_on", "id")
        )
        rows = []
        for finding in findings:
            enterprise = finding.inspection.enterprise
            rows.append(
                {
                    "enterprise": enterprise.name,
                    "uscc": enterprise.uscc,
                    "territory": enterprise.territory.name,
                    "industry": enterprise.industry.name,
                    "equipment": finding.line.name if finding.line else "",
                    "capacity": finding.line.capacity_display if finding.line else "",
                    "basis": finding.rule_title,
                    "legal_basis": finding.rule_source,
                    "measured": f"{finding.measured_value.normalize():f} {finding.unit}"
                    if finding.measured_value is not None
                    else "",
                    "limit": f"{finding.limit_value.normalize():f} {finding.unit}"
                    if finding.limit_value is not None
                    else "",
                    "since": finding.inspection.inspected_on.isoformat(),
                    "case": "",
                    "department": finding.inspection.department.code,
                }
            )
        return rows
    if kind == ListKind.EXITED:
        lines = ProductionLine.objects.filter(
            status=LineStatus.EXITED, exited_on__year=today.year, exited_on__lte=today
        ).select_related("enterprise__territory", "enterprise__industry")
        return [
            {
                "enterprise": line.enterprise.name,
                "uscc": line.enterprise.uscc,
                "territory": line.enterprise.territory.name,
                "industry": line.enterprise.industry.name,
                "equipment": line.name,
                "capacity": line.capacity_display,
                "basis": "",
                "legal_basis": "",
                "since": line.exited_on.isoformat() if line.exited_on else "",
                "case": "",
                "department": "",
            }
            for line in lines.order_by("exited_on", "id")
        ]
    if kind == ListKind.LICENCES:
        licences = Licence.objects.filter(
            kind=Licence.Kind.PRODUCTION, status=Licence.Status.VALID
        ).select_related("enterprise__territory", "enterprise__industry")
        return [
            {
                "enterprise": licence.enterprise.name,
                "uscc": licence.enterprise.uscc,
                "territory": licence.enterprise.territory.name,
                "industry": licence.enterprise.industry.name,
                "equipment": "",
                "capacity": "",
                "basis": licence.number,
                "legal_basis": "",
                "since": licence.valid_until.isoformat() if licence.valid_until else "",
                "case": "",
                "department": "",
            }
            for licence in licences.order_by("enterprise__name", "id")
        ]
    raise ValueError(f"unknown list {kind!r}")
