"""Data scope in one place: what each person may see.

A district sees its own territory; a department sees the whole registry and the cases and
inspections of its dimensions; an enterprise sees itself; the office sees everything.
"""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.cases.models import Case, Inspection
from phaseout.complaints.models import TipOff
from phaseout.orgs.models import Person, Role, Territory
from phaseout.plans.models import Submission
from phaseout.registry.models import Enterprise, ProductionLine

SEES_ALL = {Role.OFFICE, Role.AUDITOR}


def _territory_codes(person: Person) -> list[str]:
    assert person.territory is not None
    return person.territory.subtree_codes()


def enterprises(person: Person) -> QuerySet[Enterprise]:
    qs = Enterprise.objects.all()
    if person.role in SEES_ALL or person.role == Role.DEPARTMENT:
        return qs
    if person.role == Role.DISTRICT:
        return qs.filter(territory__in=_territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(pk=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()


def lines(person: Person) -> QuerySet[ProductionLine]:
    """The production lines of the enterprises the person sees (without a sub-query for those who
    see the whole registry: over 3,000,000 lines it costs the planner dearly)."""
    if person.role in SEES_ALL or person.role == Role.DEPARTMENT:
        return ProductionLine.objects.all()
    return ProductionLine.objects.filter(enterprise__in=enterprises(person))


def cases(person: Person) -> QuerySet[Case]:
    qs = Case.objects.all()
    if person.role in SEES_ALL:
        return qs
    if person.role == Role.DEPARTMENT:
        return qs.filter(dimension__in=person.dimensions)
    if person.role == Role.DISTRICT:
        return qs.filter(territory__in=_territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(enterprise_id=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()


def inspections(person: Person) -> QuerySet[Inspection]:
    qs = Inspection.objects.all()
    if person.role in SEES_ALL:
        return qs
    if person.role == Role.DEPARTMENT:
        return qs.filter(dimension__in=person.dimensions)
    if person.role == Role.DISTRICT:
        return qs.filter(enterprise__territory__in=_territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(enterprise_id=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()


def territories(person: Person) -> QuerySet[Territory]:
    if person.role == Role.DISTRICT:
        return Territory.objects.filter(code__in=_territory_codes(person))
    return Territory.objects.all()


def submissions(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """What a unit owes under the plans: a department its own, a district its territory's."""
    qs = qs if qs is not None else Submission.objects.all()
    if person.role in SEES_ALL:
        return qs
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=_territory_codes(person))
    return qs.none()


def tipoffs(person: Person, qs: QuerySet[TipOff] | None = None) -> QuerySet[TipOff]:
    """Tip-offs: the intake officers and the office all, a department those routed to it, a district its
    territory's. (Who may see a reporter is another matter: only intake, see complaints.actions.reveal.)"""
    qs = qs if qs is not None else TipOff.objects.all()
    if person.role in SEES_ALL or person.role == Role.INTAKE:
        return qs
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=_territory_codes(person))
    return qs.none()
