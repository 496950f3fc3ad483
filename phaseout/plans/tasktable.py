"""The task assignment table (任务分工表) that often comes with a plan as an attachment: a Word (.docx) table
or a workbook (.xlsx) sheet with a row per task and the columns task, lead unit (牵头单位), supporting units
(配合单位) and deadline (完成时限). Its rows become tasks, merged with the tasks read from the plan's body:
a task in both is one task, whose units the table gives (it is the more precise source).

The header row is found by its column names, anywhere in the first rows of any table or sheet; merged cells
(a lead unit written once for several rows, a category row across the whole table) are filled as they
show. Deadlines are read by the plan parser's time expressions ("2021年6月底前", "每季度末", "长期坚持"),
against the plan's year. Every input is bounded: the file's size, a zip checked by phaseout.web.zipguard
before any parser opens it (a workbook's first sheet has its rows counted there, before parsing), the
rows and columns read, the length of a cell, and merges: a workbook is read in openpyxl's streaming mode
(which builds no cell for the inside of a merged range) with its merged ranges read here from the sheet's
XML, and a Word table's horizontal and vertical merges are followed here; a merge or span larger than
the table's row or column limit is refused. Malformed XML is refused like any damaged file.
"""

from __future__ import annotations

import io
import logging
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
from docx.table import Table as DocxTable
from docx.table import _Cell

from phaseout.plans import parser
from phaseout.web import zipguard

logger = logging.getLogger(__name__)

MAX_ROWS = 500  # task rows: a city's table has tens
MAX_COLUMNS = 20
MAX_CELL = 2000  # characters of one cell
HEADER_ROWS = 10  # the header is looked for in the first rows of each table or sheet
MIN_BYTES = 200
GRID_ROWS = MAX_ROWS + HEADER_ROWS + 1  # rows of a table or sheet read at most

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


def _too_many_rows() -> TableRefused:
    return TableRefused(_("The task table has more than %(max)d rows.") % {"max": MAX_ROWS})


def _kind(data: bytes) -> str:
    """docx or xlsx, from the zip's members; refuses anything else, and a workbook whose first sheet
    has more rows than are read (counted by zipguard before any parser opens it)."""
    if not data.startswith(b"PK\x03\x04"):
        raise TableRefused(_("The task table must be a Word file (.docx) or a workbook (.xlsx)."))
    try:
        facts = zipguard.inspect(io.BytesIO(data), workbook=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipguard.ZipRefused as exc:
        raise TableRefused(str(exc)) from None
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TableRefused(_("The task table cannot be read; the file may be damaged.")) from None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        if facts is not None and facts.rows is not None and facts.rows > GRID_ROWS:
            raise _too_many_rows()
        return "xlsx"
    raise TableRefused(_("The task table must be a Word file (.docx) or a workbook (.xlsx)."))


def _too_wide_merge() -> TableRefused:
    return TableRefused(
        _(
            "The task table has a merged cell larger than a task table can be (more than %(rows)d rows "
            "or %(columns)d columns); it was refused without being read."
        )
        % {"rows": GRID_ROWS, "columns": MAX_COLUMNS}
    )


def _docx_grids(data: bytes) -> list[list[list[str]]]:
    document = docx.Document(io.BytesIO(data))
    return [_docx_grid(table) for table in document.tables]


def _docx_grid(table: DocxTable) -> list[list[str]]:
    """A Word table's rows as text, each cell's text repeated over the columns it spans (w:gridSpan) and
    down the rows it is merged into (w:vMerge), as it shows on the page. python-docx's own row.cells
    builds a cell per spanned column and follows vertical merges upwards from each row, without bound:
    here a span past the column limit is refused, and a continued merge reads the row above's text."""
    grid: list[list[str]] = []
    for tr in table._tbl.tr_lst[:GRID_ROWS]:
        before = tr.grid_before
        if before > MAX_COLUMNS:
            raise _too_wide_merge()
        above = grid[-1] if grid else []
        row = [""] * before
        for tc in tr.tc_lst:
            if len(row) >= MAX_COLUMNS:
                break
            span = max(tc.grid_span, 1)
            if span > MAX_COLUMNS:
                raise _too_wide_merge()
            if tc.vMerge == "continue":
                text = above[len(row)] if len(row) < len(above) else ""
            else:
                text = _clean(_Cell(tc, table).text)
            row.extend([text] * span)
        grid.append(row[:MAX_COLUMNS])
    return grid


_MERGE = re.compile(
    rb"<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z]{1,3})(\d{1,7})(?::([A-Za-z]{1,3})(\d{1,7}))?\""
)
_MERGE_TAIL = 200  # longer than a mergeCell element: one split across two chunks is seen whole in the second


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _merged_ranges(archive: zipfile.ZipFile, path: str) -> set[tuple[int, int, int, int]]:
    """The merged ranges of a sheet as (top, left, bottom, right), from 1, read from its XML as a stream
    (its unpacked size is bounded by zipguard); a range larger than the rows or columns a table may have
    is refused, and so are more ranges than the cells read (merged ranges do not overlap)."""
    ranges: set[tuple[int, int, int, int]] = set()
    tail = b""
    with archive.open(path) as member:
        while chunk := member.read(zipguard.CHUNK):
            buffer = tail + chunk
            for match in _MERGE.finditer(buffer):
                top, left = int(match.group(2)), _column(match.group(1))
                bottom = int(match.group(4)) if match.group(4) else top
                right = _column(match.group(3)) if match.group(3) else left
                top, bottom = min(top, bottom), max(top, bottom)
                left, right = min(left, right), max(left, right)
                if bottom - top + 1 > GRID_ROWS or right - left + 1 > MAX_COLUMNS:
                    raise _too_wide_merge()
                ranges.add((top, left, bottom, right))
                if len(ranges) > GRID_ROWS * MAX_COLUMNS:
                    raise _too_wide_merge()
            tail = buffer[-_MERGE_TAIL:]
    return ranges


def _xlsx_grids(data: bytes) -> list[list[list[str]]]:
    # Read-only (streaming) mode: rows are parsed as they are read and reading stops at GRID_ROWS; the
    # whole-sheet mode would build a MergedCell for every cell of every merged range, however large.
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        grids = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for sheet in workbook.worksheets:
                rows = [
                    [_clean(v) for v in row]
                    for row in sheet.iter_rows(
                        min_row=1, max_row=GRID_ROWS, max_col=MAX_COLUMNS, values_only=True
                    )
                ]
                width = max(
                    (max((i + 1 for i, v in enumerate(row) if v), default=0) for row in rows), default=0
                )
                while rows and not any(rows[-1]):
                    rows.pop()
                grid = [(row + [""] * width)[:width] for row in rows]
                path = getattr(sheet, "_worksheet_path", None)
                merges = _merged_ranges(archive, path) if path else set()
                filled = 0
                for top, left, bottom, right in sorted(merges):
                    if top > len(grid) or left > width:
                        continue
                    value = grid[top - 1][left - 1]
                    for r in range(top - 1, min(bottom, len(grid))):
                        for c in range(left - 1, min(right, width)):
                            grid[r][c] = value
                            filled += 1
                    if filled > GRID_ROWS * MAX_COLUMNS:
                        raise _too_wide_merge()  # overlapping ranges, which no spreadsheet writes
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
    except TableRefused:
        raise  # a merge or span past the limits, said as such (TableRefused is a ValueError)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError) as exc:
        # SyntaxError: malformed XML, from ElementTree (openpyxl) and lxml (python-docx), including an
        # entity expansion lxml stops; the detail is logged, the office reads that the file is damaged.
        logger.info("task table refused as unreadable: %r", exc)
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
            raise _too_many_rows()
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
