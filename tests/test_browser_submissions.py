"""In Chromium: a district hands in its sub-plan, the office reads it in the page and returns it with
comments, the district sees the comments and hands it in again, and the office reads the PDF in the page
and accepts it. (The pages run on today's date: only what does not depend on it is asserted.)"""

from __future__ import annotations

import io

import docx
import pytest

from phaseout.orgs.models import Person
from phaseout.plans import actions
from phaseout.plans.models import Submission
from tests.conftest import REPORT_PDF, SEEDS, approve_plan
from tests.test_browser import _login, browser, server  # noqa: F401 (fixtures)

COMMENTS = "请补充关停设备清单及完成时间表。"


def _docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("蓬江区推动落后产能退出工作方案")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.browser
def test_a_returned_sub_plan_is_handed_in_again_and_accepted(
    server: str,  # noqa: F811
    browser,  # noqa: F811
    office: Person,
    district: Person,
) -> None:
    plan = actions.import_plan(
        name="jiangmen-2021-plan.txt", data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(), by=office.user
    )
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    approve_plan(actions.confirm_plan(plan=plan, by=office.user), office)
    submission = plan.submissions.get(kind="sub_plan", territory="440703")
    blocked: list[str] = []

    unit = _login(browser, server, "pengjiang")
    unit.goto(f"{server}/submissions/")
    unit.locator("tr", has_text="工作计划备案").get_by_role("link", name="报送", exact=True).click()
    unit.wait_for_load_state()
    unit.set_input_files(
        "#id_document",
        files=[{"name": "蓬江区分方案.docx", "mimeType": "application/msword", "buffer": _docx()}],
    )
    unit.get_by_role("button", name="报送").click()
    unit.wait_for_load_state()
    assert unit.url == f"{server}/submissions/" and "已报送。" in unit.content()

    reader = _login(browser, server, "office")
    reader.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    reader.goto(f"{server}/submissions/{submission.pk}/")
    assert "蓬江区推动落后产能退出工作方案" in reader.locator(".document-preview").inner_text()
    reader.fill("#id_comments", COMMENTS)
    reader.locator("#return").click()
    reader.wait_for_load_state()
    assert "已连同退回意见退回报送单位。" in reader.content()

    unit.reload()
    row = unit.locator("tr", has_text="工作计划备案")
    assert COMMENTS in row.inner_text()
    row.get_by_role("link", name="重新报送").click()
    unit.wait_for_load_state()
    assert COMMENTS in unit.locator("#returned").inner_text()
    unit.set_input_files(
        "#id_document",
        files=[{"name": "蓬江区分方案.pdf", "mimeType": "application/pdf", "buffer": REPORT_PDF}],
    )
    unit.get_by_role("button", name="报送").click()
    unit.wait_for_load_state()
    assert "已报送。" in unit.content()

    reader.goto(f"{server}/submissions/{submission.pk}/")
    assert (
        reader.locator("object.pdf-preview").get_attribute("data")
        == f"/submissions/{submission.pk}/v2/view.pdf"
    )
    reader.locator("form.accept [name=confirm]").check()  # it says what accepting sets going
    reader.locator("#accept").click()
    reader.wait_for_load_state()
    assert "报送材料已审核通过。" in reader.content()
    versions = reader.locator("#versions tr.version")
    assert versions.count() == 2
    assert "审核通过" in versions.nth(0).inner_text() and COMMENTS in versions.nth(1).inner_text()
    assert reader.locator("#review").count() == 0
    assert blocked == []
    assert Submission.objects.get(pk=submission.pk).state == "accepted"
    unit.context.close()
    reader.context.close()
