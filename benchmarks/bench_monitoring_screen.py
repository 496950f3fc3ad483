"""Screening a year of hourly monitoring data for exceedance and completeness (issue 16).

A province's year: 10,000 monitoring points x 5 pollutants x 8,760 hours = 438 M hourly averages, each with
its usable flag, judged against a limit per point and pollutant by `phaseout.rules.monitoring.screen`
(column-wise, NumPy), block by block so memory stays bounded. The baseline is plain pandas on the same
blocks: a long frame (point, pollutant, value, usable) grouped by point and pollutant. Both must give the
same counts. Target: the whole year under 60 s on this machine.

BENCH_SCALE (default 1) scales the number of points; BENCH_PANDAS_BLOCKS (default 4 of the 40 blocks; 0 for
every block) limits how many blocks the baseline runs, its time then scaled to the year (said so in the
output): pandas takes minutes over the whole year.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phaseout.rules.monitoring import screen

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
POINTS = max(1, int(10_000 * SCALE))
POLLUTANTS = 5
HOURS = 8_760
BLOCK = 250  # points per block: 250 x 5 x 8,760 = 11 M values, 44 MB of float32


def block_data(rng: np.random.Generator, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = rng.gamma(4.0, 8.0, size=(points, POLLUTANTS, HOURS)).astype(np.float32)
    usable = rng.random(size=values.shape, dtype=np.float32) > 0.03  # about 3 % flagged invalid
    values[rng.random(size=values.shape, dtype=np.float32) < 0.005] = np.nan  # missing hours
    limits = rng.choice(np.array([30, 50, 100, 200, 400], dtype=np.float32), size=(points, POLLUTANTS))
    limits[:, 4] = np.nan  # flow: no limit
    return values, usable, limits


def pandas_counts(
    values: np.ndarray, usable: np.ndarray, limits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    points = values.shape[0]
    per_series = POLLUTANTS * HOURS
    frame = pd.DataFrame(
        {
            "point": np.repeat(np.arange(points, dtype=np.int32), per_series),
            "pollutant": np.tile(np.repeat(np.arange(POLLUTANTS, dtype=np.int8), HOURS), points),
            "value": values.reshape(-1),
            "usable": usable.reshape(-1),
        }
    )
    frame["limit"] = np.repeat(limits.reshape(-1), HOURS)
    frame["valid"] = frame["usable"] & frame["value"].notna()
    frame["over"] = frame["valid"] & (frame["value"] > frame["limit"])
    grouped = frame.groupby(["point", "pollutant"], sort=True)[["valid", "over"]].sum()
    valid = grouped["valid"].to_numpy().reshape(points, POLLUTANTS)
    over = grouped["over"].to_numpy().reshape(points, POLLUTANTS)
    return valid, over


def main() -> None:
    pandas_blocks = int(os.environ.get("BENCH_PANDAS_BLOCKS", "4")) or None
    rng = np.random.default_rng(20270301)
    screened = pandas_time = 0.0
    pandas_values = 0
    agree = True
    exceeding_series = valid_hours = 0
    total = POINTS * POLLUTANTS * HOURS
    for blocks, first in enumerate(range(0, POINTS, BLOCK)):
        points = min(BLOCK, POINTS - first)
        values, usable, limits = block_data(rng, points)
        started = time.perf_counter()
        result = screen(values, usable, limits)
        screened += time.perf_counter() - started
        exceeding_series += int((result.exceeding_hours > 0).sum())
        valid_hours += int(result.valid_hours.sum())
        if pandas_blocks is None or blocks < pandas_blocks:
            started = time.perf_counter()
            valid, over = pandas_counts(values, usable, limits)
            pandas_time += time.perf_counter() - started
            pandas_values += values.size
            agree &= bool((valid == result.valid_hours).all() and (over == result.exceeding_hours).all())
    pandas_year = pandas_time * total / pandas_values
    rate = total / screened
    print(
        f"screen (NumPy, phaseout.rules.monitoring.screen): {POINTS:,} points x {POLLUTANTS} pollutants x "
        f"{HOURS:,} hours = {total:,} hourly averages in {screened:.1f} s ({rate:,.0f}/s); "
        f"{exceeding_series:,} series with an exceedance; completeness {100 * valid_hours / total:.1f} %"
    )
    measured = "" if pandas_values == total else f" (measured on {pandas_values:,}, scaled to the year)"
    print(f"plain pandas (long frame, groupby point and pollutant): {pandas_year:.1f} s{measured}")
    print(f"same counts as pandas: {agree}")
    print(f"target: the year under 60 s: {'met' if screened < 60 else 'NOT met'}")
    print(f"ratio vs plain pandas: {pandas_year / screened:.1f}x")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
