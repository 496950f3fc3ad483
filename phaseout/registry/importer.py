"""Import of an enterprise register from .xlsx.

`read_register` parses and checks the whole file and writes nothing: it returns the valid rows
and every bad row with its reason. `apply_register` writes the valid rows keyed by USCC, so a
re-run of the same file creates no duplicates (unchanged rows are left alone).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import mul
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone
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
CHUNK = 20000

# GB 32100-2015 check of an already-canonical code (18 ASCII characters from the code's alphabet),
# table-driven for bulk import: python-stdnum's `validate` costs ~60 µs a code, most of it Unicode
# normalisation a canonical code does not need. Anything else goes to python-stdnum, which stays the
# authority: tests check that the two agree on every code they generate.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CANONICAL = re.compile(r"[0-9]{8}[0-9ABCDEFGHJKLMNPQRTUWXY]{10}")


def fast_uscc_check(code: str) -> bool | None:
    """True or False for a canonical code; None when python-stdnum has to decide."""
    if not _CANONICAL.fullmatch(code):
        return None
    total = sum(map(mul, map(_VALUE.__getitem__, code[:17]), _WEIGHTS))
    return _ALPHABET[(31 - total) % 31] == code[17]


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


def _sheet_rows(source: IO[bytes]) -> list[list[Any]]:
    try:
        book = CalamineWorkbook.from_filelike(source)
        if not book.sheet_names:
            raise RegisterFileError(_("The workbook has no sheet."))
        # The whole sheet at once: converting in Rust is far cheaper than row by row in Python.
        rows: list[list[Any]] = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        return rows
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


def _check_uscc(raw: str) -> tuple[str, str | None]:
    """The canonical code and, if it is not a valid USCC, the reason."""
    fast = fast_uscc_check(raw)
    if fast is True:
        return raw, None
    if fast is False:
        return raw, _("The check character of this USCC is wrong.")
    code = uscc_module.compact(raw)
    if not code:
        return code, None  # reported as an empty required column
    try:
        uscc_module.validate(code)
    except stdnum_errors.InvalidChecksum:
        return code, _("The check character of this USCC is wrong.")
    except stdnum_errors.ValidationError:
        return code, _("This is not a valid 18-character USCC.")
    return code, None


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


def _row_errors(
    number: int,
    values: dict[str, str],
    seen: dict[str, int],
    territories: dict[str, str],
    industries: dict[str, str],
    territories_allowed: set[str] | None,
    heading: dict[str, str],
) -> list[RowError]:
    """Every problem of one row; canonicalises its USCC in `values` and remembers it in `seen`."""
    errors: list[RowError] = []
    for f in REQUIRED:
        if not values[f]:
            errors.append(RowError(number, heading[f], _("This column must not be empty.")))
    code, problem = _check_uscc(values["uscc"])
    values["uscc"] = code
    if problem:
        errors.append(RowError(number, heading["uscc"], problem))
    elif code:
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
    territory = values["territory"]
    if territory and territory not in territories:
        errors.append(
            RowError(
                number,
                heading["territory"],
                _("Unknown county or district: %(value)s.") % {"value": territory},
            )
        )
    elif territory and territories_allowed is not None and territories[territory] not in territories_allowed:
        errors.append(
            RowError(
                number, heading["territory"], _("%(value)s is outside your territory.") % {"value": territory}
            )
        )
    industry = values["industry"]
    if industry and industry not in industries:
        errors.append(
            RowError(number, heading["industry"], _("Unknown industry: %(value)s.") % {"value": industry})
        )
    for f, limit in MAX_LENGTH.items():
        if len(values[f]) > limit:
            errors.append(
                RowError(number, heading[f], _("Longer than %(limit)d characters.") % {"limit": limit})
            )
    return errors


def read_register(source: IO[bytes] | bytes, *, territories_allowed: set[str] | None = None) -> Register:
    """Read and check a register; `territories_allowed` limits a district to its own territory."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    rows = _sheet_rows(source)
    if not rows:
        raise RegisterFileError(_("The workbook is empty."))
    names = [_cell(h) for h in rows[0]]
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
    order = [(f, positions.get(f, -1)) for f in COLUMNS.values()]
    indexes = [i for _, i in order]
    width_needed = max(indexes) + 1
    limits = [MAX_LENGTH.get(f) for f, _ in order]
    append = result.rows.append
    for number, raw in enumerate(rows[1:], start=2):
        # Fast path for the common row: every column present as text, every check passing.
        if len(raw) >= width_needed:
            cells = [raw[i] if i >= 0 else "" for i in indexes]
            if all(c.__class__ is str for c in cells):
                cells = [c.strip() for c in cells]
                code, name, territory, industry, address, contact, phone = cells
                territory_id = territories.get(territory)
                industry_id = industries.get(industry)
                if (
                    name
                    and territory_id is not None
                    and industry_id is not None
                    and (territories_allowed is None or territory_id in territories_allowed)
                    and code not in seen
                    and all(limit is None or len(c) <= limit for c, limit in zip(cells, limits, strict=True))
                    and fast_uscc_check(code)
                ):
                    seen[code] = number
                    result.total += 1
                    append(
                        {
                            "uscc": code,
                            "name": name,
                            "territory_id": territory_id,
                            "industry_id": industry_id,
                            "address": address,
                            "contact_name": contact,
                            "contact_phone": phone,
                        }
                    )
                    continue
        # Anything else: the full check, which names every problem of the row.
        width = len(raw)
        values: dict[str, str] = {}
        for f, i in order:
            value = raw[i] if 0 <= i < width else None
            values[f] = value.strip() if value.__class__ is str else _cell(value)  # type: ignore[union-attr]
        if not any(values.values()):
            continue
        result.total += 1
        errors = _row_errors(number, values, seen, territories, industries, territories_allowed, heading)
        if errors:
            result.errors.extend(errors)
            continue
        append(
            {
                "uscc": values["uscc"],
                "name": values["name"],
                "territory_id": territories[values["territory"]],
                "industry_id": industries[values["industry"]],
                "address": values["address"],
                "contact_name": values["contact_name"],
                "contact_phone": values["contact_phone"],
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
    upsert = _upsert_postgresql if connection.vendor == "postgresql" else _upsert_orm
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with transaction.atomic():
            created, updated = upsert(chunk)
        result.created += created
        result.updated += updated
        result.unchanged += len(chunk) - created - updated
        if progress:
            progress(min(len(rows), start + CHUNK))
    return result


def _upsert_orm(chunk: list[dict[str, str]]) -> tuple[int, int]:
    existing = {
        e["uscc"]: e
        for e in Enterprise.objects.filter(uscc__in=[r["uscc"] for r in chunk]).values("id", "uscc", *FIELDS)
    }
    new = [Enterprise(**r) for r in chunk if r["uscc"] not in existing]
    changed = [
        Enterprise(id=old["id"], uscc=r["uscc"], **{f: r[f] for f in FIELDS})
        for r in chunk
        if (old := existing.get(r["uscc"])) is not None and any(old[f] != r[f] for f in FIELDS)
    ]
    Enterprise.objects.bulk_create(new, batch_size=500)
    Enterprise.objects.bulk_update(changed, FIELDS, batch_size=500)
    return len(new), len(changed)


def _upsert_postgresql(chunk: list[dict[str, str]]) -> tuple[int, int]:
    """New rows go straight in by COPY (PostgreSQL's bulk path, several times faster than INSERT);
    changed rows are COPYed into a temporary table and updated from it in one statement."""
    table = Enterprise._meta.db_table
    columns = ("uscc", *FIELDS)
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # Imports take turns, so no other import creates one of these rows between the look-up and the COPY.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('phaseout.register_import'))")
        # Only names from the model's own metadata are formatted into SQL; the data travels as parameters.
        cursor.execute(
            f"SELECT {column_list} FROM {table} WHERE uscc = ANY(%s)",  # noqa: S608
            [[r["uscc"] for r in chunk]],
        )
        existing = {row[0]: row[1:] for row in cursor.fetchall()}
        new = [r for r in chunk if r["uscc"] not in existing]
        changed = [
            r
            for r in chunk
            if (old := existing.get(r["uscc"])) is not None and old != tuple(r[f] for f in FIELDS)
        ]
        now = timezone.now()
        with raw.copy(f"COPY {table} ({column_list}, created_at, updated_at) FROM STDIN") as copy:
            for r in new:
                copy.write_row([*(r[c] for c in columns), now, now])
        if changed:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS register_import (uscc varchar(18), name varchar(120),"
                " territory_id varchar(6), industry_id varchar(50), address varchar(200),"
                " contact_name varchar(40), contact_phone varchar(30)) ON COMMIT DELETE ROWS"
            )
            with raw.copy(f"COPY register_import ({column_list}) FROM STDIN") as copy:
                for r in changed:
                    copy.write_row([r[c] for c in columns])
            assignments = ", ".join(f"{f} = r.{f}" for f in FIELDS)
            cursor.execute(
                f"UPDATE {table} AS e SET {assignments}, updated_at = %s FROM register_import AS r"  # noqa: S608
                " WHERE e.uscc = r.uscc",
                [now],
            )
    return len(new), len(changed)
