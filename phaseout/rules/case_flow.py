"""The case state machine: one legal path per dimension, stated once.

Every dimension shares the case's states, but each has its own steps, its own clocks and its own
deciding bodies, from the plans (Heyuan 2021 二(一)–二(五)) and the statutes they cite:

energy       proposal ─► rectification ordered (6 months, one extension ≤ 3) ─► verified ─► closed
             (节约能源法 16, 71, 72)          └► overdue / still failing ─► closure proposed by the
                                                department ─► decided by the people's government ─► exit
environment  proposal ─► restricted production (≤ 3 months, one extension ≤ 3) or suspension for
             (环保法 60; 30号令)   rectification (until lifted) ─► verified ─► closed
                                   └► overdue / still failing ─► closure approved by the government ─► exit
safety       proposal ─► suspension (停产停业整顿) ─► verified ─► closed
             (安全生产法 113, 115) └► still unsafe ─► closure asked of the government ─► exit, licences
                                                                                        revoked
quality      proposal ─► order to stop and rectify (6 months) ─► verified ─► closed
             (产品质量法 49)       └► still failing ─► business licence revoked, or closure by the government
technology   proposal ─► exit ordered by the department, on the record (elimination class, at once)
             (Heyuan 二(三))

All of them share exit, acceptance, archive and re-inspection. The machine proposes; a person of the
competent body confirms. `steps_for(dimension)` lists a path; `phaseout case-flow --json` prints them.
This module is pure Python: roles and bodies are the strings the organisation uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from phaseout.rules.dimensions import Dimension


class State(StrEnum):
    FINDING = "finding"  # a proposal (拟处理) until a person of the competent body decides
    DISMISSED = "dismissed"  # the proposal was not confirmed
    RECTIFYING = "rectifying"
    RESTRICTED = "restricted"
    SUSPENDED = "suspended"
    OVERDUE = "overdue"
    VERIFIED = "verified"
    CLOSURE_PROPOSED = "closure_proposed"
    CLOSED = "closed"
    EXIT_ORDERED = "exit_ordered"
    EXITED = "exited"
    ACCEPTED = "accepted"
    ARCHIVED = "archived"


TERMINAL = frozenset({State.CLOSED, State.ARCHIVED, State.DISMISSED})
# Under an order with a deadline the sweep watches.
CLOCKED = frozenset({State.RECTIFYING, State.RESTRICTED})


class Action(StrEnum):
    DISMISS = "dismiss"
    ORDER_RECTIFICATION = "order_rectification"
    ORDER_RESTRICTION = "order_restriction"
    ORDER_SUSPENSION = "order_suspension"
    GRANT_EXTENSION = "grant_extension"
    VERIFY_RECTIFIED = "verify_rectified"
    VERIFY_STILL_FAILING = "verify_still_failing"
    MARK_OVERDUE = "mark_overdue"
    CLOSE_COMPLIANT = "close_compliant"
    PROPOSE_CLOSURE = "propose_closure"
    APPROVE_CLOSURE = "approve_closure"
    REJECT_CLOSURE = "reject_closure"
    REVOKE_LICENCE = "revoke_licence"
    ORDER_EXIT = "order_exit"
    CONFIRM_EXIT = "confirm_exit"
    ACCEPT = "accept"
    ARCHIVE = "archive"
    RECORD_REINSPECTION = "record_reinspection"


class Actor(StrEnum):
    """Who may take a step (the organisation's role names); SYSTEM is the deadline sweep."""

    OFFICE = "office"
    DEPARTMENT = "department"
    DISTRICT = "district"
    SYSTEM = "system"


class Body(StrEnum):
    """The body in whose name a step is decided."""

    DEPARTMENT = "department"  # the department competent for the dimension
    GOVERNMENT = "government"  # the people's government with the power (its approval is recorded)
    OFFICE = "office"  # the coordination office
    TERRITORY = "territory"  # the county or district that carries the exit out
    SYSTEM = "system"


class Verification(StrEnum):
    CONFIRMED = "confirmed"  # read in the statute's text (shared/reference/enforcement-law.md)
    SECONDARY = "secondary"  # secondary sources only
    NORM = "norm"  # the office's working norm: the plans give no number


class Guard(StrEnum):
    """A condition on a step beyond its source state, checked by the case actions."""

    ELIMINATION_OR_RESUMED = "elimination_or_resumed"  # exit at once: elimination class, or resumed
    NOT_ELIMINATION = "not_elimination"  # elimination-class equipment gets no rectification period
    ONE_EXTENSION = "one_extension"  # once, at most 3 months, before the deadline passes
    MEASURES_DONE = "measures_done"  # every exit measure done, dismantling included


@dataclass(frozen=True)
class Clock:
    """A period a step starts, and where it comes from."""

    name: str
    months: int | None  # None: no fixed end (runs until lifted)
    runs_from: str  # "service": from the day the decision is served
    basis: str
    verification: Verification
    extension_months: int = 0  # at most this much more, once
    service_within_working_days: int | None = None  # the decision must be served within this


@dataclass(frozen=True)
class Step:
    action: Action
    sources: frozenset[State]
    target: State | None  # None: the state does not change
    roles: frozenset[Actor]
    body: Body
    basis: str
    document: str = ""  # the formal document the decision produces ("" none)
    clock: Clock | None = None
    approval: str = ""  # the body whose approval must be on record before the step takes effect
    guard: Guard | None = None
    decision: bool = True  # a decision with dates of issue and service (False: a record of fact)
    irreversible: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "from": sorted(s.value for s in self.sources),
            "to": self.target.value if self.target else None,  # None: unchanged
            "roles": sorted(r.value for r in self.roles),
            "body": self.body.value,
            "basis": self.basis,
            "document": self.document,
            "clock": _clock_json(self.clock),
            "approval": self.approval,
            "guard": self.guard.value if self.guard else None,
            "decision": self.decision,
            "irreversible": self.irreversible,
        }


def _clock_json(clock: Clock | None) -> dict[str, Any] | None:
    if clock is None:
        return None
    return {
        "name": clock.name,
        "months": clock.months,
        "runs_from": clock.runs_from,
        "extension_months": clock.extension_months,
        "service_within_working_days": clock.service_within_working_days,
        "basis": clock.basis,
        "verification": clock.verification.value,
    }


S = State
DEPT_OR_OFFICE = frozenset({Actor.DEPARTMENT, Actor.OFFICE})
GOVERNMENT_RECORDERS = frozenset({Actor.OFFICE, Actor.DISTRICT})

# ── clocks ──────────────────────────────────────────────────────────────────────────────
ENERGY_RECTIFICATION = Clock(
    "rectification",
    months=6,
    runs_from="service",
    extension_months=3,
    basis="节约能源法（2018）第十六条第二款（限期治理）；工信部联产业〔2017〕30号（6个月，可申请延期不超过3个月）；"
    "城市年度工作方案（河源2021 二（二）1）",
    verification=Verification.SECONDARY,  # the 6 + 3 months rest on secondary sources (claim 6)
)
ENVIRONMENT_RESTRICTION = Clock(
    "restriction",
    months=3,
    runs_from="service",
    extension_months=3,
    service_within_working_days=7,
    basis="环境保护主管部门实施限制生产、停产整治办法（环境保护部令第30号）第十四条、第十五条第一款",
    verification=Verification.CONFIRMED,
)
ENVIRONMENT_SUSPENSION = Clock(
    "suspension",
    months=None,
    runs_from="service",
    service_within_working_days=7,
    basis="环境保护部令第30号 第十四条、第十五条第二款、第十七条（自送达之日起至解除之日止）",
    verification=Verification.CONFIRMED,
)
SAFETY_SUSPENSION = Clock(
    "suspension",
    months=None,
    runs_from="service",
    basis="安全生产法（2021）第九十三条至第一百零五条有关条款（责令停产停业整顿）；第六十五条",
    verification=Verification.CONFIRMED,
)
QUALITY_RECTIFICATION = Clock(
    "rectification",
    months=6,
    runs_from="service",
    basis="产品质量法（2018）第四十九条；工信部联产业〔2017〕30号（6个月内未整改或经整改仍未达标的，依法关停退出）",
    verification=Verification.SECONDARY,
)

# Restricted production and suspension rest on the same articles (环保法 60 and the single-media laws;
# the decision's form and contents under 30号令 arts. 12–13).
ENVIRONMENT_ORDER_BASIS = (
    "环境保护法（2014）第六十条；大气污染防治法（2018）第九十九条；水污染防治法（2017）第八十三条；"
    "环境保护部令第30号 第十二条、第十三条"
)

# ── the steps every path shares ─────────────────────────────────────────────────────────
_DISMISS = Step(
    Action.DISMISS,
    frozenset({S.FINDING}),
    S.DISMISSED,
    DEPT_OR_OFFICE,
    Body.DEPARTMENT,
    basis="行政处罚法（2021）第五十七条（不予行政处罚）",
    decision=False,
    irreversible=True,
)


_CLOSE = Step(
    Action.CLOSE_COMPLIANT,
    frozenset({S.VERIFIED}),
    S.CLOSED,
    DEPT_OR_OFFICE,
    Body.DEPARTMENT,
    basis="整改达标，结案",
    decision=False,
)


def _mark_overdue(sources: frozenset[State]) -> Step:
    return Step(
        Action.MARK_OVERDUE,
        sources,
        S.OVERDUE,
        frozenset({Actor.SYSTEM}),
        Body.SYSTEM,
        basis="期限届满未经验证达标",
        decision=False,
    )


def _verifications(sources: frozenset[State], basis: str) -> tuple[Step, Step, Step]:
    """The department checks the rectification (a suspension is lifted on the completion report,
    30号令 art. 17), or finds it still failing."""
    return (
        Step(
            Action.VERIFY_RECTIFIED,
            sources,
            S.VERIFIED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis=basis,
            decision=False,
        ),
        Step(
            Action.VERIFY_STILL_FAILING,
            sources,
            S.OVERDUE,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis=f"{basis}：仍不达标",
            decision=False,
        ),
        _CLOSE,
    )


_CONFIRM_EXIT = Step(
    Action.CONFIRM_EXIT,
    frozenset({S.EXIT_ORDERED}),
    S.EXITED,
    frozenset({Actor.OFFICE, Actor.DISTRICT}),
    Body.TERRITORY,
    basis="属地管理：退出措施落实（工信部联产业〔2017〕30号：断电、断水，拆除动力装置，封存主体设备）",
    decision=False,
)
_ACCEPT = Step(
    Action.ACCEPT,
    frozenset({S.EXITED}),
    S.ACCEPTED,
    DEPT_OR_OFFICE,
    Body.DEPARTMENT,
    basis="验收、公告和档案保存（工信部联产业〔2017〕30号）",
    document="acceptance_opinion",
)
_ARCHIVE = Step(
    Action.ARCHIVE,
    frozenset({S.ACCEPTED}),
    S.ARCHIVED,
    frozenset({Actor.OFFICE}),
    Body.OFFICE,
    basis="档案保存（工信部联产业〔2017〕30号）",
    guard=Guard.MEASURES_DONE,
    decision=False,
    irreversible=True,
)
_REINSPECT = Step(
    Action.RECORD_REINSPECTION,
    frozenset({S.ARCHIVED}),
    None,
    frozenset({Actor.OFFICE, Actor.DISTRICT}),
    Body.TERRITORY,
    basis="回头看：确保已关停产能不死灰复燃（工信部联产业〔2017〕30号；城市年度工作方案）",
    decision=False,
)
# A resumed exit, or elimination-class equipment: the exit is ordered at once, on the record.
_EXIT_AT_ONCE = Step(
    Action.ORDER_EXIT,
    frozenset({S.FINDING}),
    S.EXIT_ORDERED,
    DEPT_OR_OFFICE,
    Body.DEPARTMENT,
    basis="产业结构调整指导目录（淘汰类）；工信部联产业〔2017〕30号"
    "（淘汰类装备立即淘汰；已关停产能复产的立即关停）",
    document="closure_decision",
    guard=Guard.ELIMINATION_OR_RESUMED,
    irreversible=True,
)


def _propose_closure(basis: str) -> Step:
    return Step(
        Action.PROPOSE_CLOSURE,
        frozenset({S.OVERDUE}),
        S.CLOSURE_PROPOSED,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis=basis,
        document="closure_proposal",
    )


def _approve_closure(basis: str, approval: str) -> Step:
    return Step(
        Action.APPROVE_CLOSURE,
        frozenset({S.CLOSURE_PROPOSED}),
        S.EXIT_ORDERED,
        GOVERNMENT_RECORDERS,
        Body.GOVERNMENT,
        basis=basis,
        document="closure_decision",
        approval=approval,
        irreversible=True,
    )


_REJECT_CLOSURE = Step(
    Action.REJECT_CLOSURE,
    frozenset({S.CLOSURE_PROPOSED}),
    S.OVERDUE,
    GOVERNMENT_RECORDERS,
    Body.GOVERNMENT,
    basis="人民政府不予批准关闭",
    decision=False,
)


def _extension(clock: Clock, sources: frozenset[State]) -> Step:
    return Step(
        Action.GRANT_EXTENSION,
        sources,
        None,
        DEPT_OR_OFFICE,
        Body.DEPARTMENT,
        basis=clock.basis,
        document="extension_reply",
        clock=clock,
        guard=Guard.ONE_EXTENSION,
    )


SHARED_TAIL = (_CONFIRM_EXIT, _ACCEPT, _ARCHIVE, _REINSPECT)

PATHS: dict[Dimension, tuple[Step, ...]] = {
    Dimension.ENERGY: (
        _DISMISS,
        Step(
            Action.ORDER_RECTIFICATION,
            frozenset({S.FINDING}),
            S.RECTIFYING,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis="节约能源法（2018）第十六条第二款",
            document="rectification_notice",
            clock=ENERGY_RECTIFICATION,
            guard=Guard.NOT_ELIMINATION,
        ),
        _extension(ENERGY_RECTIFICATION, frozenset({S.RECTIFYING})),
        _mark_overdue(frozenset({S.RECTIFYING})),
        _propose_closure(
            "节约能源法（2018）第七十二条（淘汰的用能设备、生产工艺：第七十一条）：管理节能工作的部门提出意见"
        ),
        _approve_closure(
            "节约能源法（2018）第七十二条：报请本级人民政府按照国务院规定的权限责令停业整顿或者关闭",
            approval="本级人民政府",
        ),
        _REJECT_CLOSURE,
        _EXIT_AT_ONCE,
        *_verifications(
            frozenset({S.RECTIFYING}), "整改验证：复测能耗是否达到限额标准（节约能源法第十六条）"
        ),
        *SHARED_TAIL,
    ),
    Dimension.ENVIRONMENT: (
        _DISMISS,
        Step(
            Action.ORDER_RESTRICTION,
            frozenset({S.FINDING}),
            S.RESTRICTED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis=ENVIRONMENT_ORDER_BASIS,
            document="restriction_decision",
            clock=ENVIRONMENT_RESTRICTION,
        ),
        Step(
            Action.ORDER_SUSPENSION,
            frozenset({S.FINDING, S.RESTRICTED, S.OVERDUE}),
            S.SUSPENDED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis=ENVIRONMENT_ORDER_BASIS,
            document="suspension_decision",
            clock=ENVIRONMENT_SUSPENSION,
        ),
        _extension(ENVIRONMENT_RESTRICTION, frozenset({S.RESTRICTED})),
        _mark_overdue(frozenset({S.RESTRICTED})),
        _propose_closure(
            "环境保护法（2014）第六十条；环境保护部令第30号 第八条：情节严重的，报有批准权的人民政府"
        ),
        _approve_closure(
            "环境保护法（2014）第六十条；大气污染防治法（2018）第九十九条：报经有批准权的人民政府批准，责令停业、关闭",
            approval="有批准权的人民政府",
        ),
        _REJECT_CLOSURE,
        _EXIT_AT_ONCE,
        *_verifications(
            frozenset({S.RESTRICTED, S.SUSPENDED}),
            "整改验证；停产整治自整改完成情况报告备案之日解除（环境保护部令第30号第十七条）",
        ),
        *SHARED_TAIL,
    ),
    Dimension.SAFETY: (
        _DISMISS,
        Step(
            Action.ORDER_SUSPENSION,
            frozenset({S.FINDING}),
            S.SUSPENDED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis="安全生产法（2021）第二十条、第六十五条第一款第（三）项及第九十三条至第一百零五条有关条款",
            document="safety_suspension_decision",
            clock=SAFETY_SUSPENSION,
        ),
        _propose_closure(
            "安全生产法（2021）第一百一十三条第（二）项：经停产停业整顿仍不具备安全生产条件，提请地方人民政府予以关闭"
        ),
        _approve_closure(
            "安全生产法（2021）第一百一十五条：报请县级以上人民政府按照国务院规定的权限决定关闭；有关部门依法吊销有关证照",
            approval="县级以上人民政府",
        ),
        _REJECT_CLOSURE,
        _EXIT_AT_ONCE,
        *_verifications(
            frozenset({S.SUSPENDED}), "复查验收：是否具备安全生产条件（安全生产法第一百一十三条）"
        ),
        *SHARED_TAIL,
    ),
    Dimension.QUALITY: (
        _DISMISS,
        Step(
            Action.ORDER_RECTIFICATION,
            frozenset({S.FINDING}),
            S.RECTIFYING,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis="产品质量法（2018）第四十九条（责令停止生产、销售）；"
            "工业产品生产许可证管理条例 第四十五条（无证生产）",
            document="rectification_notice",
            clock=QUALITY_RECTIFICATION,
            guard=Guard.NOT_ELIMINATION,
        ),
        _mark_overdue(frozenset({S.RECTIFYING})),
        Step(
            Action.REVOKE_LICENCE,
            frozenset({S.OVERDUE}),
            S.EXIT_ORDERED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis="产品质量法（2018）第四十九条、第七十条：情节严重的，由市场监督管理部门吊销营业执照",
            document="revocation_notice",
            irreversible=True,
        ),
        _propose_closure("工信部联产业〔2017〕30号：经整改仍未达标的，报经有批准权的人民政府依法关停退出"),
        _approve_closure(
            "工信部联产业〔2017〕30号（质量：经整改仍未达标的，报经有批准权的人民政府依法关停退出）",
            approval="有批准权的人民政府",
        ),
        _REJECT_CLOSURE,
        _EXIT_AT_ONCE,
        *_verifications(
            frozenset({S.RECTIFYING}), "整改验证：产品是否符合强制性标准（产品质量法第四十九条）"
        ),
        *SHARED_TAIL,
    ),
    Dimension.TECHNOLOGY: (
        _DISMISS,
        Step(
            Action.ORDER_EXIT,
            frozenset({S.FINDING}),
            S.EXIT_ORDERED,
            DEPT_OR_OFFICE,
            Body.DEPARTMENT,
            basis="产业结构调整指导目录（淘汰类）；工信部联产业〔2017〕30号：淘汰类装备立即淘汰，不设整改期",
            document="closure_decision",
            irreversible=True,
        ),
        *SHARED_TAIL,
    ),
}


class TransitionRefused(Exception):
    def __init__(self, action: Action, state: State, dimension: Dimension | None = None) -> None:
        super().__init__(
            f"{action} is not allowed from {state}" + (f" on the {dimension} path" if dimension else "")
        )
        self.action = action
        self.state = state
        self.dimension = dimension


def steps_for(dimension: Dimension | str) -> tuple[Step, ...]:
    return PATHS[Dimension(dimension)]


def step(dimension: Dimension | str, action: Action | str) -> Step | None:
    """The step `action` of the dimension's path, or None where the path has no such step."""
    for candidate in steps_for(dimension):
        if candidate.action == action:
            return candidate
    return None


def target_of(dimension: Dimension | str, action: Action, state: State) -> State:
    """The state after `action` from `state` on the dimension's path; refuses a move it does not have."""
    found = step(dimension, action)
    if found is None or state not in found.sources:
        raise TransitionRefused(action, state, Dimension(dimension))
    return found.target or state


def allowed_steps(dimension: Dimension | str, state: State) -> list[Step]:
    return [s for s in steps_for(dimension) if state in s.sources]


def allowed_actions(dimension: Dimension | str, state: State) -> list[Action]:
    return [s.action for s in allowed_steps(dimension, state)]


def waiting_states(dimension: Dimension | str, actor: str) -> frozenset[State]:
    """The states in which a case of this dimension waits for this role to take a step."""
    return frozenset(s for st in steps_for(dimension) if actor in st.roles for s in st.sources)


def may_take(dimension: Dimension | str, action: Action | str, role: str) -> bool:
    found = step(dimension, action)
    return found is not None and role in found.roles


@dataclass(frozen=True)
class PathDescription:
    dimension: Dimension
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        states = sorted(
            {s.value for st in self.steps for s in (*st.sources, *([st.target] if st.target else []))}
        )
        return {
            "dimension": self.dimension.value,
            "states": states,
            "steps": [st.to_json() for st in self.steps],
        }


def describe() -> dict[str, Any]:
    """Every dimension's path, as `phaseout case-flow --json` prints it."""
    return {
        "states": [s.value for s in State],
        "terminal": sorted(s.value for s in TERMINAL),
        "paths": [PathDescription(d, steps_for(d)).to_json() for d in Dimension],
    }
