"""Plans in the platform: a seed document imported, reviewed and confirmed; the submissions it
asks for, their status over a moving clock; deadline changes with history; reminders. (Notices and
summonses: tests/test_supervision.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from phaseout.orgs.models import Person
from phaseout.plans import actions
from phaseout.plans.models import Plan, PlanChange, Programme, Submission, TaskUnit
from tests.conftest import REPORT_PDF, SEEDS, approve_plan, client_for, order_elimination_exit

D = dt.date


def _import(office: Person, name: str = "jiangmen-2021-plan.txt") -> Plan:
    return actions.import_plan(name=name, data=(SEEDS / name).read_bytes(), by=office.user)


def _confirm(plan: Plan, office: Person) -> Plan:
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    return approve_plan(actions.confirm_plan(plan=plan, by=office.user), office)


def test_seed_plan_units_are_matched_to_the_organisation(office: Person, heyuan_office: Person) -> None:
    plan = _import(office)
    assert (plan.status, plan.year, plan.territory_id) == ("draft", 2021, "440700")
    matches = {
        (u.name, u.match, u.department.code if u.department else "")
        for u in TaskUnit.objects.filter(task__plan=plan)
    }
    assert ("市发展改革局", "department", "jm-fgj") in matches
    assert ("市市场监管局", "department", "jm-scjgj") in matches
    assert ("市应急管理局", "department", "jm-yjglj") in matches
    assert ("市工业和信息化局", "department", "jm-gxj") in matches
    assert ("各市(区)政府", "all_districts", "") in matches
    assert ("市政府", "government", "") in matches
    assert ("省工业和信息化厅", "external", "") in matches
    assert ("江门市淘汰落后产能工作协调小组", "department", "jm-gxj") in matches  # the office
    assert not [m for m in matches if m[1] == "unmapped"]
    heyuan = _import(heyuan_office, "heyuan-2021-plan.txt")
    units = {
        (u.name, u.department.code if u.department else u.match)
        for u in TaskUnit.objects.filter(task__plan=heyuan)
    }
    assert {("市发展和改革局", "hy-fgj"), ("市市场监管局", "hy-scjgj"), ("市自然资源局", "hy-zrzyj")} <= units


def test_confirming_needs_every_name_matched_and_every_flag_reviewed(office: Person) -> None:
    plan = _import(office)
    with pytest.raises(actions.PlanError, match="需要复核"):
        actions.confirm_plan(plan=plan, by=office.user)
    unit = TaskUnit.objects.filter(task__plan=plan, name="市生态环境局").first()
    assert unit is not None
    TaskUnit.objects.filter(task__plan=plan, name="市生态环境局").update(match="unmapped", department=None)
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    with pytest.raises(actions.PlanError, match="市生态环境局"):
        actions.confirm_plan(plan=plan, by=office.user)
    assert not Submission.objects.exists()
    from phaseout.orgs.models import Department

    actions.map_unit(
        plan=plan,
        name="市生态环境局",
        match="department",
        department=Department.objects.get(code="jm-sthjj"),
        by=office.user,
    )
    plan = actions.confirm_plan(plan=plan, by=office.user)
    assert plan.status == "confirmed"
    with pytest.raises(actions.PlanError, match="已确认"):
        actions.map_unit(plan=plan, name="市政府", match="government", department=None, by=office.user)


def test_submissions_derived_from_the_plan_and_their_status_over_time(office: Person) -> None:
    plan = _confirm(_import(office), office)
    owed = {
        (s.task.deadline, s.kind, s.department.code if s.department else s.territory_id)
        for s in plan.submissions.select_related("task", "department")
    }
    # 4月底前: the lead reports the plan; 5月底前: each district files its sub-plan; 6月15日前: the
    # four departments report closures; 12月15日前: the four and every district send summaries;
    # 2022年1月5日前: the office.
    assert (D(2021, 4, 30), "report", "jm-gxj") in owed
    assert sum(1 for d, k, _ in owed if d == D(2021, 5, 31) and k == "sub_plan") == 7
    assert {u for d, _, u in owed if d == D(2021, 6, 15)} == {"jm-fgj", "jm-sthjj", "jm-scjgj", "jm-yjglj"}
    assert sum(1 for d, k, _ in owed if d == D(2021, 12, 15) and k == "summary") == 11
    assert (D(2022, 1, 5), "summary", "jm-gxj") in owed
    assert len(owed) == 24

    report = plan.submissions.get(department__code="jm-fgj", due_date=D(2021, 6, 15))
    assert report.status_on(D(2021, 6, 10)) == "due"
    assert report.status_on(D(2021, 6, 15)) == "due"
    assert report.status_on(D(2021, 6, 16)) == "missing"
    document = SimpleUploadedFile("report.pdf", REPORT_PDF, content_type="application/pdf")
    report = actions.submit(
        submission=report,
        document=document,
        numbers={"enterprises": 2},
        note="",
        by=office.user,
        today=D(2021, 6, 14),
    )
    assert report.status_on(D(2021, 6, 20)) == "pending"  # handed in on time, awaiting review
    actions.review_submission(submission=report, version=1, accept=True, comments="", by=office.user)
    report.refresh_from_db()
    assert report.status_on(D(2021, 6, 20)) == "on_time"
    late = plan.submissions.get(department__code="jm-sthjj", due_date=D(2021, 6, 15))
    late = actions.submit(
        submission=late, document=document, numbers={}, note="", by=office.user, today=D(2021, 6, 20)
    )
    assert late.status_on(D(2021, 7, 1)) == "late"
    with pytest.raises(actions.PlanError, match="已报送"):
        actions.submit(
            submission=late, document=document, numbers={}, note="", by=office.user, today=D(2021, 6, 21)
        )


def test_reminders_and_escalations_once_each(office: Person) -> None:
    plan = _confirm(_import(office), office)
    now = dt.datetime(2021, 6, 10, 9, 0, tzinfo=dt.UTC)
    reminded, escalated = actions.sweep_submissions(now=now, today=D(2021, 6, 10))
    assert reminded == 4  # the four reports due on 15 June
    assert escalated == 1 + 7  # the plan due 30 April and the seven sub-plans due 31 May
    assert actions.sweep_submissions(now=now, today=D(2021, 6, 10)) == (0, 0)
    assert plan.submissions.filter(escalated_at__isnull=False).count() == 8


def test_changing_a_deadline_keeps_the_history_and_moves_open_submissions(office: Person) -> None:
    plan = _confirm(_import(office), office)
    task = plan.tasks.get(deadline=D(2021, 6, 15))
    with pytest.raises(actions.PlanError):
        actions.change_deadline(task=task, deadline=D(2021, 6, 30), reason=" ", by=office.user)
    actions.change_deadline(task=task, deadline=D(2021, 6, 30), reason="市政府通知延后", by=office.user)
    change = PlanChange.objects.exclude(field="status").get()
    assert (change.before, change.after, change.field) == ("2021-06-15", "2021-06-30", "deadline")
    assert set(task.submissions.values_list("due_date", flat=True)) == {D(2021, 6, 30)}


def test_upload_page_refuses_bad_documents_and_creates_nothing(
    office: Person, heyuan_office: Person, energy_dept: Person
) -> None:
    client = client_for(office.user)
    for name, content, message in [
        ("plan.txt", b"", "空"),
        ("plan.txt", "今天天气很好。".encode(), "该文件不是公文：没有标题、发文字号或编号标题。"),
        ("plan.xlsx", b"x", ".txt"),
    ]:
        response = client.post("/plans/upload/", {"document": SimpleUploadedFile(name, content)})
        assert response.status_code == 400
        assert message in response.content.decode(), name
    assert not Plan.objects.exists()
    assert client_for(energy_dept.user).post("/plans/upload/", {}).status_code == 403
    seed = (SEEDS / "heyuan-2021-plan.txt").read_bytes()
    # Another city's plan is its own office's to read in: refused, with the city named, nothing created.
    response = client.post("/plans/upload/", {"document": SimpleUploadedFile("河源方案.txt", seed)})
    assert response.status_code == 400
    assert "该文件由河源市印发，不是本市的计划" in response.content.decode()
    assert not Plan.objects.exists()
    client = client_for(heyuan_office.user)
    response = client.post("/plans/upload/", {"document": SimpleUploadedFile("河源方案.txt", seed)})
    assert response.status_code == 302
    plan = Plan.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "河工信函〔2021〕152号" in page and "规定期限内" in page
    assert "文件中未写明" in page  # the issue date the document does not give
    assert plan.status == "draft"


# --- inspection programmes ------------------------------------------------------------------------


@pytest.fixture
def inspectors(energy_dept: Person) -> list[Person]:
    from phaseout.orgs.models import Role
    from tests.factories import PersonFactory, UserFactory

    others = [
        PersonFactory(
            user=UserFactory(username=f"inspector{i}"),
            role=Role.DEPARTMENT,
            department=energy_dept.department,
        )
        for i in range(3)
    ]
    return [energy_dept, *others]


def _registry() -> list[int]:
    from decimal import Decimal

    from tests.factories import EnterpriseFactory, LineFactory

    ids = []
    for i in range(12):
        enterprise = EnterpriseFactory(industry_id="cement" if i % 2 else "steel")
        if i % 2:
            LineFactory(
                enterprise=enterprise,
                equipment_type="clinker_line",
                size_value=Decimal("2500"),
                size_unit="t/d",
                capacity=Decimal("2500"),
                capacity_unit="t/d",
            )
        else:
            LineFactory(enterprise=enterprise)
        ids.append(enterprise.pk)
    return ids


def test_random_draw_is_reproducible_and_recorded(energy_dept: Person, inspectors: list[Person]) -> None:
    _registry()
    programme = actions.create_programme(
        department=energy_dept.department,
        title="2021年度节能监察任务",
        dimension="energy",
        year=2021,
        due_date=D(2021, 10, 31),
        method="random",
        count=5,
        per_target=2,
        seed=20210601,
        by=energy_dept.user,
    )
    targets = sorted(
        (t.enterprise_id, sorted(p.pk for p in t.inspectors.all())) for t in programme.targets.all()
    )
    assert len(targets) == 5 and all(len(people) == 2 for _, people in targets)
    assert {p for _, people in targets for p in people} <= {p.pk for p in inspectors}
    assert len(programme.pool) == 12 and programme.seed == 20210601
    again = actions.draw(programme.pool, programme.inspector_pool, count=5, per_target=2, seed=20210601)
    assert sorted((e, sorted(p)) for e, p in again) == targets
    other = actions.draw(programme.pool, programme.inspector_pool, count=5, per_target=2, seed=1)
    assert sorted((e, sorted(p)) for e, p in other) != targets
    common = {"department": energy_dept.department, "title": "x", "year": 2021, "due_date": D(2021, 10, 31)}
    with pytest.raises(actions.PlanError, match="少于"):  # more inspectors per target than the department has
        actions.create_programme(
            **common, dimension="energy", method="random", count=5, per_target=9, by=energy_dept.user
        )
    with pytest.raises(actions.PlanError, match="不负责"):  # a dimension the department does not enforce
        actions.create_programme(
            **common, dimension="safety", method="random", count=5, per_target=1, by=energy_dept.user
        )
    assert Programme.objects.count() == 1


def test_programme_by_rule_and_completion_from_recorded_inspections(
    energy_dept: Person, inspectors: list[Person]
) -> None:
    from phaseout.cases import actions as case_actions

    _registry()
    programme = actions.create_programme(
        department=energy_dept.department,
        title="水泥熟料能耗专项监察",
        dimension="energy",
        year=2021,
        due_date=D(2021, 10, 31),
        method="rule",
        rule_id="energy.cement.clinker-energy",
        by=energy_dept.user,
    )
    targets = list(programme.targets.select_related("enterprise"))
    assert len(targets) == 6 and {t.enterprise.industry_id for t in targets} == {"cement"}
    first = targets[0].enterprise
    case_actions.record_inspection(
        department=energy_dept.department,
        enterprise=first,
        line=first.lines.first(),
        dimension="energy",
        inspected_on=D(2021, 9, 1),
        inspectors="李明",
        files=[],
        by=energy_dept.user,
        today=D(2021, 9, 1),
    )
    status = actions.target_status(programme, D(2021, 9, 2))
    assert status[targets[0].pk] == ("done", D(2021, 9, 1))
    assert status[targets[1].pk] == ("open", None)
    assert actions.target_status(programme, D(2021, 11, 1))[targets[1].pk] == ("overdue", None)


def test_programme_pages(energy_dept: Person, inspectors: list[Person], office: Person) -> None:
    _registry()
    client = client_for(energy_dept.user)
    response = client.post(
        "/programmes/",
        {
            "title": "双随机抽查",
            "dimension": "energy",
            "due_date": "2021-10-31",
            "method": "random",
            "count": "3",
            "per_target": "2",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    page = client.get(response["Location"]).content.decode()
    assert "按记录重新抽取：结果相同" in page
    assert client_for(office.user).post("/programmes/", {"title": "x"}).status_code == 403
    bad = client.post(
        "/programmes/",
        {"title": "x", "dimension": "energy", "due_date": "2021-10-31", "method": "rule", "per_target": "2"},
    )
    assert bad.status_code == 200 and 'class="error"' in bad.content.decode()
    assert Programme.objects.count() == 1


def test_plan_page_shows_case_progress_under_dimension_headings(heyuan_office: Person) -> None:
    from decimal import Decimal

    from phaseout.cases import actions as case_actions
    from tests.factories import LineFactory

    plan = _confirm(_import(heyuan_office, "heyuan-2021-plan.txt"), heyuan_office)
    line = LineFactory(size_value=Decimal("380"), enterprise__territory_id="441602")
    inspection = case_actions.record_inspection(
        department=heyuan_office.department,
        enterprise=line.enterprise,
        line=line,
        dimension="technology",
        inspected_on=D(2021, 9, 1),
        inspectors="李明",
        files=[],
        by=heyuan_office.user,
        today=D(2021, 9, 1),
    )
    finding = case_actions.record_finding(
        inspection=inspection,
        rule_id="technology.steel.blast-furnace-400",
        line=line,
        measured_value=None,
        by=heyuan_office.user,
    )
    from phaseout.cases.models import Case

    order_elimination_exit(Case.objects.get(finding=finding), heyuan_office.user, D(2021, 9, 1))
    Case.objects.update(opened_at=dt.datetime(2021, 9, 1, tzinfo=dt.UTC))
    page = client_for(heyuan_office.user).get(f"/plans/{plan.pk}/").content.decode()
    assert "源城区：1 项发现，1 项责令退出，0 项已退出" in page  # under 二(三) 技术方面


def test_editing_a_confirmed_task_keeps_history_and_submissions_follow(office: Person) -> None:
    from phaseout.orgs.models import Department

    plan = _confirm(_import(office), office)
    task = plan.tasks.get(deadline=D(2021, 6, 15))
    client = client_for(office.user)
    zrzyj = Department.objects.get(code="jm-zrzyj")
    sthjj = task.units.get(name="市生态环境局")
    response = client.post(
        f"/plans/{plan.pk}/tasks/{task.pk}/edit/",
        {
            "text": task.text,
            "deadline": "2021-06-15",
            "add": zrzyj.pk,
            "remove": [sthjj.pk],
            "reason": "分工调整",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    owed = set(task.submissions.values_list("department__code", flat=True))
    assert "jm-zrzyj" in owed and "jm-sthjj" not in owed
    fields = sorted(PlanChange.objects.exclude(field="status").values_list("field", "before", "after"))
    assert fields == [("unit", "", "江门市自然资源局"), ("unit", "市生态环境局（负责）", "")]
    refused = client.post(
        f"/plans/{plan.pk}/tasks/{task.pk}/edit/",
        {"text": task.text, "deadline": "2021-06-15", "reason": "无"},
    )
    assert refused.status_code == 200 and "没有任何变更" in refused.content.decode()
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "分工调整" in page and "unit-record" in page


def test_a_city_plan_naming_one_district_owes_that_district_only(office: Person) -> None:
    from phaseout.orgs.models import Territory

    text = (
        "江门市推动落后产能退出工作领导小组办公室文件\n\n江门市2026年推动落后产能退出工作方案\n\n"
        "一、工作任务\n\n（一）蓬江区人民政府于2026年5月31日前报送辖区落后产能摸底排查情况。\n\n"
        "（二）江门市人民政府于2026年6月30日前统筹推进。\n\n江门市工业和信息化局\n\n2026年3月1日\n"
    )
    plan = actions.import_plan(name="jm.txt", data=text.encode(), by=office.user)
    units = {u.name: (u.match, u.territory_id) for u in TaskUnit.objects.filter(task__plan=plan)}
    assert units == {"蓬江区人民政府": ("territory", "440703"), "江门市人民政府": ("government", None)}
    assert actions.named_place("蓬江区政府", Territory.objects.get(code="440700")) == Territory.objects.get(
        code="440703"
    )
    assert actions.named_place("河源市人民政府", Territory.objects.get(code="440700")) is None
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    plan = actions.confirm_plan(plan=plan, by=office.user)
    assert list(plan.submissions.values_list("territory", "department", "due_date")) == [
        ("440703", None, dt.date(2026, 5, 31))
    ]
