"""Every case action × every role, over HTTP, on every dimension's path: the page lets exactly the
people the path names take a step (a department only in a dimension it enforces, a district only in its
own territory), and everyone else is refused without a change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import transaction

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, CaseEvent
from phaseout.cases.steps import STEPS
from phaseout.orgs.models import Department, Person, Role
from phaseout.registry.models import Enterprise
from phaseout.rules.case_flow import Action, Actor, Body, State, steps_for
from phaseout.rules.dimensions import Dimension
from tests.conftest import _person, client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory
from tests.test_case_matrix import STATE_FIELDS

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DAY = "2026-03-02"
DECISION = {"issued_on": DAY, "served_on": DAY, "reason": "依法处理"}
FORM: dict[Action, dict[str, Any]] = {
    Action.DISMISS: {"reason": "复核无违法事实", "confirm": "on"},
    Action.ORDER_RECTIFICATION: DECISION,
    Action.ORDER_RESTRICTION: {**DECISION, "months": 3},
    Action.ORDER_SUSPENSION: DECISION,
    Action.GRANT_EXTENSION: {**DECISION, "months": 2},
    Action.VERIFY_RECTIFIED: {"passed": "yes", "reason": "复测达标"},
    Action.CLOSE_COMPLIANT: {"reason": "结案"},
    Action.PROPOSE_CLOSURE: {"issued_on": DAY, "reason": "情节严重"},
    Action.APPROVE_CLOSURE: {
        "approved": "yes",
        "approval_body": "江门市人民政府",
        "approval_number": "江府函〔2026〕8号",
        "approval_date": "2026-02-20",
        "served_on": "2026-02-24",
        "plan": "close_enterprise",
        "confirm": "on",
    },
    Action.REVOKE_LICENCE: {**DECISION, "plan": "close_enterprise", "confirm": "on"},
    Action.ORDER_EXIT: {**DECISION, "plan": "seal_then_dismantle", "confirm": "on"},
    Action.CONFIRM_EXIT: {"reason": "已退出"},
    Action.ACCEPT: {"accepted_on": DAY, "team": "验收组", "record_text": "合格"},
    Action.ARCHIVE: {"reason": "归档", "confirm": "on"},
    Action.RECORD_REINSPECTION: {"inspected_on": DAY, "resumed": "no", "notes": "仍封存"},
}
PERSONAS = (
    "office",
    "competent",
    "other_department",
    "own_district",
    "other_district",
    "enterprise",
    "auditor",
)


@pytest.fixture
def people(
    competent: dict[str, Person], office: Person, district: Person, other_district: Person
) -> dict[str, Any]:
    finance = _person("czj", Role.DEPARTMENT, department=Department.objects.get(code="jm-czj"))
    auditor = PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR, display_name="审计")
    return {
        "office": office,
        "competent": competent,
        "other_department": finance,  # enforces no dimension
        "own_district": district,
        "other_district": other_district,
        "auditor": auditor,
    }


def _expected(persona: str, dimension: Dimension, action: Action, office: Person) -> bool:
    step = next(s for s in steps_for(dimension) if s.action is action)
    if persona == "office":
        return Actor.OFFICE in step.roles and (
            step.body is not Body.DEPARTMENT or dimension in office.dimensions
        )
    if persona == "competent":
        return Actor.DEPARTMENT in step.roles
    if persona == "own_district":
        return Actor.DISTRICT in step.roles
    return False


def test_every_step_of_every_path_has_a_form() -> None:
    offered = {s.action for d in Dimension for s in steps_for(d)} - {
        Action.MARK_OVERDUE,
        Action.VERIFY_STILL_FAILING,
    }
    assert offered - {Action.REJECT_CLOSURE} <= {Action(a) for a in STEPS}
    assert set(FORM) == {Action(a) for a in STEPS}


@pytest.mark.parametrize("dimension", list(Dimension))
def test_every_action_for_every_role_over_http(dimension: Dimension, people: dict[str, Any]) -> None:
    office: Person = people["office"]
    for step in steps_for(dimension):
        if step.action.value not in STEPS:
            continue
        state = sorted(step.sources)[0]
        for persona in PERSONAS:
            with transaction.atomic(), time_machine.travel(NOW, tick=False):
                _cell(
                    dimension,
                    step.action,
                    state,
                    persona,
                    people,
                    _expected(persona, dimension, step.action, office),
                )
                transaction.set_rollback(True)


def _cell(
    dimension: Dimension, action: Action, state: State, persona: str, people: dict[str, Any], allowed: bool
) -> None:
    consequence = "exit_at_once" if action is Action.ORDER_EXIT else "rectify"
    case = CaseFactory(
        dimension=dimension.value, state=state.value, consequence=consequence, **STATE_FIELDS[state]
    )
    if persona == "enterprise":
        person = PersonFactory(
            user=UserFactory(username=f"firm-{case.pk}"),
            role=Role.ENTERPRISE,
            enterprise=Enterprise.objects.get(pk=case.enterprise_id),
        )
    elif persona == "competent":
        person = people["competent"][dimension.value]
    else:
        person = people[persona]
    client = client_for(person.user)  # signing in is audited too: count from here
    before = (case.version, CaseEvent.objects.count(), AuditEvent.objects.count())
    response = client.post(f"/cases/{case.pk}/act/{action.value}/", {"version": case.version, **FORM[action]})
    case.refresh_from_db()
    where = (dimension.value, action.value, persona)
    if allowed:
        assert response.status_code == 302, where
        assert case.version == before[0] + 1, where
        assert CaseEvent.objects.filter(case=case, action=action.value).count() == 1, where
        assert AuditEvent.objects.filter(action=f"case.{action.value}", object_id=str(case.pk)).count() == 1
    else:
        assert response.status_code in (403, 404), (*where, response.status_code)
        # Nothing changed; a 403 (a case this person sees, an action not theirs) is recorded as a refused
        # page, a 404 (a case out of their scope) writes nothing.
        refused = 1 if response.status_code == 403 else 0
        after = (case.version, CaseEvent.objects.count(), AuditEvent.objects.count() - refused)
        assert after == before, where
        if refused:
            entry = AuditEvent.objects.order_by("-seq").first()
            assert entry is not None and (entry.action, entry.outcome, entry.actor) == (
                "access.refused",
                "refused",
                person.user,
            ), where
        assert Case.objects.get(pk=case.pk).state == state.value
