"""The exit tally (ADR 25) equals the exit ledger counted plainly in Python, whatever wrote the lines and
cases, on both databases: its per-enterprise rows and its cells after every kind of write, a fold and a
rebuild; the totals and counts read from it equal `aggregate` over `ledger()` for every filter and group;
the ledger, aggregates and charts pages read it, for each scope."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phaseout.cases import exit_tally
from phaseout.cases.models import Case, ExitEnterprise, ExitTally, Finding, Inspection
from phaseout.orgs.models import Department, Person, Territory
from phaseout.registry import scope as registry_scope
from phaseout.registry.models import ProductionLine
from phaseout.reports.ledger import GROUPS, Paged, Row, aggregate, filtered, ledger, selection, totals
from tests.conftest import client_for
from tests.factories import EnterpriseFactory, LineFactory
from tests.test_reports_sql import PARAMS, _exit_case, _exited

Cell = tuple[str, str, str, int, str, str, int]


def _department_ids() -> dict[str, int]:
    return dict(Department.objects.values_list("code", "id"))


def _cell(row: Row, departments: dict[str, int]) -> Cell:
    assert row.exited_on is not None
    return (
        row.territory_code,
        row.industry_code,
        row.unit,
        row.exited_on.year,
        row.dimension,
        row.method,
        departments.get(row.department_code, 0),
    )


def _expected() -> tuple[dict[tuple[int, Cell], tuple[int, int, bool]], dict[Cell, tuple[int, int, int]]]:
    """The independent count, from the ledger's rows read in Python: per (enterprise, cell) its lines,
    capacity in hundredths and whether the enterprise has another cell of that unit; per cell its lines,
    hundredths and the enterprises whose only cell of that unit it is."""
    departments = _department_ids()
    per: dict[tuple[int, Cell], list[int]] = defaultdict(lambda: [0, 0])
    for row in ledger():
        counted = per[(row.enterprise_id, _cell(row, departments))]
        counted[0] += 1
        counted[1] += int(row.capacity * 100)
    units = Counter((enterprise, cell[2]) for enterprise, cell in per)
    rows = {key: (n, c, units[(key[0], key[1][2])] > 1) for key, (n, c) in per.items()}
    cells: dict[Cell, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (_enterprise, cell), (n, c, multi) in rows.items():
        cells[cell][0] += n
        cells[cell][1] += c
        cells[cell][2] += 0 if multi else 1
    return rows, {cell: (n, c, s) for cell, (n, c, s) in cells.items()}


_KEY = ("territory", "industry", "unit", "year", "dimension", "method", "department")


def _stored() -> tuple[dict[tuple[int, Cell], tuple[int, int, bool]], dict[Cell, tuple[int, int, int]]]:
    rows: dict[tuple[int, Cell], tuple[int, int, bool]] = {}
    for enterprise, *cell, n, c, multi in ExitEnterprise.objects.values_list(
        "enterprise_id", *_KEY, "lines", "centi", "multi"
    ):
        key = (enterprise, tuple(cell))
        assert key not in rows, key  # one row per enterprise and cell
        rows[key] = (n, c, bool(multi))  # type: ignore[index]
    cells: dict[Cell, list[int]] = defaultdict(lambda: [0, 0, 0])
    for *cell, n, c, s in ExitTally.objects.values_list(*_KEY, "lines", "centi", "solo"):
        summed = cells[tuple(cell)]  # type: ignore[index]
        summed[0] += n
        summed[1] += c
        summed[2] += s
    return rows, {cell: (n, c, s) for cell, (n, c, s) in cells.items() if (n, c, s) != (0, 0, 0)}


def _agrees() -> None:
    assert _stored() == _expected()


@pytest.fixture
def varied(reference: None) -> dict[str, Any]:
    """Exited lines in two years, two industries, two territories and two units; exit cases of three
    departments, dimensions and methods; a line exited twice (its latest case counts), one with no case,
    one whose case is not in an exited state, an operating line with an exit case; and enterprises with
    lines in more than one cell of a unit (counted once in a total over those cells)."""
    steel_a = EnterpriseFactory(territory_id="440703", industry_id="steel", name="甲钢铁有限公司")
    steel_b = EnterpriseFactory(territory_id="440781", industry_id="steel", name="乙钢铁有限公司")
    cement = EnterpriseFactory(territory_id="440703", industry_id="cement", name="丙水泥有限公司")
    glass = EnterpriseFactory(territory_id="441602", industry_id="flat_glass", name="戊玻璃有限公司")
    l1 = _exited(steel_a, "45.5", "10kt/a", dt.date(2026, 3, 2))
    c1 = _exit_case(l1, "exited", "technology", "dismantle_at_once", "jm-gxj")
    l2 = _exited(steel_a, "30", "t/d", dt.date(2026, 5, 1))
    _exit_case(l2, "accepted", "energy", "seal_then_dismantle", "jm-fgj")
    l3 = _exited(steel_b, "12.25", "10kt/a", dt.date(2025, 11, 30))
    _exit_case(l3, "exited", "environment", "seal_then_dismantle", "jm-sthjj")
    _exit_case(l3, "archived", "technology", "dismantle_at_once", "jm-gxj")  # the latest: it counts
    l4 = _exited(steel_b, "8.5", "10kt/a", dt.date(2026, 4, 4))  # steel_b: two years of one unit
    _exit_case(l4, "exited", "energy", "seal_then_dismantle", "jm-fgj")
    _exited(cement, "600", "t/d", dt.date(2026, 1, 15))  # no case at all
    _exited(cement, "400", "t/d", dt.date(2026, 2, 15))  # the same cell: one enterprise, two lines
    l5 = _exited(cement, "20", "10kt/a", dt.date(2026, 7, 7))
    _exit_case(l5, "exit_ordered", "technology", "dismantle_at_once", "jm-gxj")  # not an exit case
    operating = LineFactory(enterprise=steel_b, capacity=Decimal("99"))
    _exit_case(operating, "exited", "technology", "dismantle_at_once", "jm-gxj")
    _exited(glass, "3.33", "10kt/a", dt.date(2026, 8, 8))
    _exited(glass, "1.5", "t/d", dt.date(2026, 3, 2))  # the same day as l1: the id breaks the tie
    return {"steel_a": steel_a, "steel_b": steel_b, "cement": cement, "glass": glass, "l1": l1, "c1": c1}


def test_the_tally_equals_the_ledger_counted_in_python(varied: dict[str, Any]) -> None:
    rows, cells = _expected()
    assert _stored() == (rows, cells)
    assert any(multi for _n, _c, multi in rows.values())  # an enterprise in two cells of a unit
    assert sum(n for n, _c, _s in cells.values()) == 9
    assert {cell[3] for cell in cells} == {2025, 2026} and len({cell[6] for cell in cells}) == 3


def _everywhere() -> list[str]:
    return list(Territory.objects.values_list("code", flat=True))


TALLIED_PARAMS = [p for p in PARAMS if "q" not in p]


@pytest.mark.parametrize("params", TALLIED_PARAMS, ids=[str(p) for p in TALLIED_PARAMS])
def test_counts_and_totals_read_from_the_tally_equal_python(
    varied: dict[str, Any], params: dict[str, str]
) -> None:
    expected = filtered(ledger(), dict(params))
    selected = selection(None, dict(params), territories=_everywhere())
    assert selected.tallied is not None
    assert selected.count() == len(expected)
    assert [r.line_id for r in Paged(selected)[0:100]] == [r.line_id for r in expected]
    # The export's chunks (two rows each: across ties of the same exit day) hold every row once, in order.
    chunked = [r for chunk in selected.chunks(size=2) for r in chunk]
    assert [(r.line_id, r.case_number, r.measures_text) for r in chunked] == [
        (r.line_id, r.case_number, r.measures_text) for r in expected
    ]
    for group in GROUPS:
        assert totals(selected, group) == aggregate(expected, group), group


@pytest.mark.parametrize("dimensions", [["energy"], ["technology", "environment"], []])
def test_a_departments_totals_from_the_tally_equal_python(
    varied: dict[str, Any], dimensions: list[str]
) -> None:
    expected = [r for r in ledger() if r.dimension in dimensions or not r.dimension]
    selected = selection(None, {}, dimensions=list(dimensions), territories=_everywhere())
    assert selected.count() == len(expected)
    assert [r.line_id for chunk in selected.chunks(size=3) for r in chunk] == [r.line_id for r in expected]
    assert [r.line_id for r in Paged(selected)[0:100]] == [r.line_id for r in expected]
    for group in GROUPS:
        assert totals(selected, group) == aggregate(expected, group), group


def test_an_enterprise_in_two_cells_of_a_unit_is_counted_once(varied: dict[str, Any]) -> None:
    selected = selection(None, {"industry": "steel", "unit": "10kt/a"}, territories=_everywhere())
    (steel,) = totals(selected, "industry")
    assert (steel["lines"], steel["enterprises"], steel["capacity"]) == (3, 2, Decimal("66.25"))
    by_year = {t["value"]: t["enterprises"] for t in totals(selected, "year")}
    assert by_year == {"2025": 1, "2026": 2}


def test_a_scope_and_a_search_or_a_period_read_the_lines(varied: dict[str, Any], district: Person) -> None:
    codes = registry_scope.line_territories(district)
    assert codes is not None
    scoped = selection(registry_scope.lines(district), {}, territories=codes)
    expected = ledger(registry_scope.lines(district))
    assert scoped.tallied is not None and scoped.count() == len(expected) == 5
    assert totals(scoped, "industry") == aggregate(expected, "industry")
    assert selection(None, {"q": "钢铁"}, territories=codes).tallied is None
    assert selection(None, {}, territories=codes, start=dt.date(2026, 1, 1)).tallied is None
    assert selection(None, {}, territories=[]).count() == 0


def test_every_kind_of_write_is_counted(varied: dict[str, Any]) -> None:
    steel_a, steel_b, cement, glass = (varied[k] for k in ("steel_a", "steel_b", "cement", "glass"))
    l1, c1 = varied["l1"], varied["c1"]
    # A line exited by save, one by a set-based UPDATE, a capacity and a unit changed, a line moved.
    line = LineFactory(enterprise=glass, capacity=Decimal("5"))
    line.status, line.exited_on = "exited", dt.date(2026, 9, 1)
    line.save()
    _agrees()
    ProductionLine.objects.filter(enterprise=steel_a, status="operating").update(
        status="exited", exited_on=dt.date(2026, 9, 2)
    )
    ProductionLine.objects.filter(pk=l1.pk).update(capacity=Decimal("46.75"))
    ProductionLine.objects.filter(enterprise=cement, capacity=Decimal("400")).update(capacity_unit="10kt/a")
    ProductionLine.objects.filter(pk=line.pk).update(
        enterprise=steel_b, territory_id="440781", industry_id="steel"
    )
    ProductionLine.objects.filter(enterprise=cement).update(exited_on=dt.date(2025, 12, 31))
    ProductionLine.objects.update(name="改名")  # changes nothing counted
    _agrees()
    # Cases: an exit confirmed, a dimension and a method changed, a case moved to another line, deleted.
    Case.objects.filter(state="exit_ordered").update(state="exited")
    Case.objects.filter(pk=c1.pk).update(dimension="safety", exit_plan="seal_then_dismantle")
    Case.objects.filter(line__status="operating", state="exited").update(line=line)
    _agrees()
    Case.objects.filter(pk=c1.pk).delete()
    _agrees()
    # The department that inspected: a finding's inspection, an inspection's department.
    finding = Finding.objects.filter(case__state="accepted").first()
    assert finding is not None
    other = Inspection.objects.exclude(pk=finding.inspection_id).first()
    Finding.objects.filter(pk=finding.pk).update(inspection=other)
    _agrees()
    Inspection.objects.filter(findings__case__state="archived").update(
        department=Department.objects.get(code="jm-sthjj")
    )
    _agrees()
    # Many lines inserted at once, a line back in production, lines deleted.
    ProductionLine.objects.bulk_create(
        [
            ProductionLine(
                enterprise=glass,
                territory_id="441602",
                industry_id="flat_glass",
                name=f"{n}号线",
                equipment_type="blast_furnace",
                capacity=Decimal("1.01"),
                capacity_unit="10kt/a",
                status="exited",
                exited_on=dt.date(2026, 10, n + 1),
            )
            for n in range(3)
        ]
    )
    ProductionLine.objects.filter(pk=l1.pk).update(status="operating", exited_on=None)
    _agrees()
    Case.objects.filter(line__enterprise=glass).delete()
    ProductionLine.objects.filter(enterprise=glass, capacity=Decimal("1.01"))[:1].get().delete()
    Case.objects.filter(enterprise=cement).delete()
    ProductionLine.objects.filter(enterprise=cement).delete()
    _agrees()
    assert ExitTally.objects.exists() and ExitEnterprise.objects.filter(multi=True).exists()


def test_folding_keeps_every_figure_and_leaves_one_row_a_cell(varied: dict[str, Any]) -> None:
    ProductionLine.objects.filter(status="exited").update(capacity_unit="t/d")
    ProductionLine.objects.filter(status="exited").update(capacity_unit="10kt/a")  # cells that net to zero
    before = _stored()
    rows = ExitTally.objects.count()
    folded = exit_tally.fold()
    assert folded > 0 and ExitTally.objects.count() == rows - folded == len(before[1])
    assert _stored() == before == _expected()
    assert exit_tally.fold() == 0 and _stored() == before  # a second run finds nothing to do
    ProductionLine.objects.filter(pk=varied["l1"].pk).update(capacity=Decimal("1"))
    _agrees()  # still exact after a fold


def test_a_rebuild_equals_the_running_tally(varied: dict[str, Any]) -> None:
    Case.objects.filter(state="accepted").update(state="archived", dimension="quality")
    running = _stored()
    cells = exit_tally.rebuild()
    assert cells == ExitTally.objects.count() == len(running[1]) and _stored() == running


def test_the_triggers_are_installed_for_the_engine_at_hand(reference: None) -> None:
    tables = ("registry_productionline", "cases_case", "cases_finding", "cases_inspection")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid IN"
                " ('registry_productionline'::regclass, 'cases_case'::regclass,"
                " 'cases_finding'::regclass, 'cases_inspection'::regclass)"
            )
            expected = {f"{t}_exit_tally_update" for t in tables}
            expected |= {
                f"{t}_exit_tally_{op}" for t in tables[:2] for op in ("insert", "delete", "truncate")
            }
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            expected = {f"exit_tally_{name}" for name in exit_tally.SQLITE_TRIGGERS}
        names = {row[0] for row in cursor.fetchall()}
    assert expected <= names


# ── the pages that read it, for each scope ───────────────────────────────────────────────────────────


def _visible(person: Person) -> list[Row]:
    rows = ledger(registry_scope.lines(person))
    if person.role == "department":
        rows = [r for r in rows if not r.dimension or r.dimension in person.dimensions]
    return rows


def _reads_no_line(queries: list[dict[str, Any]]) -> bool:
    return not any('"registry_productionline"' in q["sql"] for q in queries)


@pytest.mark.parametrize("who", ["office", "energy_dept", "district", "heyuan_office"])
def test_the_pages_read_the_tally_and_equal_python(
    varied: dict[str, Any], who: str, request: pytest.FixtureRequest
) -> None:
    person: Person = request.getfixturevalue(who)
    client = client_for(person.user)
    expected = _visible(person)
    for group in GROUPS:
        with CaptureQueriesContext(connection) as queries:
            table = client.get("/reports/aggregates/", {"group": group}).context["table"]
        assert [{k: v for k, v in t.items() if k != "link"} for t in table] == aggregate(expected, group)
        assert _reads_no_line(queries.captured_queries), group  # the totals: the tally alone
    page = client.get("/reports/ledger/", {"year": "2026"})
    this_year = filtered(expected, {"year": "2026"})
    assert page.context["count"] == len(this_year)
    assert page.context["totals"] == aggregate(this_year, "industry")
    assert [r.line_id for r in page.context["rows"]] == [r.line_id for r in this_year]
    with time_machine.travel(dt.datetime(2026, 9, 15, 2, 0, tzinfo=dt.UTC), tick=False):
        charts = client.get("/reports/charts/").content.decode()
    by_industry = Counter(r.industry for r in this_year)
    for industry, n in by_industry.items():
        assert f"{industry}：{n} 条" in charts
    assert expected  # every scope sees some of the varied set
