"""Who may take which action on a case: read from the dimension's path (phaseout/rules/case_flow.py),
with the organisation's rule of competence, stated here once."""

from __future__ import annotations

from django.utils.translation import gettext as _

from phaseout.cases.models import Case, MeasureKind
from phaseout.cases.scope import cases as scoped_cases
from phaseout.orgs.models import Person, Role
from phaseout.rules import case_flow, rulebook
from phaseout.rules.case_flow import Action, Body, allowed_steps
from phaseout.rules.case_flow import State as S

# Acts on a case that are not steps of its path.
NOTE_ROLES: dict[str, frozenset[str]] = {
    "complete_measure": frozenset({Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT}),
    "add_evidence": frozenset({Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE}),
}


def can_see(person: Person, case: Case) -> bool:
    return scoped_cases(person).filter(pk=case.pk).exists()


def refusal(person: Person | None, action: str, case: Case) -> str | None:
    """Why this person may not take `action` on this case (None: they may), in the user's language.

    A department decides only in a dimension it enforces; the office decides for the city; a district
    records its own territory's government decisions and exits."""
    if person is None:
        return _("Only a person of the competent body may take this decision.")
    if action in NOTE_ROLES:
        return None if person.role in NOTE_ROLES[action] else _("Your role may not do this on a case.")
    step = case_flow.step(case.dimension, action)
    if step is None:
        return _("This step is not on the legal path of this case's dimension.")
    if person.role not in step.roles:
        return _("Your role may not take this step: %(roles)s decide it.") % {
            "roles": "、".join(str(Role(r).label) for r in sorted(step.roles) if r in Role.values)
        }
    competent = step.body is not Body.DEPARTMENT or case.dimension in person.dimensions
    if person.role in (Role.DEPARTMENT, Role.OFFICE) and not competent:
        return _("%(department)s does not enforce this dimension; its competent department decides.") % {
            "department": person.department.name if person.department else ""
        }
    outside = person.territory is not None and case.territory_id not in person.territory.subtree_codes()
    if person.role == Role.DISTRICT and outside:
        return _("This case lies outside your territory.")
    return None


def may(person: Person, action: str, case: Case) -> bool:
    return refusal(person, action, case) is None and can_see(person, case)


def actions_for(person: Person, case: Case) -> list[str]:
    """The state-changing actions this person may take on this case now."""
    if not can_see(person, case):
        return []
    names: list[str] = [
        s.action.value
        for s in allowed_steps(case.dimension, S(case.state))
        if s.action is not Action.MARK_OVERDUE
        and refusal(person, s.action, case) is None
        and (s.guard is case_flow.Guard.MEASURES_DONE or guard_refusal(case, s.guard) is None)
    ]
    if Action.VERIFY_STILL_FAILING in names:
        names.remove(Action.VERIFY_STILL_FAILING)  # one verification form covers both outcomes
    if Action.GRANT_EXTENSION in names and case.extension_months:
        names.remove(Action.GRANT_EXTENSION)  # only one extension; the action itself refuses a second too
    if Action.REJECT_CLOSURE in names:
        names.remove(Action.REJECT_CLOSURE)  # one form records the government's answer either way
    return names


def guard_refusal(case: Case, guard: case_flow.Guard | None) -> str | None:
    """Why a step's condition beyond its source state does not hold (None: it holds). The one-extension
    rule is the extension action's own (it names the months and the deadline)."""
    at_once = case.resumed or case.consequence == rulebook.Consequence.EXIT_AT_ONCE
    if guard is case_flow.Guard.ELIMINATION_OR_RESUMED and not at_once:
        return _(
            "This finding must first be given a rectification period; exit follows only if it is not met."
        )
    if guard is case_flow.Guard.NOT_ELIMINATION and at_once:
        if case.resumed:
            return _("Resumed capacity goes to closure at once; it gets no new rectification period.")
        return _("Elimination-class equipment is eliminated at once; it gets no rectification period.")
    if guard is case_flow.Guard.MEASURES_DONE:
        open_measures = [
            str(MeasureKind(kind).label)
            for kind in case.measures.filter(done_on__isnull=True).values_list("kind", flat=True)
        ]
        if open_measures:
            return _(
                "These exit measures are not done yet: %(measures)s. The case is archived only when every "
                "measure is done."
            ) % {"measures": "、".join(open_measures)}
    return None
