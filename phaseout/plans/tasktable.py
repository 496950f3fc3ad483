"""The task assignment table (任务分工表) that often comes with a plan as an attachment: a Word (.docx) table
or a workbook (.xlsx) sheet with a row per task and the columns task, lead unit (牵头单位), supporting units
(配合单位) and deadline (完成时限). Its rows become tasks, merged with the tasks read from the plan's body:
a task in both is one task, whose units the table gives (it is the more precise source).

The header row is found by its column names, anywhere in the first rows of any table or sheet; merged cells
(a lead unit written once for several rows, a category row across the whole table) are filled as they
show. Deadlines are read by the plan parser's time expressions ("2021年6月底前", "每季度末", "长期坚持"),
against the plan's year. Every input is bounded: the file's size, a zip checked by phaseout.web.zipguard
before any parser opens it, the rows and columns read, the length of a cell.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

import docx
import openpyxl
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from phaseout.plans import parser
from phaseout.web import zipguard

MAX_ROWS = 500  # task rows: a city's table has tens
MAX_COLUMNS = 20
MAX_CELL = 2000  # characters of one cell
HEADER_ROWS = 10  # the header is looked for in the first rows of each table or sheet
MIN_BYTES = 200

# Column names as tables write them; the first that matches a header cell names its column.
COLUMNS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"^(?:序号|编号|序)$"),
    "task": re.compile(r"(?:工作任务|重点任务|主要任务|具体任务|任务内容|工作内容|工作措施|任务)"),
    "lead": re.compile(r"(?:牵头单位|牵头部门|责任单位|责任部门|负责单位|主办单位|牵头)"),
    "supporting": re.compile(r"(?:配合单位|配合部门|协办单位|参与单位|配合)"),
    "deadline": re.compile(r"(?:完成时限|完成时间|时间要求|完成期限|时限|时间节点|进度安排)"),
}
_SPLIT = re.compile(r"[、,;\n/]+|\s{1,}")
_CATEGORY = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|\([一二三四五六七八九十]{1,3}\))")


class TableRefused(ValueError):
    """The task table cannot be read; the message says why, for the office. Nothing is imported."""


@dataclass
class TableRow:
    row: int  # the row's number in its table or sheet, from 1, for messages
    number: str
    text: str
    lead: list[str] = field(default_factory=list)
    supporting: list[str] = field(default_factory=list)
    deadline_text: str = ""


def _clean(value: Any) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).replace("\u3000", " ").replace("\x00", "")
    return text.strip()[:MAX_CELL]


def _kind(data: bytes) -> str:
    """docx or xlsx, from the zip's members; refuses anything else."""
    if not data.startswith(b"PK\x03\x04"):
        raise TableRefused(_("The task table must be a Word file (.docx) or a workbook (.xlsx)."))
    try:
        zipguard.inspect(io.BytesIO(data))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipguard.ZipRefused as exc:
        raise TableRefused(str(exc)) from None
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TableRefused(_("The task table cannot be read; the file may be damaged.")) from None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise TableRefused(_("The task table must be a Word file (.docx) or a workbook (.xlsx)."))


def _docx_grids(data: bytes) -> list[list[list[str]]]:
    document = docx.Document(io.BytesIO(data))
    grids = []
    for table in document.tables:
        grid: list[list[str]] = []
        # A vertically merged cell is returned for each row it spans, a horizontally merged one for each
        # column: the merged text shows in every cell of the merge, as it does on the page.
        for row in table.rows[: MAX_ROWS + HEADER_ROWS + 1]:
            grid.append([_clean(cell.text) for cell in row.cells[:MAX_COLUMNS]])
        grids.append(grid)
    return grids


def _xlsx_grids(data: bytes) -> list[list[list[str]]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    try:
        grids = []
        for sheet in workbook.worksheets:
            height = min(sheet.max_row or 0, MAX_ROWS + HEADER_ROWS + 1)
            width = min(sheet.max_column or 0, MAX_COLUMNS)
            grid = [
                [_clean(v) for v in row]
                for row in sheet.iter_rows(min_row=1, max_row=height, max_col=width, values_only=True)
            ]
            for merged in sheet.merged_cells.ranges:
                top = merged.min_row - 1
                left = merged.min_col - 1
                if top >= len(grid) or left >= width:
                    continue
                value = grid[top][left]
                for r in range(top, min(merged.max_row, len(grid))):
                    for c in range(left, min(merged.max_col, width)):
                        grid[r][c] = value
            grids.append(grid)
        return grids
    finally:
        workbook.close()


def _header(grid: list[list[str]]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(grid[:HEADER_ROWS]):
        columns: dict[str, int] = {}
        for position, cell in enumerate(row):
            name = "".join(cell.split())
            if not name or len(name) > 20:
                continue
            for key, pattern in COLUMNS.items():
                if key not in columns and pattern.search(name) and not (key == "task" and "单位" in name):
                    columns[key] = position
                    break
        if "task" in columns and "lead" in columns:
            return index, columns
    return None


def _units(cell: str) -> list[str]:
    names = []
    for piece in _SPLIT.split(re.sub(r"\s*\n\s*", "\n", cell)):
        piece = piece.strip().strip("。")
        if piece and piece not in names:
            names.append(piece)
    return names


def read_table(name: str, data: bytes) -> list[TableRow]:
    """The task rows of a task table file. Raises TableRefused with the reason."""
    if len(data) > settings.PLAN_DOCUMENT_MAX_BYTES:
        raise TableRefused(
            _("The task table is larger than %(limit)s.")
            % {"limit": filesizeformat(settings.PLAN_DOCUMENT_MAX_BYTES)}
        )
    if len(data) < MIN_BYTES:
        raise TableRefused(_("The task table is empty or too small to hold a table."))
    kind = _kind(data)
    try:
        grids = _docx_grids(data) if kind == "docx" else _xlsx_grids(data)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise TableRefused(_("The task table cannot be read; the file may be damaged.")) from None
    for grid in grids:
        found = _header(grid)
        if found is None:
            continue
        start, columns = found
        rows = _rows(grid, start, columns)
        if not rows:
            raise TableRefused(_("The task table has a header row but no task under it."))
        return rows
    raise TableRefused(
        _(
            "No task table was found in %(name)s: it needs a header row with the columns 任务 (or 工作任务, "
            "重点任务), 牵头单位 (or 责任单位), and optionally 配合单位 and 完成时限."
        )
        % {"name": name[:100]}
    )


def _rows(grid: list[list[str]], start: int, columns: dict[str, int]) -> list[TableRow]:
    rows: list[TableRow] = []

    def cell(row: list[str], key: str) -> str:
        position = columns.get(key)
        return row[position] if position is not None and position < len(row) else ""

    for offset, row in enumerate(grid[start + 1 :], start + 2):
        text = cell(row, "task")
        values = {v for v in row if v}
        if not text or (len(values) == 1 and (_CATEGORY.match(text) or len(row) > 1)):
            continue  # an empty row, or a category row merged across the table ("一、能耗方面")
        if text == cell(row, "lead") and _CATEGORY.match(text):
            continue
        if len(rows) >= MAX_ROWS:
            raise TableRefused(_("The task table has more than %(max)d rows.") % {"max": MAX_ROWS})
        lead = _units(cell(row, "lead"))
        if not lead:
            raise TableRefused(
                _("Row %(row)d of the task table names a task without a lead unit: %(task)s")
                % {"row": offset, "task": text[:60]}
            )
        rows.append(
            TableRow(
                row=offset,
                number=cell(row, "number")[:20],
                text=text,
                lead=lead,
                supporting=[u for u in _units(cell(row, "supporting")) if u not in lead],
                deadline_text=cell(row, "deadline"),
            )
        )
    return rows


# --- merging with the body's tasks --------------------------------------------------------------------


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"[^\u4e00-\u9fa5A-Za-z0-9]", "", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _same_task(table_text: str, body_text: str) -> float:
    """How far a table row and a body task are the same duty: 1 when one text holds the other, else
    the share of the row's character pairs that the body task has."""
    a = re.sub(r"[^\u4e00-\u9fa5A-Za-z0-9]", "", table_text)
    b = re.sub(r"[^\u4e00-\u9fa5A-Za-z0-9]", "", body_text)
    if len(a) >= 6 and (a in b or (len(b) >= 6 and b in a)):
        return 1.0
    mine = _bigrams(a)
    return len(mine & _bigrams(b)) / len(mine) if mine else 0.0


SAME_TASK = 0.6  # share of a row's character pairs found in a body task for the two to be one task


def merge(plan: parser.ParsedPlan, rows: list[TableRow]) -> None:
    """Merge the table's rows into the parsed plan: a row that is a body task gives it its units (the
    table's lead and supporting units replace the body's lead, supporting and responsible ones; receivers
    stay) and its deadline where the body has none; a date that differs from the body's is flagged for
    review. A row that is no body task becomes a task of its own."""
    taken: set[int] = set()
    for index, row in enumerate(rows, 1):
        times = parser.times_in(row.deadline_text, plan.year) if row.deadline_text else []
        for expr in times:
            expr.sentence = f"{row.text}({row.deadline_text})"
        units = [parser.UnitMention(name=n[:100], role="lead", source="table") for n in row.lead] + [
            parser.UnitMention(name=n[:100], role="supporting", source="table") for n in row.supporting
        ]
        scored = [
            (_same_task(row.text, task.text), i)
            for i, task in enumerate(plan.tasks)
            if i not in taken and task.source == "body"
        ]
        best = max(scored, default=(0.0, -1))
        if best[0] >= SAME_TASK:
            taken.add(best[1])
            task = plan.tasks[best[1]]
            task.units = [*units, *(u for u in task.units if u.role == "receiver")]
            task.source = "body+table"
            dated = [t for t in times if t.date and t.kind in ("deadline", "recurring", "period")]
            if task.deadline is None and task.period_end is None:
                task.times.extend(times)
                plan.times.extend(times)
                parser.set_deadline(task)
            elif dated and dated[0].date not in (task.deadline, task.period_end):
                flag = dated[0]
                flag.needs_review = True
                flag.reason = "the task table gives another date than the plan's text"
                task.times.append(flag)
                plan.times.append(flag)
            continue
        task = parser.Task(
            number=f"表{row.number or index}"[:30],
            heading=_("Task assignment table"),
            text=row.text,
            units=units,
            times=times,
            source="table",
        )
        parser.set_deadline(task)
        plan.tasks.append(task)
        plan.times.extend(times)
