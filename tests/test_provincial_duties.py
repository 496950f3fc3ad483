"""The cities' duties under the provincial plan (issue 17 §4, ADR 0030): the provincial plan's dated tasks
whose units are the cities (各地级以上市…) become each city's duties at confirmation; the provincial
government's approval puts the plan in force; each city's office hands in against its own duties and the
provincial office accepts or returns each hand-in, and sees per duty which cities handed in and which are
late. A city's office sees only its own duties; the provincial office all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from phaseout.audit.models import AuditEvent
from phaseout.messaging.models import Message
from phaseout.orgs.models import Person, Territory
from phaseout.plans import actions
from phaseout.plans import scope as plan_scope
from phaseout.plans.models import Plan, PlanChange, Submission, SubmissionVersion
from phaseout.province import duties
from tests.conftest import REPORT_PDF, client_for
from tests.test_provincial_plan import PROVINCIAL

NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)  # 20 May 2026, 10:00 in Guangdong
TODAY = dt.date(2026, 5, 20)
PLAN_DUE = dt.date(2026, 5, 31)  # (一) each city's year work plan, filed for the record
SUMMARY_DUE = dt.date(2027, 1, 10)  # (二) each city's year summary
APPROVAL = {"body": "广东省人民政府", "doc_number": "粤府函〔2026〕45号", "approved_on": dt.date(2026, 4, 2)}
COMMENTS = "请补充本市淘汰落后产能项目清单。"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _confirmed(province: Person) -> Plan:
    plan = actions.import_plan(name="gd.txt", data=PROVINCIAL.encode(), by=province.user)
    return actions.confirm_plan(plan=plan, by=province.user)


def _in_force(province: Person) -> Plan:
    return actions.approve_plan(plan=_confirmed(province), by=province.user, **APPROVAL)  # type: ignore[arg-type]


def _pdf(name: str = "jiangmen-plan.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, REPORT_PDF, content_type="application/pdf")


def _cities() -> list[str]:
    return list(Territory.objects.filter(parent="440000", level="city").values_list("code", flat=True))


def _duty(plan: Plan, city: str = "440700", due: dt.date = PLAN_DUE) -> Submission:
    return plan.submissions.get(territory=city, due_date=due)


# --- the duties, derived at confirmation ----------------------------------------------------------


def test_confirming_the_provincial_plan_gives_each_city_its_duties(province: Person) -> None:
    plan = _confirmed(province)
    cities = _cities()
    assert cities == ["440700", "441600"]  # the test's province: Jiangmen and Heyuan
    owed = list(plan.submissions.values_list("territory", "due_date", "kind", "department"))
    assert sorted(owed) == sorted(
        [(c, PLAN_DUE, "sub_plan", None) for c in cities]
        + [(c, SUMMARY_DUE, "summary", None) for c in cities]
    )
    assert AuditEvent.objects.get(action="plan.confirm").data == {
        "submissions": 4,
        "summary_due": "2027-01-10",
    }
    # not in force before the provincial government approves it: nothing is handed in yet
    with pytest.raises(actions.PlanError) as refused:
        actions.submit(submission=_duty(plan), document=_pdf(), numbers={}, note="", by=province.user)
    assert str(refused.value) == "该省级工作方案经省人民政府审定后才生效，暂不能按该方案报送。"
    assert not SubmissionVersion.objects.exists()


def test_a_city_plan_still_owes_nothing_to_the_province(office: Person, province: Person) -> None:
    plan = _confirmed(province)
    assert not plan.submissions.exclude(territory__parent="440000").exists()
    assert not plan.submissions.filter(department__isnull=False).exists()


# --- the provincial government's approval ---------------------------------------------------------


def test_the_provincial_government_approves_the_plan_with_history_and_audit(province: Person) -> None:
    plan = _in_force(province)
    plan.refresh_from_db()
    assert (plan.status, plan.approval_body, plan.approval_doc_number, plan.approved_on) == (
        "approved",
        "广东省人民政府",
        "粤府函〔2026〕45号",
        dt.date(2026, 4, 2),
    )
    assert (plan.approval_recorded_by, plan.approval_recorded_at) == (province.user, NOW)
    change = PlanChange.objects.get(plan=plan, field="status")
    assert (change.before, change.after, change.by) == ("confirmed", "approved", province.user)
    assert change.reason == "广东省人民政府 粤府函〔2026〕45号 2026-04-02"
    audit = AuditEvent.objects.get(action="plan.approve")
    assert (audit.actor, audit.object_id) == (province.user, str(plan.pk))
    assert audit.data == {
        "body": "广东省人民政府",
        "document": "粤府函〔2026〕45号",
        "approved_on": "2026-04-02",
    }


@pytest.mark.parametrize("body", ["广东省人民政府", "省人民政府", "省政府", "广东省政府"])
def test_the_provincial_government_by_any_of_its_names(province: Person, body: str) -> None:
    plan = actions.approve_plan(
        plan=_confirmed(province),
        body=body,
        doc_number="粤府函〔2026〕45号",
        approved_on=TODAY,
        by=province.user,
    )
    assert plan.status == "approved"


REFUSED_APPROVALS = [
    (
        {"body": "江门市人民政府"},
        "省级工作方案由省人民政府（广东省人民政府）审定，不能登记为江门市人民政府审定。",
    ),
    (
        {"body": "广东省工业和信息化厅"},
        "省级工作方案由省人民政府（广东省人民政府）审定，不能登记为广东省工业和信息化厅审定。",
    ),
    (
        {"body": "湖南省人民政府"},
        "省级工作方案由省人民政府（广东省人民政府）审定，不能登记为湖南省人民政府审定。",
    ),
    (
        {"body": "广东省人民政府办公厅"},
        "省级工作方案由省人民政府（广东省人民政府）审定，不能登记为广东省人民政府办公厅审定。",
    ),
    ({"body": "人民政府"}, "省级工作方案由省人民政府（广东省人民政府）审定，不能登记为人民政府审定。"),
    ({"approved_on": dt.date(2026, 3, 19)}, "审定日期不能早于方案的成文日期（2026-03-20）。"),
    ({"approved_on": dt.date(2026, 5, 21)}, "审定日期不能晚于今天。"),
    ({"approved_on": None}, "请填写审定日期。"),
    ({"body": " "}, "请填写审定机关。"),
    ({"doc_number": ""}, "请填写审定文件的文号。"),
]


@pytest.mark.parametrize(("change", "message"), REFUSED_APPROVALS)
def test_an_approval_refused_says_why_and_changes_nothing(
    province: Person, change: dict[str, object], message: str
) -> None:
    plan = _confirmed(province)
    with pytest.raises(actions.PlanError) as refused:
        actions.approve_plan(plan=plan, by=province.user, **{**APPROVAL, **change})  # type: ignore[arg-type]
    assert str(refused.value) == message
    plan.refresh_from_db()
    assert (plan.status, plan.approval_body, plan.approved_on) == ("confirmed", "", None)
    assert not PlanChange.objects.exists() and not AuditEvent.objects.filter(action="plan.approve").exists()


def test_only_the_provincial_office_approves_and_only_once(office: Person, province: Person) -> None:
    draft = actions.import_plan(name="gd.txt", data=PROVINCIAL.encode(), by=province.user)
    with pytest.raises(actions.PlanError) as unconfirmed:
        actions.approve_plan(plan=draft, by=province.user, **APPROVAL)  # type: ignore[arg-type]
    assert str(unconfirmed.value) == "只有省级协调办公室已确认的方案才能登记省人民政府审定。"
    plan = _confirmed(province)
    with pytest.raises(actions.PlanError) as by_a_city:
        actions.approve_plan(plan=plan, by=office.user, **APPROVAL)  # type: ignore[arg-type]
    assert str(by_a_city.value) == "只有省级协调办公室可以登记省人民政府对省级工作方案的审定。"
    assert not AuditEvent.objects.filter(action="plan.approve").exists()
    actions.approve_plan(plan=plan, by=province.user, **APPROVAL)  # type: ignore[arg-type]
    with pytest.raises(actions.PlanError) as twice:
        actions.approve_plan(plan=plan, by=province.user, **APPROVAL)  # type: ignore[arg-type]
    assert str(twice.value) == "该方案已经省人民政府审定。"
    assert AuditEvent.objects.filter(action="plan.approve").count() == 1
    assert PlanChange.objects.filter(plan=plan).count() == 1


# --- hand-in, acceptance and return ---------------------------------------------------------------


def test_a_city_hands_in_the_province_returns_then_accepts(office: Person, province: Person) -> None:
    plan = _in_force(province)
    duty = _duty(plan)
    actions.submit(submission=duty, document=_pdf(), numbers={}, note="江门市年度工作计划", by=office.user)
    duty.refresh_from_db()
    assert (duty.state, duty.submitted_on, duty.submitted_by) == ("pending", TODAY, office.user)
    audit = AuditEvent.objects.get(action="submission.submit")
    assert (audit.actor, audit.data["version"], audit.data["late"]) == (office.user, 1, False)
    returned = actions.review_submission(
        submission=duty, version=1, accept=False, comments=COMMENTS, by=province.user
    )
    assert (returned.review, returned.reviewed_by, returned.reviewed_at, returned.comments) == (
        "returned",
        province.user,
        NOW,
        COMMENTS,
    )
    duty.refresh_from_db()
    assert (duty.state, duty.submitted_on) == ("returned", None)
    back = AuditEvent.objects.get(action="submission.return")
    assert (back.actor, back.reason, back.data["version"]) == (province.user, COMMENTS, 1)
    # the city's office is told what to change
    told = Message.objects.get(kind="returned")
    assert COMMENTS in told.body and told.recipient == office
    actions.submit(submission=duty, document=_pdf("v2.pdf"), numbers={}, note="", by=office.user)
    accepted = actions.review_submission(
        submission=duty, version=2, accept=True, comments="", by=province.user
    )
    assert (accepted.number, accepted.review, accepted.reviewed_by) == (2, "accepted", province.user)
    duty.refresh_from_db()
    assert (duty.state, duty.status_on(TODAY)) == ("accepted", "on_time")
    assert AuditEvent.objects.get(action="submission.accept").actor == province.user
    assert list(duty.versions.values_list("number", "review")) == [(1, "returned"), (2, "accepted")]


def test_a_review_refused_says_why_and_changes_nothing(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    plan = _in_force(province)
    duty = _duty(plan)
    actions.submit(submission=duty, document=_pdf(), numbers={}, note="", by=office.user)
    cases = [
        (office, True, "", "只有省级协调办公室可以通过或退回各市在省级工作方案下报送的材料。"),
        (heyuan_office, True, "", "只有省级协调办公室可以通过或退回各市在省级工作方案下报送的材料。"),
        (province, False, " ", "请填写退回意见：报送单位需要知道应修改什么。"),
    ]
    for person, accept, comments, message in cases:
        with pytest.raises(actions.PlanError) as refused:
            actions.review_submission(
                submission=duty, version=1, accept=accept, comments=comments, by=person.user
            )
        assert str(refused.value) == message
    duty.refresh_from_db()
    assert duty.state == "pending" and duty.versions.get().review == "pending"
    assert not AuditEvent.objects.filter(action__in=["submission.accept", "submission.return"]).exists()


def test_the_province_does_not_review_a_city_plans_submission(office: Person, province: Person) -> None:
    from tests.conftest import SEEDS, approve_plan

    plan = actions.import_plan(
        name="jiangmen-2021-plan.txt", data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(), by=office.user
    )
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    plan = approve_plan(actions.confirm_plan(plan=plan, by=office.user), office)
    submission = plan.submissions.filter(territory="440703").first()
    assert submission is not None
    SubmissionVersion.objects.create(
        submission=submission, number=1, handed_in_by=office.user, handed_in_at=NOW, handed_in_on=TODAY
    )
    Submission.objects.filter(pk=submission.pk).update(
        state="pending", submitted_on=TODAY, submitted_by=office.user
    )
    with pytest.raises(actions.PlanError) as refused:
        actions.review_submission(
            submission=submission, version=1, accept=True, comments="", by=province.user
        )
    assert str(refused.value) == "只有本市协调小组办公室可以通过或退回本市各单位报送的材料。"
    assert SubmissionVersion.objects.get().review == "pending"


# --- scope and the dashboard ----------------------------------------------------------------------


def test_a_citys_office_sees_its_own_duties_the_province_all(
    office: Person, heyuan_office: Person, province: Person, district: Person, energy_dept: Person
) -> None:
    plan = _in_force(province)
    provincial = plan.submissions.all()
    assert set(plan_scope.submissions(office, provincial).values_list("territory", flat=True)) == {"440700"}
    assert set(plan_scope.submissions(heyuan_office, provincial).values_list("territory", flat=True)) == {
        "441600"
    }
    assert plan_scope.submissions(province, provincial).count() == 4
    assert not plan_scope.submissions(district, provincial).exists()
    assert not plan_scope.submissions(energy_dept, provincial).exists()
    assert plan_scope.owed_by_city(office).count() == 2
    assert not plan_scope.reviewable(office, provincial).exists()
    assert plan_scope.reviewable(province, provincial).count() == 4


def test_the_board_per_duty_which_cities_handed_in_and_which_are_late(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    plan = _in_force(province)
    actions.submit(submission=_duty(plan), document=_pdf(), numbers={}, note="", by=office.user)
    actions.review_submission(submission=_duty(plan), version=1, accept=True, comments="", by=province.user)
    late_day = dt.date(2026, 6, 3)
    rows = duties.board(plan, late_day)
    assert [(r.due, r.handed_in, r.late) for r in rows] == [(PLAN_DUE, 1, 1), (SUMMARY_DUE, 0, 0)]
    assert [(c.code, s) for c, _, s in rows[0].cells] == [("440700", "on_time"), ("441600", "missing")]
    assert {s for _, _, s in rows[1].cells} == {"due"}
    with time_machine.travel(dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC), tick=False):
        actions.submit(
            submission=_duty(plan, "441600"), document=_pdf(), numbers={}, note="", by=heyuan_office.user
        )
    rows = duties.board(plan, late_day)
    assert [(c.code, s) for c, _, s in rows[0].cells] == [("440700", "on_time"), ("441600", "late")]
    assert (rows[0].counts, rows[0].handed_in, rows[0].late) == ({"on_time": 1, "late": 1}, 1, 1)


# --- over HTTP, role by role ----------------------------------------------------------------------


def test_the_duties_page_by_role(
    office: Person, heyuan_office: Person, province: Person, district: Person, energy_dept: Person
) -> None:
    plan = _in_force(province)
    page = client_for(province.user).get("/province/duties/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "江门市" in text and "河源市" in text and 'id="duties"' in text
    assert client_for(province.user).get(f"/province/duties/?plan={plan.pk}").status_code == 200
    bad = client_for(province.user).get("/province/duties/?plan=x")
    assert bad.status_code == 400 and "选择一个有效的选项" in bad.content.decode()
    mine = client_for(office.user).get("/province/duties/").content.decode()
    assert 'id="owed"' in mine and mine.count("/submit/") == 2
    assert (
        f"/submissions/{_duty(plan).pk}/" in mine and f"/submissions/{_duty(plan, '441600').pk}/" not in mine
    )
    theirs = client_for(heyuan_office.user).get("/province/duties/").content.decode()
    assert (
        f"/submissions/{_duty(plan, '441600').pk}/" in theirs
        and f"/submissions/{_duty(plan).pk}/" not in theirs
    )
    assert client_for(district.user).get("/province/duties/").status_code == 403
    assert client_for(energy_dept.user).get("/province/duties/").status_code == 403


def test_hand_in_and_review_over_http_by_role(
    office: Person, heyuan_office: Person, province: Person, district: Person
) -> None:
    plan = _in_force(province)
    duty = _duty(plan)
    detail = f"/submissions/{duty.pk}/"
    # the city's office reads its own duty and hands in; another city's office and a district do not
    assert client_for(heyuan_office.user).get(detail).status_code == 404
    assert client_for(district.user).get(detail).status_code == 404
    page = client_for(office.user).get(detail).content.decode()
    assert f"/submissions/{duty.pk}/submit/" in page and 'id="accept"' not in page
    assert client_for(heyuan_office.user).post(f"{detail}submit/", {"document": _pdf()}).status_code == 404
    assert client_for(province.user).post(f"{detail}submit/", {"document": _pdf()}).status_code == 403
    assert not SubmissionVersion.objects.exists()
    response = client_for(office.user).post(f"{detail}submit/", {"document": _pdf()})
    assert response.status_code == 302
    assert duty.versions.get().handed_in_by == office.user
    # the province reads it and accepts or returns; the city's own office does not review it
    page = client_for(province.user).get(detail).content.decode()
    assert 'id="accept"' in page and f"/submissions/{duty.pk}/submit/" not in page
    assert client_for(office.user).post(f"{detail}accept/", {"version": 1}).status_code == 404
    assert client_for(district.user).post(f"{detail}accept/", {"version": 1}).status_code == 403
    assert duty.versions.get().review == "pending"
    assert (
        client_for(province.user).post(f"{detail}return/", {"version": 1, "comments": COMMENTS}).status_code
        == 302
    )
    assert duty.versions.get().review == "returned"
    assert AuditEvent.objects.get(action="submission.return").actor == province.user


def test_approval_over_http_by_role(office: Person, province: Person, district: Person) -> None:
    plan = _confirmed(province)
    form = {**APPROVAL, "approved_on": "2026-04-02", "confirm": "on"}
    page = client_for(province.user).get(f"/plans/{plan.pk}/").content.decode()
    assert 'id="approve-plan"' in page and "省人民政府审定" in page
    # the city's office reads the provincial plan but records nothing on it
    assert client_for(office.user).get(f"/plans/{plan.pk}/").status_code == 200
    assert 'id="approve-plan"' not in client_for(office.user).get(f"/plans/{plan.pk}/").content.decode()
    assert client_for(office.user).post(f"/plans/{plan.pk}/approve/", form).status_code == 404
    assert client_for(district.user).post(f"/plans/{plan.pk}/approve/", form).status_code == 403
    refused = client_for(province.user).post(
        f"/plans/{plan.pk}/approve/", {**form, "body": "江门市人民政府"}, follow=True
    )
    assert "不能登记为江门市人民政府审定" in refused.content.decode()
    plan.refresh_from_db()
    assert plan.status == "confirmed"
    done = client_for(province.user).post(f"/plans/{plan.pk}/approve/", form, follow=True).content.decode()
    assert "已登记省人民政府审定，方案已生效。" in done and "省人民政府已审定，已生效" in done
    plan.refresh_from_db()
    assert (plan.status, plan.approval_recorded_by) == ("approved", province.user)


def test_the_sweep_reminds_the_citys_office_and_escalates_to_the_province_once(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    plan = _in_force(province)
    actions.submit(submission=_duty(plan), document=_pdf(), numbers={}, note="", by=office.user)
    after = dt.datetime(2026, 6, 2, 2, 0, tzinfo=dt.UTC)
    for _ in range(2):  # a second run sends nothing again
        actions.sweep_submissions(now=after, today=dt.date(2026, 6, 2))
    escalations = Message.objects.filter(kind="escalation")
    # Heyuan did not hand in its work plan: its office and the provincial office are told; Jiangmen did
    assert sorted(escalations.values_list("recipient__user__username", flat=True)) == [
        "hy-office",
        "province",
    ]
    assert all("河源市" in m.title for m in escalations)


# --- one city named by name -------------------------------------------------------------------------

NAMED = PROVINCIAL.replace(
    "（二）各地级以上市人民政府于2027年1月10日",
    "（二）江门市人民政府于2026年6月30日前报送钢铁行业落后产能退出情况。\n\n"
    "（三）各地级以上市人民政府于2027年1月10日",
)


def test_a_task_naming_one_city_is_that_citys_duty_only(province: Person) -> None:
    plan = actions.import_plan(name="gd.txt", data=NAMED.encode(), by=province.user)
    named = plan.tasks.get(text__startswith="江门市人民政府")
    unit = named.units.get()
    assert (unit.name, unit.match, unit.territory_id, unit.role) == (
        "江门市人民政府",
        "territory",
        "440700",
        "responsible",
    )
    plan = actions.confirm_plan(plan=plan, by=province.user)
    assert list(named.submissions.values_list("territory", "due_date")) == [("440700", dt.date(2026, 6, 30))]
    assert AuditEvent.objects.get(action="plan.confirm").data["submissions"] == 5  # 2 + 1 + 2
    assert actions.responsible_units(named) == [Territory.objects.get(code="440700")]
    # the duty is Jiangmen's: its office sees it, Heyuan's does not
    jm = plan_scope.owed_by_city(_office_of("jm-gxj"), Submission.objects.all())
    hy = plan_scope.owed_by_city(_office_of("hy-gxj"), Submission.objects.all())
    assert named.submissions.get() in set(jm) and named.submissions.get() not in set(hy)


def _office_of(code: str) -> Person:
    from phaseout.orgs.models import Department, Role
    from tests.factories import PersonFactory, UserFactory

    return PersonFactory(
        user=UserFactory(username=f"office-{code}"),
        role=Role.OFFICE,
        department=Department.objects.get(code=code),
    )


def test_a_name_matched_by_hand_to_one_city_and_the_refusals(province: Person) -> None:
    text = NAMED.replace("江门市人民政府于2026年6月30日", "江门市产业转型升级办公室于2026年6月30日")
    plan = actions.import_plan(name="gd.txt", data=text.encode(), by=province.user)
    unit = plan.tasks.get(text__startswith="江门市产业转型升级办公室").units.get()
    assert unit.match == "unmapped"
    heyuan_district = Territory.objects.get(code="441602")  # a district: not a city of this plan
    for wrong in (None, heyuan_district):
        with pytest.raises(actions.PlanError) as refused:
            actions.map_unit(
                plan=plan,
                name=unit.name,
                match="territory",
                department=None,
                territory=wrong,
                by=province.user,
            )
        assert str(refused.value) == "请选择该名称所指的本方案下属的区县或城市。"
    unit.refresh_from_db()
    assert unit.match == "unmapped" and not AuditEvent.objects.filter(action="plan.map_unit").exists()
    jiangmen = Territory.objects.get(code="440700")
    assert (
        actions.map_unit(
            plan=plan,
            name=unit.name,
            match="territory",
            department=None,
            territory=jiangmen,
            by=province.user,
        )
        == 1
    )
    unit.refresh_from_db()
    assert (unit.match, unit.territory_id) == ("territory", "440700")
    assert AuditEvent.objects.get(action="plan.map_unit").data == {
        "name": unit.name,
        "match": "territory",
        "territory": "440700",
    }
    plan = actions.confirm_plan(plan=plan, by=province.user)
    assert list(unit.task.submissions.values_list("territory", flat=True)) == ["440700"]


def test_the_province_matches_a_name_to_one_city_over_http(province: Person) -> None:
    text = NAMED.replace("江门市人民政府于2026年6月30日", "江门市产业转型升级办公室于2026年6月30日")
    plan = actions.import_plan(name="gd.txt", data=text.encode(), by=province.user)
    client = client_for(province.user)
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "江门市产业转型升级办公室" in page and "区县或城市" in page
    form = {
        "prefix": "u0",
        "u0-name": "江门市产业转型升级办公室",
        "u0-match": "territory",
        "u0-territory": "441602",
    }
    # A district of Heyuan is not a city of this plan: not even a choice of the form.
    response = client.post(f"/plans/{plan.pk}/map/", form, follow=True)
    assert "请选择该名称对应的单位类型。" in response.content.decode()
    # No place chosen: the action's refusal.
    response = client.post(f"/plans/{plan.pk}/map/", {**form, "u0-territory": ""}, follow=True)
    assert "请选择该名称所指的本方案下属的区县或城市。" in response.content.decode()
    unit = plan.tasks.get(text__startswith="江门市产业转型升级办公室").units.get()
    assert unit.match == "unmapped" and not AuditEvent.objects.filter(action="plan.map_unit").exists()
    form["u0-territory"] = "440700"
    response = client.post(f"/plans/{plan.pk}/map/", form, follow=True)
    assert "已对应。" in response.content.decode()
    unit.refresh_from_db()
    assert (unit.match, unit.territory_id) == ("territory", "440700")
    assert AuditEvent.objects.get(action="plan.map_unit").actor_id == province.user.pk
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "江门市产业转型升级办公室<small>（负责 → 江门市）</small>" in page.replace("\n", "")


def test_the_progress_page_counts_each_citys_duties_to_the_province(office: Person, province: Person) -> None:
    plan = _in_force(province)
    # Jiangmen hands in its year plan (awaiting review); its summary is not due yet. Heyuan hands in nothing.
    actions.submit(submission=_duty(plan), document=_pdf(), numbers={}, note="", by=office.user)
    from phaseout.province import progress

    rows = {r.city.code: r.duties for r in progress.rows(list(progress.cities("440000")), 2026, TODAY)}
    assert rows["440700"] == {"owed": 2, "on_time": 0, "late": 0, "missing": 0, "pending": 1}
    assert rows["441600"] == {"owed": 2, "on_time": 0, "late": 0, "missing": 0, "pending": 0}
    # after both deadlines of the year plan: Heyuan's is missing, Jiangmen's accepted on time
    actions.review_submission(submission=_duty(plan), version=1, accept=True, comments="", by=province.user)
    later = dt.date(2026, 6, 1)
    rows = {r.city.code: r.duties for r in progress.rows(list(progress.cities("440000")), 2026, later)}
    assert rows["440700"] == {"owed": 2, "on_time": 1, "late": 0, "missing": 0, "pending": 0}
    assert rows["441600"] == {"owed": 2, "on_time": 0, "late": 0, "missing": 1, "pending": 0}
    page = client_for(province.user).get("/province/").content.decode()
    assert "省级方案任务" in page and "应报2项：按时1，逾期0，未报0，待审0" in page
    assert "应报2项：按时0，逾期0，未报0，待审0" in page  # Heyuan today (20 May): nothing missing yet


def test_taking_a_unit_off_a_task_drops_only_the_duties_no_unit_left_owes(province: Person) -> None:
    text = NAMED.replace(
        "（二）江门市人民政府于2026年6月30日前报送钢铁行业落后产能退出情况。",
        "（二）江门市人民政府、各地级以上市人民政府于2026年6月30日前报送钢铁行业落后产能退出情况。",
    )
    plan = actions.confirm_plan(
        plan=actions.import_plan(name="gd.txt", data=text.encode(), by=province.user), by=province.user
    )
    task = plan.tasks.get(deadline=dt.date(2026, 6, 30))
    assert sorted(task.units.values_list("match", flat=True)) == ["all_districts", "territory"]
    assert sorted(task.submissions.values_list("territory", flat=True)) == ["440700", "441600"]
    named = task.units.get(match="territory")
    actions.edit_task(
        task=task,
        text=task.text,
        deadline=task.deadline,
        add=None,
        remove=[named],
        reason="重复",
        by=province.user,
    )
    # every city still owes it through "各地级以上市": Jiangmen's duty stays
    assert sorted(task.submissions.values_list("territory", flat=True)) == ["440700", "441600"]
    every = task.units.get(match="all_districts")
    actions.edit_task(
        task=task,
        text=task.text,
        deadline=task.deadline,
        add=None,
        remove=[every],
        reason="取消",
        by=province.user,
    )
    assert not task.submissions.exists()
    assert list(PlanChange.objects.filter(field="unit").order_by("id").values_list("before", flat=True)) == [
        "江门市人民政府（负责）",
        "各地级以上市人民政府（负责）",
    ]
