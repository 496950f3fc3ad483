"""Every refusal of the case actions that the actions' own earlier checks would otherwise reach first,
reached directly, with its exact message and nothing changed: the transition itself (`_move`), the path
and its conditions (`_step`), the person (`_check_person`), inspections, findings, the document's issuer,
an extension decided twice, evidence without a file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.models import Case, CaseEvent, Decision, Evidence, Finding, Inspection
from phaseout.orgs.models import Person, Role
from phaseout.registry.models import EquipmentType
from phaseout.rules import case_flow
from phaseout.rules.case_flow import Action, State
from tests.factories import CaseFactory, LineFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)


def _record() -> tuple[int, int, int, int, int, int]:
    """Everything a refused action must leave as it was."""
    return (
        CaseEvent.objects.count(),
        AuditEvent.objects.count(),
        Decision.objects.count(),
        Evidence.objects.count(),
        Inspection.objects.count(),
        Finding.objects.count(),
    )


def _unchanged(case: Case, state: str, version: int, before: tuple[int, ...]) -> None:
    case.refresh_from_db()
    assert (case.state, case.version) == (state, version)
    assert _record() == before


# ── the transition itself: _move ──────────────────────────────────────────────────────────


# States a case can be put in without the dates and records other states require.
UNCONSTRAINED = (State.FINDING, State.DISMISSED, State.CLOSED, State.VERIFIED, State.OVERDUE)


def _refused_moves() -> list[tuple[str, Action, State]]:
    """For every step of every path, one state the step does not start from."""
    moves = []
    for dimension in case_flow.Dimension:
        for step in case_flow.steps_for(dimension):
            state = next(s for s in UNCONSTRAINED if s not in step.sources)
            moves.append((dimension.value, step.action, state))
    return moves


@pytest.mark.parametrize(("dimension", "action", "state"), _refused_moves())
def test_move_refuses_every_step_from_a_state_it_does_not_start_from(
    reference: None, energy_dept: Person, dimension: str, action: Action, state: State
) -> None:
    from phaseout.cases.models import CaseState

    case = CaseFactory(dimension=dimension, state=state.value)
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions._move(case, action, by=energy_dept.user, reason="试图越过程序")
    label = actions.ACTION_LABELS[action]
    assert refused.value.message == f"无法“{label}”：案件当前状态为“{CaseState(state).label}”。"
    _unchanged(case, state.value, 1, before)


@pytest.mark.parametrize(
    ("dimension", "state", "action", "message"),
    [
        ("energy", "overdue", Action.ORDER_RECTIFICATION,
         "无法“责令限期整改”：案件当前状态为“逾期或整改后仍不达标”。"),
        ("environment", "finding", Action.ORDER_RECTIFICATION,
         "无法“责令限期整改”：案件当前状态为“拟处理（待决定）”。"),  # not on the environment's path
        ("safety", "closed", Action.APPROVE_CLOSURE,
         "无法“登记人民政府关闭决定”：案件当前状态为“达标结案”。"),
        ("technology", "finding", Action.ORDER_RESTRICTION,
         "无法“责令限制生产”：案件当前状态为“拟处理（待决定）”。"),
        ("quality", "dismissed", Action.REVOKE_LICENCE, "无法“吊销营业执照”：案件当前状态为“不予处理”。"),
    ],
)  # fmt: skip
def test_move_names_the_step_and_the_state_as_written(
    reference: None, energy_dept: Person, dimension: str, state: str, action: Action, message: str
) -> None:
    case = CaseFactory(dimension=dimension, state=state)
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions._move(case, action, by=energy_dept.user)
    assert refused.value.message == message
    _unchanged(case, state, 1, before)


def test_move_on_a_version_someone_else_moved_changes_nothing(energy_dept: Person) -> None:
    case = CaseFactory()
    Case.objects.filter(pk=case.pk).update(version=3)
    before = _record()
    with pytest.raises(StaleCase) as refused:
        actions._move(case, Action.ORDER_RECTIFICATION, by=energy_dept.user, order_date=TODAY)
    assert refused.value.message == "他人刚刚处理了该案件，请刷新页面查看最新情况后再操作。"
    _unchanged(case, "finding", 3, before)
    assert Case.objects.get(pk=case.pk).order_date is None


def test_move_by_the_system_on_a_terminal_state_is_refused(reference: None) -> None:
    case = CaseFactory(state="closed")
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions._move(case, Action.MARK_OVERDUE, by=None)
    assert refused.value.message == "无法“标记逾期”：案件当前状态为“达标结案”。"
    _unchanged(case, "closed", 1, before)


# ── the path and its conditions: _step ────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("fields", "action", "message"),
    [
        ({"dimension": "environment"}, Action.ORDER_RECTIFICATION,
         "无法责令限期整改：环保案件的法定程序中没有这一步。"),
        ({"dimension": "technology", "consequence": "exit_at_once"}, Action.REVOKE_LICENCE,
         "无法吊销营业执照：技术案件的法定程序中没有这一步。"),
        ({"state": "verified"}, Action.ORDER_RECTIFICATION,
         "无法“责令限期整改”：案件当前状态为“已整改并验证”。"),
        ({"dimension": "technology", "consequence": "exit_at_once"}, Action.ORDER_RECTIFICATION,
         "无法责令限期整改：技术案件的法定程序中没有这一步。"),
        ({"consequence": "exit_at_once"}, Action.ORDER_RECTIFICATION,
         "淘汰类装备应立即淘汰，不得给予整改期限。"),
        ({"resumed": True}, Action.ORDER_RECTIFICATION, "复产的落后产能应立即关停，不再给予整改期限。"),
        ({}, Action.ORDER_EXIT, "该问题应先责令限期整改，逾期未整改或整改后仍不达标的才责令关停退出。"),
    ],
)  # fmt: skip
def test_step_refusals_as_written(reference: None, fields: dict, action: Action, message: str) -> None:
    case = CaseFactory(**fields)
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions._step(case, action)
    assert refused.value.message == message
    _unchanged(case, case.state, 1, before)


# ── the person: _check_person ─────────────────────────────────────────────────────────────


def test_no_person_may_decide(reference: None) -> None:
    case = CaseFactory()
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(None, Action.ORDER_RECTIFICATION, case)
    assert refused.value.message == "只有主管机关的工作人员可以作出该决定。"
    account = UserFactory(username="no-person")  # an account without a person in the organisation
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(account, Action.ORDER_RECTIFICATION, case)
    assert refused.value.message == "只有主管机关的工作人员可以作出该决定。"


def test_an_enterprise_may_not_record_a_measure(reference: None) -> None:
    case = CaseFactory()
    firm = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=case.enterprise)
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(firm.user, "complete_measure", case)
    assert refused.value.message == "您的角色不能对案件执行此操作。"
    actions._check_person(firm.user, "add_evidence", case)  # its own evidence it may add


def test_a_step_the_path_lacks_is_refused_for_anyone(energy_dept: Person) -> None:
    case = CaseFactory(dimension="environment")
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(energy_dept.user, Action.ORDER_RECTIFICATION, case)
    assert refused.value.message == "该案件所属维度的法定程序中没有这一步。"


def test_a_role_the_step_does_not_name_is_told_who_decides(district: Person, energy_dept: Person) -> None:
    case = CaseFactory()
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(district.user, Action.ORDER_RECTIFICATION, case)
    assert refused.value.message == "您的角色不能执行这一步，应由成员单位、协调小组办公室决定。"
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(energy_dept.user, Action.APPROVE_CLOSURE, CaseFactory(state="closure_proposed"))
    assert refused.value.message == "您的角色不能执行这一步，应由县（市、区）政府、协调小组办公室决定。"


def test_a_district_outside_its_territory_is_refused(other_district: Person) -> None:
    case = CaseFactory(state="closure_proposed")  # in Pengjiang
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(other_district.user, Action.APPROVE_CLOSURE, case)
    assert refused.value.message == "该案件不在本辖区范围内。"


def test_a_department_outside_the_dimension_is_named(env_dept: Person) -> None:
    with pytest.raises(CaseActionError) as refused:
        actions._check_person(env_dept.user, Action.ORDER_RECTIFICATION, CaseFactory())
    assert refused.value.message == "江门市生态环境局不负责该维度的执法，应由主管部门决定。"


# ── the document's issuer, evidence, an extension decided twice ───────────────────────────


def test_only_a_person_of_a_department_issues_a_document(district: Person) -> None:
    with pytest.raises(CaseActionError) as refused:
        actions._issuer(district.user)
    assert refused.value.message == "只有部门工作人员可以出具该文书。"
    with pytest.raises(CaseActionError) as refused:
        actions._issuer(UserFactory(username="nobody"))
    assert refused.value.message == "只有部门工作人员可以出具该文书。"


@pytest.mark.parametrize("number", ["江发改〔2026〕" + "9" * 76 + "号", "江发改\x00〔2026〕1号"])
def test_a_paper_number_too_long_or_with_nul_is_refused(energy_dept: Person, number: str) -> None:
    case = CaseFactory()
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.order_rectification(case=case, by=energy_dept.user, today=TODAY, paper_number=number)
    assert refused.value.message == "文号不能超过80个字符。"
    _unchanged(case, "finding", 1, before)


def test_evidence_without_a_file_is_refused(energy_dept: Person) -> None:
    case = CaseFactory()
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.add_case_evidence(case=case, files=[], by=energy_dept.user, description="现场照片")
    assert refused.value.message == "请选择文件。"
    _unchanged(case, "finding", 1, before)


def test_an_extension_decided_twice_is_refused_the_second_time(energy_dept: Person) -> None:
    case = CaseFactory(
        state="rectifying",
        order_date=dt.date(2026, 2, 2),
        deadline=dt.date(2026, 8, 3),
        rectification_months=6,
    )
    firm = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=case.enterprise)
    application = actions.request_extension(case=case, months=2, reason="改造", by=firm.user, today=TODAY)
    actions.decide_extension(
        request=application, grant=False, note="理由不足", by=energy_dept.user, today=TODAY
    )
    case.refresh_from_db()
    version, before = case.version, _record()
    with pytest.raises(StaleCase) as refused:
        actions.decide_extension(
            request=application, grant=True, note="同意", by=energy_dept.user, today=TODAY
        )
    assert refused.value.message == "该延期申请已有决定。"
    _unchanged(case, "rectifying", version, before)
    application.refresh_from_db()
    assert (application.status, application.decision_note) == ("refused", "理由不足")


# ── inspections and findings ──────────────────────────────────────────────────────────────


def _inspect(person: Person, line, *, dimension: str = "energy", on: dt.date = TODAY, enterprise=None):
    return actions.record_inspection(
        department=person.department, enterprise=enterprise or line.enterprise, line=line,
        dimension=dimension, inspected_on=on, inspectors="李明", by=person.user, today=TODAY,
    )  # fmt: skip


def test_inspection_refusals_as_written(energy_dept: Person) -> None:
    line, other = LineFactory(), LineFactory()
    before = _record()
    for kwargs, message in [
        ({"dimension": "environment"}, "江门市发展和改革局不负责该维度的检查。"),
        ({"enterprise": other.enterprise}, "该生产线不属于此企业。"),
        ({"on": TODAY + dt.timedelta(days=1)}, "检查日期不能晚于今天。"),
    ]:
        with pytest.raises(CaseActionError) as refused:
            _inspect(energy_dept, line, **kwargs)
        assert refused.value.message == message
    assert _record() == before
    _inspect(energy_dept, line, on=TODAY)  # today itself is not the future


def _clinker_line():
    return LineFactory(
        enterprise__industry_id="cement", equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"), size_unit="t/d", capacity=Decimal("2500"), capacity_unit="t/d",
    )  # fmt: skip


CLINKER = "energy.cement.clinker-energy"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule_id": "no.such.rule", "measured_value": Decimal("1")}, "未知的规则。"),
        ({"rule_id": "technology.steel.induction-furnace", "measured_value": None},
         "该规则与本次检查的维度不一致。"),
        ({"rule_id": CLINKER, "measured_value": Decimal("-1")}, "实测值不能为负数。"),
        ({"rule_id": CLINKER, "measured_value": None}, "请填写实测值。"),
        ({"rule_id": "energy.steel.blast-furnace", "measured_value": Decimal("430")},
         "该规则不适用于此生产线。"),
    ],
)  # fmt: skip
def test_finding_refusals_as_written(energy_dept: Person, kwargs: dict, message: str) -> None:
    line = _clinker_line()
    inspection = _inspect(energy_dept, line)
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.record_finding(inspection=inspection, line=line, by=energy_dept.user, **kwargs)
    assert refused.value.message == message
    assert _record() == before


def test_a_rule_not_in_force_on_the_inspection_day_is_refused(energy_dept: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.ELECTRIC_FURNACE, size_value=Decimal("60"), size_unit="t")
    inspection = _inspect(energy_dept, line)  # energy.steel.eaf is in force from 2026-07-01
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.record_finding(
            inspection=inspection, rule_id="energy.steel.eaf", line=line, measured_value=Decimal("90"),
            by=energy_dept.user,
        )  # fmt: skip
    assert refused.value.message == "检查之日该规则尚未生效或已失效。"
    assert _record() == before


def test_a_finding_on_a_line_of_another_enterprise_is_refused(energy_dept: Person) -> None:
    line, other = _clinker_line(), _clinker_line()
    inspection = _inspect(energy_dept, line)
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.record_finding(
            inspection=inspection,
            rule_id=CLINKER,
            line=other,
            measured_value=Decimal("130"),
            by=energy_dept.user,
        )
    assert refused.value.message == "该生产线不属于此企业。"
    assert _record() == before


def test_a_line_rule_without_a_line_is_refused(energy_dept: Person) -> None:
    line = _clinker_line()
    inspection = actions.record_inspection(
        department=energy_dept.department, enterprise=line.enterprise, line=None, dimension="energy",
        inspected_on=TODAY, inspectors="李明", by=energy_dept.user, today=TODAY,
    )  # fmt: skip
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.record_finding(
            inspection=inspection,
            rule_id=CLINKER,
            line=None,
            measured_value=Decimal("130"),
            by=energy_dept.user,
        )
    assert refused.value.message == "该规则适用于生产线（主体设备），请选择生产线。"
    assert _record() == before


def test_a_line_without_its_size_is_refused(office: Person) -> None:
    line = LineFactory(size_value=None, size_unit="")  # a blast furnace: the rule judges its volume
    inspection = _inspect(office, line, dimension="technology")
    before = _record()
    with pytest.raises(CaseActionError) as refused:
        actions.record_finding(
            inspection=inspection, rule_id="technology.steel.blast-furnace-400", line=line,
            measured_value=None, by=office.user,
        )  # fmt: skip
    assert refused.value.message == "登记簿中没有该设备的规模参数，请先录入。"
    assert _record() == before
