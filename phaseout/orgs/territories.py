"""Administrative divisions shipped as data: one CSV file per province in phaseout/data/territories/
(`<province code>.csv`: code, name, level, parent; `#` lines name the source), loaded set-based and
idempotently by `phaseout territories load --province 44`. Another province's file, extracted the same
way (ADR 0022), loads the same way."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from phaseout.audit.record import record
from phaseout.orgs.models import Territory

DIRECTORY = Path(__file__).resolve().parent.parent / "data" / "territories"
CODE = re.compile(r"[1-9]\d{5}")
LEVELS = (Territory.Level.PROVINCE, Territory.Level.CITY, Territory.Level.COUNTY)
MAX_ROWS = 5000  # a province has a few hundred divisions; a larger file is not one province's
NAME_MAX = Territory._meta.get_field("name").max_length or 40


class TerritoryFileError(ValueError):
    """The file is not a territories file: the message names the line and why."""


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    level: str
    parent: str | None


def file_for(province: str) -> Path:
    """The shipped file of a province given by its two-digit prefix (44) or its code (440000)."""
    prefix = province.strip()[:2]
    if not re.fullmatch(r"[1-9]\d", prefix):
        raise TerritoryFileError(f"not a province code: {province!r}")
    return DIRECTORY / f"{prefix}0000.csv"


def read(path: Path) -> list[Row]:
    """The rows of a territories file, checked: UTF-8 (a byte-order mark allowed), codes of six digits
    under the file's province, levels matching the codes, every parent in the file and of the level above
    (a county under a city, a city under the province) with the code's prefix (GB/T 2260: 440703 under
    440700 under 440000), no code twice."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TerritoryFileError(
            f"{path.name}: not a UTF-8 text file (byte {exc.start}); save it as UTF-8 and load it again"
        ) from None
    return _rows(path.name, text)


def _rows(file: str, text: str) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, str] = {}  # code -> level
    lines = (line for line in io.StringIO(text, newline="") if not line.startswith("#"))
    reader = csv.DictReader(lines)
    if reader.fieldnames != ["code", "name", "level", "parent"]:
        raise TerritoryFileError(f"{file}: the header is not code,name,level,parent")
    for number, entry in enumerate(reader, start=2):
        if len(rows) >= MAX_ROWS:
            raise TerritoryFileError(f"{file}: more than {MAX_ROWS} rows")
        code, name = (entry["code"] or "").strip(), (entry["name"] or "").strip()
        level, parent = (entry["level"] or "").strip(), (entry["parent"] or "").strip() or None
        if not CODE.fullmatch(code) or code in seen:
            raise TerritoryFileError(f"{file} line {number}: bad or repeated code {code!r}")
        if not name or len(name) > NAME_MAX or "\x00" in name:
            raise TerritoryFileError(f"{file} line {number}: bad name")
        expected = (
            Territory.Level.PROVINCE
            if code.endswith("0000")
            else Territory.Level.CITY
            if code.endswith("00")
            else Territory.Level.COUNTY
        )
        if level != expected:
            raise TerritoryFileError(f"{file} line {number}: {code} is a {expected}, not {level!r}")
        if level == Territory.Level.PROVINCE:
            if parent is not None:
                raise TerritoryFileError(f"{file} line {number}: the province {code} has no parent")
        else:
            if parent is None or parent not in seen:
                raise TerritoryFileError(f"{file} line {number}: parent {parent!r} not listed before it")
            # A city sits under the province (same first two digits), a county under its city (same
            # first four): a file cannot move a division under another parent.
            wanted, prefix = (
                (Territory.Level.PROVINCE, 2) if level == Territory.Level.CITY else (Territory.Level.CITY, 4)
            )
            if seen[parent] != wanted:
                raise TerritoryFileError(
                    f"{file} line {number}: the parent of {level} {code} must be a {wanted}, "
                    f"not the {seen[parent]} {parent}"
                )
            if code[:prefix] != parent[:prefix]:
                raise TerritoryFileError(
                    f"{file} line {number}: {code} does not belong under {parent} "
                    f"(their first {prefix} digits differ)"
                )
        seen[code] = level
        rows.append(Row(code, name, level, parent))
    if not rows or rows[0].level != Territory.Level.PROVINCE:
        raise TerritoryFileError(f"{file}: the first row is not the province")
    if any(not r.code.startswith(rows[0].code[:2]) for r in rows):
        raise TerritoryFileError(f"{file}: a code outside the province {rows[0].code}")
    return rows


@transaction.atomic
def load(rows: list[Row], *, source: str) -> dict[str, int]:
    """Insert or update every row, level by level (parents first): one statement per level, whatever the
    number of rows; running it twice changes nothing. One audit row names the file and the counts."""
    counted: dict[str, int] = {}
    for level in LEVELS:
        batch = [
            Territory(code=r.code, name=r.name, level=r.level, parent_id=r.parent)
            for r in rows
            if r.level == level
        ]
        Territory.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name", "level", "parent"],
            batch_size=1000,
        )
        counted[str(level)] = len(batch)
    record(actor=None, action="territories.load", data={"file": source, **counted})
    return counted
