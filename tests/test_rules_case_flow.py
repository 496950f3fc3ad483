"""The case state machine as a table (phaseout/rules/case_flow.py), without the database: who may take
each step, where it leads, what `phaseout case-flow --json` states, and how a refused move is named.

The path builders (`_mark_overdue`, `_verifications`, ...) run once at import to fill PATHS, so they
are also called here directly: a change in one of them must show in a test, not only in a reloaded
module."""

from __future__ import annotations

import pytest

from phaseout.rules import case_flow as cf
from phaseout.rules.case_flow import Action, Actor, Body, Guard, State, Step, Verification
from phaseout.rules.dimensions import Dimension

S = State
DEPT_OR_OFFICE = frozenset({Actor.DEPARTMENT, Actor.OFFICE})


# ── one step and one clock as JSON ──────────────────────────────────────────────────────


def test_order_rectification_as_json() -> None:
    found = cf.step(Dimension.ENERGY, Action.ORDER_RECTIFICATION)
    assert found is not None
    assert found.to_json() == {
        "action": "order_rectification",
        "from": ["finding"],
        "to": "rectifying",
        "roles": ["department", "office"],
        "body": "department",
        "basis": "节约能源法（2018）第十六条第二款",
        "document": "rectification_notice",
        "clock": {
            "name": "rectification",
            "months": 6,
            "runs_from": "service",
            "extension_months": 3,
            "service_within_working_days": None,
            "basis": cf.ENERGY_RECTIFICATION.basis,
            "verification": "secondary",
        },
        "approval": "",
        "guard": "not_elimination",
        "decision": True,
        "irreversible": False,
    }


def test_a_step_that_keeps_the_state_and_has_no_clock_as_json() -> None:
    reinspect = cf.step(Dimension.SAFETY, Action.RECORD_REINSPECTION)
    assert reinspect is not None
    described = reinspect.to_json()
    assert described["to"] is None  # the state does not change
    assert described["clock"] is None
    assert described["guard"] is None
    assert described["from"] == ["archived"]
    assert described["roles"] == ["district", "office"]
    assert described["body"] == "territory"
    assert (described["decision"], described["irreversible"]) == (False, False)


def test_the_sources_and_roles_are_listed_sorted() -> None:
    suspension = cf.step(Dimension.ENVIRONMENT, Action.ORDER_SUSPENSION)
    assert suspension is not None
    assert suspension.to_json()["from"] == ["finding", "overdue", "restricted"]
    archive = cf.step(Dimension.ENERGY, Action.ARCHIVE)
    assert archive is not None
    assert archive.to_json()["roles"] == ["office"]
    assert archive.to_json()["guard"] == "measures_done"
    assert archive.to_json()["irreversible"] is True


def test_environment_restriction_clock_as_json() -> None:
    assert cf._clock_json(cf.ENVIRONMENT_RESTRICTION) == {
        "name": "restriction",
        "months": 3,
        "runs_from": "service",
        "extension_months": 3,
        "service_within_working_days": 7,
        "basis": cf.ENVIRONMENT_RESTRICTION.basis,
        "verification": "confirmed",
    }
    assert cf._clock_json(None) is None
    suspension = cf._clock_json(cf.ENVIRONMENT_SUSPENSION)
    assert suspension is not None
    assert (suspension["months"], suspension["extension_months"]) == (None, 0)


# ── the path builders ───────────────────────────────────────────────────────────────────


def test_only_the_sweep_marks_a_case_overdue() -> None:
    sources = frozenset({S.RESTRICTED})
    overdue = cf._mark_overdue(sources)
    assert overdue == Step(
        Action.MARK_OVERDUE,
        sources,
        S.OVERDUE,
        frozenset({Actor.SYSTEM}),
        Body.SYSTEM,
        basis="期限届满未经验证达标",
        decision=False,
    )


def test_verification_steps_lead_to_verified_or_overdue_then_close() -> None:
    sources = frozenset({S.RESTRICTED, S.SUSPENDED})
    rectified, failing, close = cf._verifications(sources, "整改验证（复查）")
    assert rectified == Step(
        Action.VERIFY_RECTIFIED,
        sources,
        S.VERIFIED,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis="整改验证（复查）",
        decision=False,
    )
    assert failing == Step(
        Action.VERIFY_STILL_FAILING,
        sources,
        S.OVERDUE,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis="整改验证（复查）：仍不达标",
        decision=False,
    )
    assert close is cf._CLOSE
    assert (close.sources, close.target, close.decision) == (frozenset({S.VERIFIED}), S.CLOSED, False)


def test_the_department_proposes_closure_from_overdue() -> None:
    proposal = cf._propose_closure("依据")
    assert proposal == Step(
        Action.PROPOSE_CLOSURE,
        frozenset({S.OVERDUE}),
        S.CLOSURE_PROPOSED,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis="依据",
        document="closure_proposal",
    )
    assert proposal.decision is True and proposal.irreversible is False


def test_the_government_approves_closure_recorded_by_office_or_district() -> None:
    approval = cf._approve_closure("依据", approval="本级人民政府")
    assert approval == Step(
        Action.APPROVE_CLOSURE,
        frozenset({S.CLOSURE_PROPOSED}),
        S.EXIT_ORDERED,
        frozenset({Actor.OFFICE, Actor.DISTRICT}),
        Body.GOVERNMENT,
        basis="依据",
        document="closure_decision",
        approval="本级人民政府",
        irreversible=True,
    )


def test_an_extension_keeps_the_state_under_its_clock_once() -> None:
    sources = frozenset({S.RESTRICTED})
    extension = cf._extension(cf.ENVIRONMENT_RESTRICTION, sources)
    assert extension == Step(
        Action.GRANT_EXTENSION,
        sources,
        None,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis=cf.ENVIRONMENT_RESTRICTION.basis,
        document="extension_reply",
        clock=cf.ENVIRONMENT_RESTRICTION,
        guard=Guard.ONE_EXTENSION,
    )


# ── looking steps up ────────────────────────────────────────────────────────────────────


def test_steps_for_takes_the_dimension_or_its_name() -> None:
    assert cf.steps_for("energy") is cf.PATHS[Dimension.ENERGY]
    assert cf.steps_for(Dimension.TECHNOLOGY) is cf.PATHS[Dimension.TECHNOLOGY]
    with pytest.raises(ValueError):
        cf.steps_for("price")


def test_step_finds_the_dimensions_own_step_or_none() -> None:
    technology_exit = cf.step("technology", "order_exit")
    assert technology_exit is not None and technology_exit.guard is None  # no condition: always at once
    energy_exit = cf.step("energy", Action.ORDER_EXIT)
    assert energy_exit is cf._EXIT_AT_ONCE and energy_exit.guard is Guard.ELIMINATION_OR_RESUMED
    safety = cf.step(Dimension.SAFETY, Action.ORDER_SUSPENSION)
    assert safety is not None and safety.document == "safety_suspension_decision"
    assert cf.step(Dimension.SAFETY, Action.GRANT_EXTENSION) is None
    assert cf.step(Dimension.TECHNOLOGY, Action.PROPOSE_CLOSURE) is None


@pytest.mark.parametrize(
    ("dimension", "action", "state", "target"),
    [
        ("energy", Action.ORDER_RECTIFICATION, S.FINDING, S.RECTIFYING),
        ("energy", Action.GRANT_EXTENSION, S.RECTIFYING, S.RECTIFYING),  # unchanged
        ("environment", Action.ORDER_SUSPENSION, S.OVERDUE, S.SUSPENDED),
        ("environment", Action.VERIFY_STILL_FAILING, S.SUSPENDED, S.OVERDUE),
        ("safety", Action.APPROVE_CLOSURE, S.CLOSURE_PROPOSED, S.EXIT_ORDERED),
        ("quality", Action.REVOKE_LICENCE, S.OVERDUE, S.EXIT_ORDERED),
        ("quality", Action.REJECT_CLOSURE, S.CLOSURE_PROPOSED, S.OVERDUE),
        ("technology", Action.RECORD_REINSPECTION, S.ARCHIVED, S.ARCHIVED),  # unchanged
    ],
)
def test_target_of(dimension: str, action: Action, state: State, target: State) -> None:
    assert cf.target_of(dimension, action, state) is target


def test_a_move_the_path_lacks_is_refused_and_named() -> None:
    with pytest.raises(cf.TransitionRefused) as refused:
        cf.target_of("safety", Action.GRANT_EXTENSION, S.SUSPENDED)  # no such step on this path
    assert str(refused.value) == "grant_extension is not allowed from suspended on the safety path"
    assert refused.value.action is Action.GRANT_EXTENSION
    assert refused.value.state is S.SUSPENDED
    assert refused.value.dimension is Dimension.SAFETY

    with pytest.raises(cf.TransitionRefused) as wrong_state:
        cf.target_of(Dimension.ENERGY, Action.ACCEPT, S.EXIT_ORDERED)  # a step, not from here
    assert str(wrong_state.value) == "accept is not allowed from exit_ordered on the energy path"

    bare = cf.TransitionRefused(Action.ARCHIVE, S.FINDING)
    assert str(bare) == "archive is not allowed from finding"
    assert bare.dimension is None


def test_allowed_steps_in_the_order_of_the_path() -> None:
    assert cf.allowed_actions("energy", S.FINDING) == [
        Action.DISMISS,
        Action.ORDER_RECTIFICATION,
        Action.ORDER_EXIT,
    ]
    assert cf.allowed_actions("environment", S.RESTRICTED) == [
        Action.ORDER_SUSPENSION,
        Action.GRANT_EXTENSION,
        Action.MARK_OVERDUE,
        Action.VERIFY_RECTIFIED,
        Action.VERIFY_STILL_FAILING,
    ]
    assert cf.allowed_actions("safety", S.OVERDUE) == [Action.PROPOSE_CLOSURE]
    assert cf.allowed_actions("quality", S.OVERDUE) == [Action.REVOKE_LICENCE, Action.PROPOSE_CLOSURE]
    assert cf.allowed_actions("technology", S.OVERDUE) == []
    assert [s.target for s in cf.allowed_steps("technology", S.FINDING)] == [S.DISMISSED, S.EXIT_ORDERED]


@pytest.mark.parametrize(
    ("dimension", "action", "role", "may"),
    [
        ("energy", Action.APPROVE_CLOSURE, "office", True),
        ("energy", Action.APPROVE_CLOSURE, "district", True),
        ("energy", Action.APPROVE_CLOSURE, "department", False),  # the government decides
        ("energy", Action.PROPOSE_CLOSURE, "department", True),
        ("energy", Action.PROPOSE_CLOSURE, "district", False),
        ("technology", Action.ORDER_EXIT, "district", False),  # a district never orders exit
        ("technology", Action.ORDER_EXIT, "department", True),
        ("technology", "confirm_exit", "district", True),
        ("technology", Action.PROPOSE_CLOSURE, "office", False),  # not on this path at all
        ("safety", Action.MARK_OVERDUE, "office", False),  # the safety path has no clock to run out
        ("energy", Action.MARK_OVERDUE, "system", True),
        ("energy", Action.ARCHIVE, "department", False),
    ],
)
def test_may_take(dimension: str, action: Action | str, role: str, may: bool) -> None:
    assert cf.may_take(dimension, action, role) is may


# ── the whole description ───────────────────────────────────────────────────────────────


def test_a_path_lists_the_states_it_reaches() -> None:
    technology = cf.PathDescription(Dimension.TECHNOLOGY, cf.steps_for(Dimension.TECHNOLOGY)).to_json()
    assert technology["dimension"] == "technology"
    assert technology["states"] == ["accepted", "archived", "dismissed", "exit_ordered", "exited", "finding"]
    assert [s["action"] for s in technology["steps"]] == [
        "dismiss",
        "order_exit",
        "confirm_exit",
        "accept",
        "archive",
        "record_reinspection",
    ]
    assert cf.PathDescription(Dimension.ENERGY).to_json() == {
        "dimension": "energy",
        "states": [],
        "steps": [],
    }


def test_describe_states_every_path() -> None:
    described = cf.describe()
    assert described["states"] == [s.value for s in State]
    assert described["states"][:3] == ["finding", "dismissed", "rectifying"]
    assert described["terminal"] == ["archived", "closed", "dismissed"]
    assert [p["dimension"] for p in described["paths"]] == [
        "energy",
        "environment",
        "quality",
        "safety",
        "technology",
    ]
    safety = described["paths"][3]
    assert "restricted" not in safety["states"] and "rectifying" not in safety["states"]
    assert "suspended" in safety["states"]
    environment = described["paths"][1]
    assert environment["steps"] == [s.to_json() for s in cf.steps_for("environment")]


def test_clock_verification_values() -> None:
    assert {c.verification for c in (cf.ENERGY_RECTIFICATION, cf.QUALITY_RECTIFICATION)} == {
        Verification.SECONDARY
    }
    assert cf.SAFETY_SUSPENSION.months is None
