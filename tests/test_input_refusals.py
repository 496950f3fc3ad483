"""Input the tester found getting through or answered badly: task tables with malformed XML or built to
exhaust memory and time (huge merged ranges and spans, a hundred thousand rows), a time-review reason
with no Chinese label, zipguard's English detail in its message, the raw field key in the
control-character page, zero-width characters taken as text, and an empty 405 page. Files are crafted
here with zipfile from a table python-docx or openpyxl writes; refusals are asserted exactly, with
nothing written and, for the bombs, within a time a loaded machine still meets."""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person
from phaseout.plans import tasktable
from phaseout.plans.models import Plan, Task
from phaseout.web import zipguard
from phaseout.web.templatetags import web_tags
from tests.conftest import client_for
from tests.test_task_table import SEED, _docx_table, _xlsx_table_plain

DAMAGED = "无法读取任务分工表，文件可能已损坏。"
MERGE = "任务分工表含有超出表格范围的合并单元格（超过 511 行或 20 列），已拒绝接收，未作读取。"
TOO_MANY_ROWS = "任务分工表超过 500 行。"
SHEET = "xl/worksheets/sheet1.xml"
SECONDS = 5.0  # generous for a loaded machine; each refusal takes well under a second alone


def _replace(data: bytes, member: str, content: bytes) -> bytes:
    """The same zip with one member's content replaced."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == member else source.read(info))
    return out.getvalue()


HEADER_ROW = (
    '<row r="1">'
    + "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for col, name in zip("ABCDE", ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"], strict=True)
    )
    + "</row>"
)
TASK_ROW = (
    '<row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>开展节能监察</t></is></c>'
    '<c r="C2" t="inlineStr"><is><t>市发展改革局</t></is></c></row>'
)


def _sheet(rows: str, after: str = "", encoding: str = "UTF-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData>{after}</worksheet>"
    ).encode()


def _xlsx(sheet: bytes) -> bytes:
    return _replace(_xlsx_table_plain([["1", "开展节能监察", "市发展改革局", "", "6月底前"]]), SHEET, sheet)


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx(body: str, doctype: str = "") -> bytes:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
        f'<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    )
    return _replace(_docx_table(), "word/document.xml", xml.encode())


def _tc(text: str, props: str = "") -> str:
    return f"<w:tc><w:tcPr>{props}</w:tcPr><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


DOCX_HEADER = "<w:tr>" + "".join(_tc(n) for n in ["序号", "工作任务", "牵头单位"]) + "</w:tr>"
LAUGHS = (
    '<!DOCTYPE w:document [<!ENTITY a "hahahahahahahahahaha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)

GRIDSPAN = '<w:gridSpan w:val="2000000000"/>'
MERGES = '<mergeCells count="1"><mergeCell ref="{}"/></mergeCells>'

UNREADABLE = {
    "xlsx-malformed-xml": _xlsx(_sheet(HEADER_ROW + "<row r='2'><c r='A2'>")),
    "xlsx-gbk-declared-utf8": _xlsx(
        _sheet(HEADER_ROW).replace("工作任务".encode(), "工作任务".encode("gbk"))  # GBK bytes in a UTF-8 part
    ),
    "docx-malformed-xml": _docx("<w:tbl><w:tr><w:tc><w:p>"),
    "docx-billion-laughs": _docx("<w:p><w:r><w:t>&j;</w:t></w:r></w:p>", LAUGHS),
}
BOMBS = {
    "xlsx-merge-A3:T200000": (_xlsx(_sheet(HEADER_ROW + TASK_ROW, MERGES.format("A3:T200000"))), MERGE),
    "xlsx-merge-A3:XFD1048576": (_xlsx(_sheet(HEADER_ROW + TASK_ROW, MERGES.format("A3:XFD1048576"))), MERGE),
    "xlsx-100000-rows": (
        _xlsx(
            _sheet(
                HEADER_ROW
                + "".join(
                    f'<row r="{r}"><c r="B{r}" t="inlineStr"><is><t>任务{r}</t></is></c>'
                    f'<c r="C{r}" t="inlineStr"><is><t>局</t></is></c></row>'
                    for r in range(2, 100_002)
                )
            )
        ),
        TOO_MANY_ROWS,
    ),
    "docx-gridspan-2000000000": (
        _docx(f"<w:tbl>{DOCX_HEADER}<w:tr>{_tc('1')}{_tc('任务', GRIDSPAN)}</w:tr></w:tbl>"),
        MERGE,
    ),
    "docx-gridbefore-2000000000": (
        _docx(
            f"<w:tbl>{DOCX_HEADER}<w:tr><w:trPr>{GRIDSPAN.replace('gridSpan', 'gridBefore')}</w:trPr>"
            f"{_tc('1')}</w:tr></w:tbl>"
        ),
        MERGE,
    ),
}


def _post(person: Person, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client_for(person.user).post(
        "/plans/upload/",
        {"document": SimpleUploadedFile("江门计划.txt", SEED), "table": SimpleUploadedFile(name, data)},
    )


def _nothing_written() -> None:
    assert not Plan.objects.exists() and not Task.objects.exists()
    assert not AuditEvent.objects.filter(action="plan.import").exists()


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_table_with_malformed_xml_is_refused_as_damaged(db: None, case: str) -> None:
    with translation.override("zh-hans"), pytest.raises(tasktable.TableRefused) as refused:
        tasktable.read_table(f"{case}.{case[:4]}", UNREADABLE[case])
    assert str(refused.value) == DAMAGED


@pytest.mark.parametrize("case", ["xlsx-gbk-declared-utf8", "docx-billion-laughs"])
def test_a_table_with_malformed_xml_is_refused_over_http_and_nothing_is_created(
    office: Person, case: str
) -> None:
    response = _post(office, f"分工表.{case[:4]}", UNREADABLE[case])
    assert response.status_code == 400 and DAMAGED in response.content.decode()
    _nothing_written()


@pytest.mark.parametrize("case", BOMBS)
def test_a_table_built_to_exhaust_memory_or_time_is_refused_quickly(db: None, case: str) -> None:
    data, message = BOMBS[case]
    assert len(data) < 3_000_000
    started = time.perf_counter()
    with translation.override("zh-hans"), pytest.raises(tasktable.TableRefused) as refused:
        tasktable.read_table(f"{case}.{case[:4]}", data)
    assert time.perf_counter() - started < SECONDS
    assert str(refused.value) == message


@pytest.mark.parametrize("case", ["xlsx-merge-A3:T200000", "docx-gridspan-2000000000", "xlsx-100000-rows"])
def test_a_table_bomb_is_refused_over_http_and_nothing_is_created(office: Person, case: str) -> None:
    data, message = BOMBS[case]
    started = time.perf_counter()
    response = _post(office, f"分工表.{case[:4]}", data)
    assert time.perf_counter() - started < SECONDS
    assert response.status_code == 400 and message in response.content.decode()
    _nothing_written()


def test_merged_ranges_inside_the_limits_are_still_filled(db: None) -> None:
    data = _xlsx(
        _sheet(
            HEADER_ROW
            + TASK_ROW
            + TASK_ROW.replace("2", "3").replace("开展节能监察", "开展环保执法").replace("市发展改革局", ""),
            MERGES.format("C2:C3"),
        )
    )
    rows = tasktable.read_table("合并.xlsx", data)
    assert [(r.text, r.lead) for r in rows] == [
        ("开展节能监察", ["市发展改革局"]),
        ("开展环保执法", ["市发展改革局"]),
    ]


def test_a_docx_vertical_merge_reads_the_text_above(db: None) -> None:
    restart, cont = '<w:vMerge w:val="restart"/>', "<w:vMerge/>"
    body = (
        f"<w:tbl>{DOCX_HEADER}<w:tr>{_tc('1')}{_tc('开展节能监察')}{_tc('市发展改革局', restart)}</w:tr>"
        f"<w:tr>{_tc('2')}{_tc('开展环保执法')}{_tc('', cont)}</w:tr></w:tbl>"
    )
    rows = tasktable.read_table("合并.docx", _docx(body))
    assert [(r.text, r.lead) for r in rows] == [
        ("开展节能监察", ["市发展改革局"]),
        ("开展环保执法", ["市发展改革局"]),
    ]


# --- time-review reasons ----------------------------------------------------------------------------


def _reasons_set_in_code() -> set[str]:
    """Every string literal the plan code assigns to a time expression's reason (x.reason = ..., or
    reason=... in a call), the branches of a conditional included."""
    found: set[str] = set()
    for path in (Path(tasktable.__file__).parent / name for name in ("parser.py", "tasktable.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "reason" for t in node.targets
            ):
                values.append(node.value)
            if isinstance(node, ast.Call):
                values += [k.value for k in node.keywords if k.arg == "reason"]
            for value in values:
                branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                found |= {
                    c.value for c in branches if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
    return found


def test_every_reason_the_plan_code_sets_has_a_chinese_label() -> None:
    reasons = _reasons_set_in_code()
    assert "the task table gives another date than the plan's text" in reasons and len(reasons) >= 14
    missing = sorted(reasons - set(web_tags.TIME_REASONS))
    assert not missing
    with translation.override("zh-hans"):
        english = [r for r in reasons if not re.search(r"[\u4e00-\u9fff]", web_tags.time_reason(r))]
        assert not english
        assert (
            web_tags.time_reason("the task table gives another date than the plan's text")
            == "任务分工表所列时限与方案正文不一致"
        )


# --- zipguard's message --------------------------------------------------------------------------------


def test_a_damaged_zip_is_refused_without_the_librarys_english(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(_docx_table())
    start = data.find(b"word/document.xml") + len("word/document.xml")  # the local header's name
    data[start + 40] ^= 0xFF  # a byte of the compressed document: its CRC no longer matches
    with translation.override("zh-hans"), pytest.raises(zipguard.ZipRefused) as refused:
        zipguard.inspect(io.BytesIO(bytes(data)))
    assert str(refused.value) == "该文件已损坏，已拒绝接收，未作读取。"
    assert "zip upload refused as damaged" in caplog.text


# --- control and invisible characters -------------------------------------------------------------------

REFUSED = "提交的内容含有控制字符或不可见字符（如 NUL、零宽空格），未保存任何内容。"


def _plan(office: Person) -> Plan:
    return Plan.objects.create(
        year=2026, title="江门市2026年推动落后产能退出工作计划", doc_number="江工信〔2026〕1号",
        territory_id="440700", status=Plan.Status.CONFIRMED, source_name="plan.txt", source_text="",
        created_by=office.user, confirmed_by=office.user,
        confirmed_at=dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    "number", ["\u200b\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "江府函\u200b〔2026〕12号"]
)
def test_a_document_number_of_invisible_characters_is_refused_over_http(office: Person, number: str) -> None:
    plan = _plan(office)
    form = {"body": "江门市人民政府", "doc_number": number, "approved_on": "2026-04-28", "confirm": "on"}
    response = client_for(office.user).post(f"/plans/{plan.pk}/approve/", form)
    page = response.content.decode()
    assert response.status_code == 400 and REFUSED in page
    assert "doc_number" not in page
    plan.refresh_from_db()
    assert (
        plan.status == Plan.Status.CONFIRMED
        and not AuditEvent.objects.filter(action__startswith="plan.approve").exists()
    )


# --- a GET on a page that only takes a post -------------------------------------------------------------

NOT_ALLOWED = "该地址只接受表单提交，不能直接打开；请使用所属页面上的按钮。未作任何更改。"


@pytest.mark.parametrize("url", ["/plans/{pk}/approve/", "/plans/{pk}/confirm/"])
def test_a_get_on_a_post_only_address_gets_the_chinese_page(office: Person, url: str) -> None:
    person = office
    plan = _plan(office)
    response = client_for(person.user).get(url.format(pk=plan.pk))
    page = response.content.decode()
    assert response.status_code == 405 and "POST" in response["Allow"]
    assert NOT_ALLOWED in page and 'class="side"' in page  # the site's page, menu included
    plan.refresh_from_db()
    assert plan.status == Plan.Status.CONFIRMED
