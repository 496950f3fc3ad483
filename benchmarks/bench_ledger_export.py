"""The exit ledger's .xlsx export of 100,000 rows (target: at most 5 s), printed beside a plain
openpyxl write of the same rows and columns (a normal, not write-only, workbook); and the office's
download of the same file end to end, reading the ledger from the database first.

End to end on PostgreSQL: 100,000 exited lines of 50,000 enterprises, each exited by its own case
(finding, inspection, department, eight exit measures: 800,000 measures) are seeded once into the
database `phaseout_bench_ledger`; the office downloads /reports/ledger/?format=xlsx through Django's
test client, so the figure covers reading the records, building the rows and writing the file.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import copy_enterprises, office_user, signed_in, use_database

N = int(os.environ.get("BENCH_ROWS", "100000"))


def seed() -> None:
    from django.db import connection

    from phaseout.cases.models import MeasureKind
    from phaseout.orgs.models import Department
    from phaseout.registry.models import ProductionLine

    if ProductionLine.objects.filter(status="exited").count() == N:
        return
    started = time.perf_counter()
    user = office_user()
    department = Department.objects.get(code="jm-gxj").pk
    enterprises = N // 2
    raw = connection.connection
    if raw is None:
        connection.ensure_connection()
        raw = connection.connection
    counties = ["440703", "440704", "440705", "440781", "440783", "440784", "440785"]
    with raw.cursor() as cur:
        cur.execute(
            "TRUNCATE registry_enterprise, registry_productionline, cases_case, cases_inspection,"
            " cases_finding, cases_exitmeasure RESTART IDENTITY CASCADE"
        )
        copy_enterprises(
            cur,
            (
                (i, f"91440700{i:09d}", f"江门市第{i}钢铁有限公司", counties[i % 7], "steel")
                for i in range(1, enterprises + 1)
            ),
        )
        cur.execute(
            "INSERT INTO registry_productionline (id, enterprise_id, name, equipment_type, size_value,"
            " size_unit, capacity, capacity_unit, process, commissioning_year, status, exited_on, attributes)"
            " SELECT g, (g + 1) / 2, g || '号高炉', 'blast_furnace', 300, 'm3', 45 + g %% 10, '10kt/a', '',"
            " 2005, 'exited', date '2026-01-05' + g %% 300, '{}' FROM generate_series(1, %s) g",
            [N],
        )
        cur.execute(  # each line keeps its enterprise's territory (ProductionLine.territory)
            "UPDATE registry_productionline l SET territory_id = e.territory_id FROM registry_enterprise e"
            " WHERE e.id = l.enterprise_id"
        )
        cur.execute(
            "INSERT INTO cases_inspection (id, dimension, inspected_on, inspectors, notes, recorded_at,"
            " department_id, enterprise_id, line_id, recorded_by_id, method)"
            " SELECT g, 'technology', date '2026-01-02', '李明', '', now(), %s, (g + 1) / 2, g, %s, 'on_site'"
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
        cur.execute(
            "INSERT INTO cases_case (id, enterprise_id, territory_id, industry_id, dimension, rule_id,"
            " consequence, state, version, opened_at, extension_months, exit_plan, exit_ordered_on,"
            " exited_on, accepted_on, acceptance_team, acceptance_record, line_id, finding_id)"
            " SELECT g, (g + 1) / 2, e.territory_id, 'steel', 'technology',"
            " 'technology.steel.blast-furnace-400', 'exit',"
            " (ARRAY['exited', 'accepted', 'archived'])[1 + g %% 3],"
            " 3, timestamptz '2026-01-02 09:00+08', 0, 'seal_then_dismantle', date '2026-01-03',"
            " date '2026-01-05' + g %% 300,"
            " CASE WHEN g %% 3 = 0 THEN NULL ELSE date '2026-01-06' + g %% 300 END,"
            " CASE WHEN g %% 3 = 0 THEN '' ELSE '验收组' END,"
            " CASE WHEN g %% 3 = 0 THEN '' ELSE '合格' END, g, g"
            " FROM generate_series(1, %s) g JOIN registry_enterprise e ON e.id = (g + 1) / 2",
            [N],
        )
        kinds = list(MeasureKind.values)
        cur.execute(
            "INSERT INTO cases_exitmeasure (kind, unit, deadline, done_on, note, case_id, done_by_id)"
            " SELECT k, '供电局', date '2026-02-01', CASE WHEN k = 'dismantling' THEN NULL"
            " ELSE date '2026-01-05' + g %% 300 END, '', g, CASE WHEN k = 'dismantling' THEN NULL ELSE %s END"
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
    print(f"seed: {N:,} exited lines with their cases and {N * len(kinds):,} measures in {took:.0f} s")


def plain(data: list[list[object]]) -> float:
    from openpyxl import Workbook

    from phaseout.reports.documents import LEDGER_COLUMNS

    started = time.perf_counter()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(LEDGER_COLUMNS)
    for values in data:
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return time.perf_counter() - started


def main() -> None:
    use_database("phaseout_bench_ledger")
    seed()
    from openpyxl import load_workbook

    from phaseout.reports.documents import xlsx_bytes
    from phaseout.reports.ledger import ledger

    client = signed_in(office_user())
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        response = client.get("/reports/ledger/", {"format": "xlsx"})
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    best = min(timings)
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["退出台账"]
    written = sum(1 for _ in sheet.iter_rows(min_row=2, values_only=True))
    assert written == N, written
    started = time.perf_counter()
    rows = ledger()
    read = time.perf_counter() - started
    writes = []
    for _ in range(3):
        started = time.perf_counter()
        xlsx_bytes(rows)
        writes.append(time.perf_counter() - started)
    write = min(writes)
    data = [
        [
            i,
            r.enterprise,
            r.uscc,
            r.territory,
            r.industry,
            r.line,
            r.capacity,
            r.unit_label,
            r.method_label,
            r.exited_on,
            r.measures_text,
            r.accepted_on,
            r.announced_on,
            r.case_number,
        ]
        for i, r in enumerate(rows, start=1)
    ]
    baseline = plain(data)
    runs = ", ".join(f"{t:.2f}" for t in timings)
    print(
        f"writing the .xlsx of {N:,} ledger rows x 14 columns: best {write:.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in writes)}; {len(response.content) / 1e6:.1f} MB)"
    )
    print(f"plain openpyxl workbook of the same rows and columns: {baseline:.2f} s")
    print(
        f"the office's download end to end (reading the ledger from the database, then writing): "
        f"best {best:.2f} s (runs {runs}; reading alone {read:.2f} s)"
    )
    print(
        f"target 5 s: the export of the rows {'met' if write <= 5 else 'NOT met'}; "
        f"end to end {'met' if best <= 5 else 'NOT met'}"
    )
    print(f"ratio plain openpyxl / ours (writing the same rows): {baseline / write:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("DEBUG", "false")
    main()
