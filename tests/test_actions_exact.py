"""The records that the case actions leave and that no page reads back in full: the website announcement
as published, the finding a resumed exit re-opens, an extension's application and refusal, a rejected
closure, the refusals of the transition itself. Each field is asserted, so that a change to any of them is
noticed. Every call passes `today`: no test reads the real clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.models import Case, CaseEvent, Decision, ExtensionRequest, Finding
from phaseout.orgs.models import Person, Role
from phaseout.registry.models import LineStatus
from phaseout.rules import rulebook
from phaseout.rules.case_flow import Action
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import PNG, upload
from tests.factories import CaseFactory, LineFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)
INSPECTED = dt.date(2025, 1, 2)


def _event(case: Case, action: str) -> CaseEvent:
    return CaseEvent.objects.get(case=case, action=action)


def _audit(case: Case, action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=f"case.{action}", object_id=str(case.pk))


# ── the website announcement ────────────────────────────────────────────────────────────


def _announced(by: Person, *, line: bool = True) -> tuple[Case, Decision]:
    fields: dict[str, object] = {}
    if line:
        made = LineFactory(name="1号冲天炉", capacity=Decimal("3"), capacity_unit="t/h")
        fields = {"line": made, "enterprise": made.enterprise}
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        consequence="exit_at_once",
        **fields,
    )
    case = actions.order_exit(
        case=case, plan=ExitPlan.DISMANTLE_AT_ONCE, by=by.user, reason="立即淘汰", today=TODAY
    )
    announcement = case.measures.get(kind="website_announcement")
    actions.complete_measure(
        measure=announcement,
        by=by.user,
        done_on=dt.date(2026, 3, 2),
        note="已在市政府网站公告",
        files=[upload("公告截图.png", PNG, "image/png")],
        today=TODAY,
    )
    return case, Decision.objects.get(case=case, kind="announcement")


def test_the_announcement_as_published_by_a_department(office: Person) -> None:
    case, decision = _announced(office)
    enterprise = case.enterprise
    line = case.line
    assert line is not None
    assert (decision.action, decision.issuer, decision.number, decision.year, decision.serial) == (
        "measure_done",
        "江工信",
        "江工信〔2026〕2号",  # the exit order took 1
        2026,
        2,
    )
    assert (decision.department_id, decision.decided_by_id) == (office.department_id, office.user.pk)
    assert (decision.issued_on, decision.served_on) == (dt.date(2026, 3, 2), None)
    assert decision.basis == "工信部联产业〔2017〕30号（验收、公告）"
    assert decision.entered_at is not None
    assert decision.content == {
        "title": "落后产能退出公告",
        "number": "江工信〔2026〕2号",
        "recipient": "社会各界",
        "paragraphs": [
            f"根据推动落后产能退出工作安排，{enterprise.name}（统一社会信用代码：{enterprise.uscc}）"
            f"的1号冲天炉（{line.capacity_display}）已依法关停退出（立即拆除主体设备），企业已公开承诺不再恢复生产。",
            "欢迎社会各界监督。发现恢复生产的，请向当地人民政府或有关部门举报。",
        ],
        "issuer": "江门市工业和信息化局",
        "date": "2026-03-02",
        "case": case.number,
    }


def test_an_announcement_for_the_whole_enterprise_names_all_its_lines(office: Person) -> None:
    _case, decision = _announced(office, line=False)
    assert "的全部生产线已依法关停退出（立即拆除主体设备）" in decision.content["paragraphs"][0]


def test_an_announcement_published_by_a_district_is_the_countys(office: Person, district: Person) -> None:
    made = LineFactory(enterprise__territory=district.territory)
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        consequence="exit_at_once",
        line=made,
        enterprise=made.enterprise,
    )
    case = actions.order_exit(
        case=case, plan=ExitPlan.DISMANTLE_AT_ONCE, by=office.user, reason="淘汰", today=TODAY
    )
    actions.complete_measure(
        measure=case.measures.get(kind="website_announcement"),
        by=district.user,
        done_on=TODAY,
        files=[upload("公告截图.png", PNG, "image/png")],
        today=TODAY,
    )
    decision = Decision.objects.get(case=case, kind="announcement")
    county = district.territory.name
    assert (decision.issuer, decision.number, decision.department_id) == (
        f"{county}公告",
        f"{county}公告〔2026〕1号",
        None,
    )
    assert decision.content["issuer"] == f"{county}人民政府"


# ── a measure done ──────────────────────────────────────────────────────────────────────


def test_dismantling_marks_the_line_dismantled_and_other_measures_do_not(office: Person) -> None:
    made = LineFactory()
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        consequence="exit_at_once",
        line=made,
        enterprise=made.enterprise,
    )
    case = actions.order_exit(
        case=case, plan=ExitPlan.DISMANTLE_AT_ONCE, by=office.user, reason="淘汰", today=TODAY
    )
    photo = [upload("照片.png", PNG, "image/png")]
    actions.complete_measure(
        measure=case.measures.get(kind="website_announcement"), by=office.user, done_on=TODAY, files=photo,
        today=TODAY,
    )  # fmt: skip
    made.refresh_from_db()
    assert made.status != LineStatus.DISMANTLED
    dismantling = case.measures.get(kind="dismantling")
    actions.complete_measure(
        measure=dismantling, by=office.user, done_on=TODAY, files=photo, note="已拆除", today=TODAY
    )
    made.refresh_from_db()
    assert made.status == LineStatus.DISMANTLED
    dismantling.refresh_from_db()
    assert (dismantling.done_on, dismantling.done_by_id, dismantling.note, dismantling.notice) == (
        TODAY,
        office.user.pk,
        "已拆除",
        "",
    )
    assert dismantling.evidence.get().original_name == "照片.png"
    with pytest.raises(StaleCase) as again:
        actions.complete_measure(measure=dismantling, by=office.user, done_on=TODAY, files=photo, today=TODAY)
    assert again.value.message == "该措施已登记为落实。"
    events = CaseEvent.objects.filter(case=case, action="measure_done")
    assert [e.data["measure"] for e in events.order_by("pk")] == ["website_announcement", "dismantling"]
    audit = AuditEvent.objects.filter(action="case.measure_done", object_id=str(case.pk)).order_by("pk")
    assert [(a.actor_id, a.data["measure"]) for a in audit] == [
        (office.user.pk, "website_announcement"),
        (office.user.pk, "dismantling"),
    ]


# ── the finding a resumed exit re-opens ─────────────────────────────────────────────────


def test_a_resumed_exit_copies_the_finding_whole(district: Person) -> None:
    line = LineFactory(status=LineStatus.EXITED, exited_on=dt.date(2026, 2, 20))
    version = rulebook.library().latest("energy.steel.blast-furnace").version
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        finding__line=line,
        finding__rule_version=version,
        finding__verification="confirmed",
        finding__corrections=[{"kind": "altitude", "factor": "1.02"}],
        line=line,
        enterprise=line.enterprise,
        state="archived",
        reinspection_due=TODAY,
        exit_plan="seal_then_dismantle",
        exit_ordered_on=dt.date(2026, 2, 2),
        exited_on=dt.date(2026, 2, 20),
        accepted_on=dt.date(2026, 2, 25),
        acceptance_team="验收组",
        acceptance_record="合格",
    )
    visit = actions.record_reinspection(
        case=case, by=district.user, inspected_on=TODAY, resumed=True, notes="已复产", today=TODAY
    )
    assert visit.new_case is not None
    copied = visit.new_case.finding
    original = case.finding
    assert copied is not None and original is not None and copied.pk != original.pk
    fields = [
        "inspection_id", "line_id", "rule_id", "rule_title", "rule_source", "rule_version", "verification",
        "corrections", "measured_value", "limit_value", "unit", "conclusion",
    ]  # fmt: skip
    assert {f: getattr(copied, f) for f in fields} == {f: getattr(original, f) for f in fields}
    assert (copied.rule_version, copied.verification, copied.corrections) == (
        version,
        "confirmed",
        [{"kind": "altitude", "factor": "1.02"}],
    )
    assert (copied.measured_value, copied.limit_value, copied.unit) == (
        Decimal("430"),
        Decimal("415"),
        "kgce/t",
    )
    assert Finding.objects.count() == 2


# ── an extension: the application and the refusal ───────────────────────────────────────


@pytest.fixture
def rectifying(reference: None) -> Case:
    return CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="rectifying",
        order_date=dt.date(2026, 2, 2),
        deadline=dt.date(2026, 8, 3),
        rectification_months=6,
    )


@pytest.fixture
def firm(rectifying: Case) -> Person:
    return PersonFactory(
        user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=rectifying.enterprise
    )


def test_the_application_on_the_record(rectifying: Case, firm: Person) -> None:
    version = rectifying.version
    application = actions.request_extension(
        case=rectifying,
        months=2,
        reason=" 余热发电改造 ",
        by=firm.user,
        today=TODAY,
        expected_version=version,
    )
    assert (application.months, application.reason, application.requested_by_id, application.status) == (
        2,
        "余热发电改造",
        firm.user.pk,
        "pending",
    )
    event = _event(rectifying, "extension_requested")
    assert (event.from_state, event.to_state, event.actor_id, event.dated, event.reason, event.data) == (
        "rectifying",
        "rectifying",
        firm.user.pk,
        TODAY,
        "余热发电改造",
        {"months": 2},
    )
    audit = _audit(rectifying, "extension_requested")
    assert (audit.actor_id, audit.reason, audit.data) == (firm.user.pk, "余热发电改造", {"months": 2})
    rectifying.refresh_from_db()
    assert rectifying.version == version + 1
    with pytest.raises(StaleCase):
        actions.request_extension(
            case=rectifying, months=1, reason="x", by=firm.user, today=TODAY, expected_version=version
        )


@pytest.mark.parametrize(
    ("months", "reason", "today", "message"),
    [
        (0, "改造", TODAY, "延期期限应为1至3个月。"),
        (4, "改造", TODAY, "延期期限应为1至3个月。"),
        (2, "  ", TODAY, "请填写理由。"),
        (2, "改造", dt.date(2026, 8, 4), "整改期限已过，不能再批准延期。"),
    ],
)
def test_an_application_refused(
    rectifying: Case, firm: Person, months: int, reason: str, today: dt.date, message: str
) -> None:
    with pytest.raises(CaseActionError) as refused:
        actions.request_extension(case=rectifying, months=months, reason=reason, by=firm.user, today=today)
    assert refused.value.message == message
    assert not ExtensionRequest.objects.exists()
    assert not CaseEvent.objects.filter(case=rectifying).exists()


def test_an_application_on_the_deadline_day_is_accepted(rectifying: Case, firm: Person) -> None:
    application = actions.request_extension(
        case=rectifying, months=3, reason="改造", by=firm.user, today=dt.date(2026, 8, 3)
    )
    assert application.months == 3


def test_a_second_application_while_one_waits_is_refused(rectifying: Case, firm: Person) -> None:
    actions.request_extension(case=rectifying, months=1, reason="改造", by=firm.user, today=TODAY)
    with pytest.raises(CaseActionError) as refused:
        actions.request_extension(case=rectifying, months=1, reason="再申请", by=firm.user, today=TODAY)
    assert refused.value.message == "已有延期申请正在等待决定。"
    assert ExtensionRequest.objects.count() == 1


def test_the_refusal_on_the_record(rectifying: Case, firm: Person, energy_dept: Person) -> None:
    application = actions.request_extension(
        case=rectifying, months=3, reason="资金未到位", by=firm.user, today=TODAY
    )
    actions.decide_extension(
        request=application,
        grant=False,
        note=" 理由不充分 ",
        by=energy_dept.user,
        today=TODAY,
        issued_on=dt.date(2026, 3, 1),
        served_on=dt.date(2026, 3, 2),
    )
    application.refresh_from_db()
    assert (application.status, application.decided_by_id, application.decision_note) == (
        "refused",
        energy_dept.user.pk,
        "理由不充分",
    )
    assert application.decided_at is not None
    decision = Decision.objects.get(case=rectifying)
    assert (decision.action, decision.kind, decision.number) == (
        "grant_extension",
        "extension_reply",
        "江发改〔2026〕1号",
    )
    assert (decision.issued_on, decision.served_on, decision.decided_by_id) == (
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 2),
        energy_dept.user.pk,
    )
    assert "不同意延期，原期限2026年8月3日不变。" in "".join(decision.content["paragraphs"])
    event = _event(rectifying, "extension_refused")
    data = {
        "request": application.pk,
        "decision": decision.pk,
        "number": "江发改〔2026〕1号",
        "issued_on": "2026-03-01",
        "served_on": "2026-03-02",
    }
    assert (event.from_state, event.to_state, event.actor_id, event.dated, event.reason, event.data) == (
        "rectifying",
        "rectifying",
        energy_dept.user.pk,
        dt.date(2026, 3, 1),
        "理由不充分",
        data,
    )
    audit = _audit(rectifying, "extension_refused")
    assert (audit.actor_id, audit.reason, audit.data) == (energy_dept.user.pk, "理由不充分", data)
    rectifying.refresh_from_db()
    assert (rectifying.extension_months, rectifying.deadline) == (0, dt.date(2026, 8, 3))


def test_a_refusal_served_the_day_it_is_issued_by_default(
    rectifying: Case, firm: Person, energy_dept: Person
) -> None:
    application = actions.request_extension(
        case=rectifying, months=3, reason="资金未到位", by=firm.user, today=TODAY
    )
    actions.decide_extension(
        request=application, grant=False, note="不同意", by=energy_dept.user, today=TODAY
    )
    decision = Decision.objects.get(case=rectifying)
    assert (decision.issued_on, decision.served_on) == (TODAY, TODAY)


@pytest.mark.parametrize(
    ("issued_on", "served_on", "message"),
    [
        (dt.date(2026, 3, 3), None, "决定日期不能晚于今天。"),
        (dt.date(2026, 3, 1), dt.date(2026, 2, 28), "送达日期不能早于决定日期。"),
        (dt.date(2026, 2, 1), None, "本决定的日期不能早于上一步骤的日期2026-02-02。"),
    ],
)
def test_a_refusal_with_impossible_dates_changes_nothing(
    rectifying: Case,
    firm: Person,
    energy_dept: Person,
    issued_on: dt.date,
    served_on: dt.date | None,
    message: str,
) -> None:
    application = actions.request_extension(
        case=rectifying, months=3, reason="资金未到位", by=firm.user, today=TODAY
    )
    with pytest.raises(CaseActionError) as refused:
        actions.decide_extension(
            request=application, grant=False, note="不同意", by=energy_dept.user, today=TODAY,
            issued_on=issued_on, served_on=served_on,
        )  # fmt: skip
    assert refused.value.message == message
    application.refresh_from_db()
    assert application.status == "pending"
    assert not Decision.objects.exists()


def test_a_grant_keeps_the_application_and_the_note_as_its_reason(
    rectifying: Case, firm: Person, energy_dept: Person
) -> None:
    application = actions.request_extension(
        case=rectifying, months=2, reason="余热发电改造", by=firm.user, today=TODAY
    )
    actions.decide_extension(request=application, grant=True, note=" 同意 ", by=energy_dept.user, today=TODAY)
    event = _event(rectifying, "grant_extension")
    assert event.reason == "余热发电改造\n同意"
    application.refresh_from_db()
    assert (application.status, application.decision_note) == ("granted", "同意")


def test_a_grant_without_a_note_keeps_the_application_alone(
    rectifying: Case, firm: Person, energy_dept: Person
) -> None:
    application = actions.request_extension(
        case=rectifying, months=2, reason="余热发电改造", by=firm.user, today=TODAY
    )
    actions.decide_extension(request=application, grant=True, note="  ", by=energy_dept.user, today=TODAY)
    assert _event(rectifying, "grant_extension").reason == "余热发电改造"


def test_only_the_competent_department_decides(rectifying: Case, firm: Person, env_dept: Person) -> None:
    application = actions.request_extension(
        case=rectifying, months=2, reason="改造", by=firm.user, today=TODAY
    )
    with pytest.raises(CaseActionError):
        actions.decide_extension(request=application, grant=True, note="同意", by=env_dept.user, today=TODAY)
    application.refresh_from_db()
    assert application.status == "pending"


# ── the transition itself ───────────────────────────────────────────────────────────────


def test_a_transition_the_path_does_not_have_is_refused_by_name(energy_dept: Person) -> None:
    case = CaseFactory(state="closed")
    with pytest.raises(CaseActionError) as refused:
        actions._move(case, Action.ORDER_RECTIFICATION, by=energy_dept.user)
    assert refused.value.message == "无法“责令限期整改”：案件当前状态为“达标结案”。"
    case.refresh_from_db()
    assert (case.state, case.version) == ("closed", 1)


def test_a_transition_on_a_stale_version_is_refused(energy_dept: Person) -> None:
    case = CaseFactory()
    Case.objects.filter(pk=case.pk).update(version=5)
    with pytest.raises(StaleCase) as refused:
        actions._move(case, Action.DISMISS, by=energy_dept.user, reason="不构成")
    assert refused.value.message == "他人刚刚处理了该案件，请刷新页面查看最新情况后再操作。"
    assert not CaseEvent.objects.filter(case=case).exists()


def test_a_transition_records_its_event_and_audit_row(energy_dept: Person) -> None:
    case = CaseFactory()
    moved = actions._move(
        case, Action.DISMISS, by=energy_dept.user, reason="不构成", data={"k": 1}, dated=dt.date(2026, 3, 1)
    )
    assert (moved.state, moved.version) == ("dismissed", 2)
    event = _event(case, "dismiss")
    assert (event.from_state, event.to_state, event.actor_id, event.reason, event.data, event.dated) == (
        "finding",
        "dismissed",
        energy_dept.user.pk,
        "不构成",
        {"k": 1},
        dt.date(2026, 3, 1),
    )
    audit = _audit(case, "dismiss")
    assert (audit.actor_id, audit.reason, audit.data) == (energy_dept.user.pk, "不构成", {"k": 1})


# ── defaults and dates a decision must keep ─────────────────────────────────────────────


def test_a_granted_extension_keeps_the_dates_it_was_issued_and_served(
    rectifying: Case, firm: Person, energy_dept: Person
) -> None:
    application = actions.request_extension(
        case=rectifying, months=2, reason="改造", by=firm.user, today=TODAY
    )
    actions.decide_extension(
        request=application, grant=True, note="同意", by=energy_dept.user, today=TODAY,
        issued_on=dt.date(2026, 2, 26), served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    decision = Decision.objects.get(case=rectifying)
    assert (decision.issued_on, decision.served_on) == (dt.date(2026, 2, 26), dt.date(2026, 2, 27))
    event = _event(rectifying, "grant_extension")
    assert (event.dated, event.data["issued_on"], event.data["served_on"]) == (
        dt.date(2026, 2, 26),
        "2026-02-26",
        "2026-02-27",
    )


def test_a_refusal_keeps_the_officers_reason_in_its_document(
    rectifying: Case, firm: Person, energy_dept: Person
) -> None:
    application = actions.request_extension(
        case=rectifying, months=3, reason="资金", by=firm.user, today=TODAY
    )
    actions.decide_extension(
        request=application, grant=False, note="改造方案不可行", by=energy_dept.user, today=TODAY
    )
    paragraphs = "".join(Decision.objects.get(case=rectifying).content["paragraphs"])
    assert "改造方案不可行" in paragraphs


def test_the_governments_closure_is_refused_when_served_before_it_was_approved(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        state="closure_proposed",
        closure_proposed_on=dt.date(2026, 2, 10),
    )
    with pytest.raises(CaseActionError) as refused:
        actions.approve_closure(
            case=case, by=office.user, plan=ExitPlan.CLOSE_ENTERPRISE, approval_body="江门市人民政府",
            approval_number="江府函〔2026〕8号", approval_date=dt.date(2026, 2, 20),
            served_on=dt.date(2026, 2, 19), today=TODAY,
        )  # fmt: skip
    assert refused.value.message == "送达日期不能早于决定日期。"
    case.refresh_from_db()
    assert case.state == "closure_proposed" and not Decision.objects.filter(case=case).exists()


def test_the_acceptance_opinion_names_its_team(energy_dept: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        state="exited",
        exit_plan="seal_then_dismantle",
        exit_ordered_on=dt.date(2026, 2, 2),
        exited_on=dt.date(2026, 2, 20),
    )
    actions.accept_exit(
        case=case, by=energy_dept.user, accepted_on=dt.date(2026, 2, 25), team=" 市工信局验收组 ",
        record_text="现场核查合格", today=TODAY,
    )  # fmt: skip
    decision = Decision.objects.get(case=case, kind="acceptance_opinion")
    paragraphs = "".join(decision.content["paragraphs"])
    assert "市工信局验收组" in paragraphs and "现场核查合格" in paragraphs
    assert (decision.issued_on, decision.served_on) == (dt.date(2026, 2, 25), None)


def test_an_archive_without_a_reason_records_none(office: Person) -> None:
    case = CaseFactory(
        finding__inspection__inspected_on=INSPECTED,
        dimension="technology",
        state="accepted",
        exit_plan="seal_then_dismantle",
        exit_ordered_on=dt.date(2026, 2, 2),
        exited_on=dt.date(2026, 2, 20),
        accepted_on=dt.date(2026, 2, 25),
        acceptance_team="验收组",
        acceptance_record="合格",
    )
    actions.archive_case(case=case, by=office.user, today=TODAY)
    assert _event(case, "archive").reason == ""
    assert _audit(case, "archive").reason == ""
