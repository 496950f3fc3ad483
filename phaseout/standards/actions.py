"""Evaluate the registry against the rulebooks and open findings and cases for what breaks."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.orgs.models import Territory
from phaseout.registry.facts import read_attributes
from phaseout.registry.models import LineStatus, Measurement, ProductionLine
from phaseout.rules.batch import ColumnsBuilder, evaluate_columns
from phaseout.rules.engine import FactsError, LineFacts, Quantity
from phaseout.rules.rulebook import Comparison, Rule, library
from phaseout.standards.models import EvaluationResult, EvaluationRun

Progress = Callable[[str], None]
EVALUATED_STATUSES = (LineStatus.OPERATING, LineStatus.RECTIFYING)


class FindingOpener(Protocol):
    """Opens the finding (and its case) for one breach: (the finding, or None; whether it is new)."""

    def __call__(
        self,
        *,
        rule: Rule,
        row: dict[str, Any],
        on: dt.date,
        by: User,
        run: EvaluationRun,
        basis: str,
        measured_value: Decimal | None,
    ) -> tuple[Any, bool]: ...


# Findings and cases belong to the cases app, which sits above standards: it gives its opener in
# CasesConfig.ready() (phaseout.cases.evaluation.open_finding).
_opener: dict[str, FindingOpener] = {}


def set_finding_opener(opener: FindingOpener) -> None:
    _opener["finding"] = opener


def _latest_measurements(line_ids: list[int], on: dt.date) -> dict[int, dict[str, tuple[Decimal, str, int]]]:
    """The newest measurement of each indicator of each line on or before `on`."""
    latest: dict[int, dict[str, tuple[Decimal, str, int]]] = {}
    rows = (
        Measurement.objects.filter(measured_on__lte=on, line_id__in=line_ids)
        .order_by("line_id", "indicator", "-measured_on", "-id")
        .values_list("line_id", "indicator", "value", "unit", "id")
    )
    for line_id, indicator, value, unit, pk in rows.iterator(chunk_size=5000):
        latest.setdefault(line_id, {}).setdefault(indicator, (value, unit, pk))
    return latest


def _decimal(value: float) -> Decimal | None:
    return None if math.isnan(value) else Decimal(str(round(float(value), 4)))


def _basis(rule: Rule, line: dict[str, Any], measurement_id: int | None) -> str:
    if rule.comparison is Comparison.ELIMINATED:
        return f"size:{line['equipment_type']}:{line['size_value']}:{line['process']}"[:80]
    return f"measurement:{measurement_id}"


def run_evaluation(
    *,
    on: dt.date,
    by: User,
    territory: Territory | None = None,
    open_cases: bool = True,
    progress: Progress | None = None,
) -> EvaluationRun:
    """Evaluate every operating line; record the breaches; open a finding (and its case) for each
    breach that has none yet. Running it again opens nothing twice."""
    if open_cases and "finding" not in _opener:
        raise RuntimeError("No finding opener: phaseout.cases gives it when its app is ready.")
    say = progress or (lambda message: None)
    lib = library()
    run = EvaluationRun.objects.create(on=on, territory=territory, started_by=by)
    record(actor=by, action="evaluation.start", obj=run, data={"on": on.isoformat()})
    try:
        lines_qs = ProductionLine.objects.filter(status__in=EVALUATED_STATUSES)
        if territory is not None:
            lines_qs = lines_qs.filter(enterprise__territory__in=territory.subtree_codes())
        rows: list[dict[str, Any]] = [
            dict(row)
            for row in lines_qs.order_by("id").values(
                "id",
                "enterprise_id",
                "enterprise__industry_id",
                "enterprise__territory_id",
                "equipment_type",
                "size_value",
                "size_unit",
                "process",
                "attributes",
            )
        ]
        say(_("%(count)d production lines to evaluate.") % {"count": len(rows)})
        latest = _latest_measurements([row["id"] for row in rows], on)
        builder = ColumnsBuilder(lib)
        kept: list[dict[str, Any]] = []
        refused = 0
        vocabulary = lib.vocabulary
        for number, row in enumerate(rows, start=1):
            product, attributes = read_attributes(row["attributes"] or {}, vocabulary)
            measured = latest.get(row["id"], {})
            facts = LineFacts(
                industry=row["enterprise__industry_id"],
                equipment_type=row["equipment_type"],
                size=row["size_value"],
                size_unit=row["size_unit"] if row["size_value"] is not None else "",
                process=row["process"] if row["process"] in vocabulary.processes else "",
                product=product,
                attributes=attributes,
                measurements={
                    code: Quantity(value, unit)
                    for code, (value, unit, _pk) in measured.items()
                    if code in vocabulary.measurements
                },
            )
            try:
                builder.add(facts)
            except FactsError:
                refused += 1
                continue
            kept.append(row)
            if number % 20000 == 0:
                say(_("Read %(done)d of %(total)d lines.") % {"done": number, "total": len(rows)})
        result = evaluate_columns(lib, builder.build(), on)
        say(_("%(count)d breaches found.") % {"count": len(result)})
        opened = known = 0
        results = []
        for position, (index, rule_index) in enumerate(zip(result.line, result.rule, strict=True), start=1):
            row = kept[int(index)]
            rule = result.rules[int(rule_index)]
            measurement = latest.get(row["id"], {}).get(rule.indicator)
            finding = None
            if open_cases:
                finding, is_new = _opener["finding"](
                    rule=rule,
                    row=row,
                    on=on,
                    by=by,
                    run=run,
                    basis=_basis(rule, row, measurement[2] if measurement else None),
                    measured_value=measurement[0] if measurement else None,
                )
                opened += is_new
                known += not is_new
            results.append(
                EvaluationResult(
                    run=run,
                    line_id=row["id"],
                    enterprise_id=row["enterprise_id"],
                    territory_id=row["enterprise__territory_id"],
                    rule_id=rule.id,
                    rule_version=rule.version,
                    rule_title=rule.title,
                    dimension=rule.dimension.value,
                    consequence=rule.consequence.value,
                    verification=rule.verification.value,
                    measured=_decimal(result.measured[position - 1]),
                    limit=_decimal(result.limit[position - 1]),
                    unit=rule.unit or (rule.size.unit if rule.size else ""),
                    finding=finding,
                )
            )
            if position % 1000 == 0:
                say(_("Handled %(done)d of %(total)d breaches.") % {"done": position, "total": len(result)})
        EvaluationResult.objects.bulk_create(results, batch_size=2000)
        run.lines_evaluated = len(kept)
        run.lines_refused = refused
        run.breaches = len(result)
        run.findings_opened = opened
        run.already_known = known
        run.status = EvaluationRun.Status.DONE
    except Exception as exc:
        run.status = EvaluationRun.Status.FAILED
        run.failure = str(exc)
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
        record(
            actor=by,
            action="evaluation.finish",
            obj=run,
            data={"status": run.status, "breaches": run.breaches, "opened": run.findings_opened},
        )
    return run
