"""The cases and inspections a person sees (the rule by role: phaseout.orgs.scope).

The enterprises and territories a case page filters by are here too, from where they live, so a
case view needs one scope module.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models import QuerySet

from phaseout.cases.models import Case, CaseTally, Inspection
from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territories, territory_codes
from phaseout.registry.scope import enterprises

M = TypeVar("M", bound=models.Model)

__all__ = ["cases", "enterprises", "inspections", "tallies", "territories"]


def _seen(qs: QuerySet[M], person: Person, *, enterprise: str | None) -> QuerySet[M]:
    """The rule, over any table with the case's territory and dimension columns; `enterprise`: the column
    naming the case's enterprise (None: the table has none, and an enterprise's person sees no row)."""
    if sees_all(person):
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.DEPARTMENT:
        return qs.filter(dimension__in=person.dimensions, territory__in=territory_codes(person))
    if person.role == Role.DISTRICT:
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE and enterprise is not None and person.enterprise_id:
        return qs.filter(**{enterprise: person.enterprise_id})
    return qs.none()


def cases(person: Person) -> QuerySet[Case]:
    return _seen(Case.objects.all(), person, enterprise="enterprise_id")


def tallies(person: Person) -> QuerySet[CaseTally]:
    """The tally (phaseout.cases.tally) of the cases the person sees: the same rule by territory and
    dimension; an enterprise's person sees none (its own cases are counted from the cases)."""
    return _seen(CaseTally.objects.all(), person, enterprise=None)


def inspections(person: Person) -> QuerySet[Inspection]:
    qs = Inspection.objects.all()
    if sees_all(person):
        return qs.filter(enterprise__territory__in=territory_codes(person))
    if person.role == Role.DEPARTMENT:
        return qs.filter(dimension__in=person.dimensions, enterprise__territory__in=territory_codes(person))
    if person.role == Role.DISTRICT:
        return qs.filter(enterprise__territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(enterprise_id=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()
