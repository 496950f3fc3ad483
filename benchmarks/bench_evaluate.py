"""`phaseout evaluate` over a registry of 3,000,000 lines (1,000,000 enterprises), in a database of its
own: the streamed evaluation (one query for lines and their newest measurements, evaluated in blocks),
timed as the command runs it, in a subprocess, with its peak memory.

Budget (issue 15): evaluate over 3 M lines in at most 20 s and at most 1 GB. Measured: the dry run (reads
and evaluates everything, writes nothing) and a recording run (the same, and the run, its audit rows and
every result written with COPY; no findings opened, which is case work, not reading). The peer is the
evaluation before this change, as the issue measured it on this machine: 147 s and 4.5 GB for the dry
run over 2.85 M lines.

BENCH_LINES sets the size (default 3,000,000; a third as many enterprises); BENCH_EVALUATE_DB the
database (default phaseout_bench_evaluate). Seeding uses COPY and is skipped when the lines are there.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import copy_enterprises, use_database

# Production settings refuse to start without the audit trail's key: one for the benchmarks only.
os.environ.setdefault("AUDIT_MAC_KEY", "a7" * 32)

N = int(os.environ.get("BENCH_LINES", "3000000"))
DATABASE = os.environ.get("BENCH_EVALUATE_DB", "phaseout_bench_evaluate")
ON = dt.date(2026, 8, 3)
BUDGET_SECONDS = 20.0
BUDGET_BYTES = 1 << 30
PEER = "147 s, 4.5 GB (the dry run before, 2.85 M lines)"
COUNTIES = ["440703", "440704", "440705", "440781", "440783", "440784", "440785"]

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


def seed() -> None:
    from django.db import connection

    from phaseout.registry.models import ProductionLine
    from phaseout.rules.equipment import SIZE_UNITS
    from phaseout.rules.rulebook import library

    have = ProductionLine.objects.count()
    if have >= N:
        print(f"seed: {have} lines already there")
        return
    units = {code: m.unit for code, m in library().vocabulary.measurements.items()}
    rng = np.random.default_rng(20261203)
    n_enterprises = max(1, N // 3)
    kinds = list(KINDS)
    started = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            "TRUNCATE registry_enterprise, registry_productionline, registry_measurement,"
            " standards_evaluationrun, standards_evaluationresult RESTART IDENTITY CASCADE"
        )
        enterprise_kind = rng.integers(0, len(kinds), n_enterprises)
        copy_enterprises(
            cur,
            (
                (i, f"91{COUNTIES[i % 7]}{i:09d}", f"比对企业{i}", COUNTIES[i % 7], KINDS[kinds[k]][0])
                for i, k in zip(range(1, n_enterprises + 1), enterprise_kind.tolist(), strict=True)
            ),
        )
        print(f"seed: {n_enterprises} enterprises in {time.perf_counter() - started:.0f} s", flush=True)
        enterprise = rng.integers(1, n_enterprises + 1, N)
        enterprise.sort()
        # The line's kind is one of its enterprise's industry's kinds.
        by_industry: dict[str, list[int]] = {}
        for position, name in enumerate(kinds):
            by_industry.setdefault(KINDS[name][0], []).append(position)
        industry_of = [KINDS[kinds[k]][0] for k in range(len(kinds))]
        choice = rng.integers(0, 1 << 30, N)
        kind = np.array(
            [
                by_industry[industry_of[k]][c % len(by_industry[industry_of[k]])]
                for k, c in zip(enterprise_kind[enterprise - 1].tolist(), choice.tolist(), strict=True)
            ]
        )
        status = np.where(rng.random(N) < 0.05, 2, np.where(rng.random(N) < 0.03, 1, 0))
        attribute_draw = rng.random(N)
        grade = np.round(rng.uniform(55, 65, N), 1)
        ratio = np.round(rng.uniform(65, 90, N), 1)
        foundry = rng.random(N) < 0.08
        size_draw = rng.integers(0, 1 << 30, N)
        with cur.copy(
            "COPY registry_productionline (id, enterprise_id, name, equipment_type, size_value, size_unit,"
            " capacity, capacity_unit, process, commissioning_year, status, exited_on, attributes) FROM STDIN"
        ) as copy:
            for i in range(N):
                name = kinds[kind[i]]
                sizes = KINDS[name][1]
                # Most lines are of the larger sizes (years of the campaign): 3 % are drawn from all.
                if not sizes:
                    size = None
                elif size_draw[i] % 100 < 3:
                    size = sizes[size_draw[i] % len(sizes)]
                else:
                    size = sizes[-1 - size_draw[i] % 2]
                if name == "blast_furnace" and attribute_draw[i] < 0.4:
                    attributes = f'{{"feed_iron_grade": {grade[i]}}}'
                elif name == "clinker_line" and attribute_draw[i] < 0.5:
                    attributes = f'{{"clinker_ratio": {ratio[i]}}}'
                else:
                    attributes = "{}"
                copy.write_row(
                    (
                        i + 1,
                        int(enterprise[i]),
                        f"{i % 9 + 1}号线",
                        name,
                        size,
                        SIZE_UNITS.get(name, "") if size is not None else "",
                        100,
                        "10kt/a",
                        "foundry_iron" if name == "blast_furnace" and foundry[i] else "",
                        2005,
                        ("operating", "rectifying", "exited")[status[i]],
                        "2026-03-01" if status[i] == 2 else None,
                        attributes,
                    )
                )
        cur.execute("SELECT setval('registry_productionline_id_seq', %s)", (N,))
        print(f"seed: {N} lines in {time.perf_counter() - started:.0f} s", flush=True)
        measured = 0
        with cur.copy(
            "COPY registry_measurement (line_id, indicator, value, unit, measured_on, source, note,"
            " recorded_at)"
            " FROM STDIN"
        ) as copy:
            for position, name in enumerate(kinds):
                rows = np.flatnonzero(kind == position)
                for indicator, (centre, spread) in KINDS[name][2].items():
                    chosen = rows[rng.random(len(rows)) < 0.7]
                    # Around the limit for a few, well inside it for most.
                    shift = np.where(rng.random(len(chosen)) < 0.1, 0.0, 2.5 * abs(spread))
                    values = np.round(rng.normal(centre - shift, spread, len(chosen)), 2).tolist()
                    older = (rng.random(len(chosen)) < 0.2).tolist()  # an older value, superseded
                    future = (rng.random(len(chosen)) < 0.02).tolist()  # measured after the date
                    wrong = (rng.random(len(chosen)) < 0.001).tolist()  # in a unit the rules refuse
                    days = rng.integers(10, 300, len(chosen)).tolist()
                    unit = units[indicator]
                    for line, value, old, later, bad, day in zip(
                        (chosen + 1).tolist(), values, older, future, wrong, days, strict=True
                    ):
                        on = ON - dt.timedelta(days=day)
                        copy.write_row(
                            (line, indicator, value, "t" if bad else unit, on, "energy_audit", "", on)
                        )
                        measured += 1
                        if old:
                            earlier = on - dt.timedelta(days=200)
                            copy.write_row(
                                (line, indicator, value * 0.8, unit, earlier, "energy_audit", "", earlier)
                            )
                            measured += 1
                        if later:
                            after = ON + dt.timedelta(days=5)
                            copy.write_row(
                                (line, indicator, value * 2, unit, after, "energy_audit", "", after)
                            )
                            measured += 1
        print(f"seed: {measured} measurements in {time.perf_counter() - started:.0f} s", flush=True)
        cur.execute("VACUUM ANALYZE")  # index-only reads need the visibility map
    raw.commit()


def timed(label: str, args: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, output) of a command run as a child process: its resource use
    read with wait4 (getrusage of that one child; RUSAGE_CHILDREN would also count earlier children).
    Its CPU time is printed too: on a shared machine the wall time says as much about the others."""
    started = time.perf_counter()
    child = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    print(f"  {label}: wall {seconds:.1f} s, CPU of the process {usage.ru_utime + usage.ru_stime:.1f} s")
    if child.returncode:
        print(output)
        raise SystemExit(f"{args} failed with {child.returncode}")
    return seconds, usage.ru_maxrss * 1024, output


RECORD = f"""
import datetime as dt, django
django.setup()
from benchmarks.common import office_user
from phaseout.standards.actions import run_evaluation
run = run_evaluation(on=dt.date.fromisoformat("{ON.isoformat()}"), by=office_user(), open_cases=False)
print(run.status, run.lines_evaluated, run.lines_refused, run.breaches)
"""


def main() -> int:
    use_database(DATABASE)
    seed()
    from phaseout.registry.models import ProductionLine

    lines = ProductionLine.objects.count()
    cli = [sys.executable, "-m", "phaseout.cli", "evaluate", "--date", ON.isoformat()]
    dry_seconds, dry_rss, dry_out = timed("dry run", [*cli, "--dry-run"])
    print(dry_out.strip().splitlines()[-1])
    record_seconds, record_rss, record_out = timed("recording run", [sys.executable, "-c", RECORD])
    print(f"recording run: {record_out.strip().splitlines()[-1]}")
    load = os.getloadavg()
    failed = 0
    for label, seconds, rss in (
        ("dry run", dry_seconds, dry_rss),
        ("recording run", record_seconds, record_rss),
    ):
        over = seconds > BUDGET_SECONDS or rss > BUDGET_BYTES
        failed |= over
        print(
            f"evaluate {label}, {lines:,} lines: {seconds:.1f} s (budget {BUDGET_SECONDS:.0f} s,"
            f" {seconds / BUDGET_SECONDS:.2f} of it), peak RSS {rss / 2**20:.0f} MB (budget"
            f" {BUDGET_BYTES / 2**20:.0f} MB, {rss / BUDGET_BYTES:.2f} of it){' OVER' if over else ''}"
        )
    print(
        f"evaluate {lines:,} lines: dry run {dry_seconds:.1f} s / {dry_rss / 2**20:.0f} MB, recording"
        f" {record_seconds:.1f} s / {record_rss / 2**20:.0f} MB; budget {BUDGET_SECONDS:.0f} s / 1 GB; ratio"
        f" {dry_seconds / BUDGET_SECONDS:.2f} (time), {dry_rss / BUDGET_BYTES:.2f} (memory); peer {PEER};"
        f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    return failed


if __name__ == "__main__":
    sys.exit(main())
