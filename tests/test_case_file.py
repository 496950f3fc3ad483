"""The case file (卷宗) as one PDF reads like a real one: a cover, the contents (卷内目录: 序号, 文号, 责任者,
题名, 日期, 页号), the history, then every document and every piece of evidence in the order of the record,
each original PDF's pages right after its heading, every page numbered at its foot. The contents' page
numbers are checked against the pages where each item's text actually starts."""

from __future__ import annotations

import datetime as dt
import io
import re

from pypdf import PdfReader, PdfWriter

from phaseout.cases import actions
from phaseout.cases.models import Case
from phaseout.orgs.models import Person, Role
from tests.conftest import PNG, client_for, upload
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)
ROW = re.compile(r"(?m)^(\d{1,3})\n((?:.*\n)*?)(\d{8})\n(\d{1,4})$")
FOOT = re.compile(r"\n?— (\d+) —\n?$")


def _scan(*texts: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    for text in texts:
        canvas.drawString(100, 700, text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _items(case: Case) -> list[tuple[str, str]]:
    """What the record says the file holds, in order: (the text its first page starts with, its title)."""
    from phaseout.cases.documents import case_evidence

    items = [("案件经过", "案件经过")]
    items += [(d.number, d.content["title"]) for d in case.decisions.order_by("issued_on", "id")]
    items += [(f"证据：{e.original_name}", f"证据：{e.original_name}") for _, e in case_evidence(case)]
    return items


def _contents(pages: list[str]) -> list[tuple[int, str, str, int]]:
    """The rows of the contents (序号, the cells between, 日期, 页号), over as many pages as they take."""
    text = ""
    for page in pages[1:]:
        if page.startswith("案件经过"):
            break
        body = FOOT.sub("", page)
        text += body.split("页号\n", 1)[1] + "\n"  # the heading row repeats on every page of the table
    return [(int(n), cells, day, int(page)) for n, cells, day, page in ROW.findall(text)]


def mismatches(pdf: bytes, items: list[tuple[str, str]]) -> list[str]:
    """Every way the contents fail to give the page where each item starts; [] when they all do."""
    pages = _pages(pdf)
    rows = _contents(pages)
    wrong = []
    if len(rows) != len(items):
        wrong.append(f"{len(rows)} rows for {len(items)} items")
    for number, (row, (start, title)) in enumerate(zip(rows, items, strict=False), start=1):
        n, cells, _day, page = row
        if n != number or title.replace("\n", "") not in cells.replace("\n", ""):
            wrong.append(f"row {n} is not {title!r}: {cells!r}")
        if not 1 <= page <= len(pages) or not pages[page - 1].startswith(start):
            wrong.append(f"{title} is listed on page {page}")
    starts = [n for n, text in enumerate(pages, start=1) for start, _ in items if text.startswith(start)]
    if starts != sorted(row[3] for row in rows):
        wrong.append(f"items start on pages {starts}, the contents say {[row[3] for row in rows]}")
    for n, text in enumerate(pages, start=1):
        foot = FOOT.search(text)
        if foot is None or int(foot[1]) != n:
            wrong.append(f"page {n} is numbered {foot[1] if foot else 'nothing'}")
    return wrong


def _case_with_file(energy_dept: Person, evidence: int = 0) -> Case:
    case = CaseFactory(
        finding__inspection__inspected_on=dt.date(2026, 1, 5), state="rectifying",
        order_date=dt.date(2026, 2, 2), deadline=dt.date(2026, 8, 3), rectification_months=6,
    )  # fmt: skip
    firm = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=case.enterprise)
    application = actions.request_extension(
        case=case, months=2, reason="余热发电改造", by=firm.user, today=TODAY
    )
    actions.decide_extension(
        request=application, grant=True, note="同意", by=energy_dept.user, today=TODAY,
        issued_on=dt.date(2026, 2, 26), served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    files = [
        upload("整改报告.pdf", _scan("SCAN A ONE", "SCAN A TWO"), "application/pdf"),
        upload("现场.png", PNG, "image/png"),
        upload("监测报告.pdf", _scan("SCAN B ONE", "SCAN B TWO", "SCAN B THREE"), "application/pdf"),
    ]
    files += [upload(f"照片{n:02d}.png", PNG, "image/png") for n in range(evidence)]
    actions.add_case_evidence(case=case, files=files, by=energy_dept.user)
    case.refresh_from_db()
    return case


def test_the_contents_give_the_page_where_each_item_starts(energy_dept: Person, office: Person) -> None:
    case = _case_with_file(energy_dept)
    response = client_for(office.user).get(f"/cases/{case.pk}/file.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert mismatches(pdf, _items(case)) == []
    pages = _pages(pdf)
    assert pages[0].startswith("推动落后产能退出案件卷宗") and pages[1].startswith("卷内目录")
    assert pages[1].splitlines()[1:7] == ["序号", "文号", "责任者", "题名", "日期", "页号"]
    rows = _contents(pages)
    # 文号, 责任者 and 日期 of the extension's reply, as it was issued.
    reply = case.decisions.get()
    assert rows[1][1].replace("\n", "") == f"{reply.number}江门市发展和改革局关于延期整改申请的批复"
    assert rows[1][2] == "20260226"
    assert rows[0][2] == "20260105"  # the history: from the day the case was filed (its inspection)
    assert [row[3] for row in rows] == [3, 4, 5, 8, 9]
    # Each original PDF follows its own heading, page by page, in the order of the record.
    assert pages[5].startswith("SCAN A ONE") and pages[6].startswith("SCAN A TWO")
    assert pages[4].startswith("证据：整改报告.pdf") and "（原件PDF共2页，附后：第6页至第7页）" in pages[4]
    assert pages[8].startswith("证据：监测报告.pdf") and "第10页至第12页" in pages[8]
    assert [pages[n][:12] for n in (9, 10, 11)] == ["SCAN B ONE\n—", "SCAN B TWO\n—", "SCAN B THREE"]
    assert pages[7].startswith("证据：现场.png") and len(pages) == 12


def test_contents_over_two_pages_still_give_the_right_pages(energy_dept: Person, office: Person) -> None:
    case = _case_with_file(energy_dept, evidence=30)
    pdf = client_for(office.user).get(f"/cases/{case.pk}/file.pdf").content
    pages = _pages(pdf)
    assert not pages[2].startswith("案件经过")  # the contents take more than one page
    assert mismatches(pdf, _items(case)) == []
    assert len(_contents(pages)) == 1 + 1 + 33


def test_the_check_fails_when_an_item_is_not_numbered(energy_dept: Person, office: Person) -> None:
    """The check above can fail: an item added to the record after the file was built, or a page slipped
    into the file, leaves the contents wrong — and it says so."""
    case = _case_with_file(energy_dept)
    pdf = client_for(office.user).get(f"/cases/{case.pk}/file.pdf").content
    actions.add_case_evidence(case=case, files=[upload("补充.png", PNG, "image/png")], by=energy_dept.user)
    assert mismatches(pdf, _items(case)) == ["5 rows for 6 items"]
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf)))
    writer.insert_blank_page(index=3)  # a page inside the history, the numbering not updated
    doctored = io.BytesIO()
    writer.write(doctored)
    case_before = _items(case)[:-1]
    wrong = mismatches(doctored.getvalue(), case_before)
    assert any("is listed on page 4" in w for w in wrong), wrong
    assert any(w.startswith("page 4 is numbered nothing") for w in wrong), wrong
    # The file built now lists the new piece of evidence on the page where it starts.
    fresh = client_for(office.user).get(f"/cases/{case.pk}/file.pdf").content
    assert mismatches(fresh, _items(case)) == []
    assert _contents(_pages(fresh))[-1][3] == 13
