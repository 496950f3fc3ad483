"""Every dimension's legal path as a full matrix of allowed and refused transitions, run through the
real actions: an allowed step moves the case, appends its history event and its audit row, and
issues its numbered document; a refused one says why and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Case, CaseEvent, Decision
from phaseout.orgs.models import Person
from phaseout.rules import case_flow
from phaseout.rules.case_flow import Action, Actor, State, allowed_actions, step, steps_for, target_of
from phaseout.rules.dimensions import Dimension
from phaseout.rules.exit_plans import ExitPlan
from tests.factories import CaseFactory

TODAY = dt.date(2026, 3, 2)
ORDERED = {"order_date": dt.date(2026, 2, 2), "deadline": dt.date(2026, 8, 3), "rectification_months": 6}
EXIT = {"exit_ordered_on": dt.date(2026, 2, 1), "exit_plan": "seal_then_dismantle"}
ACCEPTED = {
    **EXIT,
    "exited_on": dt.date(2026, 2, 20),
    "accepted_on": dt.date(2026, 2, 25),
    "acceptance_team": "验收组",
    "acceptance_record": "合格",
}
STATE_FIELDS: dict[State, dict[str, Any]] = {
    State.FINDING: {},
    State.DISMISSED: {},
    State.RECTIFYING: ORDERED,
    State.RESTRICTED: {
        "order_date": dt.date(2026, 2, 2),
        "deadline": dt.date(2026, 5, 6),
        "rectification_months": 3,
    },
    State.SUSPENDED: {"order_date": dt.date(2026, 2, 2)},
    State.OVERDUE: {
        "order_date": dt.date(2025, 8, 1),
        "deadline": dt.date(2026, 2, 2),
        "rectification_months": 6,
    },
    State.VERIFIED: ORDERED,
    State.CLOSURE_PROPOSED: {"closure_proposed_on": dt.date(2026, 2, 10)},
    State.CLOSED: ORDERED,
    State.EXIT_ORDERED: EXIT,
    State.EXITED: {**EXIT, "exited_on": TODAY},
    State.ACCEPTED: ACCEPTED,
    State.ARCHIVED: ACCEPTED,
}

Run = Callable[[Case, Any], Any]
RUNS: dict[Action, Run] = {
    Action.DISMISS: lambda c, u: actions.dismiss(case=c, by=u, reason="复核无违法事实", today=TODAY),
    Action.ORDER_RECTIFICATION: lambda c, u: actions.order_rectification(case=c, by=u, today=TODAY),
    Action.ORDER_RESTRICTION: lambda c, u: actions.order_restriction(case=c, by=u, months=3, today=TODAY),
    Action.ORDER_SUSPENSION: lambda c, u: actions.order_suspension(case=c, by=u, today=TODAY),
    Action.GRANT_EXTENSION: lambda c, u: actions.grant_extension(
        case=c, months=2, by=u, reason="设备改造", today=TODAY
    ),
    Action.VERIFY_RECTIFIED: lambda c, u: actions.verify_rectification(
        case=c, passed=True, by=u, reason="复测达标", today=TODAY
    ),
    Action.VERIFY_STILL_FAILING: lambda c, u: actions.verify_rectification(
        case=c, passed=False, by=u, reason="复测仍超限", today=TODAY
    ),
    Action.CLOSE_COMPLIANT: lambda c, u: actions.close_compliant(case=c, by=u, today=TODAY),
    Action.PROPOSE_CLOSURE: lambda c, u: actions.propose_closure(
        case=c, by=u, reason="情节严重", today=TODAY
    ),
    Action.APPROVE_CLOSURE: lambda c, u: actions.approve_closure(
        case=c,
        by=u,
        plan=ExitPlan.CLOSE_ENTERPRISE,
        approval_body="江门市人民政府",
        approval_number="江府函〔2026〕8号",
        approval_date=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 24),
        today=TODAY,
    ),
    Action.REJECT_CLOSURE: lambda c, u: actions.reject_closure(case=c, by=u, reason="暂缓关闭", today=TODAY),
    Action.REVOKE_LICENCE: lambda c, u: actions.revoke_licence(case=c, by=u, reason="情节严重", today=TODAY),
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
NUMBER = re.compile(r"^江\w+〔2026〕\d+号$")


def test_every_user_action_has_a_run() -> None:
    assert set(RUNS) == set(Action) - {Action.MARK_OVERDUE}


def _actor(dimension: Dimension, action: Action, competent: dict[str, Person], office: Person) -> Person:
    found = step(dimension, action)
    if found is not None and Actor.DEPARTMENT not in found.roles:
        return office  # the office records the government's decisions, the exit and the archive
    return competent[dimension.value]


@pytest.mark.parametrize("dimension", list(Dimension))
@pytest.mark.parametrize("action", list(RUNS))
def test_transition_matrix(
    dimension: Dimension, action: Action, competent: dict[str, Person], office: Person
) -> None:
    """Each state of the case, in a savepoint rolled back after it (the reference data loads once)."""
    for state in State:
        with transaction.atomic():
            _cell(dimension, state, action, _actor(dimension, action, competent, office))
            transaction.set_rollback(True)


def _cell(dimension: Dimension, state: State, action: Action, person: Person) -> None:
    consequence = "exit_at_once" if action is Action.ORDER_EXIT else "rectify"
    case = CaseFactory(
        dimension=dimension.value, state=state.value, consequence=consequence, **STATE_FIELDS[state]
    )
    before = (case.version, CaseEvent.objects.filter(case=case).count(), AuditEvent.objects.count())
    found = step(dimension, action)
    allowed = found is not None and state in found.sources
    if allowed:
        assert found is not None
        RUNS[action](case, person.user)
        case.refresh_from_db()
        assert case.state == target_of(dimension, action, state).value, (dimension, state, action)
        assert case.version == before[0] + 1
        event = CaseEvent.objects.filter(case=case).latest("id")
        assert (event.action, event.from_state, event.to_state, event.actor_id) == (
            action.value,
            state.value,
            case.state,
            person.user.pk,
        )
        audit = AuditEvent.objects.filter(action=f"case.{action.value}", object_id=str(case.pk)).get()
        assert audit.actor_id == person.user.pk
        if found.document:
            decision = Decision.objects.get(case=case, kind=found.document)
            assert event.data["number"] == decision.number
            if found.approval:
                assert decision.number == "江府函〔2026〕8号" and decision.issuer == "江门市人民政府"
            else:
                assert NUMBER.match(decision.number), decision.number
        else:
            assert not Decision.objects.filter(case=case).exists()
    else:
        with pytest.raises(CaseActionError) as refused:
            RUNS[action](case, person.user)
        message = refused.value.message
        if found is None:
            assert "法定程序中没有这一步" in message, message
        else:
            assert "无法" in message or "不能" in message or "须" in message, message
        case.refresh_from_db()
        assert case.state == state.value
        after = (case.version, CaseEvent.objects.filter(case=case).count(), AuditEvent.objects.count())
        assert after == before, (dimension, state, action)
        assert not Decision.objects.filter(case=case).exists()


@pytest.mark.parametrize("dimension", list(Dimension))
def test_pure_machine_agrees_with_its_table(dimension: Dimension) -> None:
    for state in State:
        for action in Action:
            found = step(dimension, action)
            assert (action in allowed_actions(dimension, state)) == (
                found is not None and state in found.sources
            )


def test_each_dimension_has_its_own_path() -> None:
    """Environment restricts or suspends (never 6-month rectification), safety suspends, energy and
    quality order rectification, technology orders exit; closure by the government where the law says."""
    actions_of = {d: {s.action for s in steps_for(d)} for d in Dimension}
    assert Action.ORDER_RECTIFICATION not in actions_of[Dimension.ENVIRONMENT]
    assert {Action.ORDER_RESTRICTION, Action.ORDER_SUSPENSION} <= actions_of[Dimension.ENVIRONMENT]
    assert Action.ORDER_SUSPENSION in actions_of[Dimension.SAFETY]
    assert Action.ORDER_RECTIFICATION not in actions_of[Dimension.SAFETY]
    assert Action.GRANT_EXTENSION not in actions_of[Dimension.SAFETY]
    assert Action.REVOKE_LICENCE in actions_of[Dimension.QUALITY]
    assert actions_of[Dimension.TECHNOLOGY] & {Action.ORDER_RECTIFICATION, Action.PROPOSE_CLOSURE} == set()
    for dimension in (Dimension.ENERGY, Dimension.ENVIRONMENT, Dimension.SAFETY):
        approve = step(dimension, Action.APPROVE_CLOSURE)
        assert approve is not None and approve.approval and approve.body is case_flow.Body.GOVERNMENT
        assert Actor.DEPARTMENT not in approve.roles  # the department proposes, the government decides
    energy = step(Dimension.ENERGY, Action.ORDER_RECTIFICATION)
    assert energy is not None and energy.clock is not None
    assert (energy.clock.months, energy.clock.extension_months) == (6, 3)
    restriction = step(Dimension.ENVIRONMENT, Action.ORDER_RESTRICTION)
    assert restriction is not None and restriction.clock is not None
    assert (restriction.clock.months, restriction.clock.extension_months) == (3, 3)
    assert restriction.clock.service_within_working_days == 7
    suspension = step(Dimension.ENVIRONMENT, Action.ORDER_SUSPENSION)
    assert suspension is not None and suspension.clock is not None and suspension.clock.months is None
