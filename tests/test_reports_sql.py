"""The report figures computed by the database equal the same figures computed plainly in Python over a
seeded set: the exit ledger's selection, count, pages and aggregates (filters that match everything,
something and nothing), the dashboard's counts, the charts' ages of open cases, and the price measures
in force on a day."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from phaseout.cases.models import Case, CaseEvent, CaseTally
from phaseout.orgs.models import Department, Person
from phaseout.prices.measures import price_rows, priced_cases
from phaseout.registry import scope as registry_scope
from phaseout.registry.models import Enterprise, ProductionLine
from phaseout.reports.ledger import GROUPS, Paged, aggregate, filtered, ledger, selection, totals
from phaseout.reports.views import case_figures
from tests.conftest import client_for
from tests.factories import CaseFactory, EnterpriseFactory, LineFactory
from tests.ids import ascii_id

EXIT_FIELDS = {"exit_ordered_on": dt.date(2025, 10, 1)}


def _exited(enterprise: Enterprise, capacity: str, unit: str, day: dt.date, name: str = "") -> ProductionLine:
    line = LineFactory(
        enterprise=enterprise, capacity=Decimal(capacity), capacity_unit=unit, status="exited", exited_on=day
    )
    if name:
        line.name = name
        line.save(update_fields=["name"])
    return line


def _exit_case(line: ProductionLine, state: str, dimension: str, plan: str, department: str) -> Case:
    accepted = {"accepted_on": dt.date(2026, 6, 1), "acceptance_record": "合格"}
    return CaseFactory(
        enterprise=line.enterprise,
        line=line,
        state=state,
        dimension=dimension,
        exit_plan=plan,
        **EXIT_FIELDS,
        **(accepted if state in ("accepted", "archived") else {}),
        finding__inspection__department=Department.objects.get(code=department),
    )


@pytest.fixture
def seeded(reference: None) -> dict[str, Any]:
    """Exited lines in two years, two industries, two territories and two units; exit cases of three
    departments, dimensions and methods; a line exited twice (its latest case counts), one with no case,
    one whose case is not in an exited state, an operating line with an exit case (not in the ledger),
    and an enterprise whose name holds LIKE's wildcards."""
    steel_a = EnterpriseFactory(territory_id="440703", industry_id="steel", name="甲钢铁有限公司")
    steel_b = EnterpriseFactory(territory_id="440781", industry_id="steel", name="乙钢铁有限公司")
    cement = EnterpriseFactory(territory_id="440703", industry_id="cement", name="丙水泥有限公司")
    odd = EnterpriseFactory(territory_id="440781", industry_id="steel", name="丁_%钢铁厂")
    l1 = _exited(steel_a, "45.5", "10kt/a", dt.date(2026, 3, 2))
    _exit_case(l1, "exited", "technology", "dismantle_at_once", "jm-gxj")
    l2 = _exited(steel_a, "30", "t/d", dt.date(2026, 5, 1))
    _exit_case(l2, "accepted", "energy", "seal_then_dismantle", "jm-fgj")
    l3 = _exited(steel_b, "12.25", "10kt/a", dt.date(2025, 11, 30))
    _exit_case(l3, "exited", "environment", "seal_then_dismantle", "jm-sthjj")
    _exit_case(l3, "archived", "technology", "dismantle_at_once", "jm-gxj")  # the latest: it counts
    _exited(cement, "600", "t/d", dt.date(2026, 1, 15))  # no case at all
    l5 = _exited(cement, "20", "10kt/a", dt.date(2026, 7, 7))
    _exit_case(l5, "exit_ordered", "technology", "dismantle_at_once", "jm-gxj")  # not an exit case
    operating = LineFactory(enterprise=steel_b, capacity=Decimal("99"))
    _exit_case(operating, "exited", "technology", "dismantle_at_once", "jm-gxj")
    _exited(odd, "7.75", "10kt/a", dt.date(2026, 2, 2))
    _exited(odd, "8", "10kt/a", dt.date(2026, 3, 2))  # the same day as l1: the id breaks the tie
    return {"steel_a": steel_a}


PARAMS = [
    {},
    {"year": "2026"},
    {"year": "2025"},
    {"year": "1999"},
    {"year": "abc"},
    {"year": "02026"},
    {"industry": "cement"},
    {"industry": "glass"},
    {"territory": "440781"},
    {"department": "jm-gxj"},
    {"department": "no-such-department"},
    {"dimension": "technology"},
    {"dimension": "environment"},  # only the older case of l3 was on it: nothing
    {"method": "seal_then_dismantle"},
    {"unit": "t/d"},
    {"q": "钢铁"},
    {"q": "_%"},
    {"q": "%"},
    {"q": "_"},
    {"q": "没有这家企业"},
    {"year": "2026", "industry": "steel", "unit": "10kt/a", "territory": "440703"},
]


@pytest.mark.parametrize("params", PARAMS, ids=[ascii_id(p) for p in PARAMS])
def test_ledger_selection_count_pages_and_aggregates_equal_python(
    seeded: dict[str, Any], params: dict[str, str]
) -> None:
    expected = filtered(ledger(), dict(params))
    selected = selection(None, dict(params))
    assert selected.count() == len(expected)
    rows = Paged(selected)[0:100]
    assert [r.line_id for r in rows] == [r.line_id for r in expected]
    assert [(r.case_number, r.department_code, r.dimension) for r in rows] == [
        (r.case_number, r.department_code, r.dimension) for r in expected
    ]
    assert [r.line_id for r in Paged(selected)[2:4]] == [r.line_id for r in expected[2:4]]
    assert [r.line_id for r in selected.rows()] == [r.line_id for r in expected]
    for group in GROUPS:
        assert totals(selected, group) == aggregate(expected, group), group


def test_the_ledger_filters_match_everything_something_and_nothing(seeded: dict[str, Any]) -> None:
    """The seeded set is such that the filters above are not all empty nor all everything."""
    everything = selection().count()
    assert everything == 7
    assert selection(None, {"q": "没有这家企业"}).count() == 0
    assert selection(None, {"q": "_%"}).count() == 2  # the wildcards are read as text
    assert selection(None, {"department": "jm-gxj"}).count() == 2
    assert selection(None, {"q": seeded["steel_a"].uscc.lower()}).count() == 2  # a USCC in any case


@pytest.mark.parametrize("dimensions", [["energy"], ["technology", "environment"], []])
def test_a_departments_ledger_equals_python(seeded: dict[str, Any], dimensions: list[str]) -> None:
    expected = [r for r in ledger() if r.dimension in dimensions or not r.dimension]
    selected = selection(None, {}, dimensions=list(dimensions))
    assert [r.line_id for r in selected.rows()] == [r.line_id for r in expected]
    for group in GROUPS:
        assert totals(selected, group) == aggregate(expected, group), group


def test_each_scope_s_ledger_and_a_period_equal_python(
    seeded: dict[str, Any], district: Person, office: Person, energy_dept: Person, heyuan_office: Person
) -> None:
    """A scope by the lines' own territory (office, department, district) and one through their
    enterprise (`enterprise__in`) select what `ledger` reads of the same query set."""
    for person, seen in ((district, 4), (office, 7), (energy_dept, 7), (heyuan_office, 0)):
        lines = registry_scope.lines(person)
        expected = ledger(lines)
        assert len(expected) == seen, person.role
        selected = selection(lines)
        assert selected.count() == seen
        assert [r.line_id for r in selected.rows()] == [r.line_id for r in expected]
        assert totals(selected, "territory") == aggregate(expected, "territory")
    through = ProductionLine.objects.filter(enterprise__in=Enterprise.objects.filter(territory="440781"))
    assert [r.line_id for r in selection(through).rows()] == [r.line_id for r in ledger(through)]
    by_name = ProductionLine.objects.filter(enterprise__name="甲钢铁有限公司")  # a join: the sub-query way
    assert [r.line_id for r in selection(by_name).rows()] == [r.line_id for r in ledger(by_name)] != []
    start, end = dt.date(2026, 1, 15), dt.date(2026, 3, 2)
    period = [r for r in ledger() if r.exited_on and start <= r.exited_on <= end]
    assert [r.line_id for r in selection(start=start, end=end).rows()] == [r.line_id for r in period]
    assert len(period) == 4  # both ends of the period are in it


def test_the_ledger_page_counts_and_totals_the_filter(seeded: dict[str, Any], office: Person) -> None:
    client = client_for(office.user)
    page = client.get("/reports/ledger/", {"q": "没有这家企业"})
    assert page.context["count"] == 0 and page.context["totals"] == [] and page.context["rows"] == []
    page = client.get("/reports/ledger/", {"year": "2026", "unit": "10kt/a"})
    assert page.context["count"] == 4
    assert [(t["label"], t["lines"], t["capacity"]) for t in page.context["totals"]] == [
        ("水泥", 1, Decimal("20")),
        ("钢铁", 3, Decimal("61.25")),
    ]
    table = client.get("/reports/aggregates/", {"group": "department"}).context["table"]
    assert [(t["label"], t["unit"], t["lines"]) for t in table] == [
        ("—", "10kt/a", 3),
        ("—", "t/d", 1),
        ("江门市发展和改革局", "t/d", 1),
        ("江门市工业和信息化局", "10kt/a", 2),
    ]


def test_the_dashboard_counts_equal_python(seeded: dict[str, Any], office: Person) -> None:
    CaseFactory(enterprise=seeded["steel_a"], state="overdue")
    CaseFactory(enterprise=seeded["steel_a"], state="finding")
    response = client_for(office.user).get("/dashboard/")
    cases = list(Case.objects.select_related("territory", "industry"))
    states = Counter(c.state for c in cases)
    assert dict(response.context["states"]) == {
        label: states.get(value, 0) for value, label in Case._meta.get_field("state").choices
    }
    from phaseout.cases.models import OPEN_STATES

    expected = {}
    for case in cases:
        row = expected.setdefault(case.territory_id, [case.territory.name, 0, 0, 0, 0])
        row[1] += 1
        row[2] += case.state in OPEN_STATES
        row[3] += case.state == "overdue"
        row[4] += case.state in ("exited", "accepted", "archived")
    assert [
        (r["territory__code"], [r["territory__name"], r["total"], r["open"], r["overdue"], r["exited"]])
        for r in response.context["by_territory"]
    ] == sorted(expected.items())
    by_industry = Counter(c.industry.name for c in cases)
    assert {r["industry__name"]: r["total"] for r in response.context["by_industry"]} == by_industry
    assert sum(r["open"] for r in response.context["by_industry"]) == sum(
        c.state in OPEN_STATES for c in cases
    )


def test_the_charts_figures_of_cases_equal_python(reference: None) -> None:
    """Ages of open cases (at both ends of each bucket, at both ends of a local day), cases by state,
    overdue cases by territory and this year's cases found and settled, against a plain count."""
    from phaseout.cases.models import OPEN_STATES

    today = dt.date(2026, 9, 15)
    local = timezone.get_current_timezone()
    pengjiang = EnterpriseFactory(territory_id="440703")
    taishan = EnterpriseFactory(territory_id="440781")
    states = ["finding", "overdue", "closed"]
    made = 0
    for days in (0, 30, 31, 90, 91, 180, 181, 400):
        for at in (dt.time(0, 0), dt.time(23, 59, 59)):  # both ends of the local day
            state = states[made % 3]
            case = CaseFactory(enterprise=(pengjiang, taishan)[made % 2], state=state)
            opened = dt.datetime.combine(today - dt.timedelta(days=days), at, tzinfo=local)
            Case.objects.filter(pk=case.pk).update(opened_at=opened)
            made += 1
    cases = list(Case.objects.select_related("territory"))
    ages = {"≤30天": 0, "31–90天": 0, "91–180天": 0, ">180天": 0}
    for case in cases:
        if case.state in OPEN_STATES:
            days = (today - timezone.localdate(case.opened_at)).days
            key = (
                "≤30天"
                if days <= 30
                else "31–90天"
                if days <= 90
                else "91–180天"
                if days <= 180
                else ">180天"
            )
            ages[key] += 1
    figures = case_figures(Case.objects.all(), today, CaseTally.objects.all())
    assert figures["ages"] == ages and all(ages.values()) and sum(ages.values()) < len(cases)
    assert figures["by_state"] == [
        {"state": state, "n": n} for state, n in sorted(Counter(c.state for c in cases).items())
    ]
    overdue = Counter((c.territory_id, c.territory.name) for c in cases if c.state == "overdue")
    assert figures["overdue_by_territory"] == [(name, n) for (_code, name), n in sorted(overdue.items())]
    this_year = [c for c in cases if timezone.localdate(c.opened_at).year == today.year]
    assert 0 < len(this_year) < len(cases)
    assert {k: (p.found, p.settled) for k, p in figures["this_year"].items()} == {
        code: (
            sum(c.territory_id == code for c in this_year),
            sum(c.territory_id == code and c.state == "closed" for c in this_year),
        )
        for code in {c.territory_id for c in this_year}
    }


def test_the_price_measures_in_force_on_a_day_equal_python(reference: None) -> None:
    """Which cases' measures run on a day, asked of the database, equals `Row.active_on` over every
    measure: closed compliant (by its latest closing event, or with none), exited, line exited, open."""
    rule = "technology.steel.blast-furnace-400"
    enterprise = EnterpriseFactory(industry_id="steel")
    inspected = {"finding__rule_id": rule, "finding__inspection__inspected_on": dt.date(2026, 2, 1)}
    closed = CaseFactory(enterprise=enterprise, rule_id=rule, state="closed", **inspected)
    for day in (dt.date(2026, 4, 1), dt.date(2026, 5, 10)):
        CaseEvent.objects.create(
            case=closed,
            action="close",
            to_state="closed",
            at=dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC),
        )
    CaseFactory(enterprise=enterprise, rule_id=rule, state="closed", **inspected)  # no closing event
    CaseFactory(
        enterprise=enterprise,
        rule_id=rule,
        state="exited",
        exited_on=dt.date(2026, 6, 1),
        exit_plan="dismantle_at_once",
        **EXIT_FIELDS,
        **inspected,
    )
    line = LineFactory(enterprise=enterprise, status="exited", exited_on=dt.date(2026, 3, 3))
    CaseFactory(enterprise=enterprise, line=line, rule_id=rule, state="finding", **inspected)
    CaseFactory(enterprise=enterprise, rule_id=rule, state="finding", **inspected)  # runs on
    CaseFactory(enterprise=enterprise, rule_id=rule, state="dismissed", **inspected)  # brings nothing
    rows = price_rows(Case.objects.all())
    priced = {r.case.pk for r in rows}
    assert len(priced) == 5
    days = [dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 3, 3), dt.date(2026, 3, 4)]
    days += [dt.date(2026, 5, 10), dt.date(2026, 5, 11), dt.date(2026, 6, 1), dt.date(2026, 6, 2)]
    seen = set()
    for day in days:
        expected = {r.case.pk for r in rows if r.active_on(day)}
        asked = set(priced_cases(Case.objects.all(), day).values_list("pk", flat=True))
        assert asked & priced == expected, day
        seen.add(len(expected))
    assert seen == {0, 5, 4, 3, 2}  # the days tell the cases apart


def _priced(enterprise: Enterprise, n: int, rule: str = "technology.steel.blast-furnace-400") -> None:
    for i in range(n):
        CaseFactory(
            enterprise=enterprise,
            rule_id=rule,
            state="finding",
            finding__rule_id=rule,
            finding__inspection__inspected_on=dt.date(2026, 2, 1) + dt.timedelta(days=i % 3),
        )


def test_the_price_list_is_paged_by_case_and_its_export_holds_every_filtered_measure(
    office: Person,
) -> None:
    from openpyxl import load_workbook

    from phaseout.audit.models import AuditEvent

    _priced(EnterpriseFactory(industry_id="steel", name="戊钢铁有限公司"), 53)
    client = client_for(office.user)
    first = client.get("/prices/")
    assert first.context["total"] == 53 and not first.context["more"]
    assert first.context["has_next"] and {r.case.pk for r in first.context["rows"]} == set(
        Case.objects.order_by("id").values_list("pk", flat=True)[:50]
    )
    second = client.get("/prices/", {"page": "2"})
    assert len({r.case.pk for r in second.context["rows"]}) == 3 and not second.context["has_next"]
    day = dt.date(2026, 2, 2)  # the cases inspected on 3 February are not yet priced
    expected = [r for r in price_rows(Case.objects.all()) if r.active_on(day)]
    assert 0 < len(expected) < len(price_rows(Case.objects.all()))
    response = client.get("/prices/", {"format": "xlsx", "on": day.isoformat()})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert sorted(row[-1] for row in body) == sorted(r.case.number for r in expected)
    entry = AuditEvent.objects.filter(action="export.prices").latest("seq")
    assert entry.data == {"format": "xlsx", "filter": {"on": "2026-02-02"}, "rows": len(expected)}


def test_a_bad_day_for_the_price_list_is_refused_and_selects_nothing(office: Person) -> None:
    _priced(EnterpriseFactory(industry_id="steel"), 2)
    response = client_for(office.user).get("/prices/", {"on": "2026-02-30"})
    assert response.status_code == 200 and response.context["rows"] == []
    assert "输入一个有效的日期。" in next(str(m) for m in response.context["messages"])
    assert client_for(office.user).get("/prices/", {"on": ""}).context["total"] == 2  # empty: no filter


def test_an_empty_scope_selects_no_row(seeded: dict[str, Any]) -> None:
    selected = selection(ProductionLine.objects.none())
    assert selected.count() == 0 and selected.rows() == [] and totals(selected, "industry") == []
