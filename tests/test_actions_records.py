"""The case actions, read back exactly: the state, the clock and its deadline, the history event
(action, from/to, actor, day of the record, data), the audit row, the decision, and the Chinese refusal
for each rule an officer can run into. Every call passes `today`: no test reads the real clock."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Case, CaseEvent, Decision, ExitMeasure, ReInspection
from phaseout.orgs.models import Person
from phaseout.registry.models import LineStatus
from phaseout.rules import rulebook
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import PNG, upload
from tests.factories import CaseFactory, LineFactory

TODAY = dt.date(2026, 3, 2)
# The inspection that found the breach precedes every decision dated in these tests.
INSPECTED = dt.date(2025, 1, 2)
OVERDUE = {"order_date": dt.date(2025, 8, 1), "deadline": dt.date(2026, 2, 2), "rectification_months": 6}
EXIT = {"exit_plan": "seal_then_dismantle", "exit_ordered_on": dt.date(2026, 2, 2)}
ACCEPTED = {
    **EXIT,
    "exited_on": dt.date(2026, 2, 20),
    "accepted_on": dt.date(2026, 2, 25),
    "acceptance_team": "验收组",
    "acceptance_record": "合格",
}


def _event(case: Case, action: str) -> CaseEvent:
    return CaseEvent.objects.get(case=case, action=action)


def _audit(case: Case, action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=f"case.{action}", object_id=str(case.pk))


def _nothing_written(case: Case) -> tuple[int, str, int, int, int]:
    case.refresh_from_db()
    return (
        case.version,
        case.state,
        CaseEvent.objects.filter(case=case).count(),
        AuditEvent.objects.filter(object_id=str(case.pk), object_type="cases.case").count(),
        Decision.objects.filter(case=case).count(),
    )


# ── orders with a clock ─────────────────────────────────────────────────────────────────


def test_rectification_order_on_the_record(energy_dept: Person) -> None:
    line = LineFactory()
    case = CaseFactory(finding__inspection__inspected_on=INSPECTED, line=line, enterprise=line.enterprise)
    case = actions.order_rectification(
        case=case,
        by=energy_dept.user,
        reason="超限额",
        today=TODAY,
        issued_on=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 27),
    )
    assert (case.state, case.version) == ("rectifying", 2)
    assert (case.order_date, case.rectification_months, case.extension_months, case.deadline) == (
        dt.date(2026, 2, 27),
        6,
        0,
        dt.date(2026, 8, 27),
    )
    line.refresh_from_db()
    assert line.status == LineStatus.RECTIFYING

    decision = Decision.objects.get(case=case)
    assert (decision.action, decision.kind, decision.issuer, decision.number) == (
        "order_rectification",
        "rectification_notice",
        "江发改",
        "江发改〔2026〕1号",
    )
    assert (decision.year, decision.serial, decision.department_id, decision.decided_by_id) == (
        2026,
        1,
        energy_dept.department_id,
        energy_dept.user.pk,
    )
    assert (decision.approval_body, decision.approval_number, decision.approval_date) == ("", "", None)
    assert decision.basis == "节约能源法（2018）第十六条第二款"
    assert "自送达之日起6个月内完成整改，整改期限至2026年8月27日。" in "".join(decision.content["paragraphs"])
    assert decision.content["issuer"] == "江门市发展和改革局"

    event = _event(case, "order_rectification")
    data = {
        "decision": decision.pk,
        "number": "江发改〔2026〕1号",
        "issued_on": "2026-02-20",
        "served_on": "2026-02-27",
        "order_date": "2026-02-27",
        "months": 6,
        "deadline": "2026-08-27",
        "served_late": False,
    }
    assert (event.from_state, event.to_state, event.actor_id, event.dated, event.reason, event.data) == (
        "finding",
        "rectifying",
        energy_dept.user.pk,
        dt.date(2026, 2, 20),
        "超限额",
        data,
    )
    audit = _audit(case, "order_rectification")
    assert (audit.actor_id, audit.reason, audit.data) == (energy_dept.user.pk, "超限额", data)


def test_the_department_numbers_its_documents_in_sequence(energy_dept: Person) -> None:
    first = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
    )
    second = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
    )
    earlier_year = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
        issued_on=dt.date(2025, 12, 30),
    )
    assert [c.decisions.get().number for c in (first, second, earlier_year)] == [
        "江发改〔2026〕1号",
        "江发改〔2026〕2号",
        "江发改〔2025〕1号",
    ]
    assert [c.decisions.get().serial for c in (first, second, earlier_year)] == [1, 2, 1]
    assert earlier_year.decisions.get().year == 2025


def test_each_department_numbers_from_its_own_sequence(energy_dept: Person, env_dept: Person) -> None:
    energy = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
    )
    environment = actions.order_suspension(
        case=CaseFactory(finding__inspection__inspected_on=INSPECTED, dimension="environment"),
        by=env_dept.user,
        today=TODAY,
    )
    energy_again = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
    )
    assert [c.decisions.get().number for c in (energy, environment, energy_again)] == [
        "江发改〔2026〕1号",
        "江环〔2026〕1号",
        "江发改〔2026〕2号",
    ]


@pytest.mark.parametrize(("months", "deadline"), [(1, dt.date(2026, 4, 2)), (3, dt.date(2026, 6, 2))])
def test_restricted_production_for_the_months_ordered(
    env_dept: Person, months: int, deadline: dt.date
) -> None:
    case = CaseFactory(finding__inspection__inspected_on=INSPECTED, dimension="environment")
    case = actions.order_restriction(case=case, by=env_dept.user, months=months, today=TODAY)
    assert (case.state, case.rectification_months, case.deadline, case.order_date) == (
        "restricted",
        months,
        deadline,
        TODAY,
    )
    event = _event(case, "order_restriction")
    assert (event.data["months"], event.data["deadline"]) == (months, deadline.isoformat())
    paragraph = "".join(Decision.objects.get(case=case).content["paragraphs"])
    assert (
        f"{months}个月" in paragraph and f"{deadline.year}年{deadline.month}月{deadline.day}日" in paragraph
    )


def test_restriction_without_months_is_three(env_dept: Person) -> None:
    case = actions.order_restriction(
        case=CaseFactory(finding__inspection__inspected_on=INSPECTED, dimension="environment"),
        by=env_dept.user,
        today=TODAY,
    )
    assert (case.rectification_months, case.deadline) == (3, dt.date(2026, 6, 2))


@pytest.mark.parametrize("months", [4, -1])
def test_restriction_beyond_three_months_is_refused(env_dept: Person, months: int) -> None:
    case = CaseFactory(finding__inspection__inspected_on=INSPECTED, dimension="environment")
    before = _nothing_written(case)
    with pytest.raises(CaseActionError) as refused:
        actions.order_restriction(case=case, by=env_dept.user, months=months, today=TODAY)
    assert refused.value.message == "期限应为1至3个月。"
    assert _nothing_written(case) == before


def test_a_suspension_runs_from_service_until_lifted(env_dept: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED, dimension="environment", state="restricted", **OVERDUE
    )
    case = actions.order_suspension(case=case, by=env_dept.user, today=TODAY)
    assert (case.state, case.order_date, case.rectification_months, case.deadline) == (
        "suspended",
        TODAY,
        None,
        None,
    )
    event = _event(case, "order_suspension")
    assert (event.from_state, event.data["months"], event.data["deadline"]) == ("restricted", None, None)
    assert "自本决定书送达之日起停产整治，至解除之日止" in "".join(
        Decision.objects.get(case=case).content["paragraphs"]
    )


@pytest.mark.parametrize(
    ("served_on", "late"),
    [(dt.date(2026, 10, 12), False), (dt.date(2026, 10, 13), True)],  # the 7th working day, and the 8th
)
def test_environment_decisions_are_served_within_seven_working_days(
    env_dept: Person, served_on: dt.date, late: bool
) -> None:
    case = actions.order_suspension(
        case=CaseFactory(finding__inspection__inspected_on=INSPECTED, dimension="environment"),
        by=env_dept.user,
        today=dt.date(2026, 10, 20),
        issued_on=dt.date(2026, 9, 25),
        served_on=served_on,
    )
    assert _event(case, "order_suspension").data["served_late"] is late


def test_energy_decisions_have_no_service_period(energy_dept: Person) -> None:
    case = actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=TODAY,
        issued_on=dt.date(2026, 1, 5),
        served_on=TODAY,
    )
    assert _event(case, "order_rectification").data["served_late"] is False


# ── extensions ──────────────────────────────────────────────────────────────────────────


def _rectifying(energy_dept: Person, on: dt.date = dt.date(2025, 8, 29)) -> Case:
    return actions.order_rectification(
        case=CaseFactory(
            finding__inspection__inspected_on=INSPECTED,
        ),
        by=energy_dept.user,
        today=on,
    )


def test_an_extension_on_the_record(energy_dept: Person) -> None:
    case = _rectifying(energy_dept)
    assert case.deadline == dt.date(2026, 2, 28)
    case = actions.grant_extension(
        case=case, months=2, by=energy_dept.user, reason="设备改造", today=dt.date(2025, 9, 10)
    )
    assert (case.state, case.extension_months, case.deadline, case.version) == (
        "rectifying",
        2,
        dt.date(2026, 4, 29),  # eight months from the order date
        3,
    )
    decision = Decision.objects.get(case=case, kind="extension_reply")
    assert decision.number == "江发改〔2025〕2号"
    assert "同意延期一次，延长2个月，期限延至2026年4月29日" in " ".join(decision.content["paragraphs"])
    event = _event(case, "grant_extension")
    assert (event.from_state, event.to_state, event.dated, event.reason) == (
        "rectifying",
        "rectifying",
        dt.date(2025, 9, 10),
        "设备改造",
    )
    assert {k: event.data[k] for k in ("months", "old_deadline", "deadline", "number")} == {
        "months": 2,
        "old_deadline": "2026-02-28",
        "deadline": "2026-04-29",
        "number": "江发改〔2025〕2号",
    }


@pytest.mark.parametrize(
    ("months", "message"), [(0, "延期期限应为1至3个月。"), (4, "延期期限应为1至3个月。")]
)
def test_an_extension_out_of_range_is_refused(energy_dept: Person, months: int, message: str) -> None:
    case = _rectifying(energy_dept)
    before = _nothing_written(case)
    with pytest.raises(CaseActionError) as refused:
        actions.grant_extension(case=case, months=months, by=energy_dept.user, reason="改造", today=TODAY)
    assert refused.value.message == message
    assert _nothing_written(case) == before


def test_an_extension_may_be_granted_on_the_deadline_day_not_after(energy_dept: Person) -> None:
    late = _rectifying(energy_dept)
    with pytest.raises(CaseActionError) as refused:
        actions.grant_extension(
            case=late, months=1, by=energy_dept.user, reason="改造", today=dt.date(2026, 3, 1)
        )
    assert refused.value.message == "整改期限已过，不能再批准延期。"
    on_time = _rectifying(energy_dept)
    on_time = actions.grant_extension(
        case=on_time, months=1, by=energy_dept.user, reason="改造", today=dt.date(2026, 2, 28)
    )
    assert on_time.deadline == dt.date(2026, 3, 30)


def test_a_second_extension_is_refused(energy_dept: Person) -> None:
    case = _rectifying(energy_dept)
    day = dt.date(2025, 9, 10)
    case = actions.grant_extension(case=case, months=1, by=energy_dept.user, reason="改造", today=day)
    with pytest.raises(CaseActionError) as refused:
        actions.grant_extension(case=case, months=1, by=energy_dept.user, reason="再延", today=day)
    assert refused.value.message == "已批准过一次延期，只能延期一次。"


def test_an_extension_cannot_be_dated_before_the_order(energy_dept: Person) -> None:
    case = _rectifying(energy_dept)
    with pytest.raises(CaseActionError) as refused:
        actions.grant_extension(
            case=case,
            months=1,
            by=energy_dept.user,
            reason="改造",
            today=dt.date(2025, 9, 10),
            issued_on=dt.date(2025, 8, 28),
        )
    assert refused.value.message == "本决定的日期不能早于上一步骤的日期2025-08-29。"
    # On the order date itself it may be.
    case = actions.grant_extension(
        case=case,
        months=1,
        by=energy_dept.user,
        reason="改造",
        today=dt.date(2025, 9, 10),
        issued_on=dt.date(2025, 8, 29),
    )
    assert case.extension_months == 1


def test_an_extension_needs_a_reason(energy_dept: Person) -> None:
    case = _rectifying(energy_dept)
    with pytest.raises(CaseActionError) as refused:
        actions.grant_extension(case=case, months=1, by=energy_dept.user, reason="  ", today=TODAY)
    assert refused.value.message == "请填写理由。"


# ── verification, closure ───────────────────────────────────────────────────────────────


def test_still_failing_is_overdue_from_that_moment(energy_dept: Person) -> None:
    case = _rectifying(energy_dept, TODAY)
    moment = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        case = actions.verify_rectification(
            case=case, passed=False, by=energy_dept.user, reason="复测仍超限", today=dt.date(2026, 4, 1)
        )
    assert (case.state, case.overdue_at) == ("overdue", moment)
    event = _event(case, "verify_still_failing")
    assert (event.from_state, event.to_state, event.reason, event.dated) == (
        "rectifying",
        "overdue",
        "复测仍超限",
        dt.date(2026, 4, 1),
    )


def test_verified_then_closed_compliant(energy_dept: Person) -> None:
    line = LineFactory()
    case = actions.order_rectification(
        case=CaseFactory(finding__inspection__inspected_on=INSPECTED, line=line, enterprise=line.enterprise),
        by=energy_dept.user,
        today=TODAY,
    )
    case = actions.verify_rectification(
        case=case, passed=True, by=energy_dept.user, reason="复测达标", today=dt.date(2026, 5, 6)
    )
    assert (case.state, case.overdue_at) == ("verified", None)
    case = actions.close_compliant(case=case, by=energy_dept.user, reason="结案", today=dt.date(2026, 5, 7))
    assert case.state == "closed"
    line.refresh_from_db()
    assert line.status == LineStatus.OPERATING
    event = _event(case, "close_compliant")
    assert (event.from_state, event.to_state, event.dated, event.reason) == (
        "verified",
        "closed",
        dt.date(2026, 5, 7),
        "结案",
    )


def test_the_department_proposes_closure_to_the_territorys_government(energy_dept: Person) -> None:
    case = CaseFactory(finding__inspection__inspected_on=INSPECTED, state="overdue", **OVERDUE)
    case = actions.propose_closure(
        case=case, by=energy_dept.user, reason="情节严重", today=TODAY, issued_on=dt.date(2026, 2, 27)
    )
    assert (case.state, case.closure_proposed_on) == ("closure_proposed", dt.date(2026, 2, 27))
    decision = Decision.objects.get(case=case)
    assert (decision.kind, decision.served_on, decision.content["recipient"]) == (
        "closure_proposal",
        None,
        "蓬江区人民政府",
    )
    event = _event(case, "propose_closure")
    assert event.data == {
        "decision": decision.pk,
        "number": decision.number,
        "issued_on": "2026-02-27",
        "served_on": None,
    }
    assert event.dated == dt.date(2026, 2, 27)


def test_the_government_cannot_approve_before_the_proposal(energy_dept: Person, office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 20),
    )
    before = _nothing_written(case)
    with pytest.raises(CaseActionError) as refused:
        actions.approve_closure(
            case=case,
            by=office.user,
            plan=ExitPlan.CLOSE_ENTERPRISE,
            approval_body="江门市人民政府",
            approval_number="江府函〔2026〕8号",
            approval_date=dt.date(2026, 2, 19),
            today=TODAY,
        )
    assert refused.value.message == "本决定的日期不能早于上一步骤的日期2026-02-20。"
    assert _nothing_written(case) == before


def test_the_governments_closure_runs_from_its_service(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
    )
    case = actions.approve_closure(
        case=case,
        by=office.user,
        plan=ExitPlan.CLOSE_ENTERPRISE,
        approval_body=" 江门市人民政府 ",
        approval_number=" 江府函〔2026〕8号 ",
        approval_date=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 24),
        reason="同意关闭",
        today=TODAY,
    )
    assert (case.state, case.exit_plan, case.exit_ordered_on) == (
        "exit_ordered",
        "close_enterprise",
        dt.date(2026, 2, 24),
    )
    decision = Decision.objects.get(case=case)
    assert (decision.issuer, decision.number, decision.serial, decision.department_id) == (
        "江门市人民政府",
        "江府函〔2026〕8号",
        None,
        None,
    )
    assert (decision.approval_body, decision.approval_number, decision.approval_date) == (
        "江门市人民政府",
        "江府函〔2026〕8号",
        dt.date(2026, 2, 20),
    )
    assert (decision.issued_on, decision.served_on) == (dt.date(2026, 2, 20), dt.date(2026, 2, 24))
    event = _event(case, "approve_closure")
    assert (event.from_state, event.to_state, event.actor_id, event.dated, event.reason) == (
        "closure_proposed",
        "exit_ordered",
        office.user.pk,
        dt.date(2026, 2, 20),
        "同意关闭",
    )
    assert event.data["plan"] == "close_enterprise"
    assert event.data["served_on"] == "2026-02-24"
    # The measures' deadlines run from service: five days → Sunday 1 March → Monday 2 March.
    assert ExitMeasure.objects.get(case=case, kind="power_cut").deadline == dt.date(2026, 3, 2)


def test_an_approval_served_the_day_it_is_dated_by_default(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
    )
    case = actions.approve_closure(
        case=case,
        by=office.user,
        plan=ExitPlan.DISMANTLE_AT_ONCE,
        approval_body="江门市人民政府",
        approval_number="江府函〔2026〕9号",
        approval_date=dt.date(2026, 2, 20),
        today=TODAY,
    )
    assert case.exit_ordered_on == dt.date(2026, 2, 20)
    assert Decision.objects.get(case=case).served_on == dt.date(2026, 2, 20)


@pytest.mark.parametrize(
    ("body", "number", "date"),
    [
        ("", "江府函〔2026〕8号", TODAY),
        (" ", "江府函〔2026〕8号", TODAY),
        ("江门市人民政府", "", TODAY),
        ("江门市人民政府", " ", TODAY),
        ("江门市人民政府", "江府函〔2026〕8号", None),
    ],
)
def test_a_closure_needs_the_whole_approval(
    office: Person, body: str, number: str, date: dt.date | None
) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
    )
    with pytest.raises(CaseActionError) as refused:
        actions.approve_closure(
            case=case,
            by=office.user,
            plan=ExitPlan.CLOSE_ENTERPRISE,
            approval_body=body,
            approval_number=number,
            approval_date=date,
            today=TODAY,
        )
    assert refused.value.message == "关闭须经人民政府批准后生效：请填写批准机关、批准文号和批准日期。"


def test_rejected_closure_goes_back_to_overdue(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
        **OVERDUE,
    )
    case = actions.reject_closure(case=case, by=office.user, reason="暂缓关闭", today=TODAY)
    event = _event(case, "reject_closure")
    assert (case.state, event.from_state, event.to_state, event.reason, event.dated) == (
        "overdue",
        "closure_proposed",
        "overdue",
        "暂缓关闭",
        TODAY,
    )


# ── exit, acceptance, archive, re-inspection ────────────────────────────────────────────


def _exit_ordered(office: Person, plan: ExitPlan, **fields: object) -> Case:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        consequence="exit_at_once",
        **fields,
    )
    return actions.order_exit(case=case, plan=plan, by=office.user, reason="立即淘汰", today=TODAY)


def _done(measure: ExitMeasure, office: Person, on: dt.date = TODAY) -> None:
    actions.complete_measure(
        measure=measure,
        by=office.user,
        done_on=on,
        notice="书面通知，提前24小时",
        files=[upload("照片.png", PNG, "image/png")],
        today=on,
    )


def test_exit_waits_for_its_measures_but_not_for_dismantling(office: Person) -> None:
    line = LineFactory()
    case = _exit_ordered(office, ExitPlan.SEAL_THEN_DISMANTLE, line=line, enterprise=line.enterprise)
    with pytest.raises(CaseActionError) as refused:
        actions.confirm_exit(case=case, by=office.user, today=TODAY)
    assert refused.value.message == (
        "以下退出措施尚未落实：断电、断水、拆除动力装置、封存主体设备、企业公开承诺不再恢复生产、市级网站公告。"
    )
    for measure in case.measures.exclude(kind="dismantling"):
        _done(measure, office)
    case = actions.confirm_exit(case=case, by=office.user, reason="已落实", today=dt.date(2026, 3, 20))
    assert (case.state, case.exited_on) == ("exited", dt.date(2026, 3, 20))
    line.refresh_from_db()
    assert (line.status, line.exited_on) == (LineStatus.EXITED, dt.date(2026, 3, 20))
    event = _event(case, "confirm_exit")
    assert (event.from_state, event.to_state, event.dated, event.reason) == (
        "exit_ordered",
        "exited",
        dt.date(2026, 3, 20),
        "已落实",
    )


def test_dismantling_at_once_must_be_done_before_the_exit(office: Person) -> None:
    case = _exit_ordered(office, ExitPlan.DISMANTLE_AT_ONCE)
    _done(case.measures.get(kind="website_announcement"), office)
    with pytest.raises(CaseActionError) as refused:
        actions.confirm_exit(case=case, by=office.user, today=TODAY)
    assert refused.value.message == "以下退出措施尚未落实：拆除。"


def test_closing_the_enterprise_exits_all_its_lines(office: Person) -> None:
    first = LineFactory()
    second = LineFactory(enterprise=first.enterprise)
    case = _exit_ordered(office, ExitPlan.CLOSE_ENTERPRISE, enterprise=first.enterprise)
    for measure in case.measures.all():
        _done(measure, office)
    actions.confirm_exit(case=case, by=office.user, today=dt.date(2026, 3, 5))
    for line in (first, second):
        line.refresh_from_db()
        assert (line.status, line.exited_on) == (LineStatus.EXITED, dt.date(2026, 3, 5))


def test_measure_refusals(office: Person) -> None:
    case = _exit_ordered(office, ExitPlan.SEAL_THEN_DISMANTLE)
    power = case.measures.get(kind="power_cut")
    pledge = case.measures.get(kind="public_pledge")
    photo = [upload("照片.png", PNG, "image/png")]

    def refusal(**kwargs: object) -> str:
        arguments = {"measure": power, "by": office.user, "done_on": TODAY, "today": TODAY, "files": photo}
        with pytest.raises(CaseActionError) as refused:
            actions.complete_measure(**{**arguments, **kwargs})  # type: ignore[arg-type]
        return refused.value.message

    assert refusal(done_on=dt.date(2026, 3, 3), notice="提前通知") == "措施落实日期不能晚于今天。"
    assert refusal(notice="  ") == "停止供电、供水属于强制措施：请登记向企业发出的通知情况。"
    assert refusal(notice="提前通知", done_on=dt.date(2026, 3, 1)) == "措施落实日期不能早于关停退出决定日期。"
    assert refusal(measure=pledge, files=[]) == "请上传佐证材料（照片、见证书或回执）。"
    # On the day of the exit order it may be done; the record keeps the notice given.
    actions.complete_measure(
        measure=power,
        by=office.user,
        done_on=TODAY,
        notice=" 书面通知 ",
        note="已断电",
        files=photo,
        today=TODAY,
    )
    power.refresh_from_db()
    assert (power.done_on, power.done_by_id, power.notice, power.note) == (
        TODAY,
        office.user.pk,
        "书面通知",
        "已断电",
    )
    event = _event(case, "measure_done")
    assert event.data == {"measure": "power_cut", "done_on": "2026-03-02", "notice": "书面通知"}
    assert (event.from_state, event.to_state, event.dated, event.reason) == (
        "exit_ordered",
        "exit_ordered",
        TODAY,
        "已断电",
    )


def test_measures_only_after_an_exit_order(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
    )
    measure = ExitMeasure.objects.create(case=case, kind="public_pledge", unit="企业", deadline=TODAY)
    with pytest.raises(CaseActionError) as refused:
        actions.complete_measure(
            measure=measure,
            by=office.user,
            done_on=TODAY,
            files=[upload("p.png", PNG, "image/png")],
            today=TODAY,
        )
    assert refused.value.message == "下达关停退出决定后才能登记退出措施。"


def test_acceptance_lies_between_the_exit_and_today(energy_dept: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        state="exited",
        **{**EXIT, "exited_on": dt.date(2026, 2, 20)},
    )

    def accept(on: dt.date, team: str = "验收组", record: str = "现场核查合格") -> Case:
        return actions.accept_exit(
            case=case, by=energy_dept.user, accepted_on=on, team=team, record_text=record, today=TODAY
        )

    for day in (dt.date(2026, 2, 19), dt.date(2026, 3, 3)):
        with pytest.raises(CaseActionError) as refused:
            accept(day)
        assert refused.value.message == "验收日期应在退出之日至今天之间。"
    for team, record in (("  ", "合格"), ("验收组", " ")):
        with pytest.raises(CaseActionError) as refused:
            accept(TODAY, team, record)
        assert refused.value.message == "请填写验收组和验收记录。"
    case = accept(dt.date(2026, 2, 20), " 验收组 ", " 现场核查合格 ")
    assert (case.state, case.accepted_on, case.acceptance_team, case.acceptance_record) == (
        "accepted",
        dt.date(2026, 2, 20),
        "验收组",
        "现场核查合格",
    )
    decision = Decision.objects.get(case=case)
    assert (decision.kind, decision.issued_on, decision.served_on) == (
        "acceptance_opinion",
        dt.date(2026, 2, 20),
        None,
    )
    event = _event(case, "accept")
    assert (event.dated, event.data["number"]) == (dt.date(2026, 2, 20), decision.number)


def test_archive_sets_the_reinspection_six_months_on(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED, dimension="technology", state="accepted", **ACCEPTED
    )
    moment = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        case = actions.archive_case(case=case, by=office.user, reason="归档", today=dt.date(2026, 4, 1))
    # 1 October 2026 is National Day: the re-inspection is due on the 8th.
    assert (case.state, case.reinspection_due, case.archived_at) == ("archived", dt.date(2026, 10, 8), moment)
    event = _event(case, "archive")
    assert (event.data, event.dated, event.reason) == (
        {"reinspection_due": "2026-10-08"},
        dt.date(2026, 4, 1),
        "归档",
    )


def test_a_reinspection_without_resumption_sets_the_next(district: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="archived",
        reinspection_due=dt.date(2026, 3, 1),
        **ACCEPTED,
    )
    with pytest.raises(CaseActionError) as refused:
        actions.record_reinspection(
            case=case,
            by=district.user,
            inspected_on=dt.date(2026, 3, 3),
            resumed=False,
            notes="",
            today=TODAY,
        )
    assert refused.value.message == "复查日期不能晚于今天。"
    visit = actions.record_reinspection(
        case=case,
        by=district.user,
        inspected_on=dt.date(2026, 3, 1),
        resumed=False,
        notes="封存",
        today=TODAY,
    )
    assert (visit.inspected_on, visit.resumed, visit.notes, visit.new_case) == (
        dt.date(2026, 3, 1),
        False,
        "封存",
        None,
    )
    case.refresh_from_db()
    assert (case.state, case.reinspection_due) == ("archived", dt.date(2026, 9, 1))
    event = _event(case, "record_reinspection")
    assert (event.from_state, event.to_state, event.data, event.dated) == (
        "archived",
        "archived",
        {"resumed": False, "new_case": None},
        dt.date(2026, 3, 1),
    )


def test_resumed_production_opens_a_new_case(district: Person) -> None:
    line = LineFactory(status=LineStatus.EXITED, exited_on=dt.date(2026, 2, 20))
    version = rulebook.library().latest("energy.steel.blast-furnace").version
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        line=line,
        enterprise=line.enterprise,
        finding__rule_version=version,
        finding__line=line,
        state="archived",
        reinspection_due=TODAY,
        **ACCEPTED,
    )
    with pytest.raises(CaseActionError) as refused:
        actions.record_reinspection(
            case=case, by=district.user, inspected_on=TODAY, resumed=True, notes=" ", today=TODAY
        )
    assert refused.value.message == "请说明复查发现的情况。"
    visit = actions.record_reinspection(
        case=case, by=district.user, inspected_on=TODAY, resumed=True, notes="已复产", today=TODAY
    )
    new = visit.new_case
    assert new is not None
    assert (new.parent_id, new.resumed, new.state, new.line_id, new.rule_id) == (
        case.pk,
        True,
        "finding",
        line.pk,
        case.rule_id,
    )
    assert new.finding is not None and new.finding.pk != case.finding_id
    assert ReInspection.objects.get(case=case).resumed is True
    case.refresh_from_db()
    assert case.reinspection_due is None
    line.refresh_from_db()
    assert line.status == LineStatus.RESUMED
    assert _event(case, "record_reinspection").data == {"resumed": True, "new_case": new.pk}
    opened = _event(new, "open")
    assert (opened.from_state, opened.to_state, opened.data["resumed"]) == ("", "finding", True)
