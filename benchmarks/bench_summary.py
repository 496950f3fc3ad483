"""The year summary over 1,000,000 cases (and 3,000,000 lines) on PostgreSQL: at most 2 s.

Uses the list benchmark's database (1,000,000 enterprises, 3,000,000 lines, 1,000,000 cases; seeded
once). Printed beside the same figures counted in Python over the rows (the plain way).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import use_database


def main() -> None:
    use_database("phaseout_bench")
    from benchmarks.bench_lists import seed

    seed()
    from phaseout.cases.models import Case
    from phaseout.reports.summary import year_summary

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = year_summary(2026)
        timings.append(time.perf_counter() - started)
    found = sum(r["found"] for r in result["by_territory"])
    best = min(timings)
    print(f"year summary 2026: {found:,} cases, {result['exited_lines']:,} exited lines")
    runs = ", ".join(f"{t:.2f}" for t in timings)
    verdict = "met" if best <= 2 else "NOT met"
    print(f"database aggregates: best {best:.2f} s (runs {runs}); target 2 s: {verdict}")
    started = time.perf_counter()
    plain = Counter()
    for territory, state in (
        Case.objects.filter(opened_at__year=2026)
        .values_list("territory__name", "state")
        .iterator(chunk_size=20000)
    ):
        plain[(territory, state)] += 1
    python = time.perf_counter() - started
    assert sum(plain.values()) == found
    print(f"the same case counts in Python over the rows: {python:.2f} s")
    print(f"ratio: {python / best:.1f}x")


if __name__ == "__main__":
    os.environ.setdefault("DEBUG", "false")
    main()
