"""Circulated notices and summonses (通报/约谈, Heyuan 三(三)): against a unit responsible for a task that
failed, or against an enterprise; they arrive on the home page of whoever they name, who marks them
read. Every write leaves its audit row; every refusal says why in Chinese and writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.plans import actions
from phaseout.plans.models import Plan, Supervision, Task
from tests.conftest import SEEDS, approve_plan, client_for
from tests.factories import EnterpriseFactory, PersonFactory, UserFactory

D = dt.date
TODAY = D(2021, 6, 20)  # the sub-plans (31 May) and the departments' reports (15 June) are past
TALK_AT = dt.datetime(2021, 6, 25, 9, 30, tzinfo=dt.UTC)
# The pages read the clock: they run on the same day, 2021-06-20 at noon in Jiangmen.
ON_TODAY = time_machine.travel(dt.datetime(2021, 6, 20, 4, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def plan(office: Person) -> Plan:
    plan = actions.import_plan(
        name="jiangmen-2021-plan.txt",
        data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(),
        by=office.user,
    )
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    return approve_plan(actions.confirm_plan(plan=plan, by=office.user), office)


def _sub_plan_task(plan: Plan) -> Task:
    """Each district files its sub-plan by 31 May (every district government responsible)."""
    return plan.tasks.get(submissions__kind="sub_plan", submissions__territory="440703")


def _report_task(plan: Plan) -> Task:
    """The departments report closures by 15 June (市发展改革局 among them)."""
    return plan.tasks.get(deadline=D(2021, 6, 15))


def _pengjiang() -> Territory:
    return Territory.objects.get(code="440703")


def _fgj() -> Department:
    return Department.objects.get(code="jm-fgj")


def _notice(plan: Plan, office: Person, **kw: Any) -> Supervision:
    args: dict[str, Any] = {
        "plan": plan,
        "kind": "notice",
        "issued_on": D(2021, 6, 18),
        "text": "未按期报送区级工作计划，予以通报。",
        "by": office.user,
        "today": TODAY,
        "task": _sub_plan_task(plan),
        "unit": _pengjiang(),
    }
    args.update(kw)
    return actions.record_supervision(**args)


def _enterprise_person(enterprise: Any, username: str) -> Person:
    return PersonFactory(
        user=UserFactory(username=username),
        role=Role.ENTERPRISE,
        enterprise=enterprise,
        display_name=username,
    )


# --- recording --------------------------------------------------------------------------------------


def test_a_notice_names_a_unit_responsible_for_a_failed_task(plan: Plan, office: Person) -> None:
    task = _sub_plan_task(plan)
    supervision = _notice(plan, office)
    assert (supervision.territory_id, supervision.department_id, supervision.enterprise_id) == (
        "440703",
        None,
        None,
    )
    assert supervision.task_id == task.pk
    # The items it failed are kept with it: Pengjiang's missing sub-plan.
    assert [s.territory_id for s in supervision.submissions.all()] == ["440703"]
    event = AuditEvent.objects.get(action="supervision.notice")
    assert (event.actor, event.object_id, event.reason) == (
        office.user,
        str(supervision.pk),
        supervision.text,
    )
    assert event.data["target"] == "蓬江区"


def test_a_summons_names_an_enterprise_with_the_time_and_place_of_the_talk(
    plan: Plan, office: Person
) -> None:
    enterprise = EnterpriseFactory(name="江门市某铸造有限公司")
    supervision = _notice(
        plan,
        office,
        kind="talks",
        task=None,
        unit=None,
        enterprise=enterprise,
        text="未按期完成中频炉拆除，约谈企业负责人。",
        talk_at=TALK_AT,
        talk_place="市工业和信息化局 301 会议室",
    )
    assert (supervision.enterprise_id, supervision.territory_id, supervision.department_id) == (
        enterprise.pk,
        None,
        None,
    )
    assert (supervision.talk_at, supervision.talk_place) == (TALK_AT, "市工业和信息化局 301 会议室")
    event = AuditEvent.objects.get(action="supervision.talks")
    assert (event.actor, event.object_id) == (office.user, str(supervision.pk))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unit": None}, "请指明通报或约谈的对象"),
        ({"enterprise": "firm"}, "不能同时选择两者"),
        ({"issued_on": D(2021, 6, 21)}, "印发日期不能晚于今天"),
        ({"issued_on": None}, "请填写印发日期"),
        ({"text": ""}, "请填写通报或约谈的内容"),
        ({"text": "   \n "}, "请填写通报或约谈的内容"),
        ({"text": "未" * (actions.SUPERVISION_TEXT_MAX + 1)}, "内容过长，最多 2000 个字符"),
        ({"kind": "talks"}, "约谈须写明约谈的时间和地点"),
        ({"kind": "talks", "talk_at": TALK_AT, "talk_place": " "}, "约谈须写明约谈的时间和地点"),
        (
            {"kind": "talks", "talk_at": dt.datetime(2021, 6, 1, 9, tzinfo=dt.UTC), "talk_place": "会议室"},
            "约谈时间不能早于",
        ),
        ({"kind": "warning"}, "请选择通报或约谈"),
        ({"task": None}, "请选择该单位未完成的任务"),
        ({"unit": "fgj"}, "不是该任务的责任单位"),
        ({"task": "december"}, "该任务不属于未完成任务"),
    ],
)
def test_bad_notices_are_refused_and_nothing_is_written(
    plan: Plan, office: Person, change: dict[str, Any], message: str
) -> None:
    change = dict(change)  # the parameters are shared between runs: never changed in place
    if change.get("enterprise") == "firm":
        change["enterprise"] = EnterpriseFactory()
    if change.get("unit") == "fgj":
        change["unit"] = _fgj()  # a department, not responsible for the districts' sub-plans
    if change.get("task") == "december":
        change["task"] = plan.tasks.filter(deadline=D(2021, 12, 15)).first()  # not yet due
    before = AuditEvent.objects.count()
    with pytest.raises(actions.PlanError, match=message):
        _notice(plan, office, **change)
    assert not Supervision.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_task_of_another_plan_is_refused(plan: Plan, office: Person, heyuan_office: Person) -> None:
    heyuan = actions.import_plan(
        name="heyuan-2021-plan.txt", data=(SEEDS / "heyuan-2021-plan.txt").read_bytes(), by=heyuan_office.user
    )
    with pytest.raises(actions.PlanError, match="该任务不属于本计划"):
        _notice(plan, office, task=heyuan.tasks.first())
    assert not Supervision.objects.exists()


# --- tasks that failed --------------------------------------------------------------------------------


def test_the_office_marks_a_task_failed_and_may_then_name_its_units(plan: Plan, office: Person) -> None:
    # A task without any submission, under the energy heading, that 市发展改革局 is responsible for.
    task = next(
        t
        for t in plan.tasks.filter(submissions__isnull=True)
        if _fgj() in actions.responsible_units(t) and t not in actions.failed_tasks(plan, TODAY)
    )
    with pytest.raises(actions.PlanError, match="该任务不属于未完成任务"):
        _notice(plan, office, task=task, unit=_fgj())
    failed = actions.mark_task_failed(
        task=task, failed_on=D(2021, 6, 19), reason="上半年未开展节能监察", by=office.user, today=TODAY
    )
    assert (failed.failed_on, failed.failure_reason, failed.failed_by) == (
        D(2021, 6, 19),
        "上半年未开展节能监察",
        office.user,
    )
    event = AuditEvent.objects.get(action="plan.task_failed")
    assert (event.actor, event.reason, event.data["task"]) == (office.user, "上半年未开展节能监察", task.pk)
    assert task in actions.failed_tasks(plan, TODAY)
    supervision = _notice(plan, office, task=task, unit=_fgj(), text="节能监察任务未完成，予以通报。")
    assert supervision.department == _fgj() and not supervision.submissions.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": " "}, "请填写任务未完成的原因"),
        ({"reason": "x" * (actions.FAILURE_REASON_MAX + 1)}, "内容过长"),
        ({"failed_on": D(2021, 6, 21)}, "认定任务未完成的日期不能晚于今天"),
    ],
)
def test_marking_a_task_failed_refuses_bad_input(
    plan: Plan, office: Person, change: dict[str, Any], message: str
) -> None:
    task = _report_task(plan)
    args: dict[str, Any] = {
        "failed_on": D(2021, 6, 19),
        "reason": "未报送",
        "by": office.user,
        "today": TODAY,
    }
    args.update(change)
    with pytest.raises(actions.PlanError, match=message):
        actions.mark_task_failed(task=task, **args)
    task.refresh_from_db()
    assert (task.failed_on, task.failure_reason) == (None, "")
    assert not AuditEvent.objects.filter(action="plan.task_failed").exists()


def test_a_task_fails_once_and_only_in_a_confirmed_plan(
    plan: Plan, office: Person, heyuan_office: Person
) -> None:
    task = _report_task(plan)
    actions.mark_task_failed(task=task, failed_on=TODAY, reason="未报送", by=office.user, today=TODAY)
    with pytest.raises(actions.PlanError, match="该任务已登记为未完成"):
        actions.mark_task_failed(task=task, failed_on=TODAY, reason="再次", by=office.user, today=TODAY)
    draft = actions.import_plan(
        name="heyuan-2021-plan.txt", data=(SEEDS / "heyuan-2021-plan.txt").read_bytes(), by=heyuan_office.user
    )
    draft_task = draft.tasks.first()
    assert draft_task is not None
    with pytest.raises(actions.PlanError, match="只有已确认计划中的任务"):
        actions.mark_task_failed(
            task=draft_task, failed_on=TODAY, reason="未完成", by=office.user, today=TODAY
        )
    draft_task.refresh_from_db()
    assert draft_task.failed_on is None
    assert AuditEvent.objects.filter(action="plan.task_failed").count() == 1


# --- the named person's home page ----------------------------------------------------------------------


def test_the_notice_arrives_on_the_named_units_home_page_only(
    plan: Plan,
    office: Person,
    district: Person,
    other_district: Person,
    energy_dept: Person,
    env_dept: Person,
) -> None:
    _notice(plan, office, text="蓬江区未按期报送区级工作计划，予以通报。")
    actions.mark_task_failed(
        task=_report_task(plan), failed_on=TODAY, reason="未报送", by=office.user, today=TODAY
    )
    _notice(
        plan,
        office,
        kind="talks",
        task=_report_task(plan),
        unit=_fgj(),
        text="市发展改革局关停情况逾期未报，约谈分管负责人。",
        talk_at=TALK_AT,
        talk_place="市工业和信息化局 301 会议室",
    )
    with ON_TODAY:
        pengjiang = client_for(district.user).get("/").content.decode()
        taishan = client_for(other_district.user).get("/").content.decode()
        fgj = client_for(energy_dept.user).get("/").content.decode()
        sthjj = client_for(env_dept.user).get("/").content.decode()
    assert "蓬江区未按期报送区级工作计划" in pengjiang and "通报" in pengjiang
    assert "2021-06-18" in pengjiang and "确认阅知" in pengjiang
    assert "市发展改革局关停情况逾期未报" not in pengjiang
    assert "市发展改革局关停情况逾期未报" in fgj
    assert "2021-06-25 17:30" in fgj and "市工业和信息化局 301 会议室" in fgj  # the talk, in Beijing time
    assert "蓬江区未按期报送" not in fgj
    for other in (taishan, sthjj):
        assert "home-supervisions" not in other
        assert "蓬江区未按期报送" not in other and "市发展改革局关停情况逾期未报" not in other


def test_the_summons_arrives_on_the_named_enterprises_home_page_only(plan: Plan, office: Person) -> None:
    named, other = EnterpriseFactory(), EnterpriseFactory()
    _notice(
        plan,
        office,
        kind="talks",
        task=None,
        unit=None,
        enterprise=named,
        text="拆除进度滞后，约谈企业负责人。",
        talk_at=TALK_AT,
        talk_place="市工业和信息化局 301 会议室",
    )
    with ON_TODAY:
        page = client_for(_enterprise_person(named, "firm").user).get("/").content.decode()
        elsewhere = client_for(_enterprise_person(other, "other-firm").user).get("/").content.decode()
    assert "拆除进度滞后，约谈企业负责人。" in page and "约谈" in page and "301 会议室" in page
    assert "拆除进度滞后" not in elsewhere


def test_the_named_person_marks_it_read_once(
    plan: Plan, office: Person, district: Person, other_district: Person
) -> None:
    supervision = _notice(plan, office)
    # Another district may not mark it (it is not even found), nor may the office.
    assert client_for(other_district.user).post(f"/supervisions/{supervision.pk}/read/").status_code == 404
    assert client_for(office.user).post(f"/supervisions/{supervision.pk}/read/").status_code == 403
    with pytest.raises(actions.PlanError, match="该通报或约谈的对象不是您的单位"):
        actions.acknowledge_supervision(supervision=supervision, person=other_district)
    supervision.refresh_from_db()
    assert supervision.acknowledged_at is None
    assert not AuditEvent.objects.filter(action="supervision.acknowledge").exists()

    with ON_TODAY:
        response = client_for(district.user).post(f"/supervisions/{supervision.pk}/read/", follow=True)
        page = response.content.decode()
    assert "已确认阅知。" in page and "阅知于 2021-06-20 12:00" in page
    supervision.refresh_from_db()
    assert supervision.acknowledged_by == district.user
    assert supervision.acknowledged_at == dt.datetime(2021, 6, 20, 4, 0, tzinfo=dt.UTC)
    event = AuditEvent.objects.get(action="supervision.acknowledge")
    assert (event.actor, event.object_id) == (district.user, str(supervision.pk))

    response = client_for(district.user).post(f"/supervisions/{supervision.pk}/read/", follow=True)
    assert "已确认阅知，无需重复操作。" in response.content.decode()
    assert AuditEvent.objects.filter(action="supervision.acknowledge").count() == 1


# --- over HTTP, the office's form ------------------------------------------------------------------------


def test_the_office_records_a_notice_through_the_plan_page(plan: Plan, office: Person) -> None:
    client = client_for(office.user)
    task = _sub_plan_task(plan)
    form = {
        "kind": "notice",
        "issued_on": "2021-06-18",
        "task": str(task.pk),
        "unit": "territory:440703",
        "text": "未按期报送区级工作计划，予以通报。",
    }
    with ON_TODAY:
        page = client.get(f"/plans/{plan.pk}/").content.decode()
        assert 'id="supervision-form"' in page and "未完成的任务" in page
        for change, message in [
            ({"unit": ""}, "请指明通报或约谈的对象"),
            ({"enterprise": EnterpriseFactory().uscc}, "不能同时选择两者"),
            (
                {"enterprise": EnterpriseFactory(territory_id="441602").uscc},
                "本计划所在城市没有该统一社会信用代码的企业",
            ),
            ({"enterprise": "91440700MA0000000X1"}, "不超过 18 字符"),
            ({"issued_on": "2021-06-21"}, "印发日期不能晚于今天"),
            ({"text": "  "}, "这个字段是必填项"),
            ({"text": "未" * 2001}, "内容过长，最多 2000 个字符"),
            ({"kind": "talks"}, "约谈须写明约谈的时间和地点"),
        ]:
            response = client.post(f"/plans/{plan.pk}/supervise/", {**form, **change}, follow=True)
            assert message in response.content.decode(), change
        assert not Supervision.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="supervision.").exists()
        response = client.post(f"/plans/{plan.pk}/supervise/", form, follow=True)
    assert "已记录" in response.content.decode()
    supervision = Supervision.objects.get()
    assert (supervision.territory_id, supervision.task_id) == ("440703", task.pk)
    assert AuditEvent.objects.filter(action="supervision.notice", object_id=str(supervision.pk)).exists()


def test_the_office_marks_a_task_failed_through_the_plan_page(plan: Plan, office: Person) -> None:
    client = client_for(office.user)
    task = _report_task(plan)
    with ON_TODAY:
        response = client.post(
            f"/plans/{plan.pk}/task-failed/",
            {"task": task.pk, "failed_on": "2021-06-21", "reason": "未报送"},
            follow=True,
        )
        assert "认定任务未完成的日期不能晚于今天" in response.content.decode()
        task.refresh_from_db()
        assert task.failed_on is None
        response = client.post(
            f"/plans/{plan.pk}/task-failed/",
            {"task": task.pk, "failed_on": "2021-06-19", "reason": "关停情况逾期未报"},
            follow=True,
        )
    assert "已登记该任务未完成" in response.content.decode()
    task.refresh_from_db()
    assert (task.failed_on, task.failure_reason) == (D(2021, 6, 19), "关停情况逾期未报")
    assert AuditEvent.objects.filter(action="plan.task_failed", actor=office.user).count() == 1


def test_one_notice_to_several_units_is_a_record_for_each_all_or_none(plan: Plan, office: Person) -> None:
    """Batch (the working day, §4): the office names several districts that missed their sub-plan; each
    gets its own notice with its audit row, issued together; a unit not responsible refuses the whole."""
    client = client_for(office.user)
    task = _sub_plan_task(plan)
    form = {
        "kind": "notice",
        "issued_on": "2021-06-18",
        "task": str(task.pk),
        "unit": ["territory:440703", "territory:440704"],
        "text": "未按期报送区级工作计划，予以通报。",
    }
    with ON_TODAY:
        refused = client.post(
            f"/plans/{plan.pk}/supervise/", {**form, "unit": [*form["unit"], f"department:{_fgj().pk}"]},
            follow=True,
        )  # fmt: skip
        assert not Supervision.objects.exists()
        assert not AuditEvent.objects.filter(action="supervision.notice").exists()
        assert "已记录" not in refused.content.decode()
        done = client.post(f"/plans/{plan.pk}/supervise/", form, follow=True)
    assert "已记录" in done.content.decode()
    notices = Supervision.objects.order_by("territory_id")
    assert [(n.territory_id, n.task_id, n.kind) for n in notices] == [
        ("440703", task.pk, "notice"),
        ("440704", task.pk, "notice"),
    ]
    for notice in notices:
        entry = AuditEvent.objects.get(action="supervision.notice", object_id=str(notice.pk))
        assert entry.actor_id == office.user.pk
    with pytest.raises(actions.PlanError) as twice:
        actions.record_supervisions(
            plan=plan, kind="notice", issued_on=D(2021, 6, 18), text="通报", by=office.user, today=TODAY,
            task=task, units=[_pengjiang(), _pengjiang()],
        )  # fmt: skip
    assert str(twice.value) == "同一单位被重复选择。"
