"""Evaluate 1,000,000 lines against every rule in force: column-wise (numpy) against the plain
per-object evaluation of the same rules (phaseout.rules.engine.evaluate, one line at a time).

Target: at least 200,000 lines/s, and at least 20x the per-object evaluation.
The lines are synthetic but realistic: steel, cement, flat glass, coke and ferroalloy equipment
with sizes across the elimination thresholds, energy and emission measurements around the limits,
and correction inputs (clinker ratio, ore shares, feed grade, steel grade, altitude) on a share.
The per-object baseline runs on a 20,000-line sample (it would take minutes on a million) and
its rate is compared; the two must find the same breaches on that sample.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phaseout.rules.batch import Codes, Columns, evaluate_columns
from phaseout.rules.engine import LineFacts, Quantity, evaluate
from phaseout.rules.equipment import SIZE_UNITS
from phaseout.rules.rulebook import library

N = int(os.environ.get("BENCH_LINES", "1000000"))
SAMPLE = 20_000
ON = dt.date(2026, 8, 3)

KINDS = {
    # equipment type: (industry, size choices, {indicator: (centre, spread)})
    "blast_furnace": (
        "steel",
        [300, 380, 400, 450, 1080, 2500],
        {"blast_furnace_energy": (415, 20), "pm_concentration": (10, 4)},
    ),
    "converter": ("steel", [20, 30, 50, 120], {"converter_energy": (-12, 6)}),
    "electric_furnace": ("steel", [25, 30, 45, 60, 100], {"eaf_energy": (75, 15)}),
    "sintering_machine": (
        "steel",
        [60, 90, 180, 360],
        {"sintering_energy": (50, 5), "nox_concentration": (50, 20)},
    ),
    "clinker_line": (
        "cement",
        [1000, 2500, 4000, 5000],
        {"clinker_energy": (115, 6), "cement_energy": (94, 5), "pm_concentration": (28, 6)},
    ),
    "cement_mill": ("cement", [2.6, 3.0, 3.8, 4.2], {"cement_grinding_power": (33, 3)}),
    "flat_glass_line": ("flat_glass", [400, 600, 900], {"flat_glass_energy": (12.5, 1.5)}),
    "coke_oven": ("coke", [], {"coke_energy": (135, 15)}),
}


def synthetic(n: int, seed: int = 20261122) -> Columns:
    rng = np.random.default_rng(seed)
    lib = library()
    codes = Codes()
    kinds = list(KINDS)
    kind_code = rng.integers(0, len(kinds), n)
    industries = sorted({industry for industry, _, _ in KINDS.values()})
    for name in kinds:
        codes.code("equipment_type", name)
    for name in industries:
        codes.code("industry", name)
    for name in ("foundry_iron", "top_charging", "vertical_kiln", "ferroalloy_converter"):
        codes.code("process", name)
    industry = np.array([codes.tables["industry"][KINDS[k][0]] for k in kinds])[kind_code]
    size = np.full(n, np.nan)
    measurements: dict[str, np.ndarray] = {}
    for position, name in enumerate(kinds):
        rows = np.flatnonzero(kind_code == position)
        choices = KINDS[name][1]
        if choices:
            size[rows] = rng.choice(choices, len(rows))
        for indicator, (centre, spread) in KINDS[name][2].items():
            column = measurements.setdefault(indicator, np.full(n, np.nan))
            measured = rows[rng.random(len(rows)) < 0.7]
            column[measured] = np.round(rng.normal(centre, spread, len(measured)), 2)
    process = np.where(rng.random(n) < 0.05, rng.integers(0, 4, n), -1)
    attributes: dict[str, np.ndarray] = {}

    def numeric(name: str, share: float, low: float, high: float) -> None:
        column = np.full(n, np.nan)
        chosen = rng.random(n) < share
        column[chosen] = np.round(rng.uniform(low, high, int(chosen.sum())), 1)
        attributes[name] = column

    numeric("clinker_ratio", 0.5, 65, 85)
    numeric("feed_iron_grade", 0.4, 55, 65)
    numeric("rare_earth_ore_share", 0.1, 0, 10)
    numeric("scrap_ratio", 0.3, 0, 25)
    numeric("hot_metal_ratio", 0.3, 0, 60)
    numeric("line_utilisation", 0.5, 60, 100)
    numeric("oven_age", 0.5, 5, 35)
    altitude = np.full(n, np.nan)
    high = rng.random(n) < 0.02
    altitude[high] = 2000
    attributes["altitude"] = altitude
    numeric("atmospheric_pressure", 1.0, 75000, 101325)
    grades = list(lib.vocabulary.attributes["steel_grade"].categories)
    for name in grades:
        codes.code("steel_grade", name)
    attributes["steel_grade"] = np.where(rng.random(n) < 0.4, rng.integers(0, len(grades), n), -1)
    for name in ("dry", "wet"):
        codes.code("quenching", name)
    attributes["quenching"] = np.where(rng.random(n) < 0.5, rng.integers(0, 2, n), -1)
    return Columns(
        size=size,
        industry=industry.astype(np.int64),
        equipment_type=kind_code.astype(np.int64),
        process=process.astype(np.int64),
        product=np.full(n, -1, dtype=np.int64),
        attributes=attributes,
        measurements=measurements,
        codes=codes,
    )


def facts_of(columns: Columns, i: int) -> LineFacts:
    """The same line as a plain object, for the per-object evaluation."""
    lib = library()
    names = {kind: {v: k for k, v in table.items()} for kind, table in columns.codes.tables.items()}
    kind = names["equipment_type"][int(columns.equipment_type[i])]
    size = columns.size[i]
    attributes: dict[str, Decimal | str] = {}
    for name, values in columns.attributes.items():
        value = values[i]
        if lib.vocabulary.attributes[name].categorical:
            if value >= 0:
                attributes[name] = names[name][int(value)]
        elif not np.isnan(value):
            attributes[name] = Decimal(str(value))
    measurements = {
        name: Quantity(Decimal(str(values[i])), lib.vocabulary.measurements[name].unit)
        for name, values in columns.measurements.items()
        if not np.isnan(values[i])
    }
    process = int(columns.process[i])
    return LineFacts(
        industry=names["industry"][int(columns.industry[i])],
        equipment_type=kind,
        size=None if np.isnan(size) else Decimal(str(size)),
        size_unit=SIZE_UNITS.get(kind, "") if not np.isnan(size) else "",
        process=names["process"][process] if process >= 0 else "",
        attributes=attributes,
        measurements=measurements,
    )


def main() -> None:
    lib = library()
    print(f"rules in force on {ON}: {len(lib.in_force(ON))} versions of {len(lib.versions)} rules")
    started = time.perf_counter()
    columns = synthetic(N)
    print(f"synthetic registry: {N:,} lines built in {time.perf_counter() - started:.2f} s (not timed below)")
    evaluate_columns(lib, synthetic(1000), ON)  # warm-up
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = evaluate_columns(lib, columns, ON)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    batch_rate = N / best
    runs = ", ".join(f"{t:.3f}" for t in timings)
    print(
        f"column-wise: {N:,} lines in {best:.3f} s (best of 3; runs {runs}), "
        f"{batch_rate:,.0f} lines/s, {len(result):,} breaches"
    )
    sample = [facts_of(columns, i) for i in range(SAMPLE)]
    started = time.perf_counter()
    exact = {(i, o.rule.key) for i, facts in enumerate(sample) for o in evaluate(lib, facts, ON) if o.breach}
    plain = time.perf_counter() - started
    plain_rate = SAMPLE / plain
    print(
        f"per-object (engine.evaluate, Decimal): {SAMPLE:,} lines in {plain:.2f} s, {plain_rate:,.0f} lines/s"
    )
    batch_sample = {(i, key) for i, key in result.pairs() if i < SAMPLE}
    agree = batch_sample == exact
    print(f"same breaches on the {SAMPLE:,}-line sample: {agree} ({len(exact):,} breaches)")
    print(
        f"target: >= 200,000 lines/s: {'met' if batch_rate >= 200_000 else 'NOT met'}; >= 20x: "
        f"{'met' if batch_rate / plain_rate >= 20 else 'NOT met'}"
    )
    print(f"ratio vs per-object evaluation of the same rules: {batch_rate / plain_rate:.1f}x")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
