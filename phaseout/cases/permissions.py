"""Who may take which action on a case, in one table."""

from __future__ import annotations

from phaseout.cases.models import Case
from phaseout.cases.scope import cases as scoped_cases
from phaseout.orgs.models import Person, Role
from phaseout.rules.case_flow import Action, allowed_actions
from phaseout.rules.case_flow import State as S

DEPARTMENT_OR_OFFICE = frozenset({Role.OFFICE, Role.DEPARTMENT})
ACTION_ROLES: dict[str, frozenset[Role]] = {
    Action.ORDER_RECTIFICATION: DEPARTMENT_OR_OFFICE,
    Action.GRANT_EXTENSION: DEPARTMENT_OR_OFFICE,
    Action.VERIFY_RECTIFIED: DEPARTMENT_OR_OFFICE,
    Action.VERIFY_STILL_FAILING: DEPARTMENT_OR_OFFICE,
    Action.CLOSE_COMPLIANT: DEPARTMENT_OR_OFFICE,
    Action.ORDER_EXIT: DEPARTMENT_OR_OFFICE,
    Action.CONFIRM_EXIT: frozenset({Role.OFFICE, Role.DISTRICT}),
    Action.ACCEPT: DEPARTMENT_OR_OFFICE,
    Action.ARCHIVE: frozenset({Role.OFFICE}),
    Action.RECORD_REINSPECTION: frozenset({Role.OFFICE, Role.DISTRICT}),
    "complete_measure": frozenset({Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT}),
    "add_evidence": frozenset({Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE}),
}


def can_see(person: Person, case: Case) -> bool:
    return scoped_cases(person).filter(pk=case.pk).exists()


def may(person: Person, action: str, case: Case) -> bool:
    return person.role in ACTION_ROLES.get(action, frozenset()) and can_see(person, case)


def actions_for(person: Person, case: Case) -> list[str]:
    """The state-changing actions this person may take on this case now."""
    if not can_see(person, case):
        return []
    names: list[str] = [
        a.value for a in allowed_actions(S(case.state)) if person.role in ACTION_ROLES.get(a, frozenset())
    ]
    if Action.VERIFY_STILL_FAILING in names:
        names.remove(Action.VERIFY_STILL_FAILING)  # one verification form covers both outcomes
    if Action.GRANT_EXTENSION in names and case.extension_months:
        names.remove(Action.GRANT_EXTENSION)  # only one extension; the action itself refuses a second too
    return names
