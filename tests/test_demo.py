"""`make demo` loads a year that reads true on the day it is run: the plan of that year, and a believable
day's work on the home page of every demo account (the working day, §6)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from phaseout import jobs
from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, CaseEvent, Decision, Inspection
from phaseout.demo import DEMO_PASSWORD, load_demo
from phaseout.disclosure.models import ListKind
from phaseout.orgs.models import Person, Role, Territory
from phaseout.plans.models import Plan
from phaseout.registry.models import Enterprise, Licence, Measurement
from phaseout.rules import case_flow
from phaseout.rules.dimensions import Dimension
from tests.conftest import client_for

DAY = dt.date(2027, 6, 15)  # any day: the demo is built around it
NOW = dt.datetime(2027, 6, 15, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def demo(reference: None) -> list[tuple[str, str, str, str]]:
    with time_machine.travel(NOW, tick=False):
        accounts = load_demo(today=DAY)
        jobs.run_jobs(now=NOW, today=DAY)
    return accounts


def test_the_demo_plan_is_this_years(demo: list[tuple[str, str, str, str]]) -> None:
    plan = Plan.objects.get()
    assert plan.year == DAY.year
    assert "〔2027〕" in plan.doc_number and "2027" in plan.title and "2021" not in plan.title
    assert plan.submissions.filter(due_date__year=2027).exists()
    assert not plan.submissions.filter(due_date__year=2021).exists()
    # Submissions as a year has them: accepted, one late, one returned with comments.
    states = {s.status_on(DAY) for s in plan.submissions.all()}
    assert {"on_time", "late", "returned"} <= states, states


def test_every_demo_account_has_a_days_work_on_its_home_page(demo: list[tuple[str, str, str, str]]) -> None:
    empty = []
    with time_machine.travel(NOW, tick=False):
        for username, _role, _unit, _secret in demo:
            person = Person.objects.get(user__username=username)
            response = client_for(person.user).get("/")
            assert response.status_code == 200, (username, response.status_code, response.get("Location"))
            page = response.content.decode()
            main = page[page.index("<main>") : page.index("</main>")]
            items = re.findall(r"<(?:li|tr)(?![^>]*class=\"[^\"]*empty)[^>]*>", main)
            if not items:
                empty.append(username)
    assert empty == []


def _reachable(dimension: str) -> set[str]:
    """Every state a case of the dimension can reach from the finding, read from the path table (every
    step, whoever takes it)."""
    states = {case_flow.State.FINDING.value}
    changed = True
    while changed:
        changed = False
        for step in case_flow.steps_for(dimension):
            target = step.target
            if target is not None and target.value not in states and states & {s.value for s in step.sources}:
                states.add(target.value)
                changed = True
    return states


def test_every_state_of_every_path_has_a_case_in_every_city(demo: list[tuple[str, str, str, str]]) -> None:
    cities = list(Territory.objects.filter(level=Territory.Level.CITY).values_list("code", flat=True))
    assert len(cities) == 2, cities  # Jiangmen and Heyuan
    held = set(Case.objects.values_list("territory__parent_id", "dimension", "state"))
    wanted = {(city, d.value, s) for city in cities for d in Dimension for s in _reachable(d)}
    assert len(wanted) > 2 * 5 * 5  # the table, not a stub
    assert sorted(wanted - held) == []
    # The accounts share one hash of the public demo password, and it signs them in.
    for username in ("office", "hy-office"):
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)
        assert not User.objects.get(username=username).check_password(DEMO_PASSWORD + "x")
    # Loading the demo again adds nothing.
    models = (Case, CaseEvent, Decision, Enterprise, Licence, Inspection, Measurement, Person, AuditEvent)
    before = {m.__name__: m.objects.count() for m in models}
    with time_machine.travel(NOW, tick=False):
        again = load_demo(today=DAY)
    assert {m.__name__: m.objects.count() for m in models} == before
    assert [a[0] for a in again] == [a[0] for a in demo]


def test_the_demo_year_reads_true(demo: list[tuple[str, str, str, str]]) -> None:
    assert Case.objects.count() >= 100
    for case in Case.objects.select_related("finding__inspection").prefetch_related("events", "decisions"):
        assert case.finding is not None
        found = case.finding.inspection.inspected_on
        assert found <= DAY, case.number
        dates = [e.dated for e in sorted(case.events.all(), key=lambda e: e.pk) if e.dated is not None]
        assert dates and dates[0] == found, (case.number, dates)
        assert dates == sorted(dates) and dates[-1] <= DAY, (case.number, dates)
        for decision in case.decisions.all():
            assert found <= decision.issued_on <= DAY, (case.number, decision.number)
            assert decision.served_on is None or decision.issued_on <= decision.served_on <= DAY
        if case.deadline is not None and case.state in ("rectifying", "restricted"):
            assert case.deadline > DAY, (case.number, case.deadline)  # the sweep leaves it as it is
    # No decision the machine takes itself: every step a person takes on the path names its person.
    persons_steps = {
        s.action.value
        for d in Dimension
        for s in case_flow.steps_for(d)
        if case_flow.Actor.SYSTEM not in s.roles
    }
    machine = CaseEvent.objects.filter(actor__isnull=True, action__in=persons_steps)
    assert not machine.exists(), list(machine.values_list("action", flat=True))
    # Decisions are taken by officers of the competent department, governments' by a district account.
    for decision in Decision.objects.select_related("decided_by__person__department", "case"):
        person = decision.decided_by.person
        if decision.approval_body:
            assert person.role == Role.DISTRICT and decision.case.territory_id == person.territory_id
        elif person.role == Role.DEPARTMENT:
            assert decision.case.dimension in person.department.dimensions, decision.number
    # Licences, quality sampling and safety inspections in both cities; every public list has entries.
    for city in ("440700", "441600"):
        licences = Licence.objects.filter(enterprise__territory__parent_id=city)
        assert set(licences.values_list("kind", flat=True)) == set(Licence.Kind.values), city
        assert licences.filter(kind=Licence.Kind.SAFETY_PRODUCTION, status=Licence.Status.REVOKED).exists()
        inspections = Inspection.objects.filter(enterprise__territory__parent_id=city)
        for dimension in ("quality", "safety"):
            assert inspections.filter(dimension=dimension, findings__conclusion="compliant").exists()
            assert inspections.filter(dimension=dimension, findings__case__isnull=False).exists()
        assert Measurement.objects.filter(
            line__enterprise__territory__parent_id=city, source=Measurement.Source.SAMPLING
        ).exists()
    client = Client()
    for kind in ListKind.values:
        response = client.get(f"/public/{kind}.csv")
        assert response.status_code == 200, kind
        body = b"".join(response.streaming_content if response.streaming else [response.content])
        rows = [line for line in body.decode("utf-8-sig").splitlines() if line.strip()]
        assert len(rows) >= 2, (kind, rows)  # a header and at least one entry


def test_the_demo_has_power_data_furnaces_and_a_resumed_production_signal(
    demo: list[tuple[str, str, str, str]],
) -> None:
    from phaseout.signals.models import ElectricityAccount, InductionFurnace, PowerReading, Signal

    assert ElectricityAccount.objects.count() == 2
    assert PowerReading.objects.count() == 15
    assert set(InductionFurnace.objects.values_list("use", "state")) == {
        ("casting", "verified"),
        ("construction_steel", "registered"),
    }
    signals = dict(Signal.objects.values_list("kind", "line__status"))
    assert signals == {"resumed_power": "exited", "furnace_out_of_scope": None}
    resumed = Signal.objects.get(kind="resumed_power")
    assert resumed.evidence["reading"]["kwh"] == "3680.00"
    district = Person.objects.get(user__username=f"district-{resumed.territory_id}")
    assert f"/signals/{resumed.pk}/" in client_for(district.user).get("/").content.decode()
