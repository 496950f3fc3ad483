"""The deadline sweep at scale (PostgreSQL, issue 15): rectification orders past their deadline, marked
overdue with a history event, an audit row, an escalation and a message to each concerned official (an
energy department officer and the district: two messages a case, each with its audit row and a mail
delivery).

The set-based sweep (phaseout.cases.sweep) runs over BENCH_SWEEP_CASES (default 50,000) cases; its peer,
the per-row sweep as it was before (one transaction a case, kept below as `per_row_sweep`, the only copy)
over a sample of BENCH_SWEEP_PEER_CASES (default 2,000): its rate does not depend on how many there are.
Cases and enterprises are loaded with COPY. The audit chain is verified after the set-based run. Budget:
≥ 10,000 cases/s; the last line prints both rates and their ratio, with the load average.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AUDIT_MAC_KEY", "be" * 32)
from benchmarks.common import copy_enterprises, use_database

N = int(os.environ.get("BENCH_SWEEP_CASES", "50000"))
PEER = int(os.environ.get("BENCH_SWEEP_PEER_CASES", "2000"))
BUDGET = 10_000  # cases/s
TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
TERRITORY = "440703"
ENTERPRISES = max(1, max(N, PEER) // 5)


def enterprises() -> float:
    """The ENTERPRISES the cases are of, loaded with COPY once; the seconds it took."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        copy_enterprises(
            cursor,
            (
                (i, f"91440703MA{i:07d}", f"基准钢铁有限公司{i}", TERRITORY, "steel")
                for i in range(1, ENTERPRISES + 1)
            ),
        )
        cursor.execute("SELECT setval('registry_enterprise_id_seq', %s)", [ENTERPRISES])
    return time.perf_counter() - started


def reset() -> None:
    """Every table the sweep reads or writes emptied (the reference data and the people stay)."""
    from django.db import connection, transaction

    from phaseout.audit.maintenance import maintenance

    with transaction.atomic(), maintenance(), connection.cursor() as cursor:
        # CASCADE reaches only the tables that reference these (the cases' events, escalations, ...).
        # The whole trail: entries, the chain's links and head, the sequencer's queue and the entry
        # numbers (a link left from the previous run would name an entry that is gone).
        cursor.execute(
            "TRUNCATE messaging_delivery, messaging_message, cases_case, audit_auditevent, audit_chainhead,"
            " audit_chainlink, audit_unchained RESTART IDENTITY CASCADE"
        )
        cursor.execute("ALTER SEQUENCE audit_entry_seq RESTART WITH 1")


def people() -> None:
    """The officials told of each escalation: one energy department officer (with a mail address) and
    the district's account."""
    from django.contrib.auth import get_user_model

    from phaseout.orgs.models import Department, Person, Role

    users = get_user_model().objects
    fgj, _ = users.get_or_create(username="bench-fgj", defaults={"email": "fgj@127.0.0.1"})
    Person.objects.get_or_create(
        user=fgj,
        defaults={
            "role": Role.DEPARTMENT,
            "display_name": "发改",
            "department": Department.objects.get(code="jm-fgj"),
        },
    )
    district, _ = users.get_or_create(username="bench-pengjiang")
    Person.objects.get_or_create(
        user=district, defaults={"role": Role.DISTRICT, "display_name": "蓬江", "territory_id": TERRITORY}
    )


def seed(n: int) -> float:
    """n rectification orders past their deadline (over 40 deadlines, half of them restricted), of the
    ENTERPRISES, loaded with COPY; the seconds it took."""
    from django.db import connection, transaction

    started = time.perf_counter()
    enterprises = ENTERPRISES
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(
            "COPY cases_case (id, enterprise_id, territory_id, industry_id, dimension, rule_id, consequence,"
            " state, version, opened_at, order_date, rectification_months, extension_months, deadline,"
            " exit_plan, acceptance_team, acceptance_record, resumed) FROM STDIN"
        ) as copy:
            for i in range(1, n + 1):
                deadline = TODAY - dt.timedelta(days=1 + i % 40)
                copy.write_row(
                    (
                        i,
                        1 + i % enterprises,
                        TERRITORY,
                        "steel",
                        "energy",
                        "energy.steel.blast-furnace",
                        "rectify",
                        "restricted" if i % 2 else "rectifying",
                        1,
                        "2025-06-01T00:00:00Z",
                        deadline - dt.timedelta(days=180),
                        6,
                        0,
                        deadline,
                        "",
                        "",
                        "",
                        False,
                    )
                )
        cursor.execute("SELECT setval('cases_case_id_seq', %s)", [n])
        cursor.execute("ANALYZE cases_case")
    return time.perf_counter() - started


# ── the peer: the sweep as it was before issue 15, one transaction a row (the only copy of it) ──


def per_row_sweep(*, today: dt.date, now: dt.datetime) -> int:
    from django.db import IntegrityError, transaction
    from django.db.models import F
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from phaseout.cases.actions import append_event
    from phaseout.cases.models import Case, CaseState, Escalation
    from phaseout.messaging.actions import notify
    from phaseout.messaging.models import Kind as MessageKind
    from phaseout.orgs.scope import competent_people, people_of_territory
    from phaseout.rules.case_flow import CLOCKED, Action

    def escalate(case: Case, kind: str, due: dt.date) -> bool:
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(case=case, kind=kind, raised_at=now, due_date=due)
        except IntegrityError:
            return False
        title = _("Escalation: %(kind)s — %(enterprise)s (due %(due)s)") % {
            "kind": escalation.get_kind_display(),
            "enterprise": case.enterprise.name,
            "due": due.isoformat(),
        }
        concerned = [
            *competent_people(case.dimension, case.territory_id),
            *people_of_territory(case.territory_id),
        ]
        notify(
            concerned,
            MessageKind.ESCALATION,
            title,
            "",
            obj=case,
            url=reverse("case-detail", args=[case.pk]),
            key=f"case.escalation:{escalation.pk}",
            now=now,
        )
        return True

    marked = 0
    clocked = [s.value for s in CLOCKED]
    candidates = Case.objects.filter(state__in=clocked, deadline__lt=today).values_list("pk", "state")
    for pk, state in list(candidates):
        with transaction.atomic():
            claimed = Case.objects.filter(pk=pk, state=state, deadline__lt=today).update(
                state=CaseState.OVERDUE, overdue_at=now, version=F("version") + 1
            )
            if not claimed:
                continue
            case = Case.objects.get(pk=pk)
            assert case.deadline is not None
            append_event(
                case,
                Action.MARK_OVERDUE.value,
                state,
                CaseState.OVERDUE,
                by=None,
                reason=_("The rectification deadline %(deadline)s passed without verified compliance.")
                % {"deadline": case.deadline.isoformat()},
            )
            escalate(case, Escalation.Kind.ORDER_OVERDUE, case.deadline)
            marked += 1
    return marked


def written() -> tuple[int, int, int, int]:
    from phaseout.audit.models import AuditEvent
    from phaseout.cases.models import CaseEvent, Escalation
    from phaseout.messaging.models import Message

    return (
        CaseEvent.objects.count(),
        Escalation.objects.count(),
        Message.objects.count(),
        AuditEvent.objects.count(),
    )


def main() -> int:
    use_database("sweep_sql_bench", fresh=True)
    from django.utils import translation

    from phaseout.audit.verify import verify
    from phaseout.cases.sweep import sweep

    translation.activate("zh-hans")
    # The outbox is drained by its own job (the Celery worker in production), not inside the sweep: the
    # drain queued on commit is left out of both timings; the deliveries are written and counted.
    from phaseout.messaging import tasks

    tasks.drain_outbox.delay = lambda *args, **kwargs: None  # type: ignore[method-assign]
    people()
    print(f"seed: {ENTERPRISES} enterprises in {enterprises():.1f} s (COPY)", flush=True)

    reset()
    seeded = seed(PEER)
    print(f"seed: {PEER} cases past their deadline in {seeded:.1f} s (the peer's sample)", flush=True)
    started = time.perf_counter()
    peer_marked = per_row_sweep(today=TODAY, now=NOW)
    peer_seconds = time.perf_counter() - started
    peer_rate = peer_marked / peer_seconds
    print(
        f"per-row sweep (before): {peer_marked} cases in {peer_seconds:.1f} s = {peer_rate:,.0f} cases/s;"
        f" written (events, escalations, messages, audit rows): {written()}",
        flush=True,
    )

    reset()
    seeded = seed(N)
    print(f"seed: {N} cases past their deadline in {seeded:.1f} s (COPY)", flush=True)
    started = time.perf_counter()
    result = sweep(today=TODAY, now=NOW)
    seconds = time.perf_counter() - started
    rate = result.orders_overdue / seconds
    counts = written()
    print(
        f"set-based sweep: {result.orders_overdue} cases in {seconds:.2f} s = {rate:,.0f} cases/s;"
        f" written (events, escalations, messages, audit rows): {counts}",
        flush=True,
    )
    started = time.perf_counter()
    again = sweep(today=TODAY, now=NOW + dt.timedelta(minutes=15))
    print(
        f"second run: {again.counts()} in {time.perf_counter() - started:.2f} s;"
        f" written since: {tuple(b - a for a, b in zip(counts, written(), strict=True))}",
        flush=True,
    )
    started = time.perf_counter()
    report = verify()
    state = "ok" if report.ok else "BROKEN"
    print(f"audit verify: {state} ({report.checked} entries, {time.perf_counter() - started:.1f} s)")

    ok = (
        result.orders_overdue == N
        and again.orders_overdue == 0
        and counts[0] == counts[1] == N
        and counts[2] == 2 * N
        and counts[3] == 3 * N
        and report.ok
        and rate >= BUDGET
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"sweep: set-based {rate:,.0f} cases/s (budget {BUDGET:,}) vs per-row {peer_rate:,.0f} cases/s:"
        f" {rate / peer_rate:.0f}x; load average {load}; {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
