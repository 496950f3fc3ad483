"""A submission's file read on the server for the office's page: a Word file as its paragraphs and tables,
a workbook's first sheet as a table (the first rows only). Only text comes out; the template escapes it.
A PDF is shown by the browser itself (served inline); an OFD is downloaded."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import docx
import openpyxl
from django.utils.translation import gettext as _
from docx.table import Table

from phaseout.plans import handin
from phaseout.plans.models import SubmissionVersion
from phaseout.web import zipguard

MAX_ROWS = 200  # of a workbook's first sheet
MAX_COLUMNS = 30
MAX_BLOCKS = 2000  # paragraphs and tables of a Word file


@dataclass
class Preview:
    kind: str  # "pdf", "docx", "xlsx" or "none"
    blocks: list[tuple[str, Any]] = field(default_factory=list)  # ("p", text) or ("table", rows)
    rows: list[list[str]] = field(default_factory=list)
    sheet: str = ""
    truncated: bool = False
    problem: str = ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _docx(data: bytes) -> Preview:
    document = docx.Document(io.BytesIO(data))
    preview = Preview(kind="docx")
    for block in document.iter_inner_content():
        if len(preview.blocks) >= MAX_BLOCKS:
            preview.truncated = True
            break
        if isinstance(block, Table):
            preview.blocks.append(("table", [[cell.text for cell in row.cells] for row in block.rows]))
        elif block.text.strip():
            preview.blocks.append(("p", block.text))
    return preview


def _xlsx(data: bytes) -> Preview:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        preview = Preview(kind="xlsx", sheet=sheet.title)
        for row in sheet.iter_rows(values_only=True):
            if len(preview.rows) >= MAX_ROWS:
                preview.truncated = True
                break
            preview.rows.append([_cell(v) for v in row[:MAX_COLUMNS]])
    finally:
        workbook.close()
    return preview


def preview(version: SubmissionVersion) -> Preview:
    """What the office's page shows of a version's file."""
    if version.content_type == handin.PDF:
        return Preview(kind="pdf")
    if version.content_type not in (handin.DOCX, handin.XLSX) or not version.document:
        return Preview(kind="none")
    try:
        with version.document.open("rb") as handle:
            data = handle.read()
        zipguard.inspect(io.BytesIO(data))
        return _docx(data) if version.content_type == handin.DOCX else _xlsx(data)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, zipguard.ZipRefused):
        return Preview(kind="none", problem=_("The file cannot be shown here; please download it."))
