"""The deadline sweep: marks and escalates once, however often and however concurrently it runs."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from phaseout.cases import actions
from phaseout.cases.models import Case, CaseEvent, Escalation, ExitMeasure
from phaseout.cases.sweep import sweep
from phaseout.orgs.models import Person
from phaseout.registry.models import EquipmentType
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import client_for
from tests.factories import CaseFactory, LineFactory


def _rectifying(n: int, deadline: dt.date) -> list[Case]:
    return [
        CaseFactory(
            state="rectifying",
            order_date=deadline - dt.timedelta(days=180),
            deadline=deadline,
            rectification_months=6,
        )
        for _ in range(n)
    ]


def test_sweep_twice_marks_and_escalates_once(office: Person) -> None:
    overdue = _rectifying(3, dt.date(2026, 3, 1))
    _rectifying(2, dt.date(2026, 3, 2))  # due today: not yet overdue
    first = sweep(today=dt.date(2026, 3, 2))
    second = sweep(today=dt.date(2026, 3, 2))
    assert first.orders_overdue == 3
    assert second.orders_overdue == 0
    assert set(Case.objects.filter(state="overdue")) == set(overdue)
    assert CaseEvent.objects.filter(action="mark_overdue").count() == 3
    assert Escalation.objects.filter(kind="order_overdue").count() == 3
    # Overdue cases are shown to the office.
    page = client_for(office.user).get("/").content.decode()
    assert overdue[0].enterprise.name in page


def test_sweep_marks_overdue_measures_and_resolves_when_done(office: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.CONVERTER, size_value=Decimal("20"), size_unit="t")
    case = CaseFactory(
        enterprise=line.enterprise,
        line=line,
        dimension="technology",
        rule_id="technology.steel.converter-30",
        consequence="exit_at_once",
    )
    actions.order_exit(
        case=case,
        plan=ExitPlan.SEAL_THEN_DISMANTLE,
        by=office.user,
        reason="立即淘汰",
        today=dt.date(2026, 3, 2),
    )
    power = ExitMeasure.objects.get(case=case, kind="power_cut")
    later = power.deadline + dt.timedelta(days=1)
    result = sweep(today=later)
    assert result.measures_overdue == 2  # only the power and water cuts are due so soon
    assert sweep(today=later).measures_overdue == 0
    assert set(
        ExitMeasure.objects.filter(case=case, overdue_at__isnull=False).values_list("kind", flat=True)
    ) == {
        "power_cut",
        "water_cut",
    }
    from tests.conftest import PNG, upload

    actions.complete_measure(
        notice="书面通知，提前24小时",
        measure=power,
        by=office.user,
        done_on=later,
        today=later,
        files=[upload("断电.png", PNG, "image/png")],
    )
    assert not Escalation.objects.filter(measure=power, resolved_at__isnull=True).exists()


def test_deadline_is_inclusive_with_moved_time(energy_dept: Person) -> None:
    (case,) = _rectifying(1, dt.date(2026, 3, 2))
    with time_machine.travel(dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC), tick=False):
        sweep()  # 2026-03-03 07:00 in Asia/Shanghai: the deadline has passed
    case.refresh_from_db()
    assert case.state == "overdue"


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_do_not_double_count(reference) -> None:
    _rectifying(12, dt.date(2026, 3, 1))
    results = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(sweep(today=dt.date(2026, 3, 2)).orders_overdue)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 12
    assert CaseEvent.objects.filter(action="mark_overdue").count() == 12
    assert Escalation.objects.count() == 12
