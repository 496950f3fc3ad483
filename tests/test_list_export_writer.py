"""A list's .xlsx (phaseout.web.lists.xlsx_file, written by rust_xlsxwriter since issue 15) holds every row
and every column of what it was given, in order, with the values openpyxl wrote before: days as days,
moments as local moments, numbers as numbers, formula-like text neutralised, blanks blank; past the
writer's look-ahead of EXPORT_CHUNK rows as well; a header alone when there is no row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from phaseout.web import lists
from phaseout.web.lists import Column, ListSpec, xlsx_file


@dataclass
class Thing:
    n: int
    name: str
    day: dt.date | None
    at: dt.datetime
    amount: Decimal


SPEC = ListSpec(
    columns=(
        Column("n", "序号", lambda t: t.n),
        Column("name", "名称", lambda t: t.name),
        Column("day", "日期", lambda t: t.day),
        Column("at", "时间", lambda t: t.at),
        Column("amount", "数量", lambda t: t.amount),
        Column("blank", "备注", lambda t: None),
    )
)
AT = dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC)  # 08:30 in Jiangmen


def _things(n: int) -> list[Thing]:
    return [
        Thing(
            i,
            "=SUM(A1)" if i == 3 else f"企业{i}",
            None if i == 0 else dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
            AT + dt.timedelta(minutes=i),
            Decimal(i) / 4,
        )
        for i in range(n)
    ]


def _read(handle: Any) -> tuple[list[Any], list[list[Any]], dict[str, str]]:
    sheet = load_workbook(handle).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    formats = {sheet.cell(row=1, column=c).value: sheet.cell(row=3, column=c).number_format for c in (3, 4)}
    return rows[0], rows[1:], formats


@pytest.mark.parametrize("n", [1, lists.EXPORT_CHUNK + 7])
def test_every_row_and_column_is_written_with_its_value(n: int) -> None:
    things = _things(n)
    handle, count = xlsx_file(iter(things), SPEC, "清单")
    headings, rows, formats = _read(handle)
    assert count == n == len(rows)
    assert headings == ["序号", "名称", "日期", "时间", "数量", "备注"]
    for thing, row in zip(things, rows, strict=True):
        local = timezone.localtime(thing.at).replace(tzinfo=None)
        day = dt.datetime.combine(thing.day, dt.time()) if thing.day else None
        name = "'=SUM(A1)" if thing.name.startswith("=") else thing.name
        assert row == [thing.n, name, day, local, float(thing.amount), None], thing.n
    if n > 2:
        assert formats == {"日期": "yyyy-mm-dd", "时间": "yyyy-mm-dd h:mm:ss"}  # a day, a moment


def test_no_row_is_a_header_alone() -> None:
    handle, count = xlsx_file(iter([]), SPEC, "清单")
    headings, rows, _formats = _read(handle)
    assert (count, rows) == (0, []) and headings[0] == "序号" and len(headings) == 6
