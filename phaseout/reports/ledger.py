"""The exit ledger: every exited line with the case that exited it, and aggregates over it.

Capacity is summed per unit (10,000 t/year, t/d, 10,000 weight cases/year) and never across units.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Min, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, ExtractYear

from phaseout.cases.models import Case, CaseState, case_number
from phaseout.registry.models import CapacityUnit, LineStatus, ProductionLine

EXITED = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
GROUPS = ("year", "industry", "territory", "department", "dimension", "method")
MEASURE_SEPARATOR = "；"
NOT_DONE = "未完成"


@dataclass
class Row:
    line_id: int
    enterprise_id: int
    enterprise: str
    uscc: str
    territory_code: str
    territory: str
    industry_code: str
    industry: str
    line: str
    capacity: Decimal
    unit: str
    unit_label: str
    exited_on: dt.date | None
    case_id: int | None = None
    case_number: str = ""
    method: str = ""
    method_label: str = ""
    dimension: str = ""
    department_code: str = ""
    department: str = ""
    # The exit measures as officials read them, in the order they were set:
    # "断电 2026-03-02；……；拆除 未完成" (written by the database on PostgreSQL).
    measures_text: str = ""
    accepted_on: dt.date | None = None
    acceptance_team: str = ""
    announced_on: dt.date | None = None

    @property
    def measures(self) -> list[tuple[str, dt.date | None]]:
        """The measures as (label, day done or None)."""
        listed = []
        for item in self.measures_text.split(MEASURE_SEPARATOR) if self.measures_text else []:
            label, _, day = item.rpartition(" ")
            listed.append((label, None if day == NOT_DONE else dt.date.fromisoformat(day)))
        return listed

    def key(self, group: str) -> tuple[str, str]:
        """(value, label) of this row for an aggregate group."""
        if group == "year":
            year = str(self.exited_on.year) if self.exited_on else ""
            return year, year
        if group == "industry":
            return self.industry_code, self.industry
        if group == "territory":
            return self.territory_code, self.territory
        if group == "department":
            return self.department_code, self.department
        if group == "dimension":
            return self.dimension, self.dimension
        return self.method, self.method_label


def ledger(lines: QuerySet[ProductionLine] | None = None) -> list[Row]:
    """Every exited line of `lines` with the case that exited it, oldest exit first.

    Three flat queries (lines with their enterprise, the exit cases, their measures) read as tuples:
    building model instances for 100,000 lines, their cases and 800,000 measures took a minute."""
    from phaseout.cases.models import EXIT_PLAN_CHOICES, MeasureKind

    lines = (lines if lines is not None else ProductionLine.objects.all()).filter(status=LineStatus.EXITED)
    exit_cases = Case.objects.filter(line__in=lines.values("id"), state__in=EXITED)
    cases: dict[int, tuple[Any, ...]] = {}
    for exit_case in exit_cases.order_by("id").values_list(
        "line_id",
        "id",
        ExtractYear("opened_at", tzinfo=dt.UTC),  # the case number's year, as `Case.number` writes it
        "exit_plan",
        "dimension",
        "finding__inspection__department__code",
        "finding__inspection__department__name",
        "accepted_on",
        "acceptance_team",
    ):
        cases[exit_case[0]] = exit_case  # the latest exit case of a line wins
    units = {str(k): str(v) for k, v in CapacityUnit.choices}
    measure_labels = {str(k): str(v) for k, v in MeasureKind.choices}
    plans = {str(k): str(v) for k, v in EXIT_PLAN_CHOICES}
    measures: dict[int, str] = {}
    announced: dict[int, dt.date | None] = {}
    for case_id, text, announced_on in _measures(exit_cases, measure_labels):
        measures[case_id] = text
        announced[case_id] = announced_on
    rows = []
    for (
        line_id,
        enterprise_id,
        enterprise,
        uscc,
        territory_code,
        territory,
        industry_code,
        industry,
        name,
        capacity,
        unit,
        exited_on,
    ) in lines.order_by("exited_on", "id").values_list(
        "id",
        "enterprise_id",
        "enterprise__name",
        "enterprise__uscc",
        "enterprise__territory_id",
        "enterprise__territory__name",
        "enterprise__industry_id",
        "enterprise__industry__name",
        "name",
        "capacity",
        "capacity_unit",
        "exited_on",
    ):
        row = Row(
            line_id=line_id,
            enterprise_id=enterprise_id,
            enterprise=enterprise,
            uscc=uscc,
            territory_code=territory_code,
            territory=territory,
            industry_code=industry_code,
            industry=industry,
            line=name,
            capacity=capacity,
            unit=unit,
            unit_label=units.get(unit, unit),
            exited_on=exited_on,
        )
        found = cases.get(line_id)
        if found is not None:
            _, case_id, year, plan, dimension, department_code, department, accepted_on, team = found
            row.case_id, row.case_number = case_id, case_number(year, case_id)
            row.method, row.method_label = plan, plans.get(plan, plan)
            row.dimension = dimension
            row.department_code, row.department = department_code or "", department or ""
            row.measures_text = measures.get(case_id, "")
            row.accepted_on, row.acceptance_team = accepted_on, team
            row.announced_on = announced.get(case_id)
        rows.append(row)
    return rows


def _measures(
    exit_cases: QuerySet[Case], labels: dict[str, str]
) -> Iterator[tuple[int, str, dt.date | None]]:
    """Each case's exit measures as text ("断电 2026-03-02；……；拆除 未完成", in the order they were
    set), and the day its exit was announced on the website (the earliest such measure done).

    On PostgreSQL the database writes each case's text (one row a case instead of eight, and no
    Python object per measure: over 800,000 measures that is most of the time); elsewhere it is
    written here."""
    from phaseout.cases.models import ExitMeasure, MeasureKind

    announcement = MeasureKind.WEBSITE_ANNOUNCEMENT.value
    measures = ExitMeasure.objects.filter(case__in=exit_cases.values("id"))
    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import StringAgg

        text: TextField[str, str] = TextField()
        label = SqlCase(
            *(When(kind=kind, then=Value(name, output_field=text)) for kind, name in labels.items()),
            default=Cast("kind", text),
            output_field=text,
        )
        done = Coalesce(Cast("done_on", text), Value(NOT_DONE, output_field=text), output_field=text)
        joined = StringAgg(
            Concat(label, Value(" ", output_field=text), done, output_field=text),
            delimiter=MEASURE_SEPARATOR,
            order_by="id",
        )
        announced = Min("done_on", filter=Q(kind=announcement))
        grouped = measures.values("case_id").annotate(all=joined, announced=announced)
        yield from grouped.values_list("case_id", "all", "announced")
        return
    current: int | None = None
    items: list[str] = []
    first: dt.date | None = None
    ordered = measures.order_by("case_id", "id").values_list("case_id", "kind", "done_on")
    for case_id, kind, done_on in ordered:
        if case_id != current:
            if current is not None:
                yield current, MEASURE_SEPARATOR.join(items), first
            current, items, first = case_id, [], None
        items.append(f"{labels.get(kind, kind)} {done_on.isoformat() if done_on else NOT_DONE}")
        if kind == announcement and done_on is not None and (first is None or done_on < first):
            first = done_on
    if current is not None:
        yield current, MEASURE_SEPARATOR.join(items), first


def filtered(rows: Iterable[Row], params: dict[str, str]) -> list[Row]:
    result = list(rows)
    for group in GROUPS:
        value = params.get(group)
        if value:
            result = [r for r in result if r.key(group)[0] == value]
    if params.get("unit"):
        result = [r for r in result if r.unit == params["unit"]]
    q = params.get("q", "").strip()
    if q:
        result = [r for r in result if q in r.enterprise or q.upper() == r.uscc]
    return result


def aggregate(rows: Iterable[Row], group: str) -> list[dict[str, Any]]:
    """Lines and capacity per (group value, unit): one total per unit, never summed across units."""
    totals: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"lines": 0, "enterprises": set(), "capacity": Decimal(0)}
    )
    labels: dict[str, str] = {}
    unit_labels: dict[str, str] = {}
    for row in rows:
        value, label = row.key(group)
        labels[value] = label
        unit_labels[row.unit] = row.unit_label
        total = totals[(value, row.unit, label)]
        total["lines"] += 1
        total["enterprises"].add(row.enterprise_id)
        total["capacity"] += row.capacity
    return [
        {
            "value": value,
            "label": label or "—",
            "unit": unit,
            "unit_label": unit_labels[unit],
            "lines": total["lines"],
            "enterprises": len(total["enterprises"]),
            "capacity": plain_figure(total["capacity"]),
        }
        for (value, unit, label), total in sorted(totals.items())
    ]


def plain_figure(value: Decimal) -> Decimal:
    """600, not 6E+2 nor 600.0000: a figure as officials write it."""
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


# The ledger in SQL: the rows a filter selects are counted, paged and aggregated by the database, so a
# filter that matches nothing costs nothing and a page costs a page. The Python `filtered` and
# `aggregate` above stay as the reference the tests compare with.

LEDGER_FILTERS = (*GROUPS, "unit", "q")


@dataclass(frozen=True)
class Selection:
    """The ledger's rows a filter selects, as SQL: `FROM … WHERE …` (`sql`, `params`) over the aliases
    l (line) and, when joined, e (enterprise, for a search by name or USCC; `enterprise`) and c (the line's
    latest exit case) with d (the department that inspected; `cased`). A join is made only when a filter or
    a grouping reads it: the line keeps its enterprise's industry and territory, so counting and totalling
    by them reads the exited lines' index alone."""

    where: str
    where_params: tuple[Any, ...]
    cased: bool = False
    enterprise: bool = False
    # The same rows as cells of the exit tally (ADR 25), when the filter reads nothing the tally lacks
    # (no search by name, no period of days): counts and totals are then read from it.
    tallied: Tallied | None = None
    lateral: bool = False  # the latest exit case probed line by line (a page: a few probes, not a pass)

    @property
    def sql(self) -> str:
        from phaseout.cases.models import Finding, Inspection
        from phaseout.orgs.models import Department
        from phaseout.registry.models import Enterprise

        joins = [f"FROM {_table(ProductionLine)} l"]
        if self.enterprise:
            joins.append(f"JOIN {_table(Enterprise)} e ON e.id = l.enterprise_id")
        if self.cased:
            join = _CASE_JOIN
            if connection.vendor == "postgresql":
                join = _CASE_JOIN_LATERAL if self.lateral else _CASE_JOIN_PG
            joins.append(join.format(case=_table(Case), finding=_table(Finding)))
            joins.append(f"LEFT JOIN {_table(Inspection)} i ON i.id = f.inspection_id")
            joins.append(f"LEFT JOIN {_table(Department)} d ON d.id = i.department_id")
        return " ".join(joins) + " WHERE " + self.where

    @property
    def params(self) -> tuple[Any, ...]:
        joined = tuple(state.value for state in EXITED) if self.cased else ()  # the join's come first
        return (*joined, *self.where_params)

    def joined(self, *, cased: bool = False, enterprise: bool = False) -> Selection:
        """The same rows with more joined (for a grouping by what the join reads)."""
        return replace(self, cased=self.cased or cased, enterprise=self.enterprise or enterprise)

    def line_ids(self) -> Any:
        """The selected lines' ids, for `ProductionLine.objects.filter(id__in=…)` (a sub-query)."""
        from django.db.models.expressions import RawSQL

        return RawSQL(f"SELECT l.id {self.sql}", self.params)  # noqa: S611 - parameters bound

    def count(self) -> int:
        if self.tallied is not None:
            return self.tallied.lines()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) {self.sql}", self.params)
            return int(cursor.fetchone()[0])

    def page(self, offset: int, limit: int) -> list[Row]:
        """The rows from `offset`, oldest exit first, each with its case and measures (read for the
        page only)."""
        probed = replace(self, lateral=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT l.id {probed.sql} ORDER BY l.exited_on, l.id LIMIT %s OFFSET %s",
                (*probed.params, limit, offset),
            )
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        return ledger(ProductionLine.objects.filter(id__in=ids))  # one page of ids: bounded

    def chunks(self, size: int = 20_000) -> Iterator[list[Row]]:
        """Every selected row, oldest exit first, `size` at a time: each chunk the lines after the last
        one's (exit day, id), as a sub-query (no list of ids), with their cases and measures read for
        them alone (an export: memory bounded by the chunk)."""
        from django.db.models.expressions import RawSQL

        after: tuple[Any, ...] = ()
        probed = replace(self, lateral=True)
        while True:
            beyond = " AND (l.exited_on > %s OR (l.exited_on = %s AND l.id > %s))" if after else ""
            sql = f"SELECT l.id {probed.sql}{beyond} ORDER BY l.exited_on, l.id LIMIT %s"
            chunk = RawSQL(sql, (*probed.params, *after, size))  # noqa: S611 - parameters bound
            rows = ledger(ProductionLine.objects.filter(id__in=chunk))
            if rows:
                yield rows
            if len(rows) < size:
                return
            last = rows[-1]
            after = (last.exited_on, last.exited_on, last.line_id)

    def rows(self) -> list[Row]:
        """Every selected row (a document that holds them all: a stage report)."""
        return ledger(ProductionLine.objects.filter(id__in=self.line_ids()))


class Paged(Sequence[Row]):
    """A selection as a sequence for `phaseout.web.paginate`: a slice is one LIMIT/OFFSET query."""

    def __init__(self, selection: Selection) -> None:
        self.selection = selection

    def __len__(self) -> int:
        return self.selection.count()

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a ledger is read a page at a time")
        start = index.start or 0
        return self.selection.page(start, max((index.stop or start) - start, 0))


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _year(value: str) -> int | None:
    """A year as the ledger writes it ("2026"), else None (then it matches nothing, as before)."""
    if value.isascii() and value.isdigit() and str(int(value)) == value and 1 <= int(value) <= 9999:
        return int(value)
    return None


def selection(
    lines: QuerySet[ProductionLine] | None = None,
    params: dict[str, str] | None = None,
    *,
    dimensions: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    territories: list[str] | None = None,
) -> Selection:
    """The exited lines of `lines` that `params` select (the ledger's filters, as `filtered` reads
    them); `dimensions`: only lines whose exit case is on one of them, or that have none (a
    department's view); `start`/`end`: exited in that period. `territories`: the codes `lines` is scoped
    to (registry.scope.line_territories), when it is scoped by territory: the counts and totals are then
    read from the exit tally, unless the filter searches by name or a period of days."""
    params = params or {}
    tallied = None
    if territories is not None and start is None and end is None and not params.get("q", "").strip():
        tallied = _tallied(territories, params, dimensions)
    where = ["l.status = %s"]
    values: list[Any] = [LineStatus.EXITED.value]
    if lines is not None and lines.query.where.children:
        try:
            scoped, scoped_params = _scope(lines)
            where.append(scoped)
            values.extend(scoped_params)
        except EmptyResultSet:  # a scope that is empty (`.none()`): no row
            where.append("1 = 0")
    if start is not None:
        where.append("l.exited_on >= %s")
        values.append(start)
    if end is not None:
        where.append("l.exited_on <= %s")
        values.append(end)
    if params.get("year"):
        year = _year(params["year"])
        if year is None:
            where.append("1 = 0")
        else:
            where.append("l.exited_on >= %s AND l.exited_on <= %s")
            values.extend([dt.date(year, 1, 1), dt.date(year, 12, 31)])
    # The enterprise's industry and territory as its lines keep them (ProductionLine.industry, .territory).
    for key, column in (("industry", "l.industry_id"), ("territory", "l.territory_id")):
        if params.get(key):
            where.append(f"{column} = %s")
            values.append(params[key])
    if params.get("unit"):
        where.append("l.capacity_unit = %s")
        values.append(params["unit"])
    q = params.get("q", "").strip()
    if q:
        if connection.vendor == "postgresql":  # LIKE: case-sensitive, as `in`; served by the trigram index
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(e.name LIKE %s OR e.uscc = %s)")
            values.extend([f"%{escaped}%", q.upper()])
        else:
            where.append("(instr(e.name, %s) > 0 OR e.uscc = %s)")
            values.extend([q, q.upper()])
    cased = bool(dimensions is not None or any(params.get(k) for k in ("department", "dimension", "method")))
    for key, column in (
        ("department", "COALESCE(d.code, '')"),
        ("dimension", "COALESCE(c.dimension, '')"),
        ("method", "COALESCE(c.exit_plan, '')"),
    ):
        if params.get(key):
            where.append(f"{column} = %s")
            values.append(params[key])
    if dimensions is not None:
        listed = " OR ".join(["c.dimension = %s"] * len(dimensions))
        where.append(f"(COALESCE(c.dimension, '') = ''{' OR ' + listed if listed else ''})")
        values.extend(dimensions)
    enterprise = bool(q)
    return Selection(" AND ".join(where), tuple(values), cased, enterprise, tallied)


def _scope(lines: QuerySet[ProductionLine]) -> tuple[str, list[Any]]:
    """The scope's condition on l: its own WHERE when it reads the line's columns alone (a city's or a
    district's lines by the territory each keeps: an index, no second pass over the lines), else
    `l.id IN (its ids)`."""
    query = lines.query
    table = ProductionLine._meta.db_table
    joined = [alias for alias, count in query.alias_refcount.items() if count and alias != table]
    if not joined and table in query.alias_map:
        condition, params = query.get_compiler(connection=connection).compile(query.where)
        return "(" + condition.replace(f"{_table(ProductionLine)}.", "l.") + ")", list(params)
    scoped, params = lines.order_by().values("id").query.sql_with_params()
    return f"l.id IN ({scoped})", list(params)


# A line's latest exit case (the highest id among its cases in an exited state), as `ledger` reads it. On
# PostgreSQL the first of each line's exit cases, newest first, read from one index that holds the columns
# the ledger filters and groups by (`case_line_latest_exit_idx`): no visit to the case table.
_CASE_JOIN_PG = (
    "LEFT JOIN (SELECT DISTINCT ON (line_id) line_id, id, dimension, exit_plan, finding_id FROM {case}"
    " WHERE state IN (%s, %s, %s) AND line_id IS NOT NULL ORDER BY line_id, id DESC) c ON c.line_id = l.id"
    " LEFT JOIN {finding} f ON f.id = c.finding_id"
)
# The same for a page: each line's latest exit case probed from that index as the page's lines are read in
# their order, so a page with a department's dimensions costs a page of probes.
_CASE_JOIN_LATERAL = (
    "LEFT JOIN LATERAL (SELECT x.id, x.dimension, x.exit_plan, x.finding_id FROM {case} x"
    " WHERE x.line_id = l.id AND x.state IN (%s, %s, %s) ORDER BY x.id DESC LIMIT 1) c ON true"
    " LEFT JOIN {finding} f ON f.id = c.finding_id"
)
_CASE_JOIN = (
    "LEFT JOIN (SELECT line_id, MAX(id) AS id FROM {case} WHERE state IN (%s, %s, %s)"
    " AND line_id IS NOT NULL GROUP BY line_id) x ON x.line_id = l.id"
    " LEFT JOIN {case} c ON c.id = x.id LEFT JOIN {finding} f ON f.id = c.finding_id"
)


TOTALS_WORK_MEM = "64MB"


@dataclass(frozen=True)
class Tallied:
    """A selection as cells of the exit tally (phaseout.cases.exit_tally): conditions on the alias t that
    hold for both its tables (`cases_exittally`, `cases_exitenterprise`)."""

    where: str
    params: tuple[Any, ...]

    def lines(self) -> int:
        with connection.cursor() as cursor:
            sql = f"SELECT COALESCE(SUM(t.lines), 0) FROM {_TALLY} t WHERE {self.where}"  # noqa: S608
            cursor.execute(sql, self.params)
            return int(cursor.fetchone()[0])

    def totals(self, key: str) -> list[tuple[Any, str, int, int, Decimal]]:
        """(group value, unit, lines, enterprises, capacity) per group value and unit: lines and capacity
        summed over the selected cells; the enterprises, those counted once in a cell of theirs (`solo`)
        and the distinct others with a selected row (`multi`)."""
        by_value: dict[tuple[Any, str], list[Any]] = {}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {key}, t.unit, SUM(t.lines), SUM(t.centi), SUM(t.solo) FROM {_TALLY} t"  # noqa: S608
                f" WHERE {self.where} GROUP BY {key}, t.unit HAVING SUM(t.lines) <> 0",
                self.params,
            )
            for value, unit, lines, centi, solo in cursor.fetchall():
                by_value[(value, unit)] = [int(lines), int(solo), Decimal(int(centi)) / 100]
            cursor.execute(
                f"SELECT {key}, t.unit, COUNT(DISTINCT t.enterprise_id) FROM {_ROWS} t"  # noqa: S608
                f" WHERE t.multi AND {self.where} GROUP BY {key}, t.unit",
                self.params,
            )
            for value, unit, enterprises in cursor.fetchall():
                by_value[(value, unit)][1] += int(enterprises)
        return [(value, unit, n, e, capacity) for (value, unit), (n, e, capacity) in by_value.items()]


_TALLY = "cases_exittally"
_ROWS = "cases_exitenterprise"
_TALLY_KEYS = {
    "year": "t.year",
    "industry": "t.industry",
    "territory": "t.territory",
    "department": "t.department",
    "dimension": "t.dimension",
    "method": "t.method",
}


def _tallied(territories: list[str], params: dict[str, str], dimensions: list[str] | None) -> Tallied:
    """The ledger's filters (as `selection` reads them, less the search and the period) on the tally."""
    from phaseout.orgs.models import Department

    where = [f"t.territory IN ({', '.join(['%s'] * len(territories))})" if territories else "1 = 0"]
    values: list[Any] = list(territories)
    if params.get("year"):
        year = _year(params["year"])
        where.append("1 = 0" if year is None else "t.year = %s")
        values.extend([] if year is None else [year])
    for key in ("industry", "territory", "dimension", "method"):
        if params.get(key):
            where.append(f"t.{key} = %s")
            values.append(params[key])
    if params.get("unit"):
        where.append("t.unit = %s")
        values.append(params["unit"])
    if params.get("department"):
        found = Department.objects.filter(code=params["department"]).values_list("id", flat=True).first()
        where.append("1 = 0" if found is None else "t.department = %s")
        values.extend([] if found is None else [found])
    if dimensions is not None:
        listed = ", ".join(["%s"] * len(dimensions))
        where.append(f"(t.dimension = ''{' OR t.dimension IN (' + listed + ')' if listed else ''})")
        values.extend(dimensions)
    return Tallied(" AND ".join(where), tuple(values))


def totals(selected: Selection, group: str) -> list[dict[str, Any]]:
    """`aggregate` of the selected rows, grouped and summed by the database: lines, enterprises and
    capacity per (group value, unit), never summed across units. Read from the exit tally when the
    selection is one of its (`Selection.tallied`), else from the exited lines."""
    from phaseout.cases.models import EXIT_PLAN_CHOICES
    from phaseout.orgs.models import Department, Territory
    from phaseout.registry.models import Industry

    if group not in GROUPS:
        raise ValueError(group)
    found: list[tuple[str, str, int, int, Decimal, str]] = []
    if selected.tallied is not None:
        departments = {
            pk: (code, name) for pk, code, name in Department.objects.values_list("id", "code", "name")
        }
        for value, unit, lines, enterprises, summed in selected.tallied.totals(_TALLY_KEYS[group]):
            name = ""
            if group == "department":
                value, name = departments.get(value, ("", ""))
            found.append((str(value), unit, lines, enterprises, summed, name))
    else:
        found = _line_totals(selected, group)
    names: dict[str, str] = {}
    if group == "industry":
        names = dict(Industry.objects.values_list("code", "name"))
    elif group == "territory":
        names = dict(Territory.objects.values_list("code", "name"))
    elif group == "method":
        names = {str(k): str(v) for k, v in EXIT_PLAN_CHOICES}
    units = {str(k): str(v) for k, v in CapacityUnit.choices}
    table = []
    for value, unit, lines, enterprises, summed, department in found:
        name = department or "" if group == "department" else names.get(value, value)
        table.append((value, unit, name, lines, enterprises, summed))
    return [
        {
            "value": value,
            "label": name or "—",
            "unit": unit,
            "unit_label": units.get(unit, unit),
            "lines": lines,
            "enterprises": enterprises,
            "capacity": plain_figure(summed),
        }
        for value, unit, name, lines, enterprises, summed in sorted(table)
    ]


def _line_totals(selected: Selection, group: str) -> list[tuple[str, str, int, int, Decimal, str]]:
    """The totals read from the exited lines themselves (a search by name, a period of days):
    (value, unit, lines, enterprises, capacity, department name) per group value and unit."""
    postgres = connection.vendor == "postgresql"
    selected = selected.joined(cased=group in ("department", "dimension", "method"))
    key = {
        "year": "EXTRACT(YEAR FROM l.exited_on)::integer" if postgres else "strftime('%%Y', l.exited_on)",
        "industry": "l.industry_id",
        "territory": "l.territory_id",
        "department": "COALESCE(d.code, '')",
        "dimension": "COALESCE(c.dimension, '')",
        "method": "COALESCE(c.exit_plan, '')",
    }[group]
    # SQLite keeps decimals as floating point: its sum is taken in hundredths, exactly.
    capacity = "SUM(l.capacity)" if postgres else "SUM(CAST(ROUND(l.capacity * 100) AS INTEGER))"
    label = "MAX(d.name)" if group == "department" else "''"
    # Grouped per enterprise first, then per value and unit: the enterprises are counted without a
    # COUNT(DISTINCT …), which would sort every row (both levels are hashed).
    inner = f"SELECT {key} AS k, l.capacity_unit AS u, COUNT(*) AS n, {capacity} AS capacity, {label} AS lb"
    grouped = f"{inner} {selected.sql} GROUP BY {key}, l.capacity_unit, l.enterprise_id"
    with transaction.atomic(), connection.cursor() as cursor:  # fixed fragments; values bound as parameters
        if postgres:
            # One group per enterprise (tens of thousands at a city's scale): hashed in memory, not sorted
            # on disk, for this statement's transaction only.
            cursor.execute(f"SET LOCAL work_mem = '{TOTALS_WORK_MEM}'")
        sql = f"SELECT k, u, SUM(n), COUNT(*), SUM(capacity), MAX(lb) FROM ({grouped}) g GROUP BY k, u"  # noqa: S608
        cursor.execute(sql, selected.params)
        rows = cursor.fetchall()
    found = []
    for value, unit, lines, enterprises, total, department in rows:
        value = str(int(value)) if group == "year" else str(value)
        summed = Decimal(total) if postgres else Decimal(int(total)) / 100
        found.append((value, unit, int(lines), int(enterprises), summed, department or ""))
    return found
