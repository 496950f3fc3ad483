"""Findings and cases opened by an evaluation run of the registry against the rulebooks.

The run itself is the standards app's (phaseout.standards.actions.run_evaluation); for each breach it
calls open_finding, which CasesConfig.ready() gives it, since cases sit above standards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from phaseout.cases import actions as case_actions
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Case, Finding, Inspection
from phaseout.orgs.models import Department
from phaseout.registry.models import ProductionLine
from phaseout.rules.case_flow import TERMINAL
from phaseout.rules.rulebook import Rule, library
from phaseout.standards.models import EvaluationRun

SYSTEM_INSPECTORS = "综合标准自动比对"


def _department_for(rule: Rule, territory_code: str) -> Department | None:
    """The city department that enforces the rule, matched by the suffix of its code."""
    city = territory_code[:4] + "00"
    departments = library().vocabulary.departments
    for code in rule.departments:
        suffix = departments[code][1]
        found = Department.objects.filter(territory_id=city, code__endswith=f"-{suffix}").first()
        if found:
            return found
    return Department.objects.filter(territory_id=city, is_office=True).first()


def known_findings(breaches: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str, str], int | None]:
    """The breaches, given as (line id, rule id, basis), for which open_finding would open nothing: the
    finding of the same basis, else the finding of the line's active case under the rule (None when
    that case has none), as open_finding finds them. Read in two queries for a block of breaches."""
    if not breaches:
        return {}
    line_ids = sorted({line_id for line_id, _rule, _basis in breaches})
    wanted = set(breaches)
    by_basis: dict[tuple[int, str, str], int] = {}
    for pk, line_id, rule_id, basis in Finding.objects.filter(line_id__in=line_ids).values_list(
        "pk", "line_id", "rule_id", "basis"
    ):
        if (line_id, rule_id, basis) in wanted:
            by_basis.setdefault((line_id, rule_id, basis), pk)
    active: dict[tuple[int, str], int | None] = {}
    for line_id, rule_id, finding_id in (
        Case.objects.filter(line_id__in=line_ids)
        .exclude(state__in=[s.value for s in TERMINAL])
        .values_list("line_id", "rule_id", "finding_id")
    ):
        active.setdefault((line_id, rule_id), finding_id)  # Case's own ordering, as .first() reads it
    known: dict[tuple[int, str, str], int | None] = {}
    for key in wanted:
        if key in by_basis:
            known[key] = by_basis[key]
        elif key[:2] in active:
            known[key] = active[key[:2]]
    return known


def open_finding(
    *,
    rule: Rule,
    row: dict[str, Any],
    on: dt.date,
    by: User,
    run: EvaluationRun,
    basis: str,
    measured_value: Decimal | None,
) -> tuple[Finding | None, bool]:
    """(the finding for this breach, whether it is new); an existing one is returned, not repeated."""
    line_id = row["id"]
    existing = Finding.objects.filter(line_id=line_id, rule_id=rule.id, basis=basis).first()
    if existing:
        return existing, False
    active = (
        Case.objects.filter(line_id=line_id, rule_id=rule.id)
        .exclude(state__in=[s.value for s in TERMINAL])
        .select_related("finding")
        .first()
    )
    if active:
        return active.finding, False
    department = _department_for(rule, str(row["enterprise__territory_id"]))
    if department is None:
        return None, False
    line = ProductionLine.objects.select_related("enterprise").get(pk=line_id)
    try:
        with transaction.atomic():
            inspection = Inspection.objects.create(
                department=department,
                enterprise=line.enterprise,
                line=line,
                dimension=rule.dimension.value,
                method=Inspection.Method.EVALUATION,
                inspected_on=on,
                inspectors=SYSTEM_INSPECTORS,
                notes=_("Found by evaluation run #%(run)d against %(rule)s.")
                % {"run": run.pk, "rule": rule.key},
                recorded_by=by,
            )
            finding = case_actions.record_finding(
                inspection=inspection,
                rule_id=rule.id,
                line=line,
                measured_value=measured_value,
                by=by,
                basis=basis,
            )
    except IntegrityError:
        # Another run opened it at the same moment.
        return Finding.objects.filter(line_id=line_id, rule_id=rule.id, basis=basis).first(), False
    except CaseActionError:
        return None, False
    return finding, True
