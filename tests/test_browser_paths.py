"""Chromium walks an environment and a safety case through their own legal paths: the environment
department restricts production and then asks the government to close; the safety department suspends,
and the district records the government's closure, after which the licences are revoked. Every decision is
taken by a person, every document is numbered and opens."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from phaseout.cases.models import Case
from phaseout.orgs.models import Person
from tests.conftest import PNG
from tests.factories import CaseFactory
from tests.test_browser import _act, _login, _state, browser, server  # noqa: F401 (fixtures)


def _download(page, selector: str, target: Path) -> Path:
    with page.expect_download() as download_info:
        page.locator(selector).click()
    download_info.value.save_as(target)
    return target


def _docx_text(path: Path) -> str:
    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


def _measures(page, photo: Path, kinds: list[str]) -> None:
    for kind in kinds:
        row = page.locator(f"tr[data-measure={kind}]")
        row.locator("summary").click()
        row.locator("[name=attachments]").set_input_files(str(photo))
        if kind in ("power_cut", "water_cut"):
            row.locator("[name=notice]").fill("书面通知，提前二十四小时送达")
        row.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "已登记" in page.locator("ul.messages").inner_text(), kind


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_environment_case_restricted_then_closed_with_approval(
    browser,  # noqa: F811
    server,  # noqa: F811
    env_dept: Person,
    district: Person,
    tmp_path: Path,
) -> None:
    case = CaseFactory(dimension="environment", rule_id="environment.cement.kiln-pm")
    url = f"{server}/cases/{case.pk}/"
    dept = _login(browser, server, "sthjj")
    dept.goto(f"{server}/cases/proposals/")
    assert case.enterprise.name in dept.locator("#proposals").inner_text()
    dept.goto(url)
    assert _state(dept) == "拟处理（待决定）"
    assert 'data-action="order_rectification"' not in dept.content()  # not the environment's path
    _act(dept, "order_restriction", {"reason": "颗粒物超标排放"}, {})
    assert _state(dept) == "限制生产中"
    decisions = dept.locator("#decisions").inner_text()
    assert "责令限制生产决定书" in decisions and "江环〔" in decisions
    text = _docx_text(
        _download(dept, "tr[data-decision=restriction_decision] a >> text=.docx", tmp_path / "r.docx")
    )
    assert "责令限制生产决定书" in text and "环境保护部令第30号" in text and "行政复议" in text
    pdf = _download(dept, "tr[data-decision=restriction_decision] a >> text=PDF", tmp_path / "r.pdf")
    assert "责令限制生产决定书" in "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages
    )
    _act(dept, "verify_rectified", {"reason": "复测仍超标"}, {"passed": "no"})
    assert _state(dept) == "逾期或整改后仍不达标"
    _act(dept, "propose_closure", {"reason": "限产期满仍超标排放，情节严重"})
    assert _state(dept) == "已提请人民政府关闭"

    # The district records its government's approval; the exit runs from service.
    town = _login(browser, server, "pengjiang")
    town.goto(url)
    _act(
        town,
        "approve_closure",
        {"approval_body": "江门市蓬江区人民政府", "approval_number": "蓬府函〔2026〕3号"},
        {"plan": "close_enterprise"},
        confirm=True,
    )
    assert _state(town) == "已责令关停退出"
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    _measures(
        town, photo, ["close_enterprise", "power_cut", "water_cut", "public_pledge", "website_announcement"]
    )
    _act(town, "confirm_exit", {"reason": "已关闭"})
    assert _state(town) == "已退出"
    case.refresh_from_db()
    assert [d.kind for d in case.decisions.order_by("id")] == [
        "restriction_decision",
        "closure_proposal",
        "closure_decision",
        "announcement",  # published by the district: numbered by its government
    ]
    announcement = case.decisions.get(kind="announcement")
    assert announcement.number == f"蓬江区公告〔{announcement.issued_on.year}〕1号"
    assert case.decisions.get(kind="closure_decision").number == "蓬府函〔2026〕3号"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_safety_case_suspended_then_closed_and_licences_revoked(
    browser,  # noqa: F811
    server,  # noqa: F811
    safety_dept: Person,
    office: Person,
    district: Person,
    tmp_path: Path,
) -> None:
    case = CaseFactory(dimension="safety", rule_id="safety.general.conditions")
    url = f"{server}/cases/{case.pk}/"
    dept = _login(browser, server, "yjglj")
    dept.goto(url)
    assert 'data-action="grant_extension"' not in dept.content()
    _act(dept, "order_suspension", {"reason": "不具备安全生产条件"})
    assert _state(dept) == "停产整治（整顿）中"
    assert "至决定解除之日止" in dept.locator("#deadline").inner_text()
    text = _docx_text(
        _download(dept, "tr[data-decision=safety_suspension_decision] a >> text=.docx", tmp_path / "s.docx")
    )
    assert "责令停产停业整顿决定书" in text and "安全生产法" in text and "江应急〔" in text
    _act(dept, "verify_rectified", {"reason": "整顿后仍不具备安全生产条件"}, {"passed": "no"})
    _act(dept, "propose_closure", {"reason": "经停产停业整顿仍不具备安全生产条件"})
    assert _state(dept) == "已提请人民政府关闭"

    lead = _login(browser, server, "office")
    lead.goto(url)
    # Without the confirmation box the page does not send the decision (the server refuses it too:
    # tests/test_decisions.py); the box says what will follow.
    _act(lead, "approve_closure", {"approval_body": "江门市人民政府", "approval_number": "江府函〔2026〕9号"})
    box = lead.locator("form[data-action=approve_closure] [name=confirm]")
    assert box.evaluate("el => !el.checkValidity()")
    assert "退出措施自送达之日起计算" in lead.locator("form[data-action=approve_closure]").inner_text()
    assert _state(lead) == "已提请人民政府关闭"
    _act(
        lead,
        "approve_closure",
        {"approval_body": "江门市人民政府", "approval_number": "江府函〔2026〕9号"},
        {"plan": "close_enterprise"},
        confirm=True,
    )
    assert _state(lead) == "已责令关停退出"
    revocation = lead.locator("tr[data-measure=licence_revocation]").inner_text()
    assert "发证部门" in revocation and "第一百一十三条" in revocation
    power = lead.locator("tr[data-measure=power_cut]").inner_text()
    assert "第七十条" in power  # a power cut under the safety law's own article
    case.refresh_from_db()
    assert case.state == "exit_ordered" and Case.objects.get(pk=case.pk).decisions.count() == 3


OVERFLOW = "document.scrollingElement.scrollWidth <= window.innerWidth"
WIDER_THAN_SCREEN = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 8)"""
DIMENSIONS = ["能耗", "环保", "质量", "安全", "技术"]


def _open_states(page) -> list[bool]:
    return page.eval_on_selector_all("details.path", "ds => ds.map(d => d.open)")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_paths_read_on_a_phone(browser, server, energy_dept: Person) -> None:  # noqa: F811
    """At 375 px the legal paths fit the screen: one folding section a dimension, the first open; each
    step one block with every cell under its heading; a jump or a tap opens a section; nothing scrolls
    sideways, whichever sections are open."""
    from phaseout.rules import case_flow

    page = _login(browser, server, "fgj")
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{server}/cases/paths/")
    assert page.evaluate(OVERFLOW), page.evaluate(WIDER_THAN_SCREEN)
    assert page.locator("details.path > summary h2").all_inner_texts() == DIMENSIONS
    assert _open_states(page) == [True, False, False, False, False]
    # The sections hold the one path table: as many steps as it has, the count in the heading.
    steps = len(case_flow.steps_for(case_flow.Dimension.SAFETY))
    assert page.locator("#path-safety tr[data-step]").count() == steps
    assert page.locator("#path-safety summary small").inner_text() == f"共{steps}步"
    assert page.locator("#path-safety tr[data-step]").first.is_hidden()  # folded
    # The open section reads as blocks: no heading row, each cell labelled.
    assert page.locator("#path-energy thead").is_hidden()
    assert page.locator("#path-energy tr[data-step]").first.is_visible()
    # A tap on a heading opens its section; the page still does not scroll sideways.
    page.locator("#path-safety summary").click()
    assert _open_states(page) == [True, False, False, True, False]
    cell = page.locator("#path-safety tr[data-step] td").nth(3)
    assert cell.is_visible()
    label = cell.get_attribute("data-label")
    assert label == "作出主体"
    before = page.evaluate("td => getComputedStyle(td, '::before').content", cell.element_handle())
    assert before == f'"{label}"'
    assert page.locator("#path-safety thead").is_hidden()
    assert page.evaluate(OVERFLOW), page.evaluate(WIDER_THAN_SCREEN)
    # A jump opens the section it names and brings it to the top.
    jumps = page.locator("nav.jump a")
    assert jumps.all_inner_texts() == DIMENSIONS
    jumps.nth(4).click()
    assert page.url.endswith("#path-technology")
    page.locator("#path-technology[open]").wait_for()  # a selector wait: no script run in the page (CSP)
    assert page.locator("#path-technology tr[data-step]").first.is_visible()
    top = page.evaluate("document.querySelector('#path-technology').getBoundingClientRect().top")
    assert -1 <= top < 100  # scrolled to it (sub-pixel rounding aside)
    # Every section open at once: still no sideways scroll.
    for code in page.eval_on_selector_all("details.path:not([open])", "ds => ds.map(d => d.id)"):
        page.locator(f"#{code} > summary").click()
    assert _open_states(page) == [True] * 5
    assert page.evaluate(OVERFLOW), page.evaluate(WIDER_THAN_SCREEN)
    # A heading taps shut again.
    page.locator("#path-energy summary").click()
    assert _open_states(page)[0] is False


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_paths_read_at_a_desk(browser, server, energy_dept: Person) -> None:  # noqa: F811
    """At a desk the same page reads as tables: headings shown, every column inside its section, the
    text at a readable size, nothing hidden or cut once a section is open."""
    page = _login(browser, server, "fgj")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/cases/paths/")
    assert _open_states(page) == [True, False, False, False, False]
    for code in page.eval_on_selector_all("details.path:not([open])", "ds => ds.map(d => d.id)"):
        page.locator(f"#{code} > summary").click()
    assert _open_states(page) == [True] * 5
    assert page.evaluate(OVERFLOW), page.evaluate(WIDER_THAN_SCREEN)
    for code in ("energy", "environment", "quality", "safety", "technology"):
        section = page.locator(f"#path-{code}")
        assert section.locator("thead").is_visible(), code
        assert section.locator("th").all_inner_texts() == [
            "步骤", "起始", "办理后状态", "作出主体", "依据", "期限", "须经批准",
        ], code  # fmt: skip
        # The table fits its section: no column cut off or scrolled away.
        fits = section.evaluate(
            "d => d.querySelector('table').getBoundingClientRect().right"
            " <= d.getBoundingClientRect().right + 0.5"
        )
        assert fits, code
        sizes = section.evaluate(
            "d => [...d.querySelectorAll('td')].map(td => parseFloat(getComputedStyle(td).fontSize))"
        )
        assert min(sizes) >= 13, (code, min(sizes))
        # No cell squeezed to a character a line: every column at least three characters wide.
        widths = section.evaluate(
            "d => [...d.querySelectorAll('th')].map(th => th.getBoundingClientRect().width)"
        )
        assert min(widths) >= 3 * 13, (code, widths)
