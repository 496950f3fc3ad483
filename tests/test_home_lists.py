"""The home page's lists of cases (overdue, deadlines within 30 days, waiting, re-inspections, exit measures,
escalations, extension requests) read only the columns they show, in a number of queries that does not
grow with the rows: a column the page shows but the query left out would cost a query per row."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model

from phaseout.cases.models import Case, Escalation, ExitMeasure, ExtensionRequest
from phaseout.orgs.models import Person
from tests.conftest import client_for
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)
ON_TODAY = time_machine.travel(dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC), tick=False)
CLOCK = {"order_date": dt.date(2025, 9, 1), "rectification_months": 6}


def _world(n: int) -> list[Case]:
    """n cases in each list of the office's home page, each of its own enterprise."""
    requester = get_user_model().objects.create(username="requester")
    shown = []
    for i in range(n):
        overdue = CaseFactory(state="overdue", deadline=dt.date(2026, 3, 1), **CLOCK)
        due = CaseFactory(state="rectifying", deadline=dt.date(2026, 3, 20), **CLOCK)
        waiting = CaseFactory(state="finding")
        archived = CaseFactory(
            state="archived", exit_ordered_on=TODAY, accepted_on=TODAY, acceptance_record="合格",
            reinspection_due=dt.date(2026, 3, 10),
        )  # fmt: skip
        exiting = CaseFactory(state="exit_ordered", exit_ordered_on=TODAY, consequence="exit")
        measure = ExitMeasure.objects.create(
            case=exiting, kind="power_cut", unit="供电局", deadline=dt.date(2026, 3, 5 + i % 5)
        )
        raised = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        Escalation.objects.create(
            case=exiting,
            measure=measure,
            kind="measure_overdue",
            raised_at=raised,
            due_date=dt.date(2026, 3, 9),
        )
        ExtensionRequest.objects.create(case=due, months=2, reason="设备改造", requested_by=requester)
        shown += [overdue, due, waiting, archived, exiting]
    return shown


@pytest.mark.parametrize("n", [2, 8])  # 8: within every list's 50 rows
def test_the_office_home_page_lists_in_queries_that_do_not_grow_with_rows(
    office: Person, n: int, django_assert_max_num_queries: Any
) -> None:
    shown = _world(n)
    client = client_for(office.user)
    with ON_TODAY:
        client.get("/")  # the session and the person's first reads
        with django_assert_max_num_queries(40):
            page = client.get("/").content.decode()
    for case in shown:  # every case named by its number and enterprise, each in its list
        assert case.number in page and case.enterprise.name in page
    assert page.count("供电局") == n  # the exit measures, by their unit
    assert len(re.findall(r"：2个月，", page)) == n  # the extension requests


def test_the_cases_have_the_index_a_scoped_state_count_reads(db: None) -> None:
    """The case list's total, filtered by state within a person's scope (territories, and a department's
    dimensions), is counted from the index (state, territory, dimension) alone (migration cases 0013). On
    the 1 M-scale data set (EXPLAIN ANALYZE, PostgreSQL, vacuumed) a department's overdue cases counted up
    to 10,001: 278 ms through the overdue index and the table, 6.5 ms by an index-only scan of this one."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "cases_case")
    index = constraints.get("case_state_scope_idx")
    assert index is not None and index["index"]
    assert index["columns"] == ["state", "territory_id", "dimension"]


def test_a_persons_scope_is_read_once_per_loaded_person(
    office: Person, django_assert_num_queries: Any
) -> None:
    """The home page filters a dozen lists by the person's territories: read in one query, not one a list."""
    from phaseout.orgs.models import Person as People
    from phaseout.orgs.scope import territory_codes

    person = People.objects.select_related("department__territory").get(pk=office.pk)
    with django_assert_num_queries(1):
        first = territory_codes(person)
        first.append("999999")  # the caller's list is its own
        again = territory_codes(person)
    assert "440703" in again and "440781" in again and "999999" not in again
    assert set(again) == set(first) - {"999999"}


def test_the_case_list_neither_reads_nor_decrypts_the_enterprises_contact(office: Person) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cases = [
        CaseFactory(enterprise__contact_name="张三", enterprise__contact_phone="13800000000")
        for _ in range(3)
    ]
    client = client_for(office.user)
    client.get("/cases/")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/cases/").content.decode()
    assert all(case.number in page and case.enterprise.name in page for case in cases)
    assert "13800000000" not in page
    selects = [q["sql"] for q in queries.captured_queries if "registry_enterprise" in q["sql"]]
    assert selects and not any("contact_phone" in sql or "contact_name" in sql for sql in selects)
