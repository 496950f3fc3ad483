"""Administrative divisions shipped as data: one CSV file per province in phaseout/data/territories/
(`<province code>.csv`: code, name, level, parent; `#` lines name the source), loaded set-based and
idempotently by `phaseout territories load --province 44`. Another province's file, extracted the same
way (ADR 0022), loads the same way."""

from __future__ import annotations

import csv
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
    """The rows of a territories file, checked: codes of six digits under the file's province, levels
    matching the codes, every parent in the file, no code twice."""
    rows: list[Row] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        reader = csv.DictReader(lines)
        if reader.fieldnames != ["code", "name", "level", "parent"]:
            raise TerritoryFileError(f"{path.name}: the header is not code,name,level,parent")
        for number, record in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise TerritoryFileError(f"{path.name}: more than {MAX_ROWS} rows")
            code, name = (record["code"] or "").strip(), (record["name"] or "").strip()
            level, parent = (record["level"] or "").strip(), (record["parent"] or "").strip() or None
            if not CODE.fullmatch(code) or code in seen:
                raise TerritoryFileError(f"{path.name} line {number}: bad or repeated code {code!r}")
            if not name or len(name) > NAME_MAX or "\x00" in name:
                raise TerritoryFileError(f"{path.name} line {number}: bad name")
            expected = (
                Territory.Level.PROVINCE
                if code.endswith("0000")
                else Territory.Level.CITY
                if code.endswith("00")
                else Territory.Level.COUNTY
            )
            if level != expected:
                raise TerritoryFileError(f"{path.name} line {number}: {code} is a {expected}, not {level!r}")
            if level != Territory.Level.PROVINCE and (parent is None or parent not in seen):
                raise TerritoryFileError(f"{path.name} line {number}: parent {parent!r} not listed before it")
            seen.add(code)
            rows.append(Row(code, name, level, parent))
    if not rows or rows[0].level != Territory.Level.PROVINCE:
        raise TerritoryFileError(f"{path.name}: the first row is not the province")
    if any(not r.code.startswith(rows[0].code[:2]) for r in rows):
        raise TerritoryFileError(f"{path.name}: a code outside the province {rows[0].code}")
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
