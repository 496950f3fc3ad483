"""Evaluate one production line against the rulebooks on a day (exact, in Decimal).

This is the reference evaluation used by findings, the what-if page and `phaseout check-line`;
`batch.py` does the same for the whole registry at once, and a test holds the two to the same
answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from phaseout.rules.equipment import SIZE_UNITS
from phaseout.rules.rulebook import (
    GRADES,
    Comparison,
    Correction,
    CorrectionKind,
    Library,
    Rule,
    Vocabulary,
)


class FactsError(ValueError):
    """Facts the engine refuses: an unknown indicator, a value in the wrong unit, a bad category."""


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str


@dataclass(frozen=True)
class LineFacts:
    """What the engine knows about one line: its kind, size, attributes and measured values."""

    industry: str = ""
    equipment_type: str = ""
    size: Decimal | None = None
    size_unit: str = ""
    process: str = ""
    product: str = ""
    attributes: Mapping[str, Decimal | str] = field(default_factory=dict)
    measurements: Mapping[str, Quantity] = field(default_factory=dict)


class Status(StrEnum):
    BREACH = "breach"
    COMPLIANT = "compliant"
    NOT_ASSESSED = "not_assessed"  # the rule applies but a value it needs is missing


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    status: Status
    measured: Decimal | None = None
    limit: Decimal | None = None  # after corrections
    base_limit: Decimal | None = None
    applied: tuple[str, ...] = ()  # corrections applied, each with its figure
    missing: tuple[str, ...] = ()  # codes of values that were not given

    @property
    def breach(self) -> bool:
        return self.status is Status.BREACH


def check_facts(vocabulary: Vocabulary, facts: LineFacts) -> None:
    """Refuse facts the rules cannot read; nothing is guessed or converted."""
    expected = SIZE_UNITS.get(facts.equipment_type)
    if facts.size is not None:
        if facts.size <= 0:
            raise FactsError("the size must be greater than zero")
        if expected is None:
            raise FactsError(f"equipment type {facts.equipment_type or '(none)'!r} has no size parameter")
        if facts.size_unit != expected:
            raise FactsError(
                f"unit mismatch: the size of {facts.equipment_type!r} is measured in {expected}, "
                f"not {facts.size_unit or '(none)'}"
            )
    if facts.process and facts.process not in vocabulary.processes:
        raise FactsError(f"unknown process {facts.process!r}")
    if facts.product and facts.product not in vocabulary.products:
        raise FactsError(f"unknown product {facts.product!r}")
    for code, quantity in facts.measurements.items():
        indicator = vocabulary.measurements.get(code)
        if indicator is None:
            raise FactsError(f"unknown indicator {code!r}")
        if quantity.unit != indicator.unit:
            raise FactsError(f"unit mismatch: {code!r} is measured in {indicator.unit}, not {quantity.unit}")
    for code, value in facts.attributes.items():
        attribute = vocabulary.attributes.get(code)
        if attribute is None:
            raise FactsError(f"unknown attribute {code!r}")
        if attribute.categorical:
            if value not in attribute.categories:
                raise FactsError(f"{code!r} has no category {value!r}")
        elif not isinstance(value, Decimal):
            raise FactsError(f"{code!r} needs a number")


def facts_from_json(data: Mapping[str, Any], vocabulary: Vocabulary) -> LineFacts:
    """Facts from a JSON object (the `phaseout check-line` input); refuses what it cannot read."""

    def number(value: Any, what: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise FactsError(f"{what} needs a number")
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise FactsError(f"{what} needs a number, not {value!r}") from None
        if not result.is_finite():
            raise FactsError(f"{what} needs a finite number")
        return result

    if not isinstance(data, Mapping):
        raise FactsError("the line must be a JSON object")
    known = {"industry", "equipment_type", "size", "process", "product", "attributes", "measurements"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FactsError(f"unknown field {unknown[0]!r}")
    size = data.get("size")
    size_value, size_unit = None, ""
    if size is not None:
        if not isinstance(size, Mapping) or set(size) != {"value", "unit"}:
            raise FactsError('"size" must be {"value": number, "unit": text}')
        size_value, size_unit = number(size["value"], "size"), str(size["unit"])
    attributes: dict[str, Decimal | str] = {}
    for code, value in dict(data.get("attributes") or {}).items():
        attribute = vocabulary.attributes.get(code)
        if attribute is None:
            raise FactsError(f"unknown attribute {code!r}")
        attributes[code] = str(value) if attribute.categorical else number(value, code)
    measurements = {}
    for code, value in dict(data.get("measurements") or {}).items():
        if not isinstance(value, Mapping) or set(value) != {"value", "unit"}:
            raise FactsError(f'measurement {code!r} must be {{"value": number, "unit": text}}')
        measurements[code] = Quantity(number(value["value"], code), str(value["unit"]))
    facts = LineFacts(
        industry=str(data.get("industry") or ""),
        equipment_type=str(data.get("equipment_type") or ""),
        size=size_value,
        size_unit=size_unit,
        process=str(data.get("process") or ""),
        product=str(data.get("product") or ""),
        attributes=attributes,
        measurements=measurements,
    )
    check_facts(vocabulary, facts)
    return facts


def matches(rule: Rule, facts: LineFacts) -> bool:
    """Whether the rule is about this kind of line (size aside)."""
    return (
        (not rule.industries or facts.industry in rule.industries)
        and (not rule.equipment_types or facts.equipment_type in rule.equipment_types)
        and (not rule.processes or facts.process in rule.processes)
        and (facts.process not in rule.except_processes if facts.process else True)
        and (not rule.products or facts.product in rule.products)
        and (not rule.when_attribute or facts.attributes.get(rule.when_attribute) == rule.when_equals)
    )


def _number(facts: LineFacts, code: str) -> Decimal | None:
    value = facts.attributes.get(code)
    return value if isinstance(value, Decimal) else None


def _correct(
    correction: Correction, grade: int, facts: LineFacts, limit: Decimal
) -> tuple[Decimal, str | None]:
    """The limit after one correction, and what was applied (None when it did not apply)."""
    kind = correction.kind
    if kind in (CorrectionKind.CATEGORY_ADD, CorrectionKind.CATEGORY_FACTOR):
        category = facts.attributes.get(correction.attribute)
        amount = correction.categories.get(str(category)) if category is not None else None
        if amount is None:
            return limit, None
        if kind is CorrectionKind.CATEGORY_ADD:
            return limit + amount, f"{correction.description}：{amount:+}"
        return limit * amount, f"{correction.description}：×{amount}"
    x = _number(facts, correction.attribute)
    if x is None:
        return limit, None
    if kind is CorrectionKind.PER_POINT:
        coefficient = correction.coefficient[grade - 1]
        if coefficient is None:
            return limit, None
        points = x - correction.base
        if correction.only == "below":
            points = min(points, Decimal(0))
        elif correction.only == "above":
            points = max(points, Decimal(0))
        if correction.max_points is not None:
            points = max(-correction.max_points, min(correction.max_points, points))
        if points == 0:
            return limit, None
        change = coefficient * points
        return limit + change, f"{correction.description}：{change:+}"
    if kind is CorrectionKind.STEP_ADD:
        amount = Decimal(0)
        for threshold, step in correction.steps:
            if x > threshold:
                amount = step
        return (limit + amount, f"{correction.description}：{amount:+}") if amount else (limit, None)
    if kind is CorrectionKind.THRESHOLD_FACTOR:
        assert correction.threshold is not None and correction.factor is not None
        if x > correction.threshold:
            return limit * correction.factor, f"{correction.description}：×{correction.factor}"
        return limit, None
    if kind is CorrectionKind.ATTRIBUTE_FACTOR:
        return limit * x, f"{correction.description}：×{x}"
    # LINEAR_FACTOR
    if correction.when_attribute:
        when = _number(facts, correction.when_attribute)
        if when is None or correction.when_above is None or when <= correction.when_above:
            return limit, None
    factor = correction.intercept + correction.slope * x / correction.divisor
    return limit * factor, f"{correction.description}：×{factor.quantize(Decimal('0.0001'))}"


def corrected_limit(
    rule: Rule, facts: LineFacts, grade: int | None = None
) -> tuple[Decimal | None, Decimal | None, tuple[str, ...], tuple[str, ...]]:
    """(limit after corrections, base limit, corrections applied, inputs missing) for a grade."""
    grade = grade or rule.grade
    if rule.bands:
        band = rule.band_for(facts.size)
        base = band.limits[grade - 1] if band else None
    else:
        base = rule.limits[grade - 1]
    if base is None:
        return None, None, (), ()
    limit = base
    applied: list[str] = []
    missing: list[str] = []
    ordered = [c for c in rule.corrections if c.additive] + [c for c in rule.corrections if not c.additive]
    for correction in ordered:
        if grade not in correction.grades:
            continue
        if correction.attribute not in facts.attributes:
            missing.append(correction.attribute)
            continue
        limit, note = _correct(correction, grade, facts, limit)
        if note:
            applied.append(note)
    return limit, base, tuple(applied), tuple(missing)


def evaluate_rule(rule: Rule, facts: LineFacts) -> Outcome | None:
    """The outcome of one rule version for a line, or None when the rule is not about this line."""
    if not matches(rule, facts):
        return None
    if rule.needs_size:
        if facts.size is None:
            return Outcome(rule, Status.NOT_ASSESSED, missing=("size",))
        if rule.size is not None and not rule.size.contains(facts.size):
            return None
        if rule.bands and rule.band_for(facts.size) is None:
            return None
    if rule.comparison is Comparison.ELIMINATED:
        return Outcome(rule, Status.BREACH, measured=facts.size)
    quantity = facts.measurements.get(rule.indicator)
    limit, base, applied, missing = corrected_limit(rule, facts)
    if quantity is None:
        return Outcome(rule, Status.NOT_ASSESSED, limit=limit, base_limit=base, missing=(rule.indicator,))
    if quantity.unit != rule.unit:
        raise FactsError(f"unit mismatch: {rule.indicator!r} is measured in {rule.unit}, not {quantity.unit}")
    assert limit is not None
    measured = quantity.value
    failed = measured > limit if rule.comparison is Comparison.AT_MOST else measured < limit
    return Outcome(
        rule,
        Status.BREACH if failed else Status.COMPLIANT,
        measured=measured,
        limit=limit,
        base_limit=base,
        applied=applied,
        missing=missing,
    )


def evaluate(library: Library, facts: LineFacts, on: dt.date) -> list[Outcome]:
    """Every rule in force on `on` that is about this line, with its outcome."""
    check_facts(library.vocabulary, facts)
    outcomes = []
    for rule in library.in_force(on):
        outcome = evaluate_rule(rule, facts)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def outcome_json(outcome: Outcome, library: Library) -> dict[str, Any]:
    """One outcome as JSON: the conclusion with its legal basis and the enforcing department."""
    rule = outcome.rule

    def text(value: Decimal | None) -> str | None:
        return (
            None
            if value is None
            else format(value.normalize() if value == value.to_integral() else value, "f")
        )

    return {
        "rule": rule.id,
        "version": rule.version,
        "title": rule.title,
        "dimension": rule.dimension.value,
        "status": outcome.status.value,
        "indicator": rule.indicator or "size",
        "measured": text(outcome.measured),
        "limit": rule.size.describe()
        if rule.comparison is Comparison.ELIMINATED and rule.size
        else text(outcome.limit),
        "base_limit": text(outcome.base_limit),
        "unit": rule.unit or (rule.size.unit if rule.size else ""),
        "grade": rule.grade,
        "corrections": list(outcome.applied),
        "missing": list(outcome.missing),
        "consequence": rule.consequence.value,
        "rectification_months": rule.rectification_months,
        "catalogue_class": rule.catalogue_class.value,
        "legal_basis": rule.source,
        "enforcing_departments": [library.vocabulary.departments[code][0] for code in rule.departments],
        "verification": rule.verification.value,
        "uses_unconfirmed_values": rule.uses_unconfirmed,
    }


__all__ = ["GRADES", "FactsError", "LineFacts", "Outcome", "Quantity", "Status", "evaluate"]
