"""The case state machine: every state, every named transition and where it may start.

finding ─► rectification ordered ─► rectified & verified ─► closed (compliant)
   │            │   ▲ extension (once, capped)
   │            ▼
   │        overdue / still non-compliant
   └────────────┴─► exit ordered ─► exited ─► accepted ─► archived ─► re-inspection
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    FINDING = "finding"
    RECTIFYING = "rectifying"
    OVERDUE = "overdue"
    VERIFIED = "verified"
    CLOSED = "closed"
    EXIT_ORDERED = "exit_ordered"
    EXITED = "exited"
    ACCEPTED = "accepted"
    ARCHIVED = "archived"


TERMINAL = frozenset({State.CLOSED, State.ARCHIVED})


class Action(StrEnum):
    ORDER_RECTIFICATION = "order_rectification"
    GRANT_EXTENSION = "grant_extension"
    VERIFY_RECTIFIED = "verify_rectified"
    VERIFY_STILL_FAILING = "verify_still_failing"
    MARK_OVERDUE = "mark_overdue"
    CLOSE_COMPLIANT = "close_compliant"
    ORDER_EXIT = "order_exit"
    CONFIRM_EXIT = "confirm_exit"
    ACCEPT = "accept"
    ARCHIVE = "archive"
    RECORD_REINSPECTION = "record_reinspection"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    target: State | None  # None: the state does not change


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.ORDER_RECTIFICATION, frozenset({State.FINDING}), State.RECTIFYING),
        Transition(Action.GRANT_EXTENSION, frozenset({State.RECTIFYING}), None),
        Transition(Action.VERIFY_RECTIFIED, frozenset({State.RECTIFYING}), State.VERIFIED),
        Transition(Action.VERIFY_STILL_FAILING, frozenset({State.RECTIFYING}), State.OVERDUE),
        Transition(Action.MARK_OVERDUE, frozenset({State.RECTIFYING}), State.OVERDUE),
        Transition(Action.CLOSE_COMPLIANT, frozenset({State.VERIFIED}), State.CLOSED),
        Transition(Action.ORDER_EXIT, frozenset({State.FINDING, State.OVERDUE}), State.EXIT_ORDERED),
        Transition(Action.CONFIRM_EXIT, frozenset({State.EXIT_ORDERED}), State.EXITED),
        Transition(Action.ACCEPT, frozenset({State.EXITED}), State.ACCEPTED),
        Transition(Action.ARCHIVE, frozenset({State.ACCEPTED}), State.ARCHIVED),
        Transition(Action.RECORD_REINSPECTION, frozenset({State.ARCHIVED}), None),
    )
}


class TransitionRefused(Exception):
    def __init__(self, action: Action, state: State) -> None:
        super().__init__(f"{action} is not allowed from {state}")
        self.action = action
        self.state = state


def target_of(action: Action, state: State) -> State:
    """The state after `action` from `state`; refuses a move the machine does not have."""
    transition = TRANSITIONS[action]
    if state not in transition.sources:
        raise TransitionRefused(action, state)
    return transition.target or state


def allowed_actions(state: State) -> list[Action]:
    return [t.action for t in TRANSITIONS.values() if state in t.sources]
