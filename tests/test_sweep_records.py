"""What the deadline sweep writes, exactly: the state, the time it was found overdue, the version, the
history event with its Chinese reason, the audit row and the escalation; and the summary it prints."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, CaseEvent, Escalation, ExitMeasure
from phaseout.cases.sweep import SweepResult, job, sweep
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)  # 09:30 in Asia/Shanghai
ACCEPTED = {
    "exit_plan": "seal_then_dismantle",
    "exit_ordered_on": dt.date(2025, 8, 1),
    "exited_on": dt.date(2025, 8, 20),
    "accepted_on": dt.date(2025, 8, 25),
    "acceptance_team": "验收组",
    "acceptance_record": "合格",
}


def _clocked(state: str, deadline: dt.date, **fields: object) -> Case:
    return CaseFactory(
        state=state,
        order_date=deadline - dt.timedelta(days=90),
        deadline=deadline,
        rectification_months=3,
        **fields,
    )


@pytest.mark.parametrize("state", ["rectifying", "restricted"])
def test_an_order_past_its_deadline_is_marked_overdue_on_the_record(reference: None, state: str) -> None:
    dimension = "energy" if state == "rectifying" else "environment"
    case = _clocked(state, dt.date(2026, 2, 27), dimension=dimension)
    version = case.version
    result = sweep(today=TODAY, now=NOW)
    assert (result.orders_overdue, result.measures_overdue, result.reinspections_due) == (1, 0, 0)

    case.refresh_from_db()
    assert case.state == "overdue"
    assert case.overdue_at == NOW
    assert case.version == version + 1

    event = CaseEvent.objects.get(case=case)
    assert (event.action, event.from_state, event.to_state, event.actor_id) == (
        "mark_overdue",
        state,
        "overdue",
        None,
    )
    assert event.reason == "整改期限 2026-02-27 已过，未经验证达标。"
    assert event.data == {}
    audit = AuditEvent.objects.get(action="case.mark_overdue", object_id=str(case.pk))
    assert (audit.actor_id, audit.object_type, audit.reason) == (None, "cases.case", event.reason)

    escalation = Escalation.objects.get(case=case)
    assert (escalation.kind, escalation.measure_id, escalation.due_date) == (
        "order_overdue",
        None,
        dt.date(2026, 2, 27),
    )
    assert escalation.raised_at == NOW and escalation.resolved_at is None


def test_other_states_and_orders_not_yet_due_are_left_alone(reference: None) -> None:
    due_today = _clocked("rectifying", TODAY)
    suspended = CaseFactory(
        dimension="environment",
        state="suspended",
        order_date=dt.date(2025, 1, 1),
        deadline=dt.date(2025, 6, 1),
    )
    verified = _clocked("verified", dt.date(2025, 6, 1))
    assert sweep(today=TODAY, now=NOW).orders_overdue == 0
    for case, state in ((due_today, "rectifying"), (suspended, "suspended"), (verified, "verified")):
        case.refresh_from_db()
        assert (case.state, case.overdue_at, case.version) == (state, None, 1)
    assert not CaseEvent.objects.exists() and not Escalation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="case.").exists()


def _exit_ordered(**measures: dt.date) -> Case:
    case = CaseFactory(
        dimension="technology",
        consequence="exit_at_once",
        state="exit_ordered",
        exit_plan="seal_then_dismantle",
        exit_ordered_on=dt.date(2026, 2, 1),
    )
    for kind, deadline in measures.items():
        ExitMeasure.objects.create(case=case, kind=kind, unit="供电局", deadline=deadline)
    return case


def test_an_overdue_exit_measure_is_marked_noted_and_escalated(reference: None) -> None:
    case = _exit_ordered(power_cut=dt.date(2026, 2, 27), water_cut=TODAY, dismantling=dt.date(2026, 8, 1))
    version = case.version
    result = sweep(today=TODAY, now=NOW)
    assert (result.orders_overdue, result.measures_overdue, result.reinspections_due) == (0, 1, 0)

    power = ExitMeasure.objects.get(case=case, kind="power_cut")
    assert power.overdue_at == NOW and power.done_on is None
    assert ExitMeasure.objects.get(case=case, kind="water_cut").overdue_at is None  # due today: not yet
    case.refresh_from_db()
    assert case.state == "exit_ordered"  # the case keeps its state
    assert case.version == version + 1  # an open form on the case is now stale

    event = CaseEvent.objects.get(case=case)
    assert (event.action, event.from_state, event.to_state, event.actor_id) == (
        "measure_overdue",
        "exit_ordered",
        "exit_ordered",
        None,
    )
    assert event.reason == "断电 应于 2026-02-27 前落实，尚未落实。"
    assert event.data == {"measure": "power_cut"}
    audit = AuditEvent.objects.get(action="case.measure_overdue", object_id=str(case.pk))
    assert audit.data == {"measure": "power_cut"} and audit.actor_id is None

    escalation = Escalation.objects.get(case=case)
    assert (escalation.kind, escalation.measure_id, escalation.due_date, escalation.raised_at) == (
        "measure_overdue",
        power.pk,
        dt.date(2026, 2, 27),
        NOW,
    )
    # Run again: nothing is written twice.
    assert sweep(today=TODAY, now=NOW).measures_overdue == 0
    assert CaseEvent.objects.filter(case=case).count() == 1
    assert Escalation.objects.filter(case=case).count() == 1


def test_done_or_already_overdue_measures_are_not_marked_again(reference: None, office) -> None:
    case = _exit_ordered(power_cut=dt.date(2026, 2, 1), water_cut=dt.date(2026, 2, 1))
    ExitMeasure.objects.filter(case=case, kind="power_cut").update(
        done_on=dt.date(2026, 2, 2), done_by=office.user
    )
    earlier = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)
    ExitMeasure.objects.filter(case=case, kind="water_cut").update(overdue_at=earlier)
    assert sweep(today=TODAY, now=NOW).measures_overdue == 0
    assert ExitMeasure.objects.get(case=case, kind="water_cut").overdue_at == earlier
    assert ExitMeasure.objects.get(case=case, kind="power_cut").overdue_at is None
    assert not CaseEvent.objects.exists()


def test_two_overdue_measures_of_one_case_each_escalate(reference: None) -> None:
    case = _exit_ordered(power_cut=dt.date(2026, 2, 27), water_cut=dt.date(2026, 2, 28))
    assert sweep(today=TODAY, now=NOW).measures_overdue == 2
    case.refresh_from_db()
    assert case.version == 3
    assert sorted(Escalation.objects.filter(case=case).values_list("due_date", flat=True)) == [
        dt.date(2026, 2, 27),
        dt.date(2026, 2, 28),
    ]


def test_a_reinspection_falls_due_once(reference: None) -> None:
    due = CaseFactory(state="archived", reinspection_due=TODAY, **ACCEPTED)
    earlier = CaseFactory(state="archived", reinspection_due=dt.date(2026, 1, 5), **ACCEPTED)
    CaseFactory(state="archived", reinspection_due=TODAY + dt.timedelta(days=1), **ACCEPTED)
    CaseFactory(state="archived", reinspection_due=None, **ACCEPTED)  # resumed: a new case took over
    CaseFactory(state="accepted", reinspection_due=TODAY, **ACCEPTED)  # only archived cases are visited
    result = sweep(today=TODAY, now=NOW)
    assert (result.orders_overdue, result.measures_overdue, result.reinspections_due) == (0, 0, 2)
    escalations = {e.case_id: e for e in Escalation.objects.all()}
    assert set(escalations) == {due.pk, earlier.pk}
    assert escalations[due.pk].kind == "reinspection_due"
    assert escalations[due.pk].due_date == TODAY
    assert escalations[earlier.pk].due_date == dt.date(2026, 1, 5)
    assert escalations[due.pk].raised_at == NOW and escalations[due.pk].measure_id is None
    # An open escalation is not raised twice, and the case is not touched.
    assert sweep(today=TODAY, now=NOW).reinspections_due == 0
    assert Escalation.objects.count() == 2
    due.refresh_from_db()
    assert (due.state, due.version) == ("archived", 1)
    assert not CaseEvent.objects.exists()


def test_the_job_returns_the_counts_by_name(reference: None) -> None:
    _clocked("rectifying", dt.date(2026, 2, 27))
    _exit_ordered(power_cut=dt.date(2026, 2, 27))
    CaseFactory(state="archived", reinspection_due=TODAY, **ACCEPTED)
    assert job(now=NOW, today=TODAY) == {"orders": 1, "measures": 1, "visits": 1}


def test_the_job_uses_the_day_and_the_moment_it_is_given(reference: None) -> None:
    """The scheduler passes both; neither is read again from the clock (set here to another year)."""
    case = _clocked("rectifying", dt.date(2026, 3, 5))
    with time_machine.travel(dt.datetime(2027, 6, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        assert job(now=NOW, today=dt.date(2026, 3, 4)) == {"orders": 0, "measures": 0, "visits": 0}
        assert job(now=NOW, today=dt.date(2026, 3, 6)) == {"orders": 1, "measures": 0, "visits": 0}
    case.refresh_from_db()
    assert case.overdue_at == NOW
    assert Escalation.objects.get(case=case).raised_at == NOW


def test_without_a_day_the_sweep_takes_the_local_day_of_its_moment(reference: None) -> None:
    case = _clocked("rectifying", dt.date(2026, 3, 2))
    late_evening = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # already 3 March in Asia/Shanghai
    with time_machine.travel(dt.datetime(2026, 1, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        assert (
            sweep(now=dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)).orders_overdue == 0
        )  # 23:00 on the 2nd
        assert sweep(now=late_evening).orders_overdue == 1
    case.refresh_from_db()
    assert (case.state, case.overdue_at) == ("overdue", late_evening)


def test_the_summary_in_chinese_and_english() -> None:
    result = SweepResult(orders_overdue=3, measures_overdue=2, reinspections_due=1)
    assert result.counts() == {"orders": 3, "measures": 2, "visits": 1}
    assert str(result) == "整改逾期 3 件；退出措施逾期 2 项；“回头看”到期 1 件。"
    with translation.override("en"):
        assert str(result) == "Orders overdue: 3; exit measures overdue: 2; re-inspections due: 1."
    assert str(SweepResult()) == "整改逾期 0 件；退出措施逾期 0 项；“回头看”到期 0 件。"
