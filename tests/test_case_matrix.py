"""The full matrix of allowed and refused transitions, through the actions themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Case, CaseEvent
from phaseout.orgs.models import Person
from phaseout.rules.case_flow import TRANSITIONS, Action, State, allowed_actions, target_of
from phaseout.rules.exit_plans import ExitPlan
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)

STATE_FIELDS: dict[State, dict[str, Any]] = {
    State.FINDING: {},
    State.RECTIFYING: {
        "order_date": dt.date(2026, 2, 2),
        "deadline": dt.date(2026, 8, 3),
        "rectification_months": 6,
    },
    State.OVERDUE: {
        "order_date": dt.date(2025, 8, 1),
        "deadline": dt.date(2026, 2, 2),
        "rectification_months": 6,
    },
    State.VERIFIED: {
        "order_date": dt.date(2026, 2, 2),
        "deadline": dt.date(2026, 8, 3),
        "rectification_months": 6,
    },
    State.CLOSED: {
        "order_date": dt.date(2026, 1, 2),
        "deadline": dt.date(2026, 7, 2),
        "rectification_months": 6,
    },
    State.EXIT_ORDERED: {"exit_ordered_on": dt.date(2026, 2, 1), "exit_plan": "seal_then_dismantle"},
    State.EXITED: {
        "exit_ordered_on": dt.date(2026, 2, 1),
        "exit_plan": "seal_then_dismantle",
        "exited_on": TODAY,
    },
    State.ACCEPTED: {
        "exit_ordered_on": dt.date(2026, 2, 1),
        "exit_plan": "seal_then_dismantle",
        "exited_on": dt.date(2026, 2, 20),
        "accepted_on": dt.date(2026, 2, 25),
        "acceptance_team": "验收组",
        "acceptance_record": "合格",
    },
    State.ARCHIVED: {
        "exit_ordered_on": dt.date(2026, 2, 1),
        "exit_plan": "seal_then_dismantle",
        "exited_on": dt.date(2026, 2, 20),
        "accepted_on": dt.date(2026, 2, 25),
        "acceptance_team": "验收组",
        "acceptance_record": "合格",
    },
}

Run = Callable[[Case, Any], Any]
RUNS: dict[Action, Run] = {
    Action.ORDER_RECTIFICATION: lambda c, u: actions.order_rectification(case=c, by=u, today=TODAY),
    Action.GRANT_EXTENSION: lambda c, u: actions.grant_extension(
        case=c, months=2, by=u, reason="设备改造", today=TODAY
    ),
    Action.VERIFY_RECTIFIED: lambda c, u: actions.verify_rectification(
        case=c, passed=True, by=u, reason="复测达标"
    ),
    Action.VERIFY_STILL_FAILING: lambda c, u: actions.verify_rectification(
        case=c, passed=False, by=u, reason="复测仍超限"
    ),
    Action.CLOSE_COMPLIANT: lambda c, u: actions.close_compliant(case=c, by=u),
    Action.ORDER_EXIT: lambda c, u: actions.order_exit(
        case=c, plan=ExitPlan.SEAL_THEN_DISMANTLE, by=u, reason="依法关停", today=TODAY
    ),
    Action.CONFIRM_EXIT: lambda c, u: actions.confirm_exit(case=c, by=u, today=TODAY),
    Action.ACCEPT: lambda c, u: actions.accept_exit(
        case=c, by=u, accepted_on=TODAY, team="验收组", record_text="现场核查合格", today=TODAY
    ),
    Action.ARCHIVE: lambda c, u: actions.archive_case(case=c, by=u, today=TODAY),
    Action.RECORD_REINSPECTION: lambda c, u: actions.record_reinspection(
        case=c, by=u, inspected_on=TODAY, resumed=False, notes="设备仍处封存状态", today=TODAY
    ),
}


def test_every_user_action_has_a_run() -> None:
    assert set(RUNS) == set(TRANSITIONS) - {Action.MARK_OVERDUE}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(RUNS))
def test_transition_matrix(state: State, action: Action, office: Person) -> None:
    consequence = "restrict" if action is Action.ORDER_EXIT else "rectify"
    case = CaseFactory(state=state.value, consequence=consequence, **STATE_FIELDS[state])
    before = (case.version, CaseEvent.objects.filter(case=case).count())
    allowed = state in TRANSITIONS[action].sources
    if allowed:
        RUNS[action](case, office.user)
        case.refresh_from_db()
        assert case.state == target_of(action, state).value
        assert case.version == before[0] + 1
        event = CaseEvent.objects.filter(case=case).latest("id")
        assert (event.action, event.from_state, event.to_state, event.actor_id) == (
            action.value,
            state.value,
            case.state,
            office.user.pk,
        )
    else:
        with pytest.raises(CaseActionError) as refused:
            RUNS[action](case, office.user)
        assert refused.value.message  # a readable sentence, in the user's language
        case.refresh_from_db()
        assert case.state == state.value
        assert (case.version, CaseEvent.objects.filter(case=case).count()) == before


def test_pure_machine_agrees_with_its_table() -> None:
    for state in State:
        for action in Action:
            assert (action in allowed_actions(state)) == (state in TRANSITIONS[action].sources)
