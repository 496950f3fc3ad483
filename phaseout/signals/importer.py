"""Reading the power utility's power-use file (.xlsx or .csv): daily or monthly kWh per account.

The whole file is read and checked before anything is written (as the register import does,
docs/decisions/0003-register-import.md): a file that is not power-use data is refused with nothing
stored; every bad row is named with its row number, its column and the reason, in the platform's
language, and skipped. What to write is decided here; `actions.import_power` writes it.

Columns, as the utility's exports head them (any one of each group):
- 户号 / 用电户号 / 电费户号 — the account number, matched to an enterprise (and a line) beforehand;
- 日期 / 用电日期 / 月份 / 统计期 — a day (2026-08-03) or a month (2026-08, 202608): daily or monthly data;
- 用电量 / 用电量(kWh) / 电量 / 有功电量 — kWh in the period;
- 谷段电量 / 谷电量 / 谷段电量(kWh) — optional: the night (valley-tariff) part of it.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

from phaseout.web import zipguard

HEADINGS: dict[str, tuple[str, ...]] = {
    "account": ("户号", "用电户号", "电费户号", "账户号"),
    "period": ("日期", "用电日期", "月份", "统计期", "期间"),
    "kwh": ("用电量", "用电量(kwh)", "用电量（kwh）", "电量", "电量(kwh)", "有功电量", "kwh"),
    "valley": ("谷段电量", "谷电量", "谷段电量(kwh)", "谷段电量（kwh）", "谷时电量"),
}
REQUIRED = ("account", "period", "kwh")
CELL_MAX = 40
KWH_MAX = Decimal("999999999.99")
_MONTH = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})月?$")
_DAY = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_COMPACT_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class PowerFileError(ValueError):
    """The file is not readable power-use data; nothing was read from it."""


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Row:
    number: int
    account: str
    granularity: str  # "day" or "month"
    start: dt.date
    end: dt.date
    kwh: Decimal
    valley: Decimal | None


@dataclass
class PowerFile:
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_of_xlsx(source: IO[bytes]) -> Iterator[list[Any]]:
    limit = settings.POWER_IMPORT_MAX_ROWS
    try:
        zipguard.inspect(source, workbook=True, max_rows=limit)
    except zipguard.ZipRefused as exc:
        raise PowerFileError(str(exc)) from None
    try:
        book = CalamineWorkbook.from_filelike(source)
        if not book.sheet_names:
            raise PowerFileError(_("The workbook has no sheet."))
        sheet = book.get_sheet_by_index(0)
        if sheet.height - 1 > limit:
            raise PowerFileError(str(zipguard.too_many_rows(limit)))
        return iter(sheet.to_python())
    except (CalamineError, ValueError, OSError) as exc:
        if isinstance(exc, PowerFileError):
            raise
        # The library's own words (English, about its internals) are not the person's business.
        raise PowerFileError(_("The file cannot be read as an .xlsx workbook.")) from None


def _rows_of_csv(source: IO[bytes]) -> Iterator[list[Any]]:
    raw = source.read()
    for encoding in ("utf-8-sig", "gb18030"):  # the utilities' exports are UTF-8 or GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PowerFileError(_("The CSV file is neither UTF-8 nor GBK text."))
    if "\x00" in text:
        raise PowerFileError(_("The CSV file contains NUL bytes; it is not a text file."))
    limit = settings.POWER_IMPORT_MAX_ROWS
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) - 1 > limit:
        raise PowerFileError(str(zipguard.too_many_rows(limit)))
    return iter(rows)


def _period(value: Any) -> tuple[str, dt.date, dt.date] | None:
    """(granularity, first day, last day) of a cell, or None when it is not a day or a month."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return "day", value, value
    text = _text(value)
    found = _DAY.match(text) or _COMPACT_DAY.match(text)
    try:
        if found:
            day = dt.date(int(found[1]), int(found[2]), int(found[3]))
            return "day", day, day
        found = _MONTH.match(text)
        if found:
            year, month = int(found[1]), int(found[2])
            last = calendar.monthrange(year, month)[1]
            return "month", dt.date(year, month, 1), dt.date(year, month, last)
    except (ValueError, calendar.IllegalMonthError):
        return None
    return None


def _kwh(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
    else:
        text = _text(value).replace(",", "").replace("，", "")
        if not text or len(text) > CELL_MAX:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    if not number.is_finite():
        return None
    return number.quantize(Decimal("0.01"))


def _headings(first: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(first):
        name = _text(cell).lower().replace(" ", "")
        for key, names in HEADINGS.items():
            if name in names and key not in found:
                found[key] = index
    missing = [HEADINGS[k][0] for k in REQUIRED if k not in found]
    if missing:
        raise PowerFileError(
            _("Not power-use data: the column %(columns)s is missing (the first row names the columns).")
            % {"columns": "、".join(missing)}
        )
    return found


def read_power_file(
    source: IO[bytes], *, name: str, known_accounts: dict[str, int], today: dt.date
) -> PowerFile:
    """Every row of the file checked: the valid rows, and each bad row with its reason.

    `known_accounts`: the account numbers the uploader may import for (their city's), to their ids."""
    lowered = name.lower()
    if lowered.endswith(".xlsx"):
        rows = _rows_of_xlsx(source)
    elif lowered.endswith(".csv"):
        rows = _rows_of_csv(source)
    else:
        raise PowerFileError(_("Please upload an .xlsx workbook or a .csv file."))
    first = next(rows, None)
    if first is None:
        raise PowerFileError(_("The file is empty."))
    columns = _headings(first)
    label = {key: _text(first[index]) for key, index in columns.items()}
    result = PowerFile()
    seen: dict[tuple[str, str, dt.date], int] = {}
    for number, cells in enumerate(rows, start=2):
        if not any(_text(c) for c in cells):
            continue  # a blank line
        result.total += 1
        errors = _check_row(number, cells, columns, label, known_accounts, today, seen, result)
        result.errors.extend(errors)
    if not result.total:
        raise PowerFileError(_("The file has no rows of power use."))
    return result


def _cell(cells: list[Any], columns: dict[str, int], key: str) -> Any:
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else None


def _check_row(
    number: int,
    cells: list[Any],
    columns: dict[str, int],
    label: dict[str, str],
    known_accounts: dict[str, int],
    today: dt.date,
    seen: dict[tuple[str, str, dt.date], int],
    result: PowerFile,
) -> list[RowError]:
    errors: list[RowError] = []
    for key in columns:
        text = _text(_cell(cells, columns, key))
        if "\x00" in text or any(ord(c) < 32 for c in text):
            errors.append(RowError(number, label[key], _("This value contains control characters.")))
        elif len(text) > CELL_MAX:
            errors.append(RowError(number, label[key], _("This value is too long.")))
    if errors:
        return errors
    account = _text(_cell(cells, columns, "account"))
    if not account:
        errors.append(RowError(number, label["account"], _("This column must not be empty.")))
    elif account not in known_accounts:
        errors.append(
            RowError(
                number,
                label["account"],
                _("Unknown electricity account %(account)s: it is not matched to an enterprise of your city.")
                % {"account": account},
            )
        )
    raw_period = _cell(cells, columns, "period")
    period = _period(raw_period)
    if not _text(raw_period):
        errors.append(RowError(number, label["period"], _("This column must not be empty.")))
    elif period is None:
        errors.append(
            RowError(
                number, label["period"], _("Not a date: write a day as 2026-08-03 or a month as 2026-08.")
            )
        )
    elif period[2] >= today:
        errors.append(
            RowError(
                number,
                label["period"],
                _("The period has not ended yet: power use is imported for past periods only."),
            )
        )
    raw_kwh = _cell(cells, columns, "kwh")
    kwh = _kwh(raw_kwh)
    if not _text(raw_kwh):
        errors.append(RowError(number, label["kwh"], _("This column must not be empty.")))
    elif kwh is None:
        errors.append(RowError(number, label["kwh"], _("Not a number of kWh.")))
    elif kwh < 0:
        errors.append(RowError(number, label["kwh"], _("Power use cannot be negative.")))
    elif kwh > KWH_MAX:
        errors.append(RowError(number, label["kwh"], _("This number is too large for one account's period.")))
    valley: Decimal | None = None
    if "valley" in columns and _text(_cell(cells, columns, "valley")):
        valley = _kwh(_cell(cells, columns, "valley"))
        if valley is None:
            errors.append(RowError(number, label["valley"], _("Not a number of kWh.")))
        elif valley < 0:
            errors.append(RowError(number, label["valley"], _("Power use cannot be negative.")))
        elif kwh is not None and valley > kwh:
            errors.append(
                RowError(number, label["valley"], _("The night (valley) use cannot exceed the total."))
            )
    if errors or period is None or kwh is None:
        return errors
    granularity, start, end = period
    period_key = (account, granularity, start)
    if period_key in seen:
        return [
            RowError(
                number,
                label["period"],
                _("The same account and period appear again (first in row %(row)s).")
                % {"row": seen[period_key]},
            )
        ]
    seen[period_key] = number
    result.rows.append(Row(number, account, granularity, start, end, kwh, valley))
    return []
