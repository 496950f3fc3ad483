"""The case tally (ADR 23) equals a count over the cases, whatever wrote them, on both databases; the pages
that read it (dashboard, year summary, charts) show the figures a plain count gives, for each scope; and a
change — a case opened, an exit confirmed — shows at once, with no job run in between."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from phaseout.cases import actions, tally
from phaseout.cases import scope as case_scope
from phaseout.cases.models import OPEN_STATES, Case, CaseTally
from phaseout.orgs.models import Person
from phaseout.rules import rulebook
from phaseout.rules.case_flow import State
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import PNG, client_for, upload
from tests.factories import CaseFactory, EnterpriseFactory, FindingFactory, LineFactory
from tests.test_case_matrix import STATE_FIELDS

NOW = dt.datetime(2026, 9, 15, 2, 0, tzinfo=dt.UTC)  # 10:00 in Jiangmen
TODAY = dt.date(2026, 9, 15)
EXITED = ("exited", "accepted", "archived")
PLACES = [("440703", "steel"), ("440781", "cement"), ("441602", "flat_glass"), ("440703", "cement")]
DIMENSIONS = ["energy", "environment", "technology", "safety", "quality"]
# Opened at: last year, both ends of the local new year (16:00 UTC on 31 December is midnight in
# Jiangmen), and this year.
OPENED = [
    dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2025, 12, 31, 15, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 8, 20, 3, tzinfo=dt.UTC),
    dt.datetime(2026, 9, 14, 17, tzinfo=dt.UTC),
]


def _counted(cases: Any = None) -> Counter[tuple[str, str, str, str, int]]:
    """The independent count: every case read as a row, its local year from Python's calendar."""
    rows = (cases if cases is not None else Case.objects.all()).values_list(
        "territory_id", "industry_id", "dimension", "state", "opened_at"
    )
    return Counter((t, i, d, s, timezone.localdate(at).year) for t, i, d, s, at in rows)


def _tallied() -> dict[tuple[str, str, str, str, int], int]:
    return {
        tuple(row[:5]): row[5]  # type: ignore[misc]
        for row in tally.grouped(
            CaseTally.objects.all(), "territory", "industry", "dimension", "state", "year"
        )
    }


@pytest.fixture
def varied(reference: None) -> list[Case]:
    """Cases in every state, three territories of two cities, three industries, five dimensions and
    two local years (both ends of the new year among them)."""
    made = []
    for i, state in enumerate([*State, *State, *State]):
        territory, industry = PLACES[i % len(PLACES)]
        case = CaseFactory(
            enterprise=EnterpriseFactory(territory_id=territory, industry_id=industry),
            dimension=DIMENSIONS[i % len(DIMENSIONS)],
            state=state.value,
            **STATE_FIELDS[state],
        )
        Case.objects.filter(pk=case.pk).update(opened_at=OPENED[i % len(OPENED)])
        made.append(case)
    return made


def test_the_tally_equals_a_count_over_the_cases(varied: list[Case]) -> None:
    expected = _counted()
    assert _tallied() == expected
    years = Counter(key[4] for key in expected.elements())
    assert years[2025] and years[2026]  # both years, and the local new year decides
    assert {key[0] for key in expected} == {"440703", "440781", "441602"}
    assert len({key[3] for key in expected}) == len(State)


def test_every_kind_of_write_is_counted(varied: list[Case]) -> None:
    first, second, third = varied[:3]
    # One by one, as the actions write (save), a set-based UPDATE as the sweep's, a column not counted.
    first.state = "overdue"
    first.save(update_fields=["state"])
    Case.objects.filter(state="rectifying").update(state="overdue")
    Case.objects.filter(pk=second.pk).update(territory_id="440781", industry_id="steel", dimension="quality")
    Case.objects.filter(pk=third.pk).update(opened_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    Case.objects.update(version=7)  # counts nothing: the tally is unchanged
    assert _tallied() == _counted()
    # Inserted many at once, and deleted.
    enterprise = EnterpriseFactory(territory_id="440781", industry_id="steel")
    Case.objects.bulk_create(
        [
            Case(
                enterprise=enterprise,
                territory_id="440781",
                industry_id="steel",
                dimension="energy",
                finding=FindingFactory(inspection__enterprise=enterprise),
                rule_id="energy.steel.blast-furnace",
                consequence="rectify",
            )
            for _ in range(3)
        ]
    )
    Case.objects.filter(pk=varied[-1].pk).delete()
    assert _tallied() == _counted()
    assert sum(_tallied().values()) == len(varied) + 3 - 1


def test_folding_keeps_every_count_and_leaves_one_row_a_group(varied: list[Case]) -> None:
    Case.objects.filter(state="finding").update(state="dismissed")
    Case.objects.filter(state="dismissed").update(state="finding")  # groups that net to zero
    before = _tallied()
    rows = CaseTally.objects.count()
    folded = tally.fold()
    assert folded > 0 and CaseTally.objects.count() == rows - folded == len(before)
    assert _tallied() == before == _counted()
    assert not CaseTally.objects.filter(n=0).exists()
    assert tally.fold() == 0 and _tallied() == before  # a second run finds nothing to do
    varied[0].state = "closed"
    varied[0].save(update_fields=["state"])
    assert _tallied() == _counted()  # still counted after a fold


def test_a_rebuild_equals_the_running_tally(varied: list[Case]) -> None:
    Case.objects.filter(state="overdue").update(state="closure_proposed")
    running = _tallied()
    groups = tally.rebuild()
    assert groups == CaseTally.objects.count() == len(running) and _tallied() == running


def test_the_triggers_are_installed_for_the_engine_at_hand(reference: None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'cases_case'::regclass")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cases_case'"
            )
        names = {row[0] for row in cursor.fetchall()}
    expected = {f"cases_case_tally_{op}" for op in ("insert", "update", "delete")}
    if connection.vendor == "postgresql":
        expected.add("cases_case_tally_truncate")
    assert expected <= names


# ── the pages that read it, for each scope ───────────────────────────────────────────────────────────


def _dashboard(person: Person) -> dict[str, Any]:
    with time_machine.travel(NOW, tick=False):
        return client_for(person.user).get("/dashboard/").context  # type: ignore[no-any-return]


def _expected_dashboard(person: Person) -> tuple[dict[str, int], list[tuple[str, list[int]]], dict[str, int]]:
    cases = list(case_scope.cases(person).select_related("industry"))
    states = Counter(c.state for c in cases)
    by_territory: dict[str, list[int]] = {}
    for c in cases:
        row = by_territory.setdefault(c.territory_id, [0, 0, 0, 0])
        row[0] += 1
        row[1] += c.state in OPEN_STATES
        row[2] += c.state == "overdue"
        row[3] += c.state in EXITED
    return dict(states), sorted(by_territory.items()), dict(Counter(c.industry.name for c in cases))


@pytest.mark.parametrize("who", ["office", "energy_dept", "env_dept", "district", "heyuan_office"])
def test_the_dashboard_equals_a_count_over_the_cases_the_person_sees(
    varied: list[Case], who: str, request: pytest.FixtureRequest
) -> None:
    person: Person = request.getfixturevalue(who)
    context = _dashboard(person)
    states, by_territory, by_industry = _expected_dashboard(person)
    labels = dict(Case._meta.get_field("state").choices)
    assert dict(context["states"]) == {label: states.get(value, 0) for value, label in labels.items()}
    assert [
        (r["territory__code"], [r["total"], r["open"], r["overdue"], r["exited"]])
        for r in context["by_territory"]
    ] == by_territory
    assert {r["industry__name"]: r["total"] for r in context["by_industry"]} == by_industry
    assert sum(states.values()) > 0 or who == "heyuan_office"


@pytest.mark.parametrize("who", ["office", "energy_dept", "district", "heyuan_office"])
def test_the_year_summary_equals_a_count_over_the_cases_the_person_sees(
    varied: list[Case], who: str, request: pytest.FixtureRequest
) -> None:
    person: Person = request.getfixturevalue(who)
    for year in (2025, 2026):
        with time_machine.travel(NOW, tick=False):
            data = client_for(person.user).get("/reports/summary/", {"year": year}).context["s"]
        cases = [
            c
            for c in case_scope.cases(person).select_related("territory")
            if timezone.localdate(c.opened_at).year == year
        ]
        assert data["by_state"] == dict(Counter(c.state for c in cases))
        found = Counter(c.territory.name for c in cases)
        assert {r["territory__name"]: r["found"] for r in data["by_territory"]} == found
        exited = Counter(c.dimension for c in cases if c.state in EXITED)
        assert {r["dimension"]: r["exited"] for r in data["by_dimension"] if r["exited"]} == exited
        closed = Counter(c.dimension for c in cases if c.state == "closed")
        assert {r["dimension"]: r["closed"] for r in data["by_dimension"] if r["closed"]} == closed


@pytest.mark.parametrize("who", ["office", "energy_dept", "district"])
def test_the_charts_equal_a_count_over_the_cases_the_person_sees(
    varied: list[Case], who: str, request: pytest.FixtureRequest
) -> None:
    person: Person = request.getfixturevalue(who)
    with time_machine.travel(NOW, tick=False):
        context = client_for(person.user).get("/reports/charts/").context
    from phaseout.reports.views import case_figures

    cases = list(case_scope.cases(person))
    ages = {"≤30天": 0, "31–90天": 0, "91–180天": 0, ">180天": 0}
    for c in cases:
        if c.state in OPEN_STATES:
            days = (TODAY - timezone.localdate(c.opened_at)).days
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
    figures = case_figures(case_scope.cases(person), TODAY, case_scope.tallies(person))
    assert figures["ages"] == ages and sum(ages.values()) > 0
    assert figures["by_state"] == [
        {"state": s, "n": n} for s, n in sorted(Counter(c.state for c in cases).items())
    ]
    this_year = [c for c in cases if timezone.localdate(c.opened_at).year == TODAY.year]
    assert {code: (p.found, p.settled) for code, p in figures["this_year"].items()} == {
        code: (
            sum(c.territory_id == code for c in this_year),
            sum(c.territory_id == code and c.state in (*EXITED, "closed") for c in this_year),
        )
        for code in {c.territory_id for c in this_year}
    }
    assert "chart-states" in context["figures"][3]


# ── a change shows at once ───────────────────────────────────────────────────────────────────────────


def _done(case: Case, office: Person) -> None:
    for measure in case.measures.exclude(kind="dismantling"):
        actions.complete_measure(
            measure=measure,
            by=office.user,
            done_on=TODAY,
            notice="书面通知，提前24小时",
            files=[upload("照片.png", PNG, "image/png")],
            today=TODAY,
        )


def test_a_case_opened_and_an_exit_confirmed_show_at_once(varied: list[Case], office: Person) -> None:
    def figures() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        context = _dashboard(office)
        with time_machine.travel(NOW, tick=False):
            summary = client_for(office.user).get("/reports/summary/", {"year": 2026}).context["s"]
        totals = {r["territory__code"]: r["total"] for r in context["by_territory"]}
        return dict(context["states"]), totals, summary["by_state"]

    states, totals, summary = figures()
    enterprise = EnterpriseFactory(territory_id="440781", industry_id="steel")
    with time_machine.travel(NOW, tick=False):
        version = rulebook.library().latest("energy.steel.blast-furnace").version
        finding = FindingFactory(inspection__enterprise=enterprise, rule_version=version)
        opened = actions.open_case(finding=finding, by=None)
    after = figures()
    finding_label = str(dict(Case._meta.get_field("state").choices)["finding"])
    assert after[0][finding_label] == states[finding_label] + 1
    assert after[1]["440781"] == totals["440781"] + 1
    assert after[2]["finding"] == summary.get("finding", 0) + 1
    assert opened.state == "finding"

    line = LineFactory(enterprise=enterprise)
    with time_machine.travel(NOW, tick=False):
        case = CaseFactory(
            enterprise=enterprise,
            line=line,
            dimension="technology",
            consequence="exit_at_once",
            finding__inspection__inspected_on=dt.date(2026, 1, 2),
        )
        case = actions.order_exit(
            case=case, plan=ExitPlan.SEAL_THEN_DISMANTLE, by=office.user, reason="立即淘汰", today=TODAY
        )
        _done(case, office)
        states, totals, summary = figures()
        actions.confirm_exit(case=case, by=office.user, reason="已落实", today=TODAY)
    after = figures()
    labels = dict(Case._meta.get_field("state").choices)
    assert after[0][str(labels["exited"])] == states[str(labels["exited"])] + 1
    assert after[0][str(labels["exit_ordered"])] == states[str(labels["exit_ordered"])] - 1
    assert after[2]["exited"] == summary.get("exited", 0) + 1
    assert after[1] == totals  # moved between states, counted once
    assert _tallied() == _counted()


@pytest.mark.django_db(transaction=True)
def test_the_test_runs_flush_leaves_no_tally_whatever_order_it_deletes_in(varied: list[Case]) -> None:
    """The flush after a committing test (tests/conftest.py) empties the tallies even when it deletes them
    before the cases whose deletion their triggers count (SQLite's flush has no fixed order)."""
    assert CaseTally.objects.exists()
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    tally_first = [t for t in tables if t.endswith("tally")] + [t for t in tables if not t.endswith("tally")]
    assert (
        tally_first[0] in (CaseTally._meta.db_table, "cases_exittally") and Case._meta.db_table in tally_first
    )
    sql_list = connection.ops.sql_flush(no_style(), tally_first, allow_cascade=True)
    if connection.vendor == "sqlite":  # a set of names: put the tallies first again, the order that broke
        sql_list = sorted(sql_list, key=lambda sql: not sql.rstrip('";').endswith("tally"))
    connection.ops.execute_sql_flush(sql_list)
    assert not Case.objects.exists()
    assert list(CaseTally.objects.values_list("territory", "n")) == []
