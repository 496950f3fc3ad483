"""A real browser (Debian's Chromium, driven by Playwright) walks one case from finding to archive,
as a department, a district and the coordination office would."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone

from phaseout.cases.models import Case
from phaseout.registry.models import EquipmentType
from tests.conftest import PNG, REPORT_PDF, otp_code
from tests.factories import LineFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs its own loop

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def server(transactional_db):
    """A live server for this test alone, so its connections close before the test database goes."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("localhost", StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://localhost:{thread.port}"
    thread.terminate()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()
        # While Playwright's loop runs, the ORM in this thread uses a connection of its own: close it.
        connections.close_all()


def _login(browser, base: str, username: str):
    user = get_user_model().objects.get(username=username)
    otp_code(user)  # the person has set up their authenticator app
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-Secret-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    # The second factor: the code the person's authenticator app would show.
    assert page.url.startswith(f"{base}/accounts/second-factor/"), page.content()[:3000]
    page.fill("#id_token", otp_code(user))
    page.click("form:not(.inline) button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{base}/", page.content()[:3000]
    return page


def _open(page, action: str):
    form = page.locator(f"form[data-action={action}]")
    details = page.locator("details.action", has=form)
    if not details.evaluate("d => d.open"):
        details.locator("summary").click()
    return form


def _act(
    page,
    action: str,
    fields: dict[str, str] | None = None,
    selects: dict[str, str] | None = None,
    confirm: bool = False,
) -> None:
    form = _open(page, action)
    if confirm:  # an irreversible step asks for confirmation on the page
        form.locator("[name=confirm]").check()
    for name, value in (fields or {}).items():
        form.locator(f"[name={name}]").fill(value)
    for name, value in (selects or {}).items():
        form.locator(f"[name={name}]").select_option(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def _state(page) -> str:
    return page.locator("#case-state").inner_text().strip()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_case_from_finding_to_archive(
    browser, server, office, energy_dept, district, tmp_path: Path
) -> None:
    line = LineFactory(
        enterprise__industry_id="cement",
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2000"),
        size_unit="t/d",
        capacity=Decimal("2000"),
        capacity_unit="t/d",
        name="2000t/d熟料线",
    )
    enterprise = line.enterprise
    base = server
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(PNG)

    # The energy department inspects and finds the clinker line over its energy limit.
    dept = _login(browser, base, "fgj")
    dept.goto(f"{base}/enterprises/{enterprise.pk}/")
    dept.get_by_role("link", name="登记执法检查").click()
    dept.select_option("[name=line]", str(line.pk))
    dept.fill("[name=inspectors]", "李明、王芳")
    dept.set_input_files("[name=attachments]", str(photo))
    dept.get_by_role("button", name="保存检查").click()
    dept.wait_for_url(re.compile(r"/inspections/\d+/$"))
    dept.select_option("[name=rule]", "energy.cement.clinker-energy")
    dept.fill("[name=measured_value]", "125.6")
    dept.get_by_role("button", name="判定并登记").click()
    dept.wait_for_url(re.compile(r"/cases/\d+/$"))
    case_url = dept.url
    case = Case.objects.get()
    assert _state(dept) == "拟处理（待决定）"
    assert "限值取自二手来源" in dept.content()

    # An extension beyond the cap is refused in Chinese and changes nothing.
    _act(dept, "order_rectification", {"reason": "责令6个月内整改"})
    assert _state(dept) == "限期整改中"
    deadline = dept.locator("#deadline strong").inner_text()
    case.refresh_from_db()
    assert deadline == case.deadline.isoformat()
    _act(dept, "verify_rectified", {"reason": "复测 123 kgce/t，仍超限"}, {"passed": "no"})
    assert _state(dept) == "逾期或整改后仍不达标"
    # The department proposes closure; the people's government decides (节约能源法 art. 72).
    assert 'data-action="order_exit"' not in dept.content()
    _act(dept, "propose_closure", {"reason": "逾期仍未达标，情节严重"})
    assert _state(dept) == "已提请人民政府关闭"
    assert 'data-action="approve_closure"' not in dept.content()
    lead = _login(browser, base, "office")
    lead.goto(case_url)
    _act(
        lead,
        "approve_closure",
        {"approval_body": "江门市人民政府", "approval_number": "江府函〔2026〕5号"},
        {"plan": "seal_then_dismantle"},
        confirm=True,
    )
    assert _state(lead) == "已责令关停退出"
    decisions = lead.locator("#decisions").inner_text()
    assert "江府函〔2026〕5号" in decisions and "关停（关闭）决定书" in decisions
    assert "江发改〔" in decisions  # the department's own sequence numbers its proposal
    with lead.expect_download() as download_info:
        lead.locator("tr[data-decision=closure_decision] a", has_text=".docx").click()
    closure_doc = tmp_path / "closure.docx"
    download_info.value.save_as(closure_doc)
    text = "\n".join(p.text for p in docx.Document(str(closure_doc)).paragraphs)
    assert "江府函〔2026〕5号" in text and "关停（关闭）决定书" in text and "节约能源法" in text

    # The district carries out the exit measures on the ground, with evidence.
    town = _login(browser, base, "pengjiang")
    town.goto(case_url)
    assert "已责令关停退出" in _state(town)
    _act(town, "confirm_exit")
    assert "尚未落实" in town.locator("ul.messages").inner_text()
    for kind in (
        "power_cut",
        "water_cut",
        "power_equipment_removal",
        "equipment_sealing",
        "public_pledge",
        "website_announcement",
    ):
        row = town.locator(f"tr[data-measure={kind}]")
        row.locator("summary").click()
        row.locator("[name=attachments]").set_input_files(str(photo))
        row.locator("[name=note]").fill("已落实")
        if kind in ("power_cut", "water_cut"):
            row.locator("[name=notice]").fill("书面通知，提前二十四小时送达")
        row.locator("button[type=submit]").click()
        town.wait_for_load_state()
        assert "已登记" in town.locator("ul.messages").inner_text()
    _act(town, "confirm_exit", {"reason": "各项措施已落实，拆除限期进行"})
    assert _state(town) == "已退出"

    # The office accepts, archives and downloads the whole case file.
    lead.goto(case_url)
    _act(lead, "accept", {"team": "市工信局、蓬江区联合验收组", "record_text": "主体设备已封存，验收合格"})
    assert _state(lead) == "已验收"
    _act(lead, "archive", {"reason": "归档"}, confirm=True)
    assert "所有措施落实后方可归档" in lead.locator("ul.messages").inner_text()  # dismantling is open
    assert _state(lead) == "已验收"
    row = lead.locator("tr[data-measure=dismantling]")
    row.locator("summary").click()
    row.locator("[name=attachments]").set_input_files(str(photo))
    row.locator("button[type=submit]").click()
    lead.wait_for_load_state()
    _act(lead, "archive", {"reason": "归档"}, confirm=True)
    assert _state(lead) == "已归档"
    with lead.expect_download() as download_info:
        lead.get_by_role("link", name="下载案件卷宗（.zip）").click()
    target = tmp_path / "case.zip"
    download_info.value.save_as(target)
    names = zipfile.ZipFile(target).namelist()
    assert names[0] == "案件卷宗.txt"
    assert len([n for n in names if n.endswith(".png")]) == 8
    with lead.expect_download() as download_info:
        lead.get_by_role("link", name="案件卷宗（PDF）").click()
    case_file = tmp_path / "case.pdf"
    download_info.value.save_as(case_file)
    assert case_file.read_bytes().startswith(b"%PDF")
    lead.screenshot(path=str(tmp_path / "archived.png"), full_page=True)

    # Re-inspection (回头看) by the district finds production resumed: a new case opens.
    town.goto(case_url)
    _act(town, "record_reinspection", {"notes": "发现私自启封，恢复生产"}, {"resumed": "yes"})
    town.wait_for_url(re.compile(r"/cases/\d+/$"))
    assert town.url != case_url
    assert _state(town) == "拟处理（待决定）"
    assert "已恢复生产：已新立案件" in town.locator("ul.messages").inner_text()

    case.refresh_from_db()
    assert case.state == "archived"
    assert list(case.events.values_list("action", flat=True)) == [
        "open",
        "order_rectification",
        "verify_still_failing",
        "propose_closure",
        "approve_closure",
        *["measure_done"] * 6,
        "confirm_exit",
        "accept",
        "measure_done",
        "archive",
        "record_reinspection",
    ]
    assert Case.objects.get(parent=case).state == "finding"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rectified_case_with_an_extension(browser, server, energy_dept, tmp_path: Path) -> None:
    line = LineFactory(
        enterprise__industry_id="cement",
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("4000"),
        size_unit="t/d",
        capacity=Decimal("4000"),
        capacity_unit="t/d",
    )
    dept = _login(browser, server, "fgj")
    dept.goto(f"{server}/enterprises/{line.enterprise_id}/inspections/new/")
    dept.select_option("[name=line]", str(line.pk))
    dept.fill("[name=inspectors]", "李明")
    dept.get_by_role("button", name="保存检查").click()
    dept.wait_for_url(re.compile(r"/inspections/\d+/$"))
    dept.select_option("[name=rule]", "energy.cement.clinker-energy")
    dept.fill("[name=measured_value]", "119")
    dept.get_by_role("button", name="判定并登记").click()
    dept.wait_for_url(re.compile(r"/cases/\d+/$"))
    _act(dept, "order_rectification", {"reason": "责令整改"})
    before = dept.locator("#deadline strong").inner_text()

    # Four months is over the cap: the browser's own check stops it, and the server refuses it too.
    form = _open(dept, "grant_extension")
    form.locator("[name=months]").evaluate("el => el.removeAttribute('max')")
    form.locator("[name=months]").fill("4")
    form.locator("[name=reason]").fill("设备改造")
    form.locator("button[type=submit]").click()
    dept.wait_for_load_state()
    assert "延期不得超过3个月" in dept.locator("ul.messages").inner_text()
    assert dept.locator("#deadline strong").inner_text() == before

    _act(dept, "grant_extension", {"months": "2", "reason": "余热发电改造需停窑施工"})
    case = Case.objects.get()
    assert case.extension_months == 2
    assert dept.locator("#deadline strong").inner_text() == case.deadline.isoformat() != before
    assert "grant_extension" not in dept.content()  # one extension only: the form is gone
    _act(dept, "verify_rectified", {"reason": "复测 112 kgce/t，达标"}, {"passed": "yes"})
    assert _state(dept) == "已整改并验证"
    _act(dept, "close_compliant", {"reason": "达标结案"})
    assert _state(dept) == "达标结案"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_plan_from_upload_to_confirmed(browser, server, office, heyuan_office, energy_dept) -> None:
    """Heyuan's office uploads the Heyuan plan, reviews what the parser flagged and confirms it;
    Jiangmen's office its own; a Jiangmen department then sees what it owes and submits its report."""
    from phaseout.plans.models import Plan, Submission

    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    page = _login(browser, server, "hy-office")
    page.get_by_role("link", name="工作计划", exact=True).click()
    page.wait_for_load_state()
    assert page.url == f"{server}/plans/", page.url
    page.set_input_files("#id_document", str(seeds / "heyuan-2021-plan.txt"))
    page.get_by_role("button", name="读取文件").click()
    page.wait_for_load_state()
    assert "文件已读取为计划草稿" in page.content()
    assert page.locator("#plan-status").inner_text().strip() == "草稿，待复核"
    # Confirming before the flagged expressions are reviewed is refused, with the reason.
    assert "我确认：确认后，计划要求报送的材料即按期限跟踪和提醒" in page.content()
    page.locator("form.confirm-plan [name=confirm]").check()  # it says what confirming sets going
    page.locator("#confirm-plan").click()
    page.wait_for_load_state()
    assert "需要复核" in page.content()
    # Review each flagged expression (accepting that the text gives no date).
    while page.locator("form.time-review").count():
        form = page.locator("form.time-review").first
        form.locator("button").click()
        page.wait_for_load_state()
    page.locator("form.confirm-plan [name=confirm]").check()  # it says what confirming sets going
    page.locator("#confirm-plan").click()
    page.wait_for_load_state()
    assert page.locator("#plan-status").inner_text().strip() == "办公室已确认，待市政府审定"
    plan = Plan.objects.get()
    assert plan.status == "confirmed"
    rows = page.locator("#submissions tbody tr")
    assert rows.count() == Submission.objects.count() > 0
    page.context.close()

    # A Jiangmen department's view: upload the Jiangmen plan too, then submit as the department.
    page = _login(browser, server, "office")
    page.goto(f"{server}/plans/")
    page.set_input_files("#id_document", str(seeds / "jiangmen-2021-plan.txt"))
    page.get_by_role("button", name="读取文件").click()
    page.wait_for_load_state()
    while page.locator("form.time-review").count():
        page.locator("form.time-review").first.locator("button").click()
        page.wait_for_load_state()
    page.locator("form.confirm-plan [name=confirm]").check()  # it says what confirming sets going
    page.locator("#confirm-plan").click()
    page.wait_for_load_state()
    assert page.locator("#plan-status").inner_text().strip() == "办公室已确认，待市政府审定"
    # In force once the city government has approved it: the office records the approval.
    approval = page.locator("form.approve-plan")
    approval.locator("[name=body]").fill("江门市人民政府")
    approval.locator("[name=doc_number]").fill("江府函〔2021〕88号")
    # The day the server confirmed it (its clock, through Django: a faked clock moves both).
    approval.locator("[name=approved_on]").fill(timezone.localdate().isoformat())
    if approval.locator("[name=confirm]").count():
        approval.locator("[name=confirm]").check()
    page.locator("#approve-plan").click()
    page.wait_for_load_state()
    assert "江府函〔2021〕88号" in page.locator("#plan-approval").inner_text()
    assert Plan.objects.get(status="approved").approval_doc_number == "江府函〔2021〕88号"
    page.context.close()

    dept = _login(browser, server, "fgj")
    dept.get_by_role("link", name="报送事项").first.click()
    dept.wait_for_url(f"{server}/submissions/")  # the click only starts the navigation
    dept.wait_for_load_state()
    assert "情况报送" in dept.content()
    dept.get_by_role("link", name="报送", exact=True).first.click()
    dept.wait_for_load_state()
    dept.set_input_files(
        "#id_document",
        files=[{"name": "情况.pdf", "mimeType": "application/pdf", "buffer": REPORT_PDF}],
    )
    dept.fill("#id_enterprises", "2")
    dept.get_by_role("button", name="报送").click()
    dept.wait_for_load_state()
    assert "已报送" in dept.content()
    submitted = Submission.objects.get(submitted_on__isnull=False)
    assert submitted.department == energy_dept.department
    assert submitted.versions.get().numbers == {"enterprises": 2}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_portal_and_tipoff_form(browser, server, office, energy_dept) -> None:
    """Anyone, without logging in: reads a published list, searches it, reports a tip-off, follows it."""
    from django.core.cache import cache

    from phaseout.cases import actions as case_actions
    from phaseout.complaints.models import TipOff
    from phaseout.disclosure import actions as list_actions

    cache.clear()
    line = LineFactory(
        enterprise__industry_id="cement",
        enterprise__name="江门市公示水泥有限公司",
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
    )
    day = dt.date(2026, 3, 2)
    inspection = case_actions.record_inspection(
        department=energy_dept.department, enterprise=line.enterprise, line=line, dimension="energy",
        inspected_on=day, inspectors="李明", files=[], by=energy_dept.user, today=day,
    )  # fmt: skip
    finding = case_actions.record_finding(
        inspection=inspection, rule_id="energy.cement.clinker-energy", line=line,
        measured_value=Decimal("130"), by=energy_dept.user,
    )  # fmt: skip
    case_actions.order_rectification(
        case=Case.objects.get(finding=finding), by=energy_dept.user, today=dt.date(2026, 3, 2)
    )
    snapshot = list_actions.draft(kind="yellow", by=office.user)
    list_actions.approve_undecided(snapshot=snapshot, by=office.user)
    list_actions.publish(snapshot=list_actions.approve(snapshot=snapshot, by=office.user), by=office.user)

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/public/")
    page.get_by_role("link", name="“黄牌”名单：不达标应限期整改的企业").click()
    page.wait_for_load_state()
    assert "江门市公示水泥有限公司" in page.locator("#public-rows").inner_text()
    page.fill("[name=q]", "不存在的企业")
    page.locator("form.filters button").click()
    page.wait_for_load_state()
    assert "无条目" in page.locator("#public-rows").inner_text()
    page.get_by_role("link", name="举报落后产能").click()
    page.wait_for_load_state()
    page.fill("#id_text", "蓬江区某厂夜间使用中频炉生产地条钢")
    page.fill("#id_reporter_name", "李四")
    page.get_by_role("button", name="提交举报").click()
    page.wait_for_load_state()
    code = page.locator("#tracking-code").inner_text().strip()
    assert TipOff.objects.get(tracking_code=code).dimension == "technology"
    page.get_by_role("link", name="查询办理情况").click()
    page.wait_for_load_state()
    assert "已受理" in page.locator("#tracking").inner_text()
    assert "李四" not in page.content()
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_render_in_the_browser(browser, server, office) -> None:
    LineFactory(status="exited", exited_on=dt.date.today(), enterprise__name="图表钢铁")  # noqa: DTZ011
    page = _login(browser, server, "office")
    page.goto(f"{server}/dashboard/")
    page.locator("main").get_by_role("link", name="图表").click()
    page.wait_for_load_state()
    charts = page.locator("svg.chart:not(.map)")
    assert charts.count() == 8
    industry = page.locator("#chart-industry")
    assert industry.bounding_box()["width"] > 300  # type: ignore[index]
    assert industry.locator("rect").count() == 1 and "1 条" in industry.text_content()
    # The map: every county drawn at a readable size; a click opens the county's cases.
    jiangmen = page.locator("#map-440700")
    box = jiangmen.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    counties = jiangmen.locator("path[data-territory]")
    assert counties.count() == 7
    for i in range(7):
        county = counties.nth(i).bounding_box()
        assert county is not None and county["width"] > 5 and county["height"] > 5
    if os.environ.get("SCREENSHOTS"):
        jiangmen.screenshot(path=os.environ["SCREENSHOTS"] + "/map.png")
    jiangmen.locator('path[data-territory="440783"]').click()
    page.wait_for_url("**/cases/?territory=440783*")
    assert "开平市" in page.locator("select[name=territory] option:checked").text_content()
    page.context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_department_hands_in_its_summary_produced_from_the_ledger(
    browser, server, office, energy_dept
) -> None:
    """The department opens what it owes, produces its year summary from the ledger (the stage
    filled in from the plan) and hands it in with the figures counted from the records."""
    from phaseout.plans.models import Submission
    from tests.test_plans import _confirm, _import

    _confirm(_import(office), office)
    LineFactory(
        status="exited",
        exited_on=dt.date(2021, 8, 2),
        capacity=Decimal("45"),
        capacity_unit="10kt/a",
        enterprise__name="台账钢铁",
    )
    page = _login(browser, server, "fgj")
    page.goto(f"{server}/submissions/")
    summary = page.locator("tr", has_text="年度工作总结")
    summary.get_by_role("link", name="由台账生成").click()
    page.wait_for_load_state()
    assert page.locator("#id_start").input_value() == "2021-01-01"  # a year summary covers the year
    assert page.locator("#id_end").input_value() == "2021-12-15"
    page.fill("#id_narrative", "下半年工作总结。")
    page.check("#id_hand_in")
    page.get_by_role("button", name="生成").click()
    page.wait_for_load_state()
    assert page.url == f"{server}/submissions/"
    assert "报告及其数据已报送" in page.content()
    handed = Submission.objects.get(submitted_on__isnull=False)
    assert handed.department == energy_dept.department and handed.kind == "summary"
    version = handed.versions.get()
    assert version.numbers == {"enterprises": 1, "lines": 1, "capacity": "钢铁 45万吨/年"}
    assert version.document.name.endswith(".docx") and version.content_type.endswith(
        "wordprocessingml.document"
    )
    page.context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_content_security_policy(browser, server, office, energy_dept) -> None:
    """With the CSP on (no inline script or style), the main pages load without one violation in the
    console, htmx included; an inline script injected on purpose is refused and reported, so the test
    sees violations when there are any."""
    from tests.factories import CaseFactory

    line = LineFactory(enterprise__name="策略钢铁")
    CaseFactory(enterprise=line.enterprise)
    page = _login(browser, server, "office")
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    for path in (
        "/",
        "/dashboard/",
        "/reports/charts/",
        "/cases/",
        "/enterprises/",
        f"/enterprises/{line.enterprise_id}/",
        "/enterprises/import/",
        "/plans/",
        "/public/",
        "/public/tipoff/",
    ):
        response = page.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        assert "script-src 'self';" in response.headers["content-security-policy"] + ";", path
        page.wait_for_load_state("networkidle")
    assert violations == []
    # Playwright may report the refused script as an error; what the page did decides.
    with contextlib.suppress(Exception):
        page.add_script_tag(content="document.title = 'injected'")
    page.wait_for_timeout(200)
    assert page.title() != "injected"
    assert any("script-src" in v for v in violations), violations
    page.context.close()
