"""`make demo` loads a year that reads true on the day it is run: the plan of that year, and a believable
day's work on the home page of every demo account (the working day, §6)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from phaseout import jobs
from phaseout.demo import load_demo
from phaseout.orgs.models import Person
from phaseout.plans.models import Plan
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
