"""The task assignment table (任务分工表) imported with a plan: rows of a .docx table or an .xlsx sheet become
tasks (header found by its column names, merged cells filled, 2021年6月底前 / 长期坚持 / 每季度末), merged
with the body's tasks, reviewed and confirmed like them; bad tables refused with their exact message and
nothing created. Tables are built here with python-docx and openpyxl."""

from __future__ import annotations

import datetime as dt
import io

import docx
import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import override_settings
from django.utils import translation

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person
from phaseout.plans import actions, tasktable
from phaseout.plans.models import Plan, Submission, Task, TaskUnit
from phaseout.plans.parser import parse
from tests.conftest import SEEDS, client_for
from tests.ids import ascii_id

D = dt.date
SEED = (SEEDS / "jiangmen-2021-plan.txt").read_bytes()
HEADER = ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"]
ROWS = [
    ["一、全面部署", "一、全面部署", "一、全面部署", "一、全面部署", "一、全面部署"],
    ["1", "制订我市2021年推动落后产能退出工作计划报市政府审定实施", "市工业和信息化局",
     "各市(区)人民政府、市发展改革局、市生态环境局", "2021年4月底前"],
    ["2", "制定本市(区)工作计划，报送市工业和信息化局备案", "各市(区)人民政府", "", "2021年6月15日前"],
    ["3", "建立落后产能退出企业信用约束机制", "市发展改革局", "市市场监管局", "长期坚持"],
    ["4", "报送落后产能退出进展情况", "各市(区)人民政府", "市市场监管局", "每季度末"],
]  # fmt: skip


def _docx_table(header: list[str] = HEADER, rows: list[list[str]] = ROWS, *, merge: bool = True) -> bytes:
    document = docx.Document()
    document.add_paragraph("附件")
    document.add_paragraph("江门市2021年推动落后产能退出工作要点任务分工表")
    table = document.add_table(rows=1 + len(rows), cols=len(header))
    for c, name in enumerate(header):
        table.cell(0, c).text = name
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            if not (merge and r == 1 and c > 0) and not (merge and r == 5 and c == 3):
                table.cell(r, c).text = value
    if merge:
        table.cell(1, 0).merge(table.cell(1, len(header) - 1))  # the category row across the table
        table.cell(4, 3).merge(table.cell(5, 3))  # one supporting unit written once for two rows
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx_table(rows: list[list[str]] = ROWS) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["江门市2021年推动落后产能退出工作要点任务分工表"])
    sheet.merge_cells("A1:E1")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("A3:E3")  # the category row
    sheet["D7"] = None
    sheet.merge_cells("D6:D7")  # 市市场监管局 once for rows 3 and 4
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _expected_rows(rows: list[tasktable.TableRow]) -> list[tuple[str, str, list[str], list[str], str]]:
    return [(r.number, r.text[:8], r.lead, r.supporting, r.deadline_text) for r in rows]


SUPPORT_1 = ["各市(区)人民政府", "市发展改革局", "市生态环境局"]
EXPECTED = [
    ("1", "制订我市2021", ["市工业和信息化局"], SUPPORT_1, "2021年4月底前"),
    ("2", "制定本市(区)工", ["各市(区)人民政府"], [], "2021年6月15日前"),
    ("3", "建立落后产能退出", ["市发展改革局"], ["市市场监管局"], "长期坚持"),
    ("4", "报送落后产能退出", ["各市(区)人民政府"], ["市市场监管局"], "每季度末"),
]  # fmt: skip


def test_a_docx_table_with_merged_cells_is_read_by_its_header() -> None:
    rows = tasktable.read_table("分工表.docx", _docx_table())
    assert _expected_rows(rows) == EXPECTED


def test_an_xlsx_sheet_with_a_title_row_and_merged_cells_is_read_by_its_header() -> None:
    rows = tasktable.read_table("分工表.xlsx", _xlsx_table())
    assert _expected_rows(rows) == EXPECTED
    assert [r.row for r in rows] == [4, 5, 6, 7]


def test_table_rows_merge_with_the_body_tasks() -> None:
    plan = parse(SEED.decode())
    body = len(plan.tasks)
    tasktable.merge(plan, tasktable.read_table("分工表.docx", _docx_table()))
    # Rows 1 and 2 are tasks of the body: one task each, the table's units, the body's receivers kept.
    first = next(t for t in plan.tasks if "制订我市" in t.text)
    assert first.source == "body+table" and first.deadline == D(2021, 4, 30)
    assert {(u.name, u.role) for u in first.units} == {
        ("市工业和信息化局", "lead"),
        ("各市(区)人民政府", "supporting"),
        ("市发展改革局", "supporting"),
        ("市生态环境局", "supporting"),
        ("市政府", "receiver"),
    }
    second = next(t for t in plan.tasks if "制定本市(区)工作计划" in t.text)
    assert second.source == "body+table" and second.deadline == D(2021, 5, 31)  # the body's date stands
    flagged = [t for t in second.times if t.needs_review]
    assert [(t.text, t.date, t.reason) for t in flagged] == [
        ("2021年6月15日前", D(2021, 6, 15), "the task table gives another date than the plan's text")
    ]
    # Rows 3 and 4 are new tasks: no date (长期坚持), and a recurring one without a date (每季度末).
    added = [t for t in plan.tasks if t.source == "table"]
    assert len(plan.tasks) == body + 2
    assert [(t.number, t.deadline, [(u.name, u.role) for u in t.units]) for t in added] == [
        ("表3", None, [("市发展改革局", "lead"), ("市市场监管局", "supporting")]),
        ("表4", None, [("各市(区)人民政府", "lead"), ("市市场监管局", "supporting")]),
    ]
    assert [t.kind for t in added[1].times] == ["recurring"]


def test_a_table_deadline_fills_a_body_task_without_one() -> None:
    plan = parse(SEED.decode())
    rows = [
        ["1", "及时了解淘汰落后产能各项任务进展情况", "市工业和信息化局", "市发展改革局", "2021年6月底前"],
    ]
    tasktable.merge(plan, tasktable.read_table("t.xlsx", _xlsx_table_plain(rows)))
    task = next(t for t in plan.tasks if "及时了解淘汰落后产能各项任务进展情况" in t.text)
    assert (task.source, task.deadline) == ("body+table", D(2021, 6, 30))
    assert [(u.name, u.role) for u in task.units] == [
        ("市工业和信息化局", "lead"),
        ("市发展改革局", "supporting"),
    ]


def _xlsx_table_plain(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _plain_docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


BAD_TABLES = [
    (
        "无表头.docx",
        _plain_docx("江门市2021年推动落后产能退出工作要点任务分工表（略）"),
        "在 无表头.docx 中未找到任务分工表：表格须有表头行，含“任务”（或“工作任务”“重点任务”）、“牵头单位”"
        "（或“责任单位”）列，可另含“配合单位”“完成时限”列。",
    ),
    (
        "分工表.pdf",
        b"%PDF-1.4\n" + b"0" * 400,
        "任务分工表须为 Word 文件（.docx）或 Excel 工作簿（.xlsx）。",
    ),
    ("空.xlsx", b"PK\x03\x04", "任务分工表为空或过小，不含表格。"),
    (
        "缺牵头.xlsx",
        _xlsx_table_plain(
            [["1", "开展节能监察", "市发展改革局", "", "6月底前"], ["2", "开展环保执法", "", "", ""]]
        ),
        "任务分工表第 3 行的任务没有牵头单位：开展环保执法",
    ),
    (
        "只有表头.xlsx",
        _xlsx_table_plain([]),
        "任务分工表有表头，但表头下没有任务。",
    ),
    (
        "坏的.docx",
        b"PK\x03\x04" + b"\x00" * 600,
        "无法读取任务分工表，文件可能已损坏。",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_TABLES, ids=[ascii_id(b[0]) for b in BAD_TABLES])
def test_bad_tables_are_refused_over_http_with_their_message_and_nothing_is_created(
    office: Person, name: str, data: bytes, message: str
) -> None:
    client = client_for(office.user)
    response = client.post(
        "/plans/upload/",
        {"document": SimpleUploadedFile("江门计划.txt", SEED), "table": SimpleUploadedFile(name, data)},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Plan.objects.exists() and not Task.objects.exists()
    assert not AuditEvent.objects.filter(action="plan.import").exists()


def test_an_oversized_table_is_refused_before_it_is_read(office: Person) -> None:
    client = client_for(office.user)
    with override_settings(PLAN_DOCUMENT_MAX_BYTES=len(SEED) + 10):
        response = client.post(
            "/plans/upload/",
            {
                "document": SimpleUploadedFile("江门计划.txt", SEED),
                "table": SimpleUploadedFile("大.xlsx", _xlsx_table() + b"\x00" * len(SEED)),
            },
        )
        with translation.override("zh-hans"):
            limit = filesizeformat(len(SEED) + 10)
    assert response.status_code == 400
    assert f"任务分工表大于 {limit}。" in response.content.decode()
    assert not Plan.objects.exists()
    with override_settings(PLAN_DOCUMENT_MAX_BYTES=300), pytest.raises(tasktable.TableRefused) as caught:
        tasktable.read_table("大.xlsx", _xlsx_table())
    assert str(caught.value) == "任务分工表大于 300\xa0字节。"


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_the_office_imports_a_plan_with_its_table_reviews_and_confirms_it(office: Person, kind: str) -> None:
    client = client_for(office.user)
    data = _docx_table() if kind == "docx" else _xlsx_table()
    response = client.post(
        "/plans/upload/",
        {
            "document": SimpleUploadedFile("江门计划.txt", SEED),
            "table": SimpleUploadedFile(f"分工表.{kind}", data),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get()
    assert list(plan.tasks.filter(number__startswith="表").values_list("number", flat=True)) == ["表3", "表4"]
    event = AuditEvent.objects.get(action="plan.import", object_id=str(plan.pk))
    assert event.data["table"] == f"分工表.{kind}" and event.data["table_tasks"] == 4
    assert event.actor == office.user
    page = client.get(response["Location"]).content.decode()
    assert "建立落后产能退出企业信用约束机制" in page and "2021年6月15日前" in page
    first = plan.tasks.get(text__contains="制订我市")
    assert set(first.units.values_list("name", "role", "source", "match")) == {
        ("市工业和信息化局", "lead", "table", TaskUnit.Match.DEPARTMENT),
        ("各市(区)人民政府", "supporting", "table", TaskUnit.Match.ALL_DISTRICTS),
        ("市发展改革局", "supporting", "table", TaskUnit.Match.DEPARTMENT),
        ("市生态环境局", "supporting", "table", TaskUnit.Match.DEPARTMENT),
        ("市政府", "receiver", "sentence", TaskUnit.Match.GOVERNMENT),
    }
    # The same review applies: the table's other date must be reviewed before the plan is confirmed.
    flag = plan.times.get(text="2021年6月15日前", needs_review=True)
    assert flag.needs_review and flag.task is not None
    with pytest.raises(actions.PlanError):
        actions.confirm_plan(plan=plan, by=office.user)
    for expression in plan.times.filter(needs_review=True):
        client.post(f"/plans/{plan.pk}/times/{expression.pk}/", {f"t{expression.pk}-date": ""})
    response = client.post(f"/plans/{plan.pk}/confirm/", {"confirm": "on"})
    plan.refresh_from_db()
    assert plan.status == Plan.Status.CONFIRMED, response
    assert AuditEvent.objects.filter(action="plan.confirm", object_id=str(plan.pk)).count() == 1
    # The merged task's lead unit owes its report, as the body alone would have it.
    assert Submission.objects.filter(task=first, department__name__contains="工业和信息化局").exists()


def test_a_department_cannot_import_a_plan_with_a_table(energy_dept: Person) -> None:
    response = client_for(energy_dept.user).post(
        "/plans/upload/",
        {
            "document": SimpleUploadedFile("江门计划.txt", SEED),
            "table": SimpleUploadedFile("t.docx", _docx_table()),
        },
    )
    assert response.status_code == 403
    assert not Plan.objects.exists()
