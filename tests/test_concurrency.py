"""Two officers acting on one case at the same moment: one succeeds, the other is told, nothing is lost."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.models import Case, CaseEvent
from phaseout.orgs.models import Person
from tests.conftest import client_for
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)

DATES = {"issued_on": "2026-03-02", "served_on": "2026-03-02"}


def _race(*calls: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcomes[i] = call()
        except Exception as exc:  # the loser's error is the outcome we check
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_officers_one_case(energy_dept: Person, office: Person, round_: int) -> None:
    case = CaseFactory(
        state="overdue", order_date=dt.date(2025, 8, 1), deadline=dt.date(2026, 2, 2), rectification_months=6
    )
    version = case.version
    outcomes = _race(
        lambda: actions.propose_closure(
            case=Case.objects.get(pk=case.pk),
            by=energy_dept.user,
            reason="逾期未达标",
            today=TODAY,
            expected_version=version,
        ),
        lambda: actions.propose_closure(
            case=Case.objects.get(pk=case.pk),
            by=office.user,
            reason="情节严重",
            today=TODAY,
            expected_version=version,
        ),
    )
    winners = [o for o in outcomes if isinstance(o, Case)]
    losers = [o for o in outcomes if isinstance(o, CaseActionError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], StaleCase)
    case.refresh_from_db()
    assert case.state == "closure_proposed" and case.version == version + 1
    assert CaseEvent.objects.filter(case=case, action="propose_closure").count() == 1
    assert case.decisions.count() == 1  # the winner's document alone


@pytest.mark.django_db(transaction=True)
def test_same_action_twice_without_versions(energy_dept: Person, office: Person) -> None:
    case = CaseFactory(state="finding")
    outcomes = _race(
        lambda: actions.order_rectification(case=case, by=energy_dept.user, today=TODAY),
        lambda: actions.order_rectification(case=case, by=office.user, today=TODAY),
    )
    assert sum(isinstance(o, Case) for o in outcomes) == 1
    assert sum(isinstance(o, CaseActionError) for o in outcomes) == 1
    assert CaseEvent.objects.filter(case=case, action="order_rectification").count() == 1


def test_the_page_tells_the_slower_officer(energy_dept: Person, office: Person) -> None:
    case = CaseFactory(state="finding")
    stale = case.version
    client_for(energy_dept.user).post(
        f"/cases/{case.pk}/act/order_rectification/",
        {"version": stale, "reason": "整改", **DATES},
    )
    response = client_for(office.user).post(
        f"/cases/{case.pk}/act/grant_extension/",
        {
            "version": stale,
            "months": 2,
            "reason": "企业申请",
            "issued_on": "2026-03-02",
            "served_on": "2026-03-02",
        },
        follow=True,
    )
    assert "他人刚刚处理了该案件" in response.content.decode()
    case.refresh_from_db()
    assert (case.state, case.extension_months) == ("rectifying", 0)


@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_once_get_two_numbers(energy_dept: Person, office: Person) -> None:
    """The department's sequence loses no number and gives none twice when two officers issue at once."""
    first, second = CaseFactory(), CaseFactory()
    outcomes = _race(
        lambda: actions.order_rectification(case=first, by=energy_dept.user, today=TODAY),
        lambda: actions.order_rectification(case=second, by=energy_dept.user, today=TODAY),
    )
    assert all(isinstance(o, Case) for o in outcomes), outcomes
    numbers = sorted(Case.objects.get(pk=c.pk).decisions.get().number for c in (first, second))
    assert numbers == ["江发改〔2026〕1号", "江发改〔2026〕2号"]
