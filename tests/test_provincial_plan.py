"""The provincial plan (issue 17 §4, ADRs 0026 and 0030): the provincial office reads in the province's own
plan through the plan parser and confirms it; each city's office links its plan to the provincial plan it
implements; the province's progress page shows the provincial plan and which cities' plans implement it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.core.files.base import ContentFile

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person
from phaseout.plans import actions as plan_actions
from phaseout.plans.models import Plan, PlanChange, TaskUnit
from phaseout.province import progress
from tests.conftest import client_for

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 6, 1)
YEAR = 2026

PROVINCIAL = """广东省工业和信息化厅文件

粤工信产业函〔2026〕18号

广东省工业和信息化厅关于印发广东省2026年推动落后产能退出工作方案的通知

各地级以上市工业和信息化主管部门：

现将《广东省2026年推动落后产能退出工作方案》印发给你们，请认真贯彻落实。

一、工作目标

严格执行能耗、环保、质量、安全、技术等法律法规和产业政策，推动落后产能依法依规退出。

二、工作安排

（一）各地级以上市人民政府于2026年5月31日前制定本市年度工作计划并报省工业和信息化厅备案。

（二）各地级以上市人民政府于2027年1月10日前将2026年度推动落后产能退出工作总结报送省工业和信息化厅。

广东省工业和信息化厅

2026年3月20日
"""


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _provincial(province: Person) -> Plan:
    plan = plan_actions.import_plan(name="gd.txt", data=PROVINCIAL.encode(), by=province.user)
    return plan_actions.confirm_plan(plan=plan, by=province.user)


def _city_plan(office: Person, city: str = "440700", year: int = YEAR, status: str = "confirmed") -> Plan:
    return Plan.objects.create(
        year=year, title=f"{city}{year}年计划", doc_number=f"{city}〔{year}〕1号", territory_id=city,
        status=status, source_name="p.txt", source_text="", created_by=office.user,
        confirmed_by=office.user if status != "draft" else None,
        confirmed_at=NOW if status != "draft" else None,
    )  # fmt: skip


def test_the_provincial_office_reads_in_and_confirms_the_provinces_plan(province: Person) -> None:
    plan = plan_actions.import_plan(name="gd.txt", data=PROVINCIAL.encode(), by=province.user)
    assert (plan.territory_id, plan.year, plan.doc_number, plan.status) == (
        "440000",
        YEAR,
        "粤工信产业函〔2026〕18号",
        "draft",
    )
    assert set(TaskUnit.objects.filter(task__plan=plan).values_list("name", "match")) == {
        ("各地级以上市人民政府", "all_districts"),
        ("省工业和信息化厅", "external"),
    }
    plan = plan_actions.confirm_plan(plan=plan, by=province.user)
    assert (plan.status, plan.confirmed_by, plan.summary_due) == (
        "confirmed",
        province.user,
        dt.date(2027, 1, 10),
    )
    # each city of the province owes its two duties under it (ADR 0030: tests/test_provincial_duties.py)
    assert plan.submissions.count() == 4
    assert AuditEvent.objects.get(action="plan.confirm").data == {
        "submissions": 4,
        "summary_due": "2027-01-10",
    }


def test_a_citys_document_is_not_read_in_as_the_provinces(province: Person) -> None:
    city = PROVINCIAL.replace("广东省工业和信息化厅文件", "江门市工业和信息化局文件").replace(
        "广东省工业和信息化厅关于", "江门市工业和信息化局关于"
    )
    city = city.replace("\n广东省工业和信息化厅\n", "\n江门市工业和信息化局\n")
    with pytest.raises(plan_actions.PlanError) as refused:
        plan_actions.import_plan(name="jm.txt", data=city.encode(), by=province.user)
    assert str(refused.value) == "该文件由江门市印发，属于市级文件，应由该市协调小组办公室导入。"
    assert not Plan.objects.exists()


def test_the_citys_office_links_its_plan_with_history_and_audit(office: Person, province: Person) -> None:
    provincial = _provincial(province)
    plan = _city_plan(office)
    linked = plan_actions.link_provincial_plan(plan=plan, provincial=provincial, by=office.user)
    linked.refresh_from_db()
    assert linked.provincial_plan == provincial
    change = PlanChange.objects.get(plan=plan)
    assert (change.field, change.before, change.after, change.by) == (
        "provincial_plan",
        "",
        "粤工信产业函〔2026〕18号 广东省2026年推动落后产能退出工作方案",
        office.user,
    )
    audit = AuditEvent.objects.get(action="plan.link_provincial")
    assert (audit.actor, audit.object_id) == (office.user, str(plan.pk))
    assert audit.data == {"provincial_plan": provincial.pk, "before": None}
    with pytest.raises(plan_actions.PlanError) as twice:
        plan_actions.link_provincial_plan(plan=plan, provincial=provincial, by=office.user)
    assert str(twice.value) == "本计划已关联该省级工作方案。"
    assert AuditEvent.objects.filter(action="plan.link_provincial").count() == 1


def test_a_link_refused_says_why_and_changes_nothing(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    provincial = _provincial(province)
    plan = _city_plan(office)
    draft = plan_actions.import_plan(
        name="gd2.txt", data=PROVINCIAL.replace("18号", "19号").encode(), by=province.user
    )
    earlier = _city_plan(office, year=2025)
    cases = [
        (plan, provincial, heyuan_office, "只有本市协调小组办公室可以将本市计划关联到省级工作方案。"),
        (plan, provincial, province, "只有本市协调小组办公室可以将本市计划关联到省级工作方案。"),
        (plan, draft, office, "请选择本省省级协调办公室已确认的省级工作方案。"),
        (plan, _city_plan(heyuan_office, "441600"), office, "请选择本省省级协调办公室已确认的省级工作方案。"),
        (earlier, provincial, office, "该省级工作方案为2026年度，本计划为2025年度：请关联同一年度的方案。"),
        (provincial, provincial, province, "只有本市协调小组办公室可以将本市计划关联到省级工作方案。"),
    ]
    for city_plan, chosen, person, message in cases:
        with pytest.raises(plan_actions.PlanError) as refused:
            plan_actions.link_provincial_plan(plan=city_plan, provincial=chosen, by=person.user)
        assert str(refused.value) == message
    assert not Plan.objects.filter(provincial_plan__isnull=False).exists()
    assert (
        not PlanChange.objects.exists()
        and not AuditEvent.objects.filter(action="plan.link_provincial").exists()
    )


def test_the_provincial_plan_over_http(
    office: Person, heyuan_office: Person, district: Person, province: Person
) -> None:
    client = client_for(province.user)
    assert "导入正式计划文件" in client.get("/plans/").content.decode()
    assert "导入正式计划文件" not in client_for(district.user).get("/plans/").content.decode()
    response = client.post("/plans/upload/", {"document": ContentFile(PROVINCIAL.encode(), name="gd.txt")})
    provincial = Plan.objects.get(territory="440000")
    assert response.status_code == 302 and response["Location"] == f"/plans/{provincial.pk}/"
    page = client.get(f"/plans/{provincial.pk}/").content.decode()
    assert 'id="confirm-plan"' in page
    assert client.post(f"/plans/{provincial.pk}/confirm/", {"confirm": "on"}).status_code == 302
    provincial.refresh_from_db()
    assert provincial.status == "confirmed"
    # the province reviews only its own plan; the city's office and the districts not the province's
    city_plan = _city_plan(office, status="draft")
    assert client.post(f"/plans/{city_plan.pk}/confirm/", {"confirm": "on"}).status_code == 404
    assert client.post(f"/plans/{city_plan.pk}/map/", {"name": "x", "match": "collective"}).status_code == 404
    assert (
        client_for(office.user).post(f"/plans/{provincial.pk}/confirm/", {"confirm": "on"}).status_code == 404
    )
    assert client_for(district.user).post("/plans/upload/", {}).status_code == 403
    # the city's office links its plan
    plan = _city_plan(office)
    page = client_for(office.user).get(f"/plans/{plan.pk}/").content.decode()
    assert 'id="link-provincial-plan"' in page and "粤工信产业函〔2026〕18号" in page
    form = {"provincial": provincial.pk}
    assert client.post(f"/plans/{plan.pk}/provincial-plan/", form).status_code == 403
    assert client_for(heyuan_office.user).post(f"/plans/{plan.pk}/provincial-plan/", form).status_code == 404
    assert client_for(office.user).post(f"/plans/{plan.pk}/provincial-plan/", form).status_code == 302
    plan.refresh_from_db()
    assert plan.provincial_plan == provincial
    page = client_for(office.user).get(f"/plans/{plan.pk}/").content.decode()
    assert "所落实的省级工作方案" in page
    page = client.get(f"/plans/{provincial.pk}/").content.decode()
    assert "落实本方案的各市计划" in page and "440700〔2026〕1号" in page


def test_the_progress_page_shows_the_provincial_plan_and_the_cities_linked(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    provincial = _provincial(province)
    jiangmen = plan_actions.link_provincial_plan(
        plan=_city_plan(office), provincial=provincial, by=office.user
    )
    plan_actions.approve_plan(
        plan=jiangmen,
        body="江门市人民政府",
        doc_number="江府函〔2026〕12号",
        approved_on=TODAY,
        by=office.user,
    )
    _city_plan(heyuan_office, "441600")  # not linked
    assert [p.pk for p in progress.provincial_plans("440000", YEAR)] == [provincial.pk]
    total = progress.province_total("440000", YEAR, TODAY)
    assert (total["plans_linked"], total["plans_linked_approved"], total["overdue"]) == (1, 1, 0)
    rows = {r.city.code: r for r in progress.rows(list(progress.cities("440000")), YEAR, TODAY)}
    assert rows["440700"].summary_due == dt.date(2027, 1, 10)  # the provincial plan's date
    page = client_for(province.user).get(f"/province/?year={YEAR}").content.decode()
    assert "粤工信产业函〔2026〕18号 广东省2026年推动落后产能退出工作方案" in page
    assert "各市年度总结须于 2027-01-10 前上报" in page
    assert "1 个市的计划已关联省级工作方案，其中 1 个已经市政府审定。" in page
    assert "落实 粤工信产业函〔2026〕18号" in page and "未关联省级工作方案" in page
    empty = client_for(province.user).get("/province/?year=2025").content.decode()
    assert "本年度尚无已确认的省级工作方案。" in empty
