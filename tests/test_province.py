"""Up the chain (issue 17 §3–4): the city government approves the plan and the year summary (recorded by
the office), the provincial office receives each city's summary inside the platform or as a signed exchange
file, accepts or returns it, and sees every city; Guangdong's territories load from the shipped file."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import CaseState
from phaseout.messaging.models import Message
from phaseout.orgs import scope as org_scope
from phaseout.orgs import territories
from phaseout.orgs.models import Person, Territory
from phaseout.plans import actions as plan_actions
from phaseout.plans.models import Plan, PlanChange, Submission, Task
from phaseout.province import actions, exchange, keys, progress
from phaseout.province import scope as summary_scope
from phaseout.province.models import SummaryEvent, YearSummary
from tests.conftest import REPORT_PDF, client_for
from tests.factories import CaseFactory, EnterpriseFactory

NOW = dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC)  # 4 January 2027, 10:00 in Guangdong
TODAY = dt.date(2027, 1, 4)
YEAR = 2026


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _plan(office: Person, city: str, status: str = Plan.Status.CONFIRMED) -> Plan:
    return Plan.objects.create(
        year=YEAR, title=f"{city}2026年推动落后产能退出工作计划", doc_number=f"{city}〔2026〕1号",
        territory_id=city, status=status, source_name="plan.txt", source_text="", created_by=office.user,
        confirmed_by=office.user if status != Plan.Status.DRAFT else None,
        confirmed_at=dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC) if status != Plan.Status.DRAFT else None,
    )  # fmt: skip


def _approve(plan: Plan, office: Person, **changes: object) -> Plan:
    fields: dict[str, object] = {
        "plan": plan,
        "body": "江门市人民政府",
        "doc_number": "江府函〔2026〕12号",
        "approved_on": dt.date(2026, 4, 28),
        "by": office.user,
    }
    fields.update(changes)
    return plan_actions.approve_plan(**fields)  # type: ignore[arg-type]


# --- the plan: confirmed by the office, approved by the city government -----------------------------


def test_the_city_government_approves_a_confirmed_plan_with_history_and_audit(office: Person) -> None:
    plan = _approve(_plan(office, "440700"), office)
    plan.refresh_from_db()
    assert plan.status == Plan.Status.APPROVED
    assert (plan.approval_body, plan.approval_doc_number, plan.approved_on) == (
        "江门市人民政府",
        "江府函〔2026〕12号",
        dt.date(2026, 4, 28),
    )
    assert plan.approval_recorded_by == office.user and plan.approval_recorded_at == NOW
    change = PlanChange.objects.get(plan=plan)
    assert (change.field, change.before, change.after, change.by) == (
        "status",
        "confirmed",
        "approved",
        office.user,
    )
    assert change.reason == "江门市人民政府 江府函〔2026〕12号 2026-04-28"
    event = AuditEvent.objects.get(action="plan.approve")
    assert event.object_id == str(plan.pk) and event.actor == office.user
    assert event.data == {
        "body": "江门市人民政府",
        "document": "江府函〔2026〕12号",
        "approved_on": "2026-04-28",
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"body": " "}, "请填写审定机关。"),
        ({"doc_number": ""}, "请填写审定文件的文号。"),
        ({"approved_on": None}, "请填写审定日期。"),
        ({"approved_on": dt.date(2027, 1, 5)}, "审定日期不能晚于今天。"),
        ({"approved_on": dt.date(2026, 4, 19)}, "审定日期不能早于办公室确认计划的日期。"),
        ({"body": "江" * 101}, "内容过长，最多 100 个字符。"),
        ({"doc_number": "江\x00府"}, "文字中含有不允许的字符。"),
    ],
)
def test_an_approval_without_its_record_is_refused_and_changes_nothing(
    office: Person, changes: dict[str, object], message: str
) -> None:
    plan = _plan(office, "440700")
    with pytest.raises(plan_actions.PlanError) as refused:
        _approve(plan, office, **changes)
    assert str(refused.value) == message
    plan.refresh_from_db()
    assert plan.status == Plan.Status.CONFIRMED and plan.approved_on is None
    assert not PlanChange.objects.exists() and not AuditEvent.objects.filter(action="plan.approve").exists()


def test_a_draft_or_approved_plan_is_not_approved_again(office: Person) -> None:
    draft = _plan(office, "440700", Plan.Status.DRAFT)
    with pytest.raises(plan_actions.PlanError) as refused:
        _approve(draft, office)
    assert str(refused.value) == "只有办公室已确认的计划才能登记市政府审定。"
    approved = _approve(_plan(office, "440700"), office)
    with pytest.raises(plan_actions.PlanError) as again:
        _approve(approved, office)
    assert str(again.value) == "该计划已经市政府审定。"
    assert AuditEvent.objects.filter(action="plan.approve").count() == 1


def test_nothing_is_handed_in_under_a_plan_not_yet_in_force(office: Person, district: Person) -> None:
    plan = _plan(office, "440700")
    task = Task.objects.create(plan=plan, text="各区报送工作方案备案", deadline=dt.date(2027, 5, 31), order=0)
    submission = Submission.objects.create(
        plan=plan, task=task, territory_id="440703", kind="sub_plan", due_date=dt.date(2027, 5, 31)
    )
    document = ContentFile(REPORT_PDF, name="方案.pdf")
    with pytest.raises(plan_actions.PlanError) as refused:
        plan_actions.submit(submission=submission, document=document, numbers={}, note="", by=district.user)  # type: ignore[arg-type]
    assert str(refused.value) == "该计划经市政府审定后才生效，暂不能按该计划报送。"
    assert not submission.versions.exists()
    _approve(plan, office)
    plan_actions.submit(submission=submission, document=document, numbers={}, note="", by=district.user)  # type: ignore[arg-type]
    assert submission.versions.count() == 1


def test_the_approval_over_http_asks_for_confirmation_and_only_the_citys_office_records_it(
    office: Person, heyuan_office: Person, energy_dept: Person, province: Person
) -> None:
    plan = _plan(office, "440700")
    form = {"body": "江门市人民政府", "doc_number": "江府函〔2026〕12号", "approved_on": "2026-04-28"}
    page = client_for(office.user).get(f"/plans/{plan.pk}/").content.decode()
    assert 'id="approve-plan"' in page and "我确认：市政府已以上述文件审定本计划" in page
    # the provincial office records only its own plan's approval: a city's plan is none of its own (404)
    for person, status in ((energy_dept, 403), (province, 404), (heyuan_office, 404)):
        assert (
            client_for(person.user).post(f"/plans/{plan.pk}/approve/", {**form, "confirm": "on"}).status_code
            == status
        )
    client = client_for(office.user)
    unconfirmed = client.post(f"/plans/{plan.pk}/approve/", form, follow=True).content.decode()
    assert "请勾选确认后再执行此操作。" in unconfirmed
    plan.refresh_from_db()
    assert plan.status == Plan.Status.CONFIRMED
    future = client.post(
        f"/plans/{plan.pk}/approve/", {**form, "approved_on": "2027-01-05", "confirm": "on"}, follow=True
    )
    assert "审定日期不能晚于今天。" in future.content.decode()
    assert client.post(f"/plans/{plan.pk}/approve/", {**form, "confirm": "on"}).status_code == 302
    plan.refresh_from_db()
    assert plan.status == Plan.Status.APPROVED
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "市政府已审定，已生效" in page and "江府函〔2026〕12号 2026-04-28" in page


# --- the year summary: drawn up, approved, handed up; accepted or returned by the province -----------


def _cases() -> None:
    """Jiangmen: two cases in 蓬江区, one exited; one in 台山市. Heyuan: one in 源城区."""
    pengjiang = EnterpriseFactory(territory=Territory.objects.get(code="440703"))
    CaseFactory(enterprise=pengjiang)
    CaseFactory(
        enterprise=EnterpriseFactory(territory=Territory.objects.get(code="440703")),
        state=CaseState.EXITED,
        exit_ordered_on=dt.date(2026, 5, 1),
    )
    CaseFactory(enterprise=EnterpriseFactory(territory=Territory.objects.get(code="440781")))
    CaseFactory(enterprise=EnterpriseFactory(territory=Territory.objects.get(code="441602")))


def _approved_summary(office: Person, city: str) -> YearSummary:
    territory = Territory.objects.get(code=city)
    summary = actions.draw_up_summary(city=territory, year=YEAR, by=office.user)
    return actions.approve_summary(
        summary=summary,
        body=f"{territory.name}人民政府",
        doc_number="府函〔2027〕2号",
        approved_on=dt.date(2027, 1, 4),
        by=office.user,
    )


def test_the_year_summary_goes_up_approved_and_the_province_accepts_one_city_and_returns_another(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    with time_machine.travel(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC), tick=False):
        _cases()
    jiangmen = actions.draw_up_summary(city=Territory.objects.get(code="440700"), year=YEAR, by=office.user)
    assert jiangmen.state == YearSummary.State.DRAFT
    assert jiangmen.figures["city_total"] == {
        "found": 3,
        "rectifying": 0,
        "ordered": 1,
        "exited": 1,
        "closed": 0,
    }
    assert [row["territory__name"] for row in jiangmen.figures["by_territory"]] == ["蓬江区", "台山市"]
    with pytest.raises(actions.SummaryError) as early:
        actions.hand_up_summary(summary=jiangmen, by=office.user)
    assert str(early.value) == "年度总结须经市政府审定后才能上报省级。"
    assert list(summary_scope.summaries(province)) == []  # a draft is the city's own
    jiangmen = actions.approve_summary(
        summary=jiangmen,
        body="江门市人民政府",
        doc_number="江府函〔2027〕2号",
        approved_on=dt.date(2027, 1, 4),
        by=office.user,
    )
    with pytest.raises(actions.SummaryError) as twice:
        actions.approve_summary(
            summary=jiangmen,
            body="江门市人民政府",
            doc_number="江府函〔2027〕2号",
            approved_on=TODAY,
            by=office.user,
        )
    assert str(twice.value) == "只有草稿状态的年度总结才能登记市政府审定。"
    with pytest.raises(actions.SummaryError) as redraw:
        actions.draw_up_summary(city=Territory.objects.get(code="440700"), year=YEAR, by=office.user)
    assert str(redraw.value) == "2026年度总结已经市政府审定，只有被省级退回后才能重新编制。"
    with pytest.raises(actions.SummaryError) as other_city:
        actions.hand_up_summary(summary=jiangmen, by=heyuan_office.user)
    assert str(other_city.value) == "只有本市协调小组办公室可以办理本市年度总结的这一步骤。"
    jiangmen = actions.hand_up_summary(summary=jiangmen, by=office.user)
    heyuan = actions.hand_up_summary(
        summary=_approved_summary(heyuan_office, "441600"), by=heyuan_office.user
    )
    assert heyuan.figures["city_total"]["found"] == 1
    assert set(summary_scope.summaries(province)) == {jiangmen, heyuan}
    assert list(summary_scope.summaries(office)) == [jiangmen]
    told = Message.objects.filter(recipient=province).order_by("id")
    assert [m.title for m in told] == ["年度总结已上报：江门市 2026年", "年度总结已上报：河源市 2026年"]

    with pytest.raises(actions.SummaryError) as by_city:
        actions.review_summary(summary=jiangmen, accept=True, reason="", by=office.user)
    assert str(by_city.value) == "只有该市所在省的省级协调办公室可以审核其年度总结。"
    with pytest.raises(actions.SummaryError) as no_reason:
        actions.review_summary(summary=heyuan, accept=False, reason="  ", by=province.user)
    assert str(no_reason.value) == "请填写退回理由：该市需要知道修改什么。"
    actions.review_summary(summary=jiangmen, accept=True, reason="", by=province.user)
    actions.review_summary(summary=heyuan, accept=False, reason="产能数据缺少水泥行业明细", by=province.user)
    jiangmen.refresh_from_db()
    heyuan.refresh_from_db()
    assert (jiangmen.state, jiangmen.reviewed_by, jiangmen.reviewed_at) == ("accepted", province.user, NOW)
    assert (heyuan.state, heyuan.return_reason) == ("returned", "产能数据缺少水泥行业明细")
    with pytest.raises(actions.SummaryError) as again:
        actions.review_summary(summary=jiangmen, accept=False, reason="再看", by=province.user)
    assert str(again.value) == "只有已上报、待省级审核的年度总结才能接收或退回。"
    assert [(e.step, e.before, e.after) for e in SummaryEvent.objects.filter(summary=jiangmen)] == [
        ("draw_up", "", "draft"),
        ("approve", "draft", "approved"),
        ("hand_up", "approved", "handed_up"),
        ("accept", "handed_up", "accepted"),
    ]
    assert [
        e.action
        for e in AuditEvent.objects.filter(object_id=str(heyuan.pk), action__startswith="summary.").order_by(
            "seq"
        )
    ] == [
        "summary.draw_up",
        "summary.approve",
        "summary.hand_up",
        "summary.return",
    ]
    assert AuditEvent.objects.get(action="summary.return").reason == "产能数据缺少水泥行业明细"
    assert Message.objects.get(recipient=office).title == "省级已接收2026年度总结"
    returned = Message.objects.get(recipient=heyuan_office)
    assert (returned.title, returned.body, returned.kind) == (
        "省级退回2026年度总结",
        "产能数据缺少水泥行业明细",
        "returned",
    )
    # the returned summary is drawn up again (the revision), approved and handed up once more
    revised = actions.draw_up_summary(
        city=Territory.objects.get(code="441600"), year=YEAR, by=heyuan_office.user
    )
    assert revised.state == "draft"
    assert SummaryEvent.objects.filter(summary=heyuan).last().step == "revise"  # type: ignore[union-attr]


def test_the_province_reviews_over_http_with_confirmation(office: Person, province: Person) -> None:
    summary = actions.hand_up_summary(summary=_approved_summary(office, "440700"), by=office.user)
    client = client_for(province.user)
    page = client.get(f"/summaries/{summary.pk}/").content.decode()
    assert 'id="accept-summary"' in page and 'id="return-summary"' in page
    assert (
        client_for(office.user).post(f"/summaries/{summary.pk}/accept/", {"confirm": "on"}).status_code == 403
    )
    refused = client.post(f"/summaries/{summary.pk}/return/", {"confirm": "on", "reason": ""}, follow=True)
    assert "请填写退回理由：该市需要知道修改什么。" in refused.content.decode()
    client.post(f"/summaries/{summary.pk}/accept/", {})  # no confirmation: nothing
    summary.refresh_from_db()
    assert summary.state == "handed_up"
    assert client.post(f"/summaries/{summary.pk}/accept/", {"confirm": "on"}).status_code == 302
    summary.refresh_from_db()
    assert summary.state == "accepted"


def test_the_office_draws_up_approves_and_hands_up_over_http(office: Person, energy_dept: Person) -> None:
    client = client_for(office.user)
    assert client_for(energy_dept.user).get("/summaries/").status_code == 403
    response = client.post("/summaries/draw-up/", {"year": YEAR})
    summary = YearSummary.objects.get()
    assert response["Location"] == f"/summaries/{summary.pk}/"
    form = {"body": "江门市人民政府", "doc_number": "江府函〔2027〕2号", "approved_on": "2027-01-04"}
    client.post(f"/summaries/{summary.pk}/approve/", form)
    summary.refresh_from_db()
    assert summary.state == "draft"  # not confirmed on the page
    client.post(f"/summaries/{summary.pk}/approve/", {**form, "confirm": "on"})
    client.post(f"/summaries/{summary.pk}/hand-up/", {"confirm": "on"})
    summary.refresh_from_db()
    assert summary.state == "handed_up" and summary.approved_on == dt.date(2027, 1, 4)
    assert client.get(f"/summaries/{summary.pk}/").content.decode().count("已上报，待省级审核") >= 1


# --- scope: a city's office sees its city, the provincial office every city ---------------------------


def test_scope_of_a_city_office_and_the_provincial_office_over_the_list_pages(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    with time_machine.travel(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC), tick=False):
        _cases()
    _plan(office, "440700")
    _plan(heyuan_office, "441600")
    jm = EnterpriseFactory(name="江门甲钢铁厂", territory=Territory.objects.get(code="440704"))
    hy = EnterpriseFactory(name="河源乙水泥厂", territory=Territory.objects.get(code="441621"))
    assert set(org_scope.city_codes(province)) == {"440700", "441600"}
    assert org_scope.city_codes(office) == ["440700"]
    pages = {
        "/plans/": ("440700〔2026〕1号", "441600〔2026〕1号"),
        "/enterprises/": (jm.name, hy.name),
        "/cases/": ("蓬江区", "源城区"),
    }
    for url, (jiangmen, heyuan) in pages.items():
        mine = client_for(office.user).get(url).content.decode()
        assert jiangmen in mine and heyuan not in mine, url
        theirs = client_for(heyuan_office.user).get(url).content.decode()
        assert heyuan in theirs and jiangmen not in theirs, url
        everything = client_for(province.user).get(url)
        assert everything.status_code == 200, url
        assert jiangmen in everything.content.decode() and heyuan in everything.content.decode(), url
    for url in ("/reports/ledger/", "/reports/summary/"):
        assert client_for(province.user).get(url).status_code == 200, url
    # the province reads; it takes no step on a city's records
    plan = Plan.objects.get(territory="440700")
    assert client_for(province.user).post(f"/plans/{plan.pk}/approve/", {"confirm": "on"}).status_code == 404
    assert client_for(province.user).get("/summaries/").status_code == 403
    assert client_for(office.user).get("/province/").status_code == 403
    assert "广东省" in client_for(province.user).get("/").content.decode()  # its home: the cities


def test_the_progress_page_lists_every_city_with_plan_approval_progress_and_summary(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    territories.load(territories.read(territories.file_for("44")), source="440000.csv")
    with time_machine.travel(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC), tick=False):
        _cases()
    _approve(_plan(office, "440700"), office)
    _plan(heyuan_office, "441600")
    actions.hand_up_summary(summary=_approved_summary(office, "440700"), by=office.user)
    rows = progress.rows(list(progress.cities("440000")), YEAR, TODAY)
    assert len(rows) == 21
    by_code = {r.city.code: r for r in rows}
    assert by_code["440700"].plan is not None and by_code["440700"].plan.status == "approved"
    assert by_code["440700"].cases == {"found": 3, "ordered": 1, "exited": 1}
    assert by_code["441600"].cases == {"found": 1, "ordered": 0, "exited": 0}
    assert by_code["440700"].summary is not None and by_code["441600"].summary is None
    assert by_code["440100"].plan is None and by_code["440100"].cases == {}
    total = progress.province_total("440000", YEAR, TODAY)
    assert (total["cities"], total["found"], total["exited"]) == (21, 4, 1)
    assert (total["plans_confirmed"], total["plans_approved"]) == (2, 1)
    page = client_for(province.user).get(f"/province/?year={YEAR}").content.decode()
    assert "江门市" in page and "广州市" in page and "云浮市" in page
    assert "江府函〔2026〕12号 2026-04-28" in page and "已上报，待省级审核" in page
    assert "4 项发现，1 项责令退出，1 项已退出" in page
    assert client_for(province.user).get("/province/?year=abc&page=999999").status_code == 200


def test_the_progress_figures_read_the_case_tally_and_equal_a_count_over_the_cases(province: Person) -> None:
    """Cases in a county and in the city itself, in both cities, either side of the local new year
    (16:00 UTC on 31 December is midnight in Jiangmen): the page's figures equal a plain count of the
    cases by their local year, and no query of the page reads the case table (issue 15)."""
    from collections import Counter

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from phaseout.cases.models import Case

    territories.load(territories.read(territories.file_for("44")), source="440000.csv")
    places = ["440703", "440700", "440781", "441602", "441600"]
    from phaseout.rules.case_flow import State
    from tests.test_case_matrix import STATE_FIELDS

    states = [State.FINDING, State.EXIT_ORDERED, State.EXITED, State.ACCEPTED, State.CLOSED]
    moments = [
        dt.datetime(2025, 12, 31, 15, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC),
    ]
    for i in range(20):
        case = CaseFactory(
            enterprise=EnterpriseFactory(territory=Territory.objects.get(code=places[i % len(places)])),
            state=states[i % len(states)].value,
            **STATE_FIELDS[states[i % len(states)]],
        )
        Case.objects.filter(pk=case.pk).update(opened_at=moments[i % len(moments)])
    ordered = ("exit_ordered", "exited", "accepted", "archived")
    expected: dict[str, Counter[str]] = {}
    for case in Case.objects.select_related("territory"):
        if timezone.localdate(case.opened_at).year != YEAR:
            continue
        city = case.territory.parent_id if case.territory.level == "county" else case.territory_id
        counted = expected.setdefault(str(city), Counter())
        counted["found"] += 1
        counted["ordered"] += case.state in ordered
        counted["exited"] += case.state in ordered[1:]
    assert set(expected) == {"440700", "441600"}
    with CaptureQueriesContext(connection) as queries:
        rows = progress.rows(list(progress.cities("440000")), YEAR, TODAY)
        total = progress.province_total("440000", YEAR, TODAY)
    assert not any('"cases_case"' in q["sql"] for q in queries.captured_queries)
    assert {r.city.code: r.cases for r in rows if r.cases} == {
        city: {k: counted[k] for k in ("found", "ordered", "exited")} for city, counted in expected.items()
    }
    assert total["found"] == sum(c["found"] for c in expected.values())
    assert total["exited"] == sum(c["exited"] for c in expected.values())
    page = client_for(province.user).get(f"/province/?year={YEAR}")
    assert page.status_code == 200 and page.context["total"]["ordered"] == total["ordered"]


# --- territories shipped as data ------------------------------------------------------------------------


def test_guangdong_loads_from_the_shipped_file_idempotently(reference: None) -> None:
    before = dict(
        Territory.objects.filter(code__in=["440700", "440703", "441600", "441625"]).values_list(
            "code", "name"
        )
    )
    call_command("territories", "load", "--province", "44")
    call_command("territories", "load", "--province", "440000")
    assert Territory.objects.filter(level="province").count() == 1
    assert Territory.objects.filter(level="city", parent="440000").count() == 21
    assert Territory.objects.filter(level="county", parent__parent="440000").count() == 119
    after = dict(Territory.objects.filter(code__in=before).values_list("code", "name"))
    assert after == before == {"440700": "江门市", "440703": "蓬江区", "441600": "河源市", "441625": "东源县"}
    assert set(Territory.objects.filter(parent="440700").values_list("code", flat=True)) == {
        "440703", "440704", "440705", "440781", "440783", "440784", "440785"
    }  # fmt: skip
    assert AuditEvent.objects.filter(action="territories.load").count() == 2
    assert AuditEvent.objects.filter(action="territories.load").last().data == {  # type: ignore[union-attr]
        "file": "440000.csv", "province": 1, "city": 21, "county": 119
    }  # fmt: skip
    with pytest.raises(CommandError, match="no territories file"):
        call_command("territories", "load", "--province", "45")


def test_a_bad_territories_file_is_refused_whole(reference: None, tmp_path: Path) -> None:
    bad = tmp_path / "450000.csv"
    bad.write_text(
        "# test\ncode,name,level,parent\n450000,广西壮族自治区,province,\n450102,兴宁区,county,450100\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="parent '450100' not listed before it"):
        call_command("territories", "load", "--file", str(bad))
    assert not Territory.objects.filter(code__startswith="45").exists()


# --- the exchange file --------------------------------------------------------------------------------


def _exported(office: Person) -> bytes:
    summary = actions.draw_up_summary(
        city=Territory.objects.get(code="440700"),
        year=YEAR,
        by=office.user,
        document=ContentFile(REPORT_PDF, name="江门市2026年总结.pdf"),
    )
    summary = actions.approve_summary(
        summary=summary,
        body="江门市人民政府",
        doc_number="江府函〔2027〕2号",
        approved_on=dt.date(2027, 1, 4),
        by=office.user,
    )
    data, what = exchange.export_file(summary)
    assert what["sha256"] == hashlib.sha256(data).hexdigest() and what["key"].startswith("city.440700:v")
    # the province runs another deployment: the city's records are not in its database
    YearSummary.objects.all().delete()
    return data


def _register_key(province: Person) -> None:
    """The province registers Jiangmen's key, as the city sent it by letter (ADR 0026)."""
    public = exchange.own_key("440700")
    assert public is not None
    keys.register_key(
        city=Territory.objects.get(code="440700"), public_key=public[0], letter="江工信函〔2027〕3号",
        by=province.user,
    )  # fmt: skip


def test_the_exchange_file_round_trip(office: Person, province: Person) -> None:
    with time_machine.travel(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC), tick=False):
        _cases()
    data = _exported(office)
    body = json.loads(data)
    assert body["payload"]["figures"]["city_total"]["found"] == 3
    _register_key(province)
    summary = exchange.import_file(data=data, by=province.user)
    assert (summary.state, summary.source, summary.city_id, summary.year) == (
        "handed_up",
        "exchange",
        "440700",
        YEAR,
    )
    assert summary.figures["city_total"] == {
        "found": 3,
        "rectifying": 0,
        "ordered": 1,
        "exited": 1,
        "closed": 0,
    }
    assert (summary.approval_body, summary.approval_doc_number, summary.approved_on) == (
        "江门市人民政府",
        "江府函〔2027〕2号",
        dt.date(2027, 1, 4),
    )
    with summary.document.open("rb") as fh:
        assert fh.read() == REPORT_PDF
    assert summary.exchange_sha256 == hashlib.sha256(data).hexdigest() and len(summary.exchange_key) == 64
    assert SummaryEvent.objects.get(summary=summary).step == "import"
    assert AuditEvent.objects.get(action="summary.import").data["sha256"] == summary.exchange_sha256
    actions.review_summary(summary=summary, accept=True, reason="", by=province.user)
    with pytest.raises(actions.SummaryError) as again:
        exchange.import_file(data=data, by=province.user)
    assert str(again.value) == "江门市2026年度总结已在省级，不再接收新的交换文件。"


def _tampered(data: bytes, *, recompute: bool) -> bytes:
    body = json.loads(data)
    body["payload"]["figures"]["city_total"]["exited"] = 30
    if recompute:
        body["checksum"]["value"] = hashlib.sha256(exchange.canonical(body["payload"])).hexdigest()
    return json.dumps(body, ensure_ascii=False).encode()


def _with_document(data: bytes) -> bytes:
    body = json.loads(data)
    body["payload"]["documents"][0]["content"] = base64.b64encode(b"%PDF-1.4 forged").decode()
    body["checksum"]["value"] = hashlib.sha256(exchange.canonical(body["payload"])).hexdigest()
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: _tampered(d, recompute=False), "交换文件生成后被改动：校验值不符。"),
        (lambda d: _tampered(d, recompute=True), "交换文件的签名验证失败：并非由文件所示的密钥签名。"),
        (_with_document, "交换文件的签名验证失败：并非由文件所示的密钥签名。"),
        (lambda d: d[:-40], "这不是年度总结交换文件。"),
        (lambda d: b'{"format": "phaseout.year-summary", "version": 2}', "这不是年度总结交换文件。"),
        (lambda d: b"\xff\xfe" + d, "这不是年度总结交换文件。"),
        (lambda d: b" " * (exchange.MAX_BYTES + 1), "交换文件过大：最大20.0 MB。"),
    ],
)
def test_a_tampered_or_foreign_exchange_file_is_refused_and_nothing_is_written(
    office: Person, province: Person, spoil: object, message: str
) -> None:
    data = spoil(_exported(office))  # type: ignore[operator]
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    assert str(refused.value).replace("\xa0", " ") == message
    assert (
        not YearSummary.objects.exists() and not AuditEvent.objects.filter(action="summary.import").exists()
    )


def test_the_exchange_file_over_http(office: Person, heyuan_office: Person, province: Person) -> None:
    summary = _approved_summary(office, "440700")
    response = client_for(office.user).get(f"/summaries/{summary.pk}/exchange.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = response.content
    assert (
        AuditEvent.objects.get(action="export.year_summary").data["sha256"]
        == hashlib.sha256(data).hexdigest()
    )
    assert client_for(heyuan_office.user).get(f"/summaries/{summary.pk}/exchange.json").status_code == 404
    YearSummary.objects.all().delete()
    _register_key(province)
    client = client_for(province.user)
    upload = ContentFile(_tampered(data, recompute=False), name="x.json")
    refused = client.post("/province/exchange/", {"file": upload}, follow=True).content.decode()
    assert "交换文件生成后被改动：校验值不符。" in refused
    assert not YearSummary.objects.exists()
    done = client.post("/province/exchange/", {"file": ContentFile(data, name="jm.json")})
    imported = YearSummary.objects.get()
    assert done["Location"] == f"/summaries/{imported.pk}/" and imported.source == "exchange"
    assert (
        client_for(office.user)
        .post("/province/exchange/", {"file": ContentFile(data, name="j.json")})
        .status_code
        == 403
    )
