"""The report pages over a seeded year on PostgreSQL: the exit ledger (all, a filter matching everything,
one matching nothing), its aggregates, the charts, a stage report, the dashboard, the home page, the
price measures and their .xlsx.

Seeded once into the database `reports_sql_bench` with bulk SQL: 50,000 enterprises, 100,000 exited
lines each exited by its own case (finding, inspection, eight exit measures: 800,000 measures), and
200,000 further cases in the other states (40,000 of them overdue). Each page is requested through
Django's test client as the office (which sees everything) until 7 samples or 40 s; p50/p95 printed
with the load average. `BENCH_SAVE=before` keeps the figures in benchmarks/out/bench_reports-before.json;
a later run prints each page's ratio against them. The last line is the ratio of the aggregates page
against plain SQL of the same aggregate.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # PYTHONPATH=…/main measures the old code
from benchmarks.common import OUT, copy_enterprises, office_user, summary, use_database

N = int(os.environ.get("BENCH_ROWS", "100000"))  # exited lines, one exit case each
OTHER = 2 * N  # cases in the other states
BUDGET = float(os.environ.get("BENCH_BUDGET", "40"))  # seconds per page at most
SAMPLES = 7
INDUSTRIES = ("steel", "cement")
COUNTIES = ["440703", "440704", "440705", "440781", "440783", "440784", "440785"]
PAGES = [
    ("ledger", "/reports/ledger/", {}),
    ("ledger, everything", "/reports/ledger/", {"year": "2026", "industry": "steel", "page": "3"}),
    ("ledger, nothing", "/reports/ledger/", {"q": "没有这家企业"}),
    ("aggregates by industry", "/reports/aggregates/", {"group": "industry"}),
    ("aggregates by department", "/reports/aggregates/", {"group": "department"}),
    ("charts", "/reports/charts/", {}),
    ("dashboard", "/dashboard/", {}),
    ("home", "/", {}),
    ("prices", "/prices/", {}),
    ("prices, page 40", "/prices/", {"page": "40"}),
    ("prices power .xlsx", "/prices/power.xlsx", {}),
]


def seed() -> None:
    from django.db import connection

    from phaseout import crypto
    from phaseout.cases.models import MeasureKind
    from phaseout.orgs.models import Department

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_case")
        if cur.fetchone()[0] == N + OTHER:
            return
    started = time.perf_counter()
    user = office_user()
    department = Department.objects.get(code="jm-gxj").pk
    enterprises = N // 2
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            "TRUNCATE registry_enterprise, registry_productionline, cases_case, cases_inspection,"
            " cases_finding, cases_exitmeasure, cases_caseevent RESTART IDENTITY CASCADE"
        )
        copy_enterprises(
            cur,
            (
                (i, f"91440700{i:09d}", f"江门市第{i}钢铁有限公司", COUNTIES[i % 7], INDUSTRIES[i % 2])
                for i in range(1, enterprises + 1)
            ),
        )
        # The contact's name is encrypted at rest too (common.copy_enterprises writes it plain).
        cur.execute(
            "UPDATE registry_enterprise SET contact_name = %s",
            [crypto.encrypt("registry.contact_name", "张工")],
        )
        cur.execute(
            "INSERT INTO registry_productionline (id, enterprise_id, name, equipment_type, size_value,"
            " size_unit, capacity, capacity_unit, process, commissioning_year, status, exited_on, attributes,"
            " territory_id)"  # the enterprise's territory, kept on the line (registry 0010)
            " SELECT g, (g + 1) / 2, g || '号高炉', 'blast_furnace', 300, 'm3', 45 + g %% 10,"
            " (ARRAY['10kt/a', 't/d'])[1 + g %% 2], '', 2005, 'exited',"
            " date '2025-06-05' + g %% 500, '{}', e.territory_id FROM generate_series(1, %s) g"
            " JOIN registry_enterprise e ON e.id = (g + 1) / 2",
            [N],
        )
        cur.execute(
            "INSERT INTO cases_inspection (id, dimension, inspected_on, inspectors, notes, recorded_at,"
            " department_id, enterprise_id, line_id, recorded_by_id, method)"
            " SELECT g, 'technology', date '2025-06-02', '李明', '', now(), %s, (g + 1) / 2, g, %s, 'on_site'"
            " FROM generate_series(1, %s) g",
            [department, user.pk, N],
        )
        cur.execute(
            "INSERT INTO cases_finding (id, rule_id, rule_title, rule_source, unit, conclusion, recorded_at,"
            " line_id, inspection_id, basis, corrections, rule_version, verification)"
            " SELECT g, 'technology.steel.blast-furnace-400', '400立方米及以下炼铁高炉',"
            " '产业结构调整指导目录', '', 'non_compliant', now(), g, g, '', '{}', '', ''"
            " FROM generate_series(1, %s) g",
            [N],
        )
        common = (
            "INSERT INTO cases_case (id, enterprise_id, territory_id, industry_id, dimension, rule_id,"
            " consequence, state, version, opened_at, extension_months, exit_plan, exit_ordered_on,"
            " exited_on, accepted_on, acceptance_team, acceptance_record, line_id, finding_id, resumed,"
            " order_date, deadline, overdue_at, reinspection_due)"
        )
        cur.execute(
            common + " SELECT g, (g + 1) / 2, e.territory_id, e.industry_id, 'technology',"
            " 'technology.steel.blast-furnace-400', 'exit',"
            " (ARRAY['exited', 'accepted', 'archived'])[1 + g %% 3],"
            " 3, timestamptz '2025-06-02 09:00+08' + (g %% 500) * interval '1 day', 0,"
            " (ARRAY['seal_then_dismantle', 'dismantle_at_once'])[1 + g %% 2], date '2025-06-03',"
            " date '2025-06-05' + g %% 500,"
            " CASE WHEN g %% 3 = 0 THEN NULL ELSE date '2025-06-06' + g %% 500 END,"
            " CASE WHEN g %% 3 = 0 THEN '' ELSE '验收组' END,"
            " CASE WHEN g %% 3 = 0 THEN '' ELSE '合格' END, g, g, false, NULL, NULL, NULL, NULL"
            " FROM generate_series(1, %s) g JOIN registry_enterprise e ON e.id = (g + 1) / 2",
            [N],
        )
        # The other cases: enterprise-level, spread over the open and closed states; every fifth overdue.
        cur.execute(
            common + " SELECT %s + g, 1 + g %% %s, e.territory_id, e.industry_id,"
            " (ARRAY['energy', 'environment', 'quality', 'safety', 'technology'])[1 + g %% 5],"
            " 'energy.x', 'rectify', s.state, 1,"
            " timestamptz '2025-01-01 09:00+08' + (g %% 700) * interval '1 day', 0, '', NULL, NULL, NULL,"
            " '', '', NULL, NULL, false,"
            " CASE WHEN s.state = 'rectifying' THEN date '2026-01-01' END,"
            " CASE WHEN s.state = 'rectifying' THEN date '2026-06-01' + g %% 300 END,"
            " CASE WHEN s.state = 'overdue' THEN timestamptz '2026-01-01 00:00+08' + g * interval '1 minute'"
            " END, NULL"
            " FROM generate_series(1, %s) g"
            " CROSS JOIN LATERAL (SELECT (ARRAY['finding', 'rectifying', 'overdue', 'closed', 'verified'])"
            "[1 + g %% 5] AS state) s"
            " JOIN registry_enterprise e ON e.id = 1 + g %% %s",
            [N, enterprises, OTHER, enterprises],
        )
        kinds = list(MeasureKind.values)
        cur.execute(
            "INSERT INTO cases_exitmeasure (kind, unit, deadline, done_on, note, case_id, done_by_id, basis,"
            " notice) SELECT k, '供电局', date '2026-02-01', CASE WHEN k = 'dismantling' THEN NULL"
            " ELSE date '2025-06-05' + g %% 500 END, '', g,"
            " CASE WHEN k = 'dismantling' THEN NULL ELSE %s END, '', ''"
            " FROM generate_series(1, %s) g CROSS JOIN unnest(%s::text[]) k",
            [user.pk, N, kinds],
        )
        for table in (
            "registry_enterprise",
            "registry_productionline",
            "cases_inspection",
            "cases_finding",
            "cases_case",
            "cases_exitmeasure",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
            cur.execute(f"ANALYZE {table}")
    raw.commit()
    took = time.perf_counter() - started
    print(f"seed: {N:,} exited lines with their cases, {OTHER:,} other cases in {took:.0f} s")


def timed(client: object, path: str, query: dict[str, str]) -> tuple[list[float], int]:
    samples: list[float] = []
    size = 0
    spent = 0.0
    while len(samples) < SAMPLES and (spent < BUDGET or not samples):
        started = time.perf_counter()
        response = client.get(path, query, secure=True)  # type: ignore[attr-defined]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        took = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        size = len(body)
        samples.append(took)
        spent += took
    return samples, size


def plain_sql() -> float:
    """The aggregate by industry and unit in plain SQL (the peer of the aggregates page)."""
    from django.db import connection

    samples = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT e.industry_id, l.capacity_unit, count(*), count(DISTINCT l.enterprise_id),"
                " sum(l.capacity) FROM registry_productionline l JOIN registry_enterprise e"
                " ON e.id = l.enterprise_id WHERE l.status = 'exited' GROUP BY 1, 2 ORDER BY 1, 2"
            )
            cur.fetchall()
        samples.append(time.perf_counter() - started)
    return summary(samples)[0]


def main() -> None:
    # Fixed throw-away keys: the seeded accounts' seals must check on every run.
    os.environ.setdefault("AUDIT_MAC_KEY", "5e" * 32)
    os.environ.setdefault(
        "PHASEOUT_KEYS", json.dumps({"current": 1, "encryption": {"1": "7a" * 16}, "mac": "3c" * 32})
    )
    os.environ.setdefault("OTP_REQUIRED", "false")  # the test client signs in without a second factor
    use_database("reports_sql_bench")
    seed()
    import time_machine
    from django.test import Client

    client = Client()
    client.force_login(office_user())
    saved = OUT / "bench_reports-before.json"
    before = json.loads(saved.read_text()) if saved.exists() and not os.environ.get("BENCH_SAVE") else {}
    figures: dict[str, float] = {}
    wanted = [p for p in os.environ.get("BENCH_PAGES", "").split(",") if p]
    # The seeded year is 2026: the pages read "today" as a day in it.
    with time_machine.travel("2026-09-15 10:00+08:00", tick=True):
        for name, path, query in PAGES:
            if wanted and name not in wanted:
                continue
            samples, size = timed(client, path, query)
            p50, p95 = summary(samples)
            figures[name] = p50
            was = before.get(name)
            beside = f"  before p50 {was * 1000:8.0f} ms, {was / p50:6.1f}x" if was else ""
            print(
                f"{name:26} p50 {p50 * 1000:8.0f} ms  p95 {p95 * 1000:8.0f} ms  n={len(samples)}"
                f"  {size / 1e6:6.2f} MB  load {os.getloadavg()[0]:.2f}{beside}"
            )
    if os.environ.get("BENCH_SAVE") == "before":
        kept = json.loads(saved.read_text()) if saved.exists() else {}
        saved.write_text(json.dumps({**kept, **figures}, indent=1))
    if "aggregates by industry" not in figures:
        return
    peer = plain_sql()
    ours = figures["aggregates by industry"]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"ratio aggregates page / plain SQL of the same aggregate: {ours / peer:.1f}x "
        f"({ours * 1000:.0f} ms against {peer * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
