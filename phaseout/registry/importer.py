"""Import of an enterprise register from .xlsx.

`read_register` parses and checks the whole file and writes nothing: it returns the valid rows
and every bad row with its reason. `apply_register` writes the valid rows keyed by USCC, so a
re-run of the same file creates no duplicates (unchanged rows are left alone).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction
from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as uscc_module

from phaseout.orgs.models import Territory
from phaseout.registry.models import Enterprise, Industry

# Column headings of the register, as officials write them, with the field each fills.
COLUMNS: dict[str, str] = {
    "统一社会信用代码": "uscc",
    "企业名称": "name",
    "所属区县": "territory",
    "行业": "industry",
    "地址": "address",
    "联系人": "contact_name",
    "联系电话": "contact_phone",
}
REQUIRED = ("uscc", "name", "territory", "industry")
MAX_LENGTH = {"name": 120, "address": 200, "contact_name": 40, "contact_phone": 30}
FIELDS = ("name", "territory_id", "industry_id", "address", "contact_name", "contact_phone")
CHUNK = 5000


class RegisterFileError(ValueError):
    """The file is not a readable enterprise register; nothing was read from it."""


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Register:
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet_rows(source: IO[bytes]) -> Iterator[list[Any]]:
    try:
        book = CalamineWorkbook.from_filelike(source)
        if not book.sheet_names:
            raise RegisterFileError(_("The workbook has no sheet."))
        sheet = book.get_sheet_by_index(0)
        yield from sheet.iter_rows()
    except CalamineError as exc:
        raise RegisterFileError(
            _("The file cannot be read as an .xlsx workbook (%(error)s).") % {"error": exc}
        ) from None
    except (ValueError, OSError) as exc:
        if isinstance(exc, RegisterFileError):
            raise
        raise RegisterFileError(
            _("The file cannot be read as an .xlsx workbook (%(error)s).") % {"error": exc}
        ) from None


def _lookups() -> tuple[dict[str, str], dict[str, str]]:
    territories: dict[str, str] = {}
    for code, name in Territory.objects.values_list("code", "name"):
        territories[code] = code
        territories[name] = code
    industries: dict[str, str] = {}
    for code, name in Industry.objects.values_list("code", "name"):
        industries[code] = code
        industries[name] = code
    return territories, industries


def read_register(source: IO[bytes] | bytes, *, territories_allowed: set[str] | None = None) -> Register:
    """Read and check a register; `territories_allowed` limits a district to its own territory."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    rows = _sheet_rows(source)
    header = next(rows, None)
    if header is None:
        raise RegisterFileError(_("The workbook is empty."))
    names = [_cell(h) for h in header]
    positions = {COLUMNS[h]: i for i, h in enumerate(names) if h in COLUMNS}
    missing = [h for h, f in COLUMNS.items() if f in REQUIRED and f not in positions]
    if missing:
        raise RegisterFileError(
            _("This is not an enterprise register: the first row lacks the columns %(columns)s.")
            % {"columns": "、".join(missing)}
        )
    territories, industries = _lookups()
    result = Register()
    seen: dict[str, int] = {}
    heading = {f: h for h, f in COLUMNS.items()}
    for number, raw in enumerate(rows, start=2):
        values = {f: (_cell(raw[i]) if i < len(raw) else "") for f, i in positions.items()}
        if not any(values.values()):
            continue
        result.total += 1
        errors: list[RowError] = []
        for f in REQUIRED:
            if not values.get(f):
                errors.append(RowError(number, heading[f], _("This column must not be empty.")))
        code = uscc_module.compact(values.get("uscc", ""))
        if code:
            try:
                uscc_module.validate(code)
            except stdnum_errors.InvalidChecksum:
                errors.append(
                    RowError(number, heading["uscc"], _("The check character of this USCC is wrong."))
                )
            except stdnum_errors.ValidationError:
                errors.append(RowError(number, heading["uscc"], _("This is not a valid 18-character USCC.")))
            else:
                if code in seen:
                    errors.append(
                        RowError(
                            number,
                            heading["uscc"],
                            _("The same USCC is already in row %(row)d.") % {"row": seen[code]},
                        )
                    )
                else:
                    seen[code] = number
        territory = values.get("territory", "")
        if territory and territory not in territories:
            errors.append(
                RowError(
                    number,
                    heading["territory"],
                    _("Unknown county or district: %(value)s.") % {"value": territory},
                )
            )
        elif (
            territory
            and territories_allowed is not None
            and territories[territory] not in territories_allowed
        ):
            errors.append(
                RowError(
                    number,
                    heading["territory"],
                    _("%(value)s is outside your territory.") % {"value": territory},
                )
            )
        industry = values.get("industry", "")
        if industry and industry not in industries:
            errors.append(
                RowError(number, heading["industry"], _("Unknown industry: %(value)s.") % {"value": industry})
            )
        for f, limit in MAX_LENGTH.items():
            if len(values.get(f, "")) > limit:
                errors.append(
                    RowError(number, heading[f], _("Longer than %(limit)d characters.") % {"limit": limit})
                )
        if errors:
            result.errors.extend(errors)
            continue
        result.rows.append(
            {
                "uscc": code,
                "name": values["name"],
                "territory_id": territories[territory],
                "industry_id": industries[industry],
                "address": values.get("address", ""),
                "contact_name": values.get("contact_name", ""),
                "contact_phone": values.get("contact_phone", ""),
            }
        )
    return result


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def apply_register(
    rows: list[dict[str, str]], *, progress: Callable[[int], None] | None = None
) -> ApplyResult:
    """Create new enterprises and update changed ones, chunk by chunk, keyed by USCC."""
    result = ApplyResult()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with transaction.atomic():
            existing = {
                e["uscc"]: e
                for e in Enterprise.objects.filter(uscc__in=[r["uscc"] for r in chunk]).values(
                    "id", "uscc", *FIELDS
                )
            }
            new = [r for r in chunk if r["uscc"] not in existing]
            changed = []
            for r in chunk:
                old = existing.get(r["uscc"])
                if old is None:
                    continue
                if any(old[f] != r[f] for f in FIELDS):
                    changed.append(Enterprise(id=old["id"], uscc=r["uscc"], **{f: r[f] for f in FIELDS}))
                else:
                    result.unchanged += 1
            _insert(new)
            if changed:
                Enterprise.objects.bulk_update(changed, FIELDS, batch_size=1000)
            result.created += len(new)
            result.updated += len(changed)
        if progress:
            progress(min(len(rows), start + CHUNK))
    return result


def _insert(rows: list[dict[str, str]]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        # COPY is the bulk path PostgreSQL is built for: several times faster than INSERT.
        columns = ("uscc", *FIELDS, "created_at", "updated_at")
        table = Enterprise._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for r in rows:
                copy.write_row((r["uscc"], *(r[f] for f in FIELDS), "now", "now"))
        return
    Enterprise.objects.bulk_create([Enterprise(**r) for r in rows], batch_size=500)
