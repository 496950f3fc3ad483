"""Stage reports as official documents (.docx, GB/T 9704 layout) and their tables as .xlsx.

The layout (GB/T 9704-2012) is phaseout/officialdoc.py's, shared with the decisions of the cases.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from rustpy_xlsxwriter import FastExcel

from phaseout import exports
from phaseout.officialdoc import BODY, HEADING, TITLE, new_document
from phaseout.officialdoc import paragraph as _paragraph
from phaseout.officialdoc import run_font as _font
from phaseout.reports.ledger import Row, Selection, aggregate, totals

COLUMNS = [
    "序号",
    "企业名称",
    "统一社会信用代码",
    "所在地",
    "行业",
    "设备（生产线）",
    "产能",
    "单位",
    "退出方式",
    "退出日期",
]


@dataclass
class StageReport:
    doc_number: str
    title: str
    recipient: str
    narrative: str
    issuer: str
    issued_on: dt.date
    rows: list[Row]
    # The year's cases by county (the year summary's table), for the office and year summaries.
    cases: list[dict[str, Any]] | None = None
    cases_year: int = 0


CASE_COLUMNS = ["县（市、区）", "立案", "整改中", "责令退出", "已退出", "整改合格结案"]
CASE_FIGURES = ("found", "rectifying", "ordered", "exited", "closed")


def case_heading(report: StageReport) -> str:
    return f"三、{report.cases_year}年案件办理情况（按县（市、区））"


def case_table(report: StageReport) -> list[list[str]]:
    """The cases table (header, one row per county, the total), as text."""
    assert report.cases is not None
    body = [[str(c["territory__name"]), *(str(c[f]) for f in CASE_FIGURES)] for c in report.cases]
    total = ["合计", *(str(sum(c[f] for c in report.cases)) for f in CASE_FIGURES)]
    return [CASE_COLUMNS, *body, total]


def _totals(rows: Iterable[Row]) -> list[dict[str, object]]:
    return aggregate(rows, "industry")


def docx_bytes(report: StageReport) -> bytes:
    document = new_document()
    if report.doc_number:
        _paragraph(document, report.doc_number, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, report.title, font=TITLE, size=22, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, "")
    if report.recipient:
        _paragraph(document, f"{report.recipient}：")
    for text in [t.strip() for t in report.narrative.splitlines() if t.strip()]:
        _paragraph(document, text, indent=True)
    totals = _totals(report.rows)
    enterprises = len({r.enterprise_id for r in report.rows})
    _paragraph(document, "一、落后产能退出情况", font=HEADING, indent=True)
    summary = "；".join(
        f"{t['label']}{t['capacity']}{t['unit_label']}（{t['lines']}条生产线/台设备）" for t in totals
    )
    _paragraph(
        document,
        f"共关停退出企业{enterprises}家、生产线（设备）{len(report.rows)}条（台）"
        + (f"，其中{summary}" if summary else "")
        + "。",
        indent=True,
    )
    table = document.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, COLUMNS, strict=True):
        _font(cell.paragraphs[0].add_run(text), HEADING, 10.5)
    for index, row in enumerate(report.rows, start=1):
        cells = table.add_row().cells
        values = _values(index, row)
        for cell, value in zip(cells, values, strict=True):
            _font(cell.paragraphs[0].add_run(str(value)), BODY, 10.5)
    _paragraph(document, "")
    _paragraph(document, "二、分行业退出产能（按计量单位分别合计）", font=HEADING, indent=True)
    sums = document.add_table(rows=1, cols=4)
    sums.style = "Table Grid"
    for cell, text in zip(sums.rows[0].cells, ["行业", "生产线（设备）", "产能", "单位"], strict=True):
        _font(cell.paragraphs[0].add_run(text), HEADING, 10.5)
    for total in totals:
        cells = sums.add_row().cells
        figures = [total["label"], total["lines"], total["capacity"], total["unit_label"]]
        for cell, value in zip(cells, figures, strict=True):
            _font(cell.paragraphs[0].add_run(str(value)), BODY, 10.5)
    if report.cases is not None:
        _paragraph(document, "")
        _paragraph(document, case_heading(report), font=HEADING, indent=True)
        grid = case_table(report)
        cases = document.add_table(rows=0, cols=len(CASE_COLUMNS))
        cases.style = "Table Grid"
        for number, line in enumerate(grid):
            for cell, text in zip(cases.add_row().cells, line, strict=True):
                _font(cell.paragraphs[0].add_run(text), HEADING if number == 0 else BODY, 10.5)
    _paragraph(document, "")
    _paragraph(document, report.issuer, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(
        document,
        f"{report.issued_on.year}年{report.issued_on.month}月{report.issued_on.day}日",
        align=WD_ALIGN_PARAGRAPH.RIGHT,
    )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _values(index: int, row: Row) -> list[object]:
    return [
        index,
        row.enterprise,
        row.uscc,
        row.territory,
        row.industry,
        row.line,
        f"{row.capacity.normalize():f}",
        row.unit_label,
        row.method_label,
        row.exited_on.isoformat() if row.exited_on else "",
    ]


LEDGER_COLUMNS = [*COLUMNS, "退出措施", "验收日期", "公告日期", "案件编号"]
LEDGER_WIDTHS: list[float] = [7, 32, 22, 10, 8, 18, 10, 10, 30, 12, 60, 12, 12, 14]
TOTALS_WIDTHS: list[float] = [12, 8, 14, 12, 10]


def xlsx_bytes(rows: list[Row], title: str = "退出台账") -> bytes:
    """The ledger rows (and the totals per industry and unit) as .xlsx; formula injection neutralised.

    Written by rust_xlsxwriter (through rustpy-xlsxwriter): 100,000 rows take two to three seconds,
    openpyxl eight to twelve times as long (benchmarks/bench_ledger_export.py). Capacities are
    numbers, dates are dates, text a spreadsheet would run as a formula gets its apostrophe
    (`exports.cell`)."""
    buffer = io.BytesIO()
    _write_xlsx(buffer, rows, _totals(rows), title)
    return buffer.getvalue()


def xlsx_file(selected: Selection, title: str = "退出台账") -> tuple[IO[bytes], int]:
    """The same workbook for every row of a selection, streamed: the rows read a chunk at a time (in the
    ledger's order, by key), written in the library's constant-memory mode to a temporary file, the
    totals from the database (`ledger.totals`); returns the open file (already unlinked) and the rows."""
    import os
    import tempfile

    count = 0

    def rows() -> Iterator[Row]:
        nonlocal count
        for chunk in selected.chunks():
            count += len(chunk)
            yield from chunk

    descriptor, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(descriptor)
    try:
        _write_xlsx(path, rows(), totals(selected, "industry"), title)
        handle = open(path, "rb")  # noqa: SIM115 (handed to the response, which closes it)
    finally:
        os.unlink(path)
    return handle, count


def _write_xlsx(target: Any, rows: Iterable[Row], totalled: list[dict[str, Any]], title: str) -> None:
    cell = exports.cell
    records = (
        dict(
            zip(
                LEDGER_COLUMNS,
                (
                    index,
                    cell(row.enterprise),
                    cell(row.uscc),
                    cell(row.territory),
                    cell(row.industry),
                    cell(row.line),
                    row.capacity,
                    cell(row.unit_label),
                    cell(row.method_label),
                    row.exited_on,
                    row.measures_text,  # labels and dates only: never a formula
                    row.accepted_on,
                    row.announced_on,
                    cell(row.case_number),
                ),
                strict=True,
            )
        )
        for index, row in enumerate(rows, start=1)
    )
    sums = [
        {
            "行业": cell(total["label"]),
            "企业": total["enterprises"],
            "生产线（设备）": total["lines"],
            "产能": total["capacity"],
            "单位": cell(total["unit_label"]),
        }
        for total in totalled
    ]
    book = FastExcel(target).format(datetime_format="yyyy-mm-dd", bold_headers=True)
    book.freeze(row=1, col=0).sheet(title[:31], records, column_widths=LEDGER_WIDTHS)
    book.sheet("分行业合计", sums, column_widths=TOTALS_WIDTHS)
    book.save()
