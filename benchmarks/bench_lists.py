"""List pages on 1,000,000 enterprises, 3,000,000 lines and 1,000,000 cases (PostgreSQL).

Measures the server time (request in, response out, in-process) of the filtered enterprise and case
list pages, p50 and p95, beside a stock Django admin changelist over the same tables and filters.
Baseline: the stock Django admin changelist. Target: p95 <= 150 ms and at least 10x faster.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import (
    copy_enterprises,
    office_user,
    signed_in,
    stock_changelist,
    summary,
    use_database,
)

N_ENTERPRISES = int(os.environ.get("BENCH_ENTERPRISES", "1000000"))
LINES_PER_ENTERPRISE = 3
N_CASES = int(os.environ.get("BENCH_CASES", str(N_ENTERPRISES)))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))

COUNTIES = [
    "440703",
    "440704",
    "440705",
    "440781",
    "440783",
    "440784",
    "440785",
    "441602",
    "441621",
    "441622",
    "441623",
    "441624",
    "441625",
]
INDUSTRIES = [
    "steel",
    "cement",
    "flat_glass",
    "coal",
    "electrolytic_aluminium",
    "ferroalloy",
    "coke",
    "calcium_carbide",
    "caustic_soda",
    "ceramics",
    "casting",
    "other",
]
WORDS = [
    "宏达",
    "金鼎",
    "华润",
    "恒丰",
    "信义",
    "南方",
    "永兴",
    "盛源",
    "鑫泰",
    "海螺",
    "东方",
    "长城",
    "中联",
    "富华",
    "立信",
    "新兴",
    "广源",
    "振华",
    "裕丰",
    "隆基",
]


def seed() -> None:
    from django.db import connection

    from phaseout.cases.models import Case
    from phaseout.registry.models import Enterprise

    have = Enterprise.objects.count()
    if have >= N_ENTERPRISES and Case.objects.exists():  # a seed that stopped half-way is done again
        print(f"seed: {have} enterprises already there")
        return
    rng = random.Random(2021)
    started = time.perf_counter()
    raw = connection.connection
    if raw is None:
        connection.ensure_connection()
        raw = connection.connection
    with raw.cursor() as cur:
        cur.execute(
            "TRUNCATE registry_enterprise, registry_productionline, cases_case RESTART IDENTITY CASCADE"
        )
        copy_enterprises(
            cur,
            (
                (
                    i,
                    f"91{COUNTIES[i % 13]}{i:09d}",
                    f"{rng.choice(WORDS)}{rng.choice(WORDS)}实业有限公司{i}",
                    COUNTIES[i % 13],
                    INDUSTRIES[i % 12],
                )
                for i in range(1, N_ENTERPRISES + 1)
            ),
        )
        print(f"seed: enterprises in {time.perf_counter() - started:.0f} s")
        kinds = [
            ("blast_furnace", "m3", "10kt/a"),
            ("converter", "t", "10kt/a"),
            ("clinker_line", "t/d", "t/d"),
            ("flat_glass_line", "t/d", "t/d"),
            ("induction_furnace", "t", "10kt/a"),
        ]
        with cur.copy(
            "COPY registry_productionline (enterprise_id, name, equipment_type, size_value, size_unit,"
            " capacity, capacity_unit, process, commissioning_year, status, exited_on, attributes,"
            " territory_id) FROM STDIN"
        ) as copy:
            for i in range(1, N_ENTERPRISES + 1):
                for j in range(LINES_PER_ENTERPRISE):
                    kind, size_unit, cap_unit = kinds[(i + j) % 5]
                    exited = rng.random() < 0.05
                    copy.write_row(
                        (
                            i,
                            f"{j + 1}号线",
                            kind,
                            rng.randint(10, 3000),
                            size_unit,
                            rng.randint(1, 500),
                            cap_unit,
                            "",
                            2000 + (i + j) % 21,
                            "exited" if exited else "operating",
                            "2026-03-01" if exited else None,
                            "{}",
                            COUNTIES[i % 13],
                        )
                    )
        print(f"seed: lines in {time.perf_counter() - started:.0f} s")
        states = [
            "finding",
            "rectifying",
            "overdue",
            "verified",
            "closed",
            "exit_ordered",
            "exited",
            "accepted",
            "archived",
        ]
        dims = ["energy", "environment", "quality", "safety", "technology"]
        with cur.copy(
            "COPY cases_case (enterprise_id, territory_id, industry_id, dimension, rule_id, consequence,"
            " state, version, opened_at, order_date, rectification_months, extension_months, deadline,"
            " resumed, exit_plan, exit_ordered_on, exited_on, accepted_on, acceptance_team,"
            " acceptance_record) FROM STDIN"
        ) as copy:
            for _ in range(N_CASES):
                e = rng.randint(1, N_ENTERPRISES)
                state = rng.choice(states)
                rect = state in ("rectifying", "overdue", "verified", "closed")
                exit_ = state in ("exit_ordered", "exited", "accepted", "archived")
                accepted = state in ("accepted", "archived")
                order = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
                copy.write_row(
                    (
                        e,
                        COUNTIES[e % 13],
                        INDUSTRIES[e % 12],
                        rng.choice(dims),
                        "energy.cement.clinker-energy",
                        "rectify",
                        state,
                        1,
                        "2026-01-01 08:00+08",
                        order if rect else None,
                        6 if rect else None,
                        0,
                        order + dt.timedelta(days=182) if rect else None,
                        False,
                        "seal_then_dismantle" if exit_ else "",
                        order if exit_ else None,
                        order if state in ("exited", "accepted", "archived") else None,
                        order if accepted else None,
                        "验收组" if accepted else "",
                        "合格" if accepted else "",
                    )
                )
        print(f"seed: cases in {time.perf_counter() - started:.0f} s")
        for table in ("registry_enterprise", "registry_productionline", "cases_case"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
            cur.execute(f"VACUUM ANALYZE {table}") if raw.autocommit else cur.execute(f"ANALYZE {table}")
    raw.commit()
    print(f"seed: done in {time.perf_counter() - started:.0f} s")


def measure(client, urls: list[str]) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        for url in urls:
            t = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return samples


def main() -> None:
    use_database("phaseout_bench")
    seed()

    ours = signed_in(office_user())

    enterprise_pages = [
        "/enterprises/",
        "/enterprises/?territory=440705",
        "/enterprises/?industry=cement",
        "/enterprises/?territory=440781&industry=steel",
        "/enterprises/?q=宏达金鼎",
        "/enterprises/?q=91440705",
        "/enterprises/?territory=440705&page=3",
    ]
    enterprise_admin = [
        "/admin/registry/enterprise/",
        "/admin/registry/enterprise/?territory__code__exact=440705",
        "/admin/registry/enterprise/?industry__code__exact=cement",
        "/admin/registry/enterprise/?territory__code__exact=440781&industry__code__exact=steel",
        "/admin/registry/enterprise/?q=宏达金鼎",
        "/admin/registry/enterprise/?q=91440705",
        "/admin/registry/enterprise/?territory__code__exact=440705&p=3",
    ]
    case_pages = [
        "/cases/",
        "/cases/?state=overdue",
        "/cases/?dimension=energy&state=rectifying",
        "/cases/?territory=440783",
        "/cases/?industry=flat_glass&state=exit_ordered",
        "/cases/?q=宏达金鼎",
        "/cases/?state=archived&page=2",
    ]
    case_admin = [
        "/admin/cases/case/",
        "/admin/cases/case/?state__exact=overdue",
        "/admin/cases/case/?dimension__exact=energy&state__exact=rectifying",
        "/admin/cases/case/?territory__code__exact=440783",
        "/admin/cases/case/?industry__code__exact=flat_glass&state__exact=exit_ordered",
        "/admin/cases/case/?q=宏达金鼎",
        "/admin/cases/case/?state__exact=archived&p=2",
    ]
    from urllib.parse import parse_qsl, urlsplit

    from phaseout.cases.models import Case
    from phaseout.registry.models import Enterprise

    stock = {
        Enterprise: stock_changelist(
            Enterprise, list_filter=("territory", "industry"), search_fields=("name", "uscc")
        ),
        Case: stock_changelist(
            Case,
            list_filter=("state", "dimension", "territory", "industry"),
            search_fields=("enterprise__name",),
        ),
    }

    def measure_stock(urls: list[str]) -> list[float]:
        samples = []
        for _ in range(ROUNDS):
            for url in urls:
                get = stock[Case if "/cases/" in url else Enterprise]
                params = dict(parse_qsl(urlsplit(url).query))
                t = time.perf_counter()
                get(params)
                samples.append((time.perf_counter() - t) * 1000)
        return samples

    for url in enterprise_pages + case_pages:  # warm caches
        ours.get(url)
    measure_stock(enterprise_admin + case_admin)

    rows = []
    for label, mine, theirs in (
        ("enterprise list", enterprise_pages, enterprise_admin),
        ("case list", case_pages, case_admin),
    ):
        a = summary(measure(ours, mine))
        b = summary(measure_stock(theirs))
        rows.append((label, a, b))
    print(f"{'page':<18}{'phaseout p50':>14}{'p95':>10}{'admin p50':>12}{'p95':>10}{'ratio p95':>11}")
    for label, (a50, a95), (b50, b95) in rows:
        print(f"{label:<18}{a50:>12.1f}ms{a95:>8.1f}ms{b50:>10.1f}ms{b95:>8.1f}ms{b95 / a95:>10.1f}x")
    worst = max(a95 for _, (_, a95), _ in rows)
    ratio = min(b95 / a95 for _, (_, a95), (_, b95) in rows)
    print(f"target p95 <= 150 ms: {'met' if worst <= 150 else 'NOT met'} (worst {worst:.1f} ms)")
    print(f"ratio vs stock Django admin changelist (p95, worst page): {ratio:.1f}x")


if __name__ == "__main__":
    main()
