"""Every page of the platform, as each role, at a province's scale (PostgreSQL).

The data set: the demo (every kind of record, both cities) with, COPYed beside it, 1,000,000 enterprises,
3,000,000 production lines, 1,000,000 cases, and 100,000 exited lines whose exit cases carry 800,000 exit
measures. BENCH_SCALE scales the bulk (`make bench-quick`: 0.1, its own database). Seeded once per
database; BENCH_FRESH=1 seeds anew.

The walk: every URL pattern of the URLconf (the admin's as its index and one changelist per model),
its parameters filled with a record the role sees (the newest: the demo's), fetched as every role of the
demo and as the public. A pattern that is not the role's (403/404) or answers only POST (405) is
skipped and counted. Each page is fetched ROUNDS times after one warm-up; the server time (request in,
response out, in-process test client) gives p50/p95; one fetch is counted for its SQL queries.

Budgets (issue 15): p95 <= 150 ms for the list pages and the home page, <= 300 ms for every other page;
downloads (files, .xlsx, .zip, .pdf) are reported in rows/s where they say their rows, not budgeted here
(bench_ledger_export measures the streamed exports). Exit status 1 when a page is over its budget.
Peer: the stock Django admin changelist of the same table for the list pages (p95 ratio on the last line).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import copy_enterprises, signed_in, stock_changelist, summary, use_database

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
N_ENTERPRISES = int(1_000_000 * SCALE)
N_CASES = int(1_000_000 * SCALE)
N_EXITED = int(100_000 * SCALE)  # exited lines, each with an exit case of eight measures
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
# BENCH_ONLY: walk only the URL names it lists (comma-separated, e.g. "exit-ledger,charts"); default all.
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
DATABASE = os.environ.get("BENCH_DB", f"phaseout_pages_{int(SCALE * 1000)}")

LIST_BUDGET_MS = 150.0
PAGE_BUDGET_MS = 300.0
LIST_PAGES = {
    "home",
    "dashboard",
    "message-list",
    "message-outbox",
    "audit-log",
    "people",
    "enterprise-list",
    "line-list",
    "inspection-list",
    "case-list",
    "case-proposals",
    "evaluation-runs",
    "price-measures",
    "plan-list",
    "my-submissions",
    "programme-list",
    "portal",
    "public-list",
    "tipoff-list",
    "referrals",
    "lists-admin",
    "error-reports",
    "exit-ledger",
    "aggregates",
}
DOWNLOAD = re.compile(r"(\.(xlsx|zip|pdf|csv|json|docx)$)|/file$|export|format=xlsx")
ROLES = [
    "office",
    "dept-fgj",
    "dept-sthjj",
    "district-440703",
    "enterprise",
    "intake",
    "auditor",
    "secadmin",
    "sysadmin",
    "province",  # the provincial office: the province's progress, and the ledger of every city
    None,
]
COUNTIES = ["440703", "440704", "440705", "440781", "440783", "440784", "440785"]
COUNTIES += ["441602", "441621", "441622", "441623", "441624", "441625"]
INDUSTRIES = ["steel", "cement", "flat_glass", "coal", "electrolytic_aluminium", "ferroalloy", "coke"]
WORDS = ["宏达", "金鼎", "华润", "恒丰", "信义", "南方", "永兴", "盛源", "鑫泰", "海螺", "东方", "长城"]
MEASURES = [
    "close_enterprise",
    "power_cut",
    "water_cut",
    "power_equipment_removal",
    "equipment_sealing",
    "dismantling",
    "public_pledge",
    "website_announcement",
]


def _next_id(cur: Any, table: str) -> int:
    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return int(cur.fetchone()[0])


def seed() -> None:
    """The demo, then the bulk by COPY with ids after the demo's."""
    from django.db import connection

    from phaseout.registry.models import Enterprise

    if Enterprise.objects.count() >= N_ENTERPRISES:
        print(f"seed: {Enterprise.objects.count():,} enterprises already there", flush=True)
        return
    started = time.perf_counter()
    from phaseout.demo import load_demo

    load_demo()
    print(f"seed: demo in {time.perf_counter() - started:.0f} s", flush=True)
    rng = random.Random(2021)
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        e0 = _next_id(cur, "registry_enterprise")
        l0 = _next_id(cur, "registry_productionline")
        c0 = _next_id(cur, "cases_case")
        county = [COUNTIES[i % 13] for i in range(N_ENTERPRISES)]
        copy_enterprises(
            cur,
            (
                (
                    e0 + i,
                    f"92{county[i]}{i:09d}",
                    f"{rng.choice(WORDS)}{rng.choice(WORDS)}实业有限公司{i}",
                    county[i],
                    INDUSTRIES[i % len(INDUSTRIES)],
                )
                for i in range(N_ENTERPRISES)
            ),
        )
        print(f"seed: {N_ENTERPRISES:,} enterprises in {time.perf_counter() - started:.0f} s", flush=True)
        exited_every = max(1, (3 * N_ENTERPRISES) // max(1, N_EXITED))
        exited: list[tuple[int, int]] = []  # (line id, enterprise index)
        with cur.copy(
            "COPY registry_productionline (id, enterprise_id, name, equipment_type, size_value, size_unit,"
            " capacity, capacity_unit, process, commissioning_year, status, exited_on, attributes,"
            " territory_id, industry_id) FROM STDIN"
        ) as copy:
            for k in range(3 * N_ENTERPRISES):
                i = k // 3
                is_exited = k % exited_every == 0 and len(exited) < N_EXITED
                if is_exited:
                    exited.append((l0 + k, i))
                copy.write_row(
                    (
                        l0 + k,
                        e0 + i,
                        f"{k % 3 + 1}号线",
                        "blast_furnace",
                        rng.randint(10, 3000),
                        "m3",
                        rng.randint(1, 500),
                        "10kt/a",
                        "",
                        2000 + k % 21,
                        "exited" if is_exited else "operating",
                        "2026-03-01" if is_exited else None,
                        "{}",
                        county[i],
                        INDUSTRIES[i % len(INDUSTRIES)],
                    )
                )
        print(f"seed: {3 * N_ENTERPRISES:,} lines in {time.perf_counter() - started:.0f} s", flush=True)
        states = ["finding", "rectifying", "overdue", "verified", "closed", "exit_ordered"]
        states += ["exited", "accepted", "archived"]
        dims = ["energy", "environment", "quality", "safety", "technology"]
        columns = (
            "id, enterprise_id, line_id, territory_id, industry_id, dimension, rule_id, consequence, state,"
            " version, opened_at, order_date, rectification_months, extension_months, deadline, resumed,"
            " exit_plan, exit_ordered_on, exited_on, accepted_on, acceptance_team, acceptance_record"
        )

        def case_rows() -> Iterator[tuple[Any, ...]]:
            for n in range(N_CASES):
                if n < len(exited):
                    line, i = exited[n]
                    state = ("exited", "accepted", "archived")[n % 3]
                else:
                    line, i = None, rng.randrange(N_ENTERPRISES)
                    state = rng.choice(states)
                rect = state in ("rectifying", "overdue", "verified", "closed")
                exit_ = state in ("exit_ordered", "exited", "accepted", "archived")
                accepted = state in ("accepted", "archived")
                order = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
                yield (
                    c0 + n,
                    e0 + i,
                    line,
                    county[i],
                    INDUSTRIES[i % len(INDUSTRIES)],
                    "technology" if line else rng.choice(dims),
                    "energy.cement.clinker-energy",
                    "exit" if exit_ else "rectify",
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

        with cur.copy(f"COPY cases_case ({columns}) FROM STDIN") as copy:
            for row in case_rows():
                copy.write_row(row)
        print(f"seed: {N_CASES:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
        with cur.copy(
            "COPY cases_exitmeasure (case_id, kind, unit, deadline, done_on, note, basis, notice) FROM STDIN"
        ) as copy:
            for n in range(len(exited)):
                for kind in MEASURES:
                    copy.write_row((c0 + n, kind, "市工业和信息化局", "2026-06-30", None, "", "", ""))
        print(
            f"seed: {len(exited):,} exited lines, {8 * len(exited):,} measures"
            f" in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        for table in ("registry_enterprise", "registry_productionline", "cases_case", "cases_exitmeasure"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
            cur.execute(f"ANALYZE {table}")
    raw.commit()
    print(f"seed: done in {time.perf_counter() - started:.0f} s", flush=True)


# ── the walk ─────────────────────────────────────────────────────────────────────────────────────────


def _patterns() -> list[tuple[str, str, list[str]]]:
    """(name, route with <params>, parameter names) of every URL pattern outside the admin."""
    from django.urls import URLPattern, URLResolver, get_resolver

    out: list[tuple[str, str, list[str]]] = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver):  # the admin: walked separately
            continue
        assert isinstance(entry, URLPattern)
        route = str(entry.pattern)
        out.append((entry.name or route, route, re.findall(r"<(?:\w+:)?(\w+)>", route)))
    return out


def _samples(person: Any) -> dict[str, Callable[[], dict[str, Any] | None]]:
    """For each URL name, the parameters of the newest record the person sees (None: none)."""
    from phaseout.cases import scope as case_scope
    from phaseout.cases.models import Decision, Evidence, ExitMeasure, ExtensionRequest
    from phaseout.complaints import scope as tipoff_scope
    from phaseout.credit.models import Acknowledgement, Referral
    from phaseout.disclosure.models import ListKind, Snapshot
    from phaseout.messaging.models import Message
    from phaseout.orgs.models import Person
    from phaseout.plans import scope as plan_scope
    from phaseout.plans.models import Programme, Supervision
    from phaseout.registry import scope as registry_scope
    from phaseout.registry.models import Licence
    from phaseout.rules.rulebook import library
    from phaseout.standards.models import EvaluationRun

    def first(qs: Any, **as_: str) -> dict[str, Any] | None:
        row = qs.order_by("-pk").first() if qs is not None else None
        if row is None:
            return None
        return {param: _attr(row, path) for param, path in as_.items()}

    cases = case_scope.cases(person) if person else None
    enterprises = registry_scope.enterprises(person) if person else None
    lines = registry_scope.lines(person) if person else None
    plans = plan_scope.plans(person) if person else None
    submissions = plan_scope.submissions(person) if person else None
    return {
        "message-detail": lambda: first(
            Message.objects.filter(recipient=person) if person else None, pk="pk"
        ),
        "person-edit": lambda: first(Person.objects.all(), pk="pk"),
        "import-detail": lambda: first(registry_scope.import_batches(person) if person else None, pk="pk"),
        "enterprise-detail": lambda: first(enterprises, pk="pk"),
        "enterprise-edit": lambda: first(enterprises, pk="pk"),
        "line-create": lambda: first(enterprises, enterprise_id="pk"),
        "line-detail": lambda: first(lines, enterprise_id="enterprise_id", pk="pk"),
        "line-edit": lambda: first(lines, enterprise_id="enterprise_id", pk="pk"),
        "licence-create": lambda: first(enterprises, enterprise_id="pk"),
        "licence-edit": lambda: first(
            Licence.objects.filter(enterprise__in=enterprises) if enterprises is not None else None,
            enterprise_id="enterprise_id",
            pk="pk",
        ),
        "inspection-create": lambda: first(enterprises, enterprise_id="pk"),
        "inspection-detail": lambda: first(case_scope.inspections(person) if person else None, pk="pk"),
        "case-detail": lambda: first(cases, pk="pk"),
        "case-act": lambda: None,  # POST only
        "case-evidence": lambda: first(cases, pk="pk"),
        "case-file": lambda: first(cases, pk="pk"),
        "case-file-pdf": lambda: first(cases, pk="pk"),
        "decision-document": lambda: {
            **(first(Decision.objects.filter(case__in=cases) if cases is not None else None, pk="pk") or {}),
            "fmt": "docx",
        },
        "extension-request": lambda: first(cases, pk="pk"),
        "extension-decide": lambda: first(
            ExtensionRequest.objects.filter(case__in=cases) if cases is not None else None, pk="pk"
        ),
        "measure-done": lambda: first(
            ExitMeasure.objects.filter(case__in=cases) if cases is not None else None, pk="pk"
        ),
        "measures-done": lambda: first(cases, pk="pk"),
        "evidence-download": lambda: first(
            Evidence.objects.filter(case__in=cases) if cases is not None else None, pk="pk"
        ),
        "evaluation-run": lambda: first(EvaluationRun.objects.all(), pk="pk"),
        "rulebook-detail": lambda: {"book_id": library().rulebooks[0].id},
        "price-export": lambda: {"utility": "power"},
        "plan-detail": lambda: first(plans, pk="pk"),
        "plan-review-time": lambda: None,  # POST only
        "task-edit": lambda: first(
            plans.filter(tasks__isnull=False) if plans is not None else None, pk="pk", task_id="tasks__pk"
        ),
        "supervision-acknowledge": lambda: first(Supervision.objects.all(), pk="pk"),
        "programme-detail": lambda: first(Programme.objects.all(), pk="pk"),
        "submission-detail": lambda: first(submissions, pk="pk"),
        "submission-submit": lambda: first(submissions, pk="pk"),
        "submission-file": lambda: first(
            submissions.filter(versions__document__gt="") if submissions is not None else None,
            pk="pk",
            number="versions__number",
        ),
        "submission-pdf": lambda: first(
            submissions.filter(versions__document__gt="") if submissions is not None else None,
            pk="pk",
            number="versions__number",
        ),
        "public-list": lambda: {"kind": ListKind.EXITED.value},
        "public-export": lambda: {"kind": ListKind.EXITED.value, "fmt": "csv"},
        "public-report": lambda: {"kind": ListKind.EXITED.value},
        "tipoff-detail": lambda: first(tipoff_scope.tipoffs(person) if person else None, pk="pk"),
        "referral-approve": lambda: first(Referral.objects.all(), pk="pk"),
        "acknowledge": lambda: first(Acknowledgement.objects.all(), pk="pk"),
        "referral-export": lambda: {"fmt": "xlsx"},
        "licence-cancel": lambda: first(Licence.objects.all(), pk="pk"),
        "list-snapshot": lambda: first(Snapshot.objects.all(), pk="pk"),
        "list-act": lambda: None,  # POST only
        "import-accept": lambda: None,  # POST only
        "evaluation-start": lambda: None,  # POST only
    }


def _attr(row: Any, path: str) -> Any:
    if "__" not in path:
        return getattr(row, path)
    relation, field = path.split("__", 1)
    related = getattr(row, relation)
    if hasattr(related, "all"):
        related = related.order_by("-pk").first()
    return _attr(related, field)


def _urls(person: Any) -> list[tuple[str, str]]:
    from django.contrib import admin

    samples = _samples(person)
    urls: list[tuple[str, str]] = []
    for name, route, params in _patterns():
        if not params:
            urls.append((name, "/" + route))
            continue
        get = samples.get(name)
        values = get() if get else None
        if not values or any(p not in values for p in params):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m, v=values: str(v[m.group(1)]), route)
        urls.append((name, path))
    if person is not None and person.role == "system_admin":
        urls.append(("admin-index", "/admin/"))
        for model in admin.site._registry:
            urls.append(("admin-changelist", f"/admin/{model._meta.app_label}/{model._meta.model_name}/"))
    # The list pages with a filter and a later page, as officials use them.
    urls += [
        ("case-list", "/cases/?state=overdue&page=2"),
        ("case-list", "/cases/?territory=440783&dimension=energy"),
        ("enterprise-list", "/enterprises/?q=宏达金鼎"),
        ("line-list", "/lines/?status=exited"),
        ("exit-ledger", "/reports/ledger/?territory=440705"),
        ("price-measures", "/prices/?page=3"),
        ("public-list", "/public/exited/?q=宏达"),
    ]
    return urls


def _client_for(username: str | None) -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from phaseout.orgs.models import Person

    if username is None:
        return Client(), None
    user = get_user_model().objects.get(username=username)
    client = signed_in(user)
    return client, Person.objects.select_related("department__territory", "territory").get(user=user)


def walk() -> tuple[list[dict[str, Any]], dict[str, int]]:
    from django.db import connection

    results: list[dict[str, Any]] = []
    skipped = {"not the role's": 0, "POST only": 0, "redirect": 0, "error": 0}
    for username in ROLES:
        client, person = _client_for(username)
        role = username or "public"
        for name, url in _urls(person):
            if name in ("logout", "message-read-all") or url.startswith("/accounts/"):
                continue  # signing out ends the walk's session; the sign-in pages are the public's
            if ONLY and name not in ONLY:
                continue
            response = client.get(url)
            if response.status_code in (403, 404):
                skipped["not the role's"] += 1
                continue
            if response.status_code == 405:
                skipped["POST only"] += 1
                continue
            if response.status_code in (301, 302):
                skipped["redirect"] += 1
                continue
            if response.status_code != 200:
                skipped["error"] += 1
                print(f"  {role} {url}: HTTP {response.status_code}", flush=True)
                continue
            queries: list[str] = []
            with connection.execute_wrapper(_counting(queries)):
                body = _consume(client.get(url))
            samples = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                _consume(client.get(url))
                samples.append((time.perf_counter() - started) * 1000)
            p50, p95 = summary(samples)
            download = bool(DOWNLOAD.search(url))
            budget = None if download else (LIST_BUDGET_MS if name in LIST_PAGES else PAGE_BUDGET_MS)
            results.append(
                {
                    "role": role,
                    "name": name,
                    "url": url,
                    "p50": p50,
                    "p95": p95,
                    "queries": len(queries),
                    "bytes": body,
                    "budget": budget,
                }
            )
        print(f"walked as {role}: {sum(1 for r in results if r['role'] == role)} pages", flush=True)
    return results, skipped


def _counting(queries: list[str]) -> Callable[..., Any]:
    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        queries.append(sql)
        return execute(sql, *args)

    return wrapper


def _consume(response: Any) -> int:
    if getattr(response, "streaming", False):
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def _admin_peer() -> tuple[float, float]:
    """The stock admin changelist of the case table (the peer of the list pages): p50, p95."""
    from phaseout.cases.models import Case

    get = stock_changelist(
        Case, list_filter=("state", "dimension", "territory", "industry"), search_fields=("enterprise__name",)
    )
    queries = [{}, {"state__exact": "overdue"}, {"p": "2"}]
    for params in queries:
        get(params)
    samples = []
    for _ in range(ROUNDS):
        for params in queries:
            started = time.perf_counter()
            get(params)
            samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def main() -> int:
    fresh = os.environ.get("BENCH_FRESH") == "1"
    use_database(DATABASE, fresh=fresh)
    print(
        f"data set: scale {SCALE} ({N_ENTERPRISES:,} enterprises, {3 * N_ENTERPRISES:,} lines,"
        f" {N_CASES:,} cases, {N_EXITED:,} exited lines with {8 * N_EXITED:,} measures) in {DATABASE}",
        flush=True,
    )
    seed()
    print(f"load average before the walk: {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    results, skipped = walk()
    print(f"walk: {len(results)} pages in {time.perf_counter() - started:.0f} s; skipped {skipped}")
    print(f"load average after the walk: {os.getloadavg()}")
    print(f"\n{'role':<16}{'page':<58}{'p50':>9}{'p95':>9}{'queries':>9}{'budget':>8}")
    for r in sorted(results, key=lambda r: (r["role"], r["url"])):
        budget = f"{r['budget']:.0f}" if r["budget"] else "file"
        flag = "  OVER" if r["budget"] and r["p95"] > r["budget"] else ""
        print(
            f"{r['role']:<16}{r['url'][:56]:<58}{r['p50']:>7.1f}ms{r['p95']:>7.1f}ms{r['queries']:>9}{budget:>8}{flag}"
        )
    print("\nslowest twenty (p95):")
    for r in sorted(results, key=lambda r: -r["p95"])[:20]:
        print(f"  {r['p95']:>8.1f} ms  {r['queries']:>4} queries  {r['role']:<16}{r['url']}")
    over = [r for r in results if r["budget"] and r["p95"] > r["budget"]]
    cases = [r["p95"] for r in results if r["name"] == "case-list" and r["role"] == "office"]
    ours95 = max(cases, default=0.0)
    _, admin95 = _admin_peer()
    print(f"\npages over budget: {len(over)} of {sum(1 for r in results if r['budget'])}")
    print(f"the office's case list (its filters and pages) p95 {ours95:.1f} ms;")
    print(f"the stock admin changelist of the same table (its filters and pages) p95 {admin95:.1f} ms")
    print(f"ratio vs stock Django admin changelist (case list, p95): {admin95 / max(ours95, 0.1):.1f}x")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
