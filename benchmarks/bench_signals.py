"""The resumed-production screening at a province's scale (PostgreSQL): BENCH_SIGNALS_LINES (default
1,000,000) production lines, each with its electricity account and a month of power use; one line in
BENCH_SIGNALS_EXITED_EVERY (default 100) has exited, and one exited line in 10 still draws power above
the residual threshold. The screening job (phaseout.signals.screening) runs twice: the first run raises
the signals (with their history events, audit rows and messages), the second raises none. Prints the
seconds of each run, the signals raised, the peak memory of the process and the load average.

The data is seeded with SQL (generate_series) once per database; BENCH_SIGNALS_DB names it.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import copy_enterprises, use_database

LINES = int(os.environ.get("BENCH_SIGNALS_LINES", "1000000"))
EXITED_EVERY = int(os.environ.get("BENCH_SIGNALS_EXITED_EVERY", "100"))
ENTERPRISES = max(1, LINES // 10)
TODAY = dt.date(2026, 8, 10)
NOW = dt.datetime(2026, 8, 10, 2, 0, tzinfo=dt.UTC)
TERRITORY = "440703"


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    if connection.cursor().execute("SELECT count(*) FROM registry_productionline").fetchone()[0] >= LINES:
        return
    user, _ = get_user_model().objects.get_or_create(username="bench-signals")
    with transaction.atomic(), connection.cursor() as cursor:
        copy_enterprises(
            cursor,
            (
                (i, f"91440703MB{i:07d}", f"基准铸造有限公司{i}", TERRITORY, "steel")
                for i in range(1, ENTERPRISES + 1)
            ),
        )
        cursor.execute(
            """
            INSERT INTO registry_productionline (id, enterprise_id, name, equipment_type, capacity,
                capacity_unit, process, attributes, status, exited_on, territory_id, size_unit)
            SELECT i, 1 + (i - 1) %% %(ent)s, i || '号中频炉', 'induction_furnace', 10, '10kt/a', '', '{}',
                   CASE WHEN i %% %(every)s = 0 THEN 'exited' ELSE 'operating' END,
                   CASE WHEN i %% %(every)s = 0 THEN DATE '2026-03-31' END, %(t)s, ''
            FROM generate_series(1, %(n)s) AS i
            """,
            {"ent": ENTERPRISES, "every": EXITED_EVERY, "t": TERRITORY, "n": LINES},
        )
        cursor.execute(
            """
            INSERT INTO signals_electricityaccount (id, number, enterprise_id, line_id, territory_id,
                matched_by_id, matched_at)
            SELECT i, lpad(i::text, 12, '0'), 1 + (i - 1) %% %(ent)s, i, %(t)s, %(u)s, now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"ent": ENTERPRISES, "t": TERRITORY, "u": user.pk, "n": LINES},
        )
        cursor.execute(
            "INSERT INTO signals_powerimport (id, original_name, sha256, uploaded_by_id, uploaded_at,"
            " total_rows, valid_rows, created_count, unchanged_count, errors)"
            " VALUES (1, 'bench.csv', '', %s, now(), 0, 0, 0, 0, '[]')",
            [user.pk],
        )
        # July's use: 30,000 kWh an operating line; an exited line 300 (a guard house), one in ten 9,000.
        cursor.execute(
            """
            INSERT INTO signals_powerreading (account_id, granularity, period_start, period_end, kwh,
                valley_kwh, source_id)
            SELECT i, 'month', DATE '2026-07-01', DATE '2026-07-31',
                   CASE WHEN i %% %(every)s <> 0 THEN 30000
                        WHEN i %% (%(every)s * 10) = 0 THEN 9000 ELSE 300 END, NULL, 1
            FROM generate_series(1, %(n)s) AS i
            """,
            {"every": EXITED_EVERY, "n": LINES},
        )
        for table in ("registry_productionline", "signals_electricityaccount"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {LINES})")
        cursor.execute(f"SELECT setval('registry_enterprise_id_seq', {ENTERPRISES})")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def people() -> None:
    """Those told of each signal: the office, an energy department officer and the district."""
    from django.contrib.auth import get_user_model

    from phaseout.orgs.models import Department, Person, Role

    users = get_user_model().objects
    for username, role, unit in (
        ("bench-office", Role.OFFICE, {"department": Department.objects.get(code="jm-gxj")}),
        ("bench-fgj", Role.DEPARTMENT, {"department": Department.objects.get(code="jm-fgj")}),
        ("bench-district", Role.DISTRICT, {"territory_id": TERRITORY}),
    ):
        user, _ = users.get_or_create(username=username)
        Person.objects.get_or_create(user=user, defaults={"role": role, "display_name": username, **unit})


def main() -> None:
    use_database(os.environ.get("BENCH_SIGNALS_DB", "phaseout_bench_signals"))
    from phaseout.signals.models import Signal
    from phaseout.signals.screening import job

    started = time.perf_counter()
    seed()
    print(f"seeded {LINES:,} lines, accounts and readings in {time.perf_counter() - started:.1f} s")
    from phaseout.signals.models import Event

    Event.objects.filter(signal__isnull=False).delete()  # a run before: start again with no signals
    Signal.objects.all().delete()
    people()
    expected = LINES // (EXITED_EVERY * 10)
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        counts = job(now=NOW, today=TODAY)
        runs.append((time.perf_counter() - started, counts))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    print(
        f"screening {LINES:,} lines: first run {runs[0][0]:.2f} s ({runs[0][1]['resumed']} signals, "
        f"expected {expected}), second run {runs[1][0]:.2f} s ({runs[1][1]['resumed']} signals); "
        f"peak memory {peak:.0f} MiB; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    sys.exit(0 if runs[0][1]["resumed"] == expected and runs[1][1]["resumed"] == 0 else 1)


if __name__ == "__main__":
    main()
