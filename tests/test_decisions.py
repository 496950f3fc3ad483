"""Decisions as the law writes them: dates of issue and service, numbered documents, the competent body,
and `phaseout case-flow --json` stating the paths."""

from __future__ import annotations

import datetime as dt
import io
import json

import docx
import pytest
from django.core.management import call_command

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions, documents
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Case, CaseEvent, Decision
from phaseout.orgs.models import Person
from tests.conftest import client_for
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)


def _unchanged(case: Case) -> tuple[int, int, int, int]:
    case.refresh_from_db()
    return (case.version, CaseEvent.objects.count(), AuditEvent.objects.count(), Decision.objects.count())


@pytest.mark.parametrize(
    ("issued", "served", "message"),
    [
        (dt.date(2026, 3, 3), dt.date(2026, 3, 3), "决定日期不能晚于今天"),
        (dt.date(2026, 3, 2), dt.date(2026, 3, 3), "送达日期不能晚于今天"),
        (dt.date(2026, 3, 2), dt.date(2026, 3, 1), "送达日期不能早于决定日期"),
    ],
)
def test_bad_dates_are_refused_and_change_nothing(
    energy_dept: Person, issued: dt.date, served: dt.date, message: str
) -> None:
    case = CaseFactory()
    before = _unchanged(case)
    with pytest.raises(CaseActionError, match=message):
        actions.order_rectification(
            case=case, by=energy_dept.user, today=TODAY, issued_on=issued, served_on=served
        )
    assert _unchanged(case) == before


def test_clock_runs_from_service_and_the_record_keeps_both_dates(energy_dept: Person) -> None:
    case = actions.order_rectification(
        case=CaseFactory(), by=energy_dept.user, today=TODAY, issued_on=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    assert (case.order_date, case.deadline) == (dt.date(2026, 2, 27), dt.date(2026, 8, 27))
    event = case.events.get(action="order_rectification")
    assert event.dated == dt.date(2026, 2, 20) and event.data["served_on"] == "2026-02-27"
    decision = case.decisions.get()
    assert (decision.issued_on, decision.served_on, decision.number) == (
        dt.date(2026, 2, 20),
        dt.date(2026, 2, 27),
        "江发改〔2026〕1号",
    )
    assert AuditEvent.objects.filter(action="case.order_rectification", object_id=str(case.pk)).exists()
    second = actions.order_rectification(case=CaseFactory(), by=energy_dept.user, today=TODAY)
    assert second.decisions.get().number == "江发改〔2026〕2号"  # the department's own sequence
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(documents.docx_bytes(decision))).paragraphs)
    assert "责令限期整改通知书" in text and "江发改〔2026〕1号" in text and "2026年8月27日" in text
    assert "（印章）" in text and "《中华人民共和国节约能源法》（2018）第十六条第二款" in text
    assert text.count(decision.case.enterprise.name) == 1  # addressed once, then "你单位"


def test_a_department_outside_the_dimension_is_refused(env_dept: Person) -> None:
    case = CaseFactory(dimension="energy")
    before = _unchanged(case)
    with pytest.raises(CaseActionError, match="不负责该维度的执法"):
        actions.order_rectification(case=case, by=env_dept.user, today=TODAY)
    assert _unchanged(case) == before
    client = client_for(env_dept.user)
    before = _unchanged(case)  # signing in is audited: count from here
    response = client.post(
        f"/cases/{case.pk}/act/order_rectification/",
        {"version": case.version, "issued_on": "2026-03-02", "served_on": "2026-03-02"},
    )
    assert response.status_code in (403, 404)
    assert _unchanged(case) == before


def test_environment_restriction_served_late_is_flagged(env_dept: Person) -> None:
    case = CaseFactory(dimension="environment")
    case = actions.order_restriction(
        case=case, by=env_dept.user, months=3, today=TODAY, issued_on=dt.date(2026, 2, 2),
        served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    event = case.events.get(action="order_restriction")
    assert event.data["served_late"] is True  # more than 7 working days (30号令 art. 14)
    assert case.deadline == dt.date(2026, 5, 27)
    with pytest.raises(CaseActionError, match="1至3个月"):
        actions.order_restriction(
            case=CaseFactory(dimension="environment"), by=env_dept.user, months=4, today=TODAY
        )


def test_irreversible_steps_ask_for_confirmation(office: Person, energy_dept: Person) -> None:
    case = CaseFactory(consequence="exit_at_once", dimension="technology")
    response = client_for(energy_dept.user).post(
        f"/cases/{case.pk}/act/order_exit/",
        {"version": case.version, "plan": "seal_then_dismantle", "reason": "淘汰", "issued_on": "2026-03-02",
         "served_on": "2026-03-02"},
        follow=True,
    )  # fmt: skip
    assert "请勾选确认后再执行此操作" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "finding"


def test_case_flow_command_states_every_path() -> None:
    out = io.StringIO()
    call_command("case_flow", "--json", stdout=out)
    described = json.loads(out.getvalue())
    paths = {p["dimension"]: {s["action"]: s for s in p["steps"]} for p in described["paths"]}
    assert set(paths) == {"energy", "environment", "quality", "safety", "technology"}
    approve = paths["energy"]["approve_closure"]
    assert approve["approval"] == "本级人民政府" and approve["roles"] == ["district", "office"]
    assert "第七十二条" in approve["basis"]
    restriction = paths["environment"]["order_restriction"]["clock"]
    assert (restriction["months"], restriction["extension_months"], restriction["verification"]) == (
        3,
        3,
        "confirmed",
    )
    assert paths["environment"]["order_suspension"]["clock"]["months"] is None
    assert "order_rectification" not in paths["environment"] and "order_rectification" not in paths["safety"]
    assert paths["technology"]["order_exit"]["irreversible"] is True


def test_home_page_waiting_list_reads_the_paths(
    energy_dept: Person, district: Person, office: Person
) -> None:
    proposal = CaseFactory(dimension="energy", state="finding", enterprise__name="拟处理钢铁厂")
    proposed = CaseFactory(
        dimension="energy",
        state="closure_proposed",
        closure_proposed_on=TODAY,
        enterprise__name="待政府决定钢铁厂",
    )
    dept_home = client_for(energy_dept.user).get("/").content.decode()
    assert proposal.enterprise.name in dept_home  # the department decides proposals
    assert proposed.enterprise.name not in dept_home  # the government decides closure, not the department
    town_home = client_for(district.user).get("/").content.decode()
    assert proposed.enterprise.name in town_home and proposal.enterprise.name not in town_home
    office_home = client_for(office.user).get("/").content.decode()
    assert proposed.enterprise.name in office_home and proposal.enterprise.name in office_home


def test_a_decision_issued_on_paper_keeps_its_number(energy_dept: Person) -> None:
    case = actions.order_rectification(
        case=CaseFactory(), by=energy_dept.user, today=TODAY, issued_on=dt.date(2026, 1, 5),
        served_on=dt.date(2026, 1, 7), paper_number="江发改节能〔2026〕3号",
    )  # fmt: skip
    decision = case.decisions.get()
    assert (decision.number, decision.serial, decision.content["number"]) == (
        "江发改节能〔2026〕3号",
        None,
        "江发改节能〔2026〕3号",
    )
    assert case.deadline == dt.date(2026, 7, 7)  # six months from service
    other = CaseFactory()
    before = _unchanged(other)
    with pytest.raises(CaseActionError, match="文号江发改节能〔2026〕3号已登记"):
        actions.order_rectification(
            case=other, by=energy_dept.user, today=TODAY, paper_number="江发改节能〔2026〕3号"
        )
    assert _unchanged(other) == before
    fresh = actions.order_rectification(case=other, by=energy_dept.user, today=TODAY)
    assert fresh.decisions.get().number == "江发改〔2026〕1号"  # the sequence is not used by paper numbers


def test_a_dismissed_proposal_brings_no_price_measure(office: Person) -> None:
    from decimal import Decimal

    from phaseout.prices.measures import price_rows
    from tests.factories import LineFactory
    from tests.test_prices import _finding

    case = _finding(
        office,
        LineFactory(size_value=Decimal("380")),
        "technology",
        "technology.steel.blast-furnace-400",
        None,
    )
    assert price_rows(Case.objects.filter(pk=case.pk))  # the elimination-class proposal is priced
    actions.dismiss(case=case, by=office.user, reason="经复核，设备已于检查前拆除", today=TODAY)
    assert price_rows(Case.objects.filter(pk=case.pk)) == []
    event = case.events.get(action="dismiss")
    assert (event.from_state, event.to_state, event.reason) == (
        "finding",
        "dismissed",
        "经复核，设备已于检查前拆除",
    )
    assert AuditEvent.objects.filter(action="case.dismiss", object_id=str(case.pk)).exists()


def test_the_paths_page_reads_the_flow_table(district: Person) -> None:
    page = client_for(district.user).get("/cases/paths/").content.decode()
    energy = page[page.index("<h2>能耗</h2>") : page.index("<h2>环保</h2>")]
    assert (
        "提请人民政府责令停业整顿或者关闭" in energy and "第七十二条" in energy and "本级人民政府" in energy
    )
    assert "自送达之日起6个月" in energy and "可延期一次，不超过3个月" in energy
    environment = page[page.index("<h2>环保</h2>") :]
    environment = environment[: environment.index("</details>")]
    assert "责令限制生产" in environment and "自送达之日起至解除之日止" in environment
    assert 'data-step="order_rectification"' not in environment


def test_no_decision_before_the_inspection(energy_dept: Person) -> None:
    case = CaseFactory(finding__inspection__inspected_on=dt.date(2026, 2, 10))
    before = _unchanged(case)
    with pytest.raises(CaseActionError, match="不能早于上一步骤的日期2026-02-10"):
        actions.order_rectification(
            case=case,
            by=energy_dept.user,
            today=TODAY,
            issued_on=dt.date(2026, 2, 9),
            served_on=dt.date(2026, 2, 9),
        )
    assert _unchanged(case) == before


def test_the_case_file_pdf_reads_like_a_case_file(energy_dept: Person, office: Person) -> None:
    from pypdf import PdfReader

    case = actions.order_rectification(
        case=CaseFactory(), by=energy_dept.user, today=TODAY, issued_on=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    response = client_for(office.user).get(f"/cases/{case.pk}/file.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (
        "推动落后产能退出案件卷宗",
        "目录",
        "案件经过",
        "责令限期整改通知书",
        "江发改〔2026〕1号",
        "立案",
    ):
        assert expected in text, expected
    assert "立案：2026年1月5日" in text  # the day of the inspection that found it, not of data entry
    assert "order_rectification" not in text and "责令限期整改" in text


def test_a_refused_decision_keeps_what_the_officer_typed(energy_dept: Person) -> None:
    case = CaseFactory()
    response = client_for(energy_dept.user).post(
        f"/cases/{case.pk}/act/order_rectification/",
        {
            "version": case.version,
            "issued_on": "2026-03-02",
            "served_on": "2026-03-01",
            "reason": "熟料能耗超限额",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "送达日期不能早于决定日期" in page and "熟料能耗超限额" in page
    assert '<details class="action" open>\n<summary>责令限期整改' in page  # the refused form stays open
    assert _unchanged(case)[0] == case.version
