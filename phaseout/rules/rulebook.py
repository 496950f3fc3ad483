"""Rulebooks: the comprehensive standards as data files, and their loader.

A rulebook is a TOML file in `phaseout/rules/rulebooks/`. `vocabulary.toml` names every
indicator (what is measured, in which unit), every attribute a correction or a condition reads,
every process and product code, and the enforcing departments. Every other file holds rules:
one `[[rule]]` table per version of a rule; the versions of one rule share its `id` and differ
in `version` and in the days they are in force. The format is described in
`phaseout/rules/rulebooks/README.md`.

The loader refuses, with file, line and reason:
- a file that is not valid TOML, an unknown or missing key, a value of the wrong kind;
- a unit that is not the indicator's unit (kWh/t against kgce/t) or not the size unit of the
  equipment type;
- two versions of one rule in force on the same day.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from phaseout.rules.deadlines import ENERGY_RECTIFICATION_MONTHS
from phaseout.rules.dimensions import Dimension
from phaseout.rules.equipment import SIZE_UNITS

RULEBOOK_DIR = Path(__file__).with_name("rulebooks")
VOCABULARY_FILE = "vocabulary.toml"
GRADES = (1, 2, 3)
# Existing plants must meet grade 3 (限定值); grades 1 and 2 are shown for information.
ENFORCED_GRADE = 3


class Comparison(StrEnum):
    AT_MOST = "at_most"  # the measured value must not exceed the limit
    AT_LEAST = "at_least"  # the measured value must reach the limit
    ELIMINATED = "eliminated"  # equipment the rule applies to is elimination class, whatever is measured


class Consequence(StrEnum):
    EXIT_AT_ONCE = "exit_at_once"  # elimination class: exit order at once, no rectification period
    RECTIFY = "rectify"  # rectification order with a deadline (energy, quality)
    RESTRICT = "restrict"  # restricted production or suspension for rectification (environment)
    SUSPEND = "suspend"  # suspension for rectification (safety)


class Verification(StrEnum):
    OFFICIAL = "official"  # checked against the official text
    SECONDARY = "secondary"  # taken from a secondary source, not yet checked against the official text
    UNCONFIRMED = "unconfirmed"  # not seen in any source (recollection); shown as such everywhere


class CatalogueClass(StrEnum):
    NONE = ""
    ELIMINATED = "eliminated"  # 淘汰类
    RESTRICTED = "restricted"  # 限制类


class CorrectionKind(StrEnum):
    PER_POINT = "per_point"  # limit += coefficient × (value − base), optionally one-sided and capped
    CATEGORY_ADD = "category_add"  # limit += amount for the attribute's category
    CATEGORY_FACTOR = "category_factor"  # limit ×= factor for the attribute's category
    STEP_ADD = "step_add"  # limit += amount of the highest threshold the value is above
    THRESHOLD_FACTOR = "threshold_factor"  # limit ×= factor when the value is above a threshold
    ATTRIBUTE_FACTOR = "attribute_factor"  # limit ×= the attribute's value (a factor the inspector reads off)
    LINEAR_FACTOR = (
        "linear_factor"  # limit ×= intercept + slope × value / divisor, when another value is above
    )


ADDITIVE = frozenset({CorrectionKind.PER_POINT, CorrectionKind.CATEGORY_ADD, CorrectionKind.STEP_ADD})


class RulebookError(ValueError):
    """A rulebook that cannot be loaded; the message names file, line and reason."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    unit: str
    categories: Mapping[str, str] = field(default_factory=dict)  # code -> name, for categorical attributes

    @property
    def categorical(self) -> bool:
        return bool(self.categories)


@dataclass(frozen=True)
class Vocabulary:
    measurements: Mapping[str, Indicator]
    attributes: Mapping[str, Indicator]
    processes: Mapping[str, str]
    products: Mapping[str, str]
    departments: Mapping[str, tuple[str, str]]  # code -> (name, department code suffix)


@dataclass(frozen=True)
class SizeRange:
    unit: str
    at_least: Decimal | None = None
    above: Decimal | None = None
    at_most: Decimal | None = None
    below: Decimal | None = None

    def contains(self, value: Decimal) -> bool:
        return (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.at_most is None or value <= self.at_most)
            and (self.below is None or value < self.below)
        )

    def describe(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f"≥{self.at_least}")
        if self.above is not None:
            parts.append(f">{self.above}")
        if self.at_most is not None:
            parts.append(f"≤{self.at_most}")
        if self.below is not None:
            parts.append(f"<{self.below}")
        return " ".join(parts) + f" {self.unit}"


Limits = tuple[Decimal | None, Decimal | None, Decimal | None]


@dataclass(frozen=True)
class Band:
    size: SizeRange
    limits: Limits
    line: int


@dataclass(frozen=True)
class Correction:
    kind: CorrectionKind
    attribute: str
    description: str
    grades: frozenset[int]
    line: int
    coefficient: Limits = (None, None, None)  # per grade, for per_point
    base: Decimal = Decimal(0)
    only: str = ""  # "", "below" or "above" the base, for per_point
    max_points: Decimal | None = None
    categories: Mapping[str, Decimal] = field(default_factory=dict)
    steps: tuple[tuple[Decimal, Decimal], ...] = ()
    threshold: Decimal | None = None
    factor: Decimal | None = None
    intercept: Decimal = Decimal(0)
    slope: Decimal = Decimal(0)
    divisor: Decimal = Decimal(1)
    when_attribute: str = ""
    when_above: Decimal | None = None
    verification: Verification = Verification.SECONDARY

    @property
    def additive(self) -> bool:
        return self.kind in ADDITIVE

    def inputs(self) -> tuple[str, ...]:
        return (self.attribute, self.when_attribute) if self.when_attribute else (self.attribute,)


@dataclass(frozen=True)
class Rule:
    """One version of a rule: what it applies to, what it limits, what follows a breach."""

    id: str
    version: str
    title: str
    dimension: Dimension
    source: str  # document number, title and clause
    effective_from: dt.date
    effective_until: dt.date | None
    industries: tuple[str, ...]
    equipment_types: tuple[str, ...]
    processes: tuple[str, ...]
    except_processes: tuple[str, ...]
    products: tuple[str, ...]
    size: SizeRange | None
    when_attribute: str
    when_equals: str
    indicator: str
    unit: str
    comparison: Comparison
    limits: Limits
    bands: tuple[Band, ...]
    grade: int
    corrections: tuple[Correction, ...]
    consequence: Consequence
    rectification_months: int | None
    catalogue_class: CatalogueClass
    departments: tuple[str, ...]
    verification: Verification
    notes: str
    file: str
    line: int

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    @property
    def confirmed(self) -> bool:
        return self.verification is Verification.OFFICIAL

    @property
    def uses_unconfirmed(self) -> bool:
        return self.verification is Verification.UNCONFIRMED or any(
            c.verification is Verification.UNCONFIRMED for c in self.corrections
        )

    @property
    def needs_size(self) -> bool:
        return self.size is not None or bool(self.bands)

    def band_for(self, size: Decimal | None) -> Band | None:
        if size is None:
            return None
        for band in self.bands:
            if band.size.contains(size):
                return band
        return None


@dataclass(frozen=True)
class Rulebook:
    id: str
    title: str
    file: str
    description: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Library:
    """Every rulebook, with the versions of each rule in date order."""

    vocabulary: Vocabulary
    rulebooks: tuple[Rulebook, ...]
    versions: Mapping[str, tuple[Rule, ...]]

    @property
    def rules(self) -> list[Rule]:
        return [rule for book in self.rulebooks for rule in book.rules]

    def rule(self, rule_id: str, on: dt.date) -> Rule | None:
        """The version of `rule_id` in force on `on`, or None."""
        for rule in self.versions.get(rule_id, ()):
            if rule.in_force(on):
                return rule
        return None

    def version(self, rule_id: str, version: str) -> Rule:
        for rule in self.versions.get(rule_id, ()):
            if rule.version == version:
                return rule
        raise KeyError(f"unknown rule version {rule_id}@{version}")

    def latest(self, rule_id: str) -> Rule:
        try:
            return self.versions[rule_id][-1]
        except KeyError:
            raise KeyError(f"unknown rule {rule_id!r}") from None

    def in_force(self, on: dt.date) -> list[Rule]:
        return [rule for rule in self.rules if rule.in_force(on)]

    def rulebook(self, book_id: str) -> Rulebook:
        for book in self.rulebooks:
            if book.id == book_id:
                return book
        raise KeyError(f"unknown rulebook {book_id!r}")


# --- loading -------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z_.]+)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z_.]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


class _Lines:
    """Where each array-of-tables entry and each of its keys sits in the text."""

    def __init__(self, text: str) -> None:
        self.entries: dict[str, list[tuple[int, dict[str, int]]]] = {}
        self.tables: dict[str, tuple[int, dict[str, int]]] = {}
        current: dict[str, int] | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            if match := _HEADER.match(raw):
                current = {}
                self.entries.setdefault(match.group(1), []).append((number, current))
            elif match := _TABLE.match(raw):
                current = {}
                self.tables[match.group(1)] = (number, current)
            elif current is not None and (match := _KEY.match(raw)):
                current.setdefault(match.group(1), number)


class _Reader:
    """Reads one table, turning every problem into a RulebookError at the right line."""

    def __init__(self, file: str, table: Mapping[str, Any], line: int, keys: Mapping[str, int]) -> None:
        self.file = file
        self.table = table
        self.line = line
        self.keys = keys
        self.used: set[str] = set()

    def fail(self, reason: str, key: str | None = None) -> RulebookError:
        return RulebookError(self.file, self.keys.get(key, self.line) if key else self.line, reason)

    def has(self, key: str) -> bool:
        return key in self.table

    def raw(self, key: str, default: Any = ..., kind: type | tuple[type, ...] = object) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.fail(f"missing key {key!r}")
            return default
        value = self.table[key]
        if not isinstance(value, kind):
            raise self.fail(f"{key!r} has the wrong kind of value: {value!r}", key)
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.raw(key, ... if default is None else default, str)
        if default is None and not value.strip():
            raise self.fail(f"{key!r} must not be empty", key)
        return str(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key, [], list)
        if not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{key!r} must be a list of names", key)
        return tuple(value)

    def number(self, key: str, default: Decimal | None = None, required: bool = False) -> Decimal | None:
        value = self.raw(key, ... if required else default, (int, Decimal, type(None)))
        if isinstance(value, bool):
            raise self.fail(f"{key!r} must be a number", key)
        return None if value is None else Decimal(value)

    def date(self, key: str, required: bool = True) -> dt.date | None:
        value = self.raw(key, ... if required else None, (dt.date, type(None)))
        if isinstance(value, dt.datetime):
            raise self.fail(f"{key!r} must be a date, not a date and time", key)
        return value

    def choice(self, key: str, enum: type[StrEnum], default: str | None = None) -> Any:
        value = self.text(key, default)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum if e.value)
            raise self.fail(f"{key!r} is {value!r}; expected one of: {allowed}", key) from None

    def limits(self, key: str) -> Limits:
        value = self.raw(key, kind=list)
        if len(value) != len(GRADES):
            raise self.fail(f'{key!r} needs one value per grade (1, 2, 3); use "-" for none', key)
        result: list[Decimal | None] = []
        for item in value:
            if item == "-":
                result.append(None)
            elif isinstance(item, int | Decimal) and not isinstance(item, bool):
                result.append(Decimal(item))
            else:
                raise self.fail(f'{key!r} has {item!r}; expected a number or "-"', key)
        return (result[0], result[1], result[2])

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(f"unknown key {unknown[0]!r}", unknown[0])


def _parse(path: Path) -> tuple[str, dict[str, Any], _Lines]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(name, 0, f"cannot read the file: {exc}") from None
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise RulebookError(name, int(found.group(1)) if found else 0, f"not valid TOML: {exc}") from None
    return name, data, _Lines(text)


def _indicator(file: str, code: str, table: Any, line: int, keys: Mapping[str, int]) -> Indicator:
    if not isinstance(table, dict):
        raise RulebookError(file, line, f"{code!r} must be a table")
    reader = _Reader(file, table, line, keys)
    categories = reader.raw("categories", {}, dict)
    indicator = Indicator(
        code=code, name=reader.text("name"), unit=reader.text("unit", ""), categories=categories
    )
    reader.finish()
    return indicator


def load_vocabulary(path: Path) -> Vocabulary:
    file, data, lines = _parse(path)
    groups: dict[str, dict[str, Indicator]] = {"measurement": {}, "attribute": {}}
    for group, found in groups.items():
        for code, table in data.get(group, {}).items():
            line, keys = lines.tables.get(f"{group}.{code}", (0, {}))
            found[code] = _indicator(file, code, table, line, keys)
    clash = set(groups["measurement"]) & set(groups["attribute"])
    if clash:
        raise RulebookError(file, 0, f"{sorted(clash)[0]!r} is both a measurement and an attribute")
    departments = {}
    for code, table in data.get("department", {}).items():
        line, keys = lines.tables.get(f"department.{code}", (0, {}))
        reader = _Reader(file, table, line, keys)
        departments[code] = (reader.text("name"), reader.text("suffix"))
        reader.finish()
    unknown = sorted(set(data) - {"measurement", "attribute", "process", "product", "department"})
    if unknown:
        raise RulebookError(file, 1, f"unknown section {unknown[0]!r}")
    return Vocabulary(
        measurements=groups["measurement"],
        attributes=groups["attribute"],
        processes=dict(data.get("process", {})),
        products=dict(data.get("product", {})),
        departments=departments,
    )


def _size(reader: _Reader, prefix: str, equipment_types: Iterable[str]) -> SizeRange | None:
    bounds = {name: reader.number(f"{prefix}{name}") for name in ("at_least", "above", "at_most", "below")}
    unit_key = f"{prefix}unit"
    if all(value is None for value in bounds.values()):
        if reader.has(unit_key):
            raise reader.fail("a size unit without a size range", unit_key)
        return None
    unit = reader.text(unit_key)
    for kind in equipment_types:
        expected = SIZE_UNITS.get(kind)
        if expected is None:
            raise reader.fail(f"equipment type {kind!r} has no size parameter", unit_key)
        if expected != unit:
            raise reader.fail(
                f"unit mismatch: the size of {kind!r} is measured in {expected}, not {unit}", unit_key
            )
    if not equipment_types:
        raise reader.fail("a size range needs the equipment types it measures", unit_key)
    return SizeRange(unit=unit, **bounds)


def _correction(
    file: str, table: Any, line: int, keys: Mapping[str, int], vocabulary: Vocabulary, default: Verification
) -> Correction:
    reader = _Reader(file, table, line, keys)
    kind: CorrectionKind = reader.choice("kind", CorrectionKind)
    attribute = reader.text("attribute")
    known = vocabulary.attributes.get(attribute)
    if known is None:
        raise reader.fail(f"unknown attribute {attribute!r}", "attribute")
    categorical = kind in (CorrectionKind.CATEGORY_ADD, CorrectionKind.CATEGORY_FACTOR)
    if categorical != known.categorical:
        raise reader.fail(f"a {kind.value} correction cannot read {attribute!r}", "attribute")
    if "unit" in table and table["unit"] != known.unit:
        raise reader.fail(
            f"unit mismatch: {attribute!r} is measured in {known.unit}, not {table['unit']}", "unit"
        )
    reader.used.add("unit")
    grades = frozenset(reader.raw("grades", list(GRADES), list))
    if not grades or not grades <= set(GRADES):
        raise reader.fail("'grades' must list grades among 1, 2, 3", "grades")
    fields: dict[str, Any] = {}
    if kind is CorrectionKind.PER_POINT:
        coefficient = reader.raw("coefficient", kind=(int, Decimal, list))
        if isinstance(coefficient, list):
            fields["coefficient"] = reader.limits("coefficient")
        else:
            fields["coefficient"] = (Decimal(coefficient),) * 3
        fields["base"] = reader.number("base", Decimal(0))
        fields["only"] = reader.text("only", "")
        if fields["only"] not in ("", "below", "above"):
            raise reader.fail('\'only\' must be "below" or "above"', "only")
        fields["max_points"] = reader.number("max_points")
    elif categorical:
        values = reader.raw("categories", kind=dict)
        for category, amount in values.items():
            if category not in known.categories:
                raise reader.fail(f"{attribute!r} has no category {category!r}", "categories")
            if not isinstance(amount, int | Decimal) or isinstance(amount, bool):
                raise reader.fail(f"category {category!r} needs a number", "categories")
        fields["categories"] = {category: Decimal(amount) for category, amount in values.items()}
    elif kind is CorrectionKind.STEP_ADD:
        steps = reader.raw("steps", kind=list)
        try:
            fields["steps"] = tuple(sorted((Decimal(a), Decimal(b)) for a, b in steps))
        except (TypeError, ValueError):
            raise reader.fail("'steps' must be pairs [threshold, amount]", "steps") from None
    elif kind is CorrectionKind.THRESHOLD_FACTOR:
        fields["threshold"] = reader.number("threshold", required=True)
        fields["factor"] = reader.number("factor", required=True)
    elif kind is CorrectionKind.LINEAR_FACTOR:
        fields["intercept"] = reader.number("intercept", required=True)
        fields["slope"] = reader.number("slope", required=True)
        fields["divisor"] = reader.number("divisor", Decimal(1))
        if fields["divisor"] == 0:
            raise reader.fail("'divisor' must not be zero", "divisor")
    when = reader.text("when_attribute", "")
    if when:
        if when not in vocabulary.attributes or vocabulary.attributes[when].categorical:
            raise reader.fail(f"unknown numeric attribute {when!r}", "when_attribute")
        fields["when_attribute"] = when
        fields["when_above"] = reader.number("when_above", required=True)
    correction = Correction(
        kind=kind,
        attribute=attribute,
        description=reader.text("description"),
        grades=grades,
        line=line,
        verification=reader.choice("verification", Verification, default.value),
        **fields,
    )
    reader.finish()
    return correction


def _rule(
    file: str,
    table: Any,
    line: int,
    keys: Mapping[str, int],
    sub_tables: Mapping[str, list[tuple[int, dict[str, int]]]],
    vocabulary: Vocabulary,
) -> Rule:
    if not isinstance(table, dict):
        raise RulebookError(file, line, "a rule must be a table")
    reader = _Reader(file, table, line, keys)
    rule_id = reader.text("id")
    if not re.fullmatch(r"[a-z0-9_.-]+", rule_id):
        raise reader.fail(f"rule id {rule_id!r} may hold only a-z, 0-9, '.', '-' and '_'", "id")
    equipment_types = reader.texts("equipment_types")
    for kind in equipment_types:
        if kind not in SIZE_UNITS and kind not in _EQUIPMENT_WITHOUT_SIZE:
            raise reader.fail(f"unknown equipment type {kind!r}", "equipment_types")
    for key, known in (("processes", vocabulary.processes), ("except_processes", vocabulary.processes)):
        for code in reader.texts(key):
            if code not in known:
                raise reader.fail(f"unknown process {code!r}", key)
    for code in reader.texts("products"):
        if code not in vocabulary.products:
            raise reader.fail(f"unknown product {code!r}", "products")
    comparison: Comparison = reader.choice("comparison", Comparison)
    indicator = reader.text("indicator", "" if comparison is Comparison.ELIMINATED else None)
    unit = reader.text("unit", "")
    if indicator:
        measured = vocabulary.measurements.get(indicator)
        if measured is None:
            raise reader.fail(f"unknown indicator {indicator!r}", "indicator")
        if unit != measured.unit:
            raise reader.fail(
                f"unit mismatch: indicator {indicator!r} is measured in {measured.unit}, "
                f"not {unit or '(none)'}",
                "unit",
            )
    elif comparison is not Comparison.ELIMINATED:
        raise reader.fail("this comparison needs an indicator", "comparison")
    size = _size(reader, "size_", equipment_types)
    bands: list[Band] = []
    band_entries = iter(sub_tables.get("rule.band", []))
    raw_bands = reader.raw("band", [], list)
    limits: Limits = (None, None, None)
    grade = int(reader.raw("grade", ENFORCED_GRADE, int))
    if grade not in GRADES:
        raise reader.fail("'grade' must be 1, 2 or 3", "grade")
    if comparison is not Comparison.ELIMINATED:
        if raw_bands:
            if reader.has("limits"):
                raise reader.fail("give either 'limits' or bands, not both", "limits")
            for table_ in raw_bands:
                band_line, band_keys = next(band_entries, (line, {}))
                band_reader = _Reader(file, table_, band_line, band_keys)
                band_size = _size(band_reader, "size_", equipment_types)
                if band_size is None:
                    raise band_reader.fail("a band needs a size range")
                band_limits = band_reader.limits("limits")
                if band_limits[grade - 1] is None:
                    raise band_reader.fail(f"the enforced grade {grade} has no limit", "limits")
                band_reader.finish()
                bands.append(Band(size=band_size, limits=band_limits, line=band_line))
        else:
            limits = reader.limits("limits")
            if limits[grade - 1] is None:
                raise reader.fail(f"the enforced grade {grade} has no limit", "limits")
    elif raw_bands or reader.has("limits"):
        raise reader.fail("an elimination rule has no limits", "limits" if reader.has("limits") else None)
    verification: Verification = reader.choice("verification", Verification)
    corrections = []
    correction_entries = iter(sub_tables.get("rule.correction", []))
    for table_ in reader.raw("correction", [], list):
        c_line, c_keys = next(correction_entries, (line, {}))
        corrections.append(_correction(file, table_, c_line, c_keys, vocabulary, verification))
    if corrections and comparison is Comparison.ELIMINATED:
        raise reader.fail("an elimination rule has no corrections", "correction")
    effective_from = reader.date("effective_from")
    effective_until = reader.date("effective_until", required=False)
    assert effective_from is not None
    if effective_until is not None and effective_until < effective_from:
        raise reader.fail("'effective_until' is before 'effective_from'", "effective_until")
    consequence: Consequence = reader.choice("consequence", Consequence)
    months = reader.raw("rectification_months", None, (int, type(None)))
    if consequence is Consequence.EXIT_AT_ONCE:
        if months is not None:
            raise reader.fail("elimination has no rectification period", "rectification_months")
    elif months is None:
        months = ENERGY_RECTIFICATION_MONTHS
    departments = reader.texts("departments")
    for code in departments:
        if code not in vocabulary.departments:
            raise reader.fail(f"unknown department {code!r}", "departments")
    if not departments:
        raise reader.fail("name the enforcing department", "departments")
    when_attribute = reader.text("when_attribute", "")
    when_equals = reader.text("when_equals", "")
    if when_attribute:
        known_attribute = vocabulary.attributes.get(when_attribute)
        if known_attribute is None or when_equals not in known_attribute.categories:
            raise reader.fail("'when_attribute' must name a category of a known attribute", "when_equals")
    rule = Rule(
        id=rule_id,
        version=reader.text("version"),
        title=reader.text("title"),
        dimension=reader.choice("dimension", Dimension),
        source=reader.text("source"),
        effective_from=effective_from,
        effective_until=effective_until,
        industries=reader.texts("industries"),
        equipment_types=equipment_types,
        processes=reader.texts("processes"),
        except_processes=reader.texts("except_processes"),
        products=reader.texts("products"),
        size=size,
        when_attribute=when_attribute,
        when_equals=when_equals,
        indicator=indicator,
        unit=unit,
        comparison=comparison,
        limits=limits,
        bands=tuple(bands),
        grade=grade,
        corrections=tuple(corrections),
        consequence=consequence,
        rectification_months=months,
        catalogue_class=reader.choice("catalogue_class", CatalogueClass, ""),
        departments=departments,
        verification=verification,
        notes=reader.text("notes", ""),
        file=file,
        line=line,
    )
    reader.finish()
    return rule


_EQUIPMENT_WITHOUT_SIZE = frozenset({"coke_oven", "submerged_arc_furnace", "other"})


def load_rulebook(path: Path, vocabulary: Vocabulary) -> Rulebook:
    file, data, lines = _parse(path)
    head_line, head_keys = lines.tables.get("rulebook", (1, {}))
    head = _Reader(file, data.get("rulebook", {}), head_line, head_keys)
    book_id, title, description = head.text("id"), head.text("title"), head.text("description", "")
    head.finish()
    unknown = sorted(set(data) - {"rulebook", "rule"})
    if unknown:
        raise RulebookError(file, 1, f"unknown section {unknown[0]!r}")
    entries = lines.entries.get("rule", [])
    starts = [line for line, _ in entries] + [10**9]
    rules = []
    for index, table in enumerate(data.get("rule", [])):
        line, keys = entries[index] if index < len(entries) else (0, {})
        # A rule's bands and corrections are the sub-tables between its header and the next rule's.
        sub_tables = {
            name: [entry for entry in lines.entries.get(name, []) if line < entry[0] < starts[index + 1]]
            for name in ("rule.band", "rule.correction")
        }
        rules.append(_rule(file, table, line, keys, sub_tables, vocabulary))
    if not rules:
        raise RulebookError(file, head_line, "a rulebook without rules")
    return Rulebook(id=book_id, title=title, file=file, description=description, rules=tuple(rules))


def _overlaps(a: Rule, b: Rule) -> bool:
    far = dt.date.max
    return a.effective_from <= (b.effective_until or far) and b.effective_from <= (a.effective_until or far)


def build_library(vocabulary: Vocabulary, rulebooks: Iterable[Rulebook]) -> Library:
    books = tuple(rulebooks)
    versions: dict[str, list[Rule]] = {}
    seen_books: dict[str, str] = {}
    for book in books:
        if book.id in seen_books:
            raise RulebookError(
                book.file, 1, f"rulebook id {book.id!r} is also used by {seen_books[book.id]}"
            )
        seen_books[book.id] = book.file
        for rule in book.rules:
            for other in versions.get(rule.id, []):
                if other.version == rule.version:
                    raise RulebookError(
                        rule.file, rule.line, f"{rule.key} is defined twice (also {other.file}:{other.line})"
                    )
                if _overlaps(rule, other):
                    raise RulebookError(
                        rule.file,
                        rule.line,
                        f"two versions of rule {rule.id!r} in force on the same day: {rule.version} and "
                        f"{other.version} ({other.file}:{other.line})",
                    )
                if rule.dimension != other.dimension:
                    raise RulebookError(
                        rule.file, rule.line, f"rule {rule.id!r} changes dimension between versions"
                    )
            versions.setdefault(rule.id, []).append(rule)
    return Library(
        vocabulary=vocabulary,
        rulebooks=books,
        versions={
            key: tuple(sorted(found, key=lambda r: r.effective_from)) for key, found in versions.items()
        },
    )


def load_library(directory: Path = RULEBOOK_DIR) -> Library:
    vocabulary = load_vocabulary(directory / VOCABULARY_FILE)
    books = [
        load_rulebook(path, vocabulary)
        for path in sorted(directory.glob("*.toml"))
        if path.name != VOCABULARY_FILE
    ]
    return build_library(vocabulary, books)


_LIBRARY: Library | None = None


def library() -> Library:
    """The shipped rulebooks, loaded once per process."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = load_library()
    return _LIBRARY
