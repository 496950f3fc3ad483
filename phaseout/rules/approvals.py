"""Up the chain: the plan and the year summary between the office, the city government and the province.

Both plans of 2021 put the office's work before the city government, and the year's total before the
province (Jiangmen: the plan 报市政府审定; the summary 报市政府同意后上报省工业和信息化厅; Heyuan: the city
total to the province by the end of December):

plan         draft ─confirm (office)─► confirmed ─approve (the city government, recorded by the office)─►
                                                   approved: in force (its submissions are owed and swept)
year summary draft ─approve (the city government, recorded by the office)─► approved ─hand up (office)─►
             handed up ─accept (province)─► accepted
                       └return (province, with a reason)─► returned ─revise (office)─► draft …

Stated once here, as tables of (source states, target state, role that takes the step); the actions of
phaseout.plans and phaseout.province read them. Pure Python: roles are the strings the organisation uses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

OFFICE = "office"
PROVINCE = "province"


class PlanState(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"  # by the office; awaits the city government's approval
    APPROVED = "approved"  # by the city government: the plan is in force


class PlanStep(StrEnum):
    CONFIRM = "confirm"
    APPROVE = "approve"


class SummaryState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"  # by the city government; may be handed up
    HANDED_UP = "handed_up"  # to the province, awaiting its review
    ACCEPTED = "accepted"
    RETURNED = "returned"  # by the province, with its reason


class SummaryStep(StrEnum):
    APPROVE = "approve"
    HAND_UP = "hand_up"
    ACCEPT = "accept"
    RETURN = "return"
    REVISE = "revise"


@dataclass(frozen=True)
class Edge:
    sources: frozenset[str]
    target: str
    role: str
    irreversible: bool = True  # asks for confirmation on the page


PLAN_STEPS: dict[PlanStep, Edge] = {
    PlanStep.CONFIRM: Edge(frozenset({PlanState.DRAFT}), PlanState.CONFIRMED, OFFICE),
    PlanStep.APPROVE: Edge(frozenset({PlanState.CONFIRMED}), PlanState.APPROVED, OFFICE),
}

SUMMARY_STEPS: dict[SummaryStep, Edge] = {
    SummaryStep.APPROVE: Edge(frozenset({SummaryState.DRAFT}), SummaryState.APPROVED, OFFICE),
    SummaryStep.HAND_UP: Edge(frozenset({SummaryState.APPROVED}), SummaryState.HANDED_UP, OFFICE),
    SummaryStep.ACCEPT: Edge(frozenset({SummaryState.HANDED_UP}), SummaryState.ACCEPTED, PROVINCE),
    SummaryStep.RETURN: Edge(frozenset({SummaryState.HANDED_UP}), SummaryState.RETURNED, PROVINCE),
    SummaryStep.REVISE: Edge(
        frozenset({SummaryState.RETURNED}), SummaryState.DRAFT, OFFICE, irreversible=False
    ),
}

# The plan's states in which it is in force: what units owe under it is owed, reminded and swept.
PLAN_IN_FORCE = frozenset({PlanState.APPROVED})
# The summary's states the province sees (before hand-up it is the city's own working copy).
SUMMARY_BEFORE_PROVINCE = frozenset({SummaryState.DRAFT, SummaryState.APPROVED})


class StepRefused(ValueError):
    """The step is not allowed: from this state, or for this role. `reason` says which."""

    def __init__(self, reason: str, state: str, step: str) -> None:
        super().__init__(f"{step} refused from {state}: {reason}")
        self.reason, self.state, self.step = reason, state, step


def plan_step(state: str, step: PlanStep, role: str) -> PlanState:
    return PlanState(_step(PLAN_STEPS, state, step, role))


def summary_step(state: str, step: SummaryStep, role: str) -> SummaryState:
    return SummaryState(_step(SUMMARY_STEPS, state, step, role))


def _step(table: dict[PlanStep, Edge] | dict[SummaryStep, Edge], state: str, step: str, role: str) -> str:
    edge = table[step]  # type: ignore[index]
    if role != edge.role:
        raise StepRefused("role", state, step)
    if state not in edge.sources:
        raise StepRefused("state", state, step)
    return edge.target


def summary_steps_from(state: str, role: str) -> list[SummaryStep]:
    """The steps a role may take on a summary in `state` (what its page offers)."""
    return [s for s, e in SUMMARY_STEPS.items() if state in e.sources and e.role == role]


# A task that hands the year's summary up to the province: it names the summary (总结, or the year's total
# 汇总) and the province as its receiver (Jiangmen: "2022年1月5日前，市工业和信息化局将2021年度推动落后产能
# 退出工作总结报市政府同意后上报省工业和信息化厅"; Heyuan: "于2021年12月底将…汇总，报经市人民政府同意后上报
# 省工业和信息化厅"; a provincial plan: "各地级以上市于次年1月10日前将年度工作总结报省工业和信息化厅").
_SUMMARY = re.compile(r"总结|汇总")
_TO_PROVINCE = re.compile(r"(?:报|送|函告)(?:至|给)?(?:[\u4e00-\u9fa5]{2,3}省|省)")


def hands_summary_to_province(text: str) -> bool:
    return bool(_SUMMARY.search(text) and _TO_PROVINCE.search(text))


def summary_due(tasks: Iterable[tuple[str, dt.date | None]]) -> dt.date | None:
    """The date the year summary is due at the province, as the plan states it: the latest deadline of
    its tasks that hand the summary up to the province (the last step of the chain); None when the plan
    states none."""
    dates = [deadline for text, deadline in tasks if deadline is not None and hands_summary_to_province(text)]
    return max(dates) if dates else None
