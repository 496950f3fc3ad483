"""Data scope in one place: what each person may see.

A district sees its own territory; a department sees the whole registry and the cases and
inspections of its dimensions; an enterprise sees itself; the office sees everything.
"""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.cases.models import Case, Inspection
from phaseout.orgs.models import Person, Role, Territory
from phaseout.registry.models import Enterprise

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
