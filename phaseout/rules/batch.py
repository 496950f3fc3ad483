"""Evaluate a whole registry at once, column by column (numpy).

The registry is turned into columns: one array per kind of fact (industry, equipment type,
process, product, size) and one per attribute and per measured indicator, with NaN (or -1 for a
category) where a value is missing. Each rule version in force then touches only the lines of its
equipment types or with its indicator measured, and computes its corrected limits for those lines
in a few array operations. Limits are compared with a tolerance of 1e-9 so that the float result
agrees with the exact Decimal evaluation in `engine.py`; a test holds the two to the same answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from phaseout.rules.engine import LineFacts, check_facts
from phaseout.rules.rulebook import Comparison, Correction, CorrectionKind, Library, Rule, SizeRange

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
AnyArray = npt.NDArray[Any]
TOLERANCE = 1e-9


@dataclass
class Codes:
    """Text values mapped to small integers, one table per column."""

    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    def code(self, column: str, value: str) -> int:
        if not value:
            return -1
        table = self.tables.setdefault(column, {})
        return table.setdefault(value, len(table))

    def find(self, column: str, values: Iterable[str]) -> list[int]:
        table = self.tables.get(column, {})
        return [table[v] for v in values if v in table]


@dataclass
class Columns:
    size: FloatArray
    industry: IntArray
    equipment_type: IntArray
    process: IntArray
    product: IntArray
    attributes: dict[str, AnyArray]
    measurements: dict[str, FloatArray]
    codes: Codes

    def __len__(self) -> int:
        return len(self.size)


class ColumnsBuilder:
    """Collects lines (as LineFacts or as plain values) into columns."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.codes = Codes()
        self.size: list[float] = []
        self.industry: list[int] = []
        self.equipment_type: list[int] = []
        self.process: list[int] = []
        self.product: list[int] = []
        self.attributes: dict[str, list[float | int]] = {}
        self.measurements: dict[str, list[float]] = {}
        self.count = 0

    def add(self, facts: LineFacts, *, checked: bool = False) -> None:
        if not checked:
            check_facts(self.library.vocabulary, facts)
        n = self.count
        self.size.append(float(facts.size) if facts.size is not None else np.nan)
        self.industry.append(self.codes.code("industry", facts.industry))
        self.equipment_type.append(self.codes.code("equipment_type", facts.equipment_type))
        self.process.append(self.codes.code("process", facts.process))
        self.product.append(self.codes.code("product", facts.product))
        for name, value in facts.attributes.items():
            categorical = self.library.vocabulary.attributes[name].categorical
            column = self.attributes.setdefault(name, [-1 if categorical else np.nan] * n)
            column.append(self.codes.code(name, str(value)) if categorical else float(value))
        for name, quantity in facts.measurements.items():
            self.measurements.setdefault(name, [np.nan] * n).append(float(quantity.value))
        self.count += 1
        for name, values in self.attributes.items():
            if len(values) < self.count:
                values.append(-1 if self.library.vocabulary.attributes[name].categorical else np.nan)
        for values in self.measurements.values():
            if len(values) < self.count:
                values.append(np.nan)

    def build(self) -> Columns:
        attributes: dict[str, AnyArray] = {}
        for name, values in self.attributes.items():
            categorical = self.library.vocabulary.attributes[name].categorical
            attributes[name] = np.asarray(values, dtype=np.int64 if categorical else np.float64)
        return Columns(
            size=np.asarray(self.size, dtype=np.float64),
            industry=np.asarray(self.industry, dtype=np.int64),
            equipment_type=np.asarray(self.equipment_type, dtype=np.int64),
            process=np.asarray(self.process, dtype=np.int64),
            product=np.asarray(self.product, dtype=np.int64),
            attributes=attributes,
            measurements={k: np.asarray(v, dtype=np.float64) for k, v in self.measurements.items()},
            codes=self.codes,
        )


@dataclass
class BatchResult:
    """Breaches found: parallel arrays, one entry per (line, rule version) that breaks."""

    rules: list[Rule]
    line: IntArray
    rule: IntArray
    measured: FloatArray
    limit: FloatArray

    def __len__(self) -> int:
        return len(self.line)

    def pairs(self) -> set[tuple[int, str]]:
        return {(int(i), self.rules[int(r)].key) for i, r in zip(self.line, self.rule, strict=True)}


def _in_range(size: FloatArray, bounds: SizeRange) -> npt.NDArray[np.bool_]:
    keep = ~np.isnan(size)
    if bounds.at_least is not None:
        keep &= size >= float(bounds.at_least)
    if bounds.above is not None:
        keep &= size > float(bounds.above)
    if bounds.at_most is not None:
        keep &= size <= float(bounds.at_most)
    if bounds.below is not None:
        keep &= size < float(bounds.below)
    return keep


def _categories(columns: Columns, name: str, mapping: dict[str, Decimal], default: float) -> FloatArray:
    """A lookup table from category code to amount; index -1 (missing) lands on the default."""
    table = columns.codes.tables.get(name, {})
    lookup = np.full(len(table) + 1, default)
    for category, amount in mapping.items():
        if category in table:
            lookup[table[category]] = float(amount)
    return lookup


def _correct(
    correction: Correction, grade: int, columns: Columns, idx: IntArray, limit: FloatArray
) -> FloatArray:
    values = columns.attributes.get(correction.attribute)
    if values is None:
        return limit
    x = values[idx]
    kind = correction.kind
    if kind is CorrectionKind.CATEGORY_ADD:
        return limit + _categories(columns, correction.attribute, dict(correction.categories), 0.0)[x]
    if kind is CorrectionKind.CATEGORY_FACTOR:
        return limit * _categories(columns, correction.attribute, dict(correction.categories), 1.0)[x]
    present = ~np.isnan(x)
    if kind is CorrectionKind.PER_POINT:
        coefficient = correction.coefficient[grade - 1]
        if coefficient is None:
            return limit
        points = np.where(present, x - float(correction.base), 0.0)
        if correction.only == "below":
            points = np.minimum(points, 0.0)
        elif correction.only == "above":
            points = np.maximum(points, 0.0)
        if correction.max_points is not None:
            cap = float(correction.max_points)
            points = np.clip(points, -cap, cap)
        return limit + float(coefficient) * points
    if kind is CorrectionKind.STEP_ADD:
        amount = np.zeros(len(idx))
        for threshold, step in correction.steps:
            amount = np.where(present & (x > float(threshold)), float(step), amount)
        return limit + amount
    if kind is CorrectionKind.THRESHOLD_FACTOR:
        assert correction.threshold is not None and correction.factor is not None
        return limit * np.where(present & (x > float(correction.threshold)), float(correction.factor), 1.0)
    if kind is CorrectionKind.ATTRIBUTE_FACTOR:
        return limit * np.where(present, x, 1.0)
    # LINEAR_FACTOR
    applies = present
    if correction.when_attribute:
        when_values = columns.attributes.get(correction.when_attribute)
        if when_values is None or correction.when_above is None:
            return limit
        when = when_values[idx]
        applies = applies & ~np.isnan(when) & (when > float(correction.when_above))
    factor = float(correction.intercept) + float(correction.slope) * x / float(correction.divisor)
    return limit * np.where(applies, factor, 1.0)


class _Index:
    """Line positions per equipment type and per measured indicator, computed once per run."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self._by_type: dict[int, IntArray] = {}
        self._measured: dict[str, IntArray] = {}
        order = np.argsort(columns.equipment_type, kind="stable")
        kinds, starts = np.unique(columns.equipment_type[order], return_index=True)
        ends = [*starts[1:], len(order)] if len(starts) else []  # no lines (an empty block): no kinds
        for kind, start, end in zip(kinds, starts, ends, strict=True):
            self._by_type[int(kind)] = np.sort(order[start:end])

    def of_types(self, codes: Sequence[int]) -> IntArray:
        parts = [self._by_type[c] for c in codes if c in self._by_type]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))

    def measured(self, indicator: str) -> IntArray:
        if indicator not in self._measured:
            values = self.columns.measurements.get(indicator)
            found = np.flatnonzero(~np.isnan(values)) if values is not None else np.empty(0, dtype=np.int64)
            self._measured[indicator] = found.astype(np.int64)
        return self._measured[indicator]


def _candidates(rule: Rule, columns: Columns, index: _Index) -> IntArray:
    """Positions of the lines this rule is about (and, for measured rules, that have the value)."""
    codes = columns.codes
    if rule.equipment_types:
        idx = index.of_types(codes.find("equipment_type", rule.equipment_types))
        if rule.comparison is not Comparison.ELIMINATED:
            idx = np.intersect1d(idx, index.measured(rule.indicator), assume_unique=True)
    elif rule.comparison is not Comparison.ELIMINATED:
        idx = index.measured(rule.indicator)
    else:
        idx = np.arange(len(columns), dtype=np.int64)
    if not len(idx):
        return idx
    keep = np.ones(len(idx), dtype=bool)
    for name, column, wanted in (
        ("industry", columns.industry, rule.industries),
        ("process", columns.process, rule.processes),
        ("product", columns.product, rule.products),
    ):
        if wanted:
            keep &= np.isin(column[idx], codes.find(name, wanted))
    if rule.except_processes:
        keep &= ~np.isin(columns.process[idx], codes.find("process", rule.except_processes))
    if rule.when_attribute:
        values = columns.attributes.get(rule.when_attribute)
        wanted_code = codes.find(rule.when_attribute, [rule.when_equals])
        if values is None or not wanted_code:
            return np.empty(0, dtype=np.int64)
        keep &= values[idx] == wanted_code[0]
    if rule.size is not None:
        keep &= _in_range(columns.size[idx], rule.size)
    return idx[keep]


def evaluate_columns(library: Library, columns: Columns, on: dt.date) -> BatchResult:
    """Every breach of every rule version in force on `on`, for all lines at once."""
    index = _Index(columns)
    rules = library.in_force(on)
    found_line: list[IntArray] = []
    found_rule: list[IntArray] = []
    found_measured: list[FloatArray] = []
    found_limit: list[FloatArray] = []
    for position, rule in enumerate(rules):
        idx = _candidates(rule, columns, index)
        if not len(idx):
            continue
        if rule.comparison is Comparison.ELIMINATED:
            hit = idx if not rule.needs_size else idx[~np.isnan(columns.size[idx])]
            measured = columns.size[hit]
            limit = np.full(len(hit), np.nan)
        else:
            grade = rule.grade
            if rule.bands:
                size = columns.size[idx]
                base = np.full(len(idx), np.nan)
                for band in rule.bands:
                    value = band.limits[grade - 1]
                    if value is not None:
                        base = np.where(np.isnan(base) & _in_range(size, band.size), float(value), base)
                inside = ~np.isnan(base)
                idx, base = idx[inside], base[inside]
            else:
                value = rule.limits[grade - 1]
                assert value is not None
                base = np.full(len(idx), float(value))
            limit = base
            ordered = [c for c in rule.corrections if c.additive] + [
                c for c in rule.corrections if not c.additive
            ]
            for correction in ordered:
                if grade in correction.grades:
                    limit = _correct(correction, grade, columns, idx, limit)
            values = columns.measurements[rule.indicator][idx]
            slack = TOLERANCE * np.maximum(1.0, np.abs(limit))
            if rule.comparison is Comparison.AT_MOST:
                failed = values > limit + slack
            else:
                failed = values < limit - slack
            hit, measured, limit = idx[failed], values[failed], limit[failed]
        found_line.append(hit)
        found_rule.append(np.full(len(hit), position, dtype=np.int64))
        found_measured.append(measured)
        found_limit.append(limit)

    def join(parts: list[npt.NDArray[np.generic]], dtype: type) -> npt.NDArray[np.generic]:
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    return BatchResult(
        rules=rules,
        line=join(found_line, np.int64),  # type: ignore[arg-type]
        rule=join(found_rule, np.int64),  # type: ignore[arg-type]
        measured=join(found_measured, np.float64),  # type: ignore[arg-type]
        limit=join(found_limit, np.float64),  # type: ignore[arg-type]
    )
