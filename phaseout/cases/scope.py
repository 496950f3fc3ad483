"""The cases and inspections a person sees (the rule by role: phaseout.orgs.scope).

The enterprises and territories a case page filters by are here too, from where they live, so a
case view needs one scope module.
"""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.cases.models import Case, Inspection
from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territories, territory_codes
from phaseout.registry.scope import enterprises

__all__ = ["cases", "enterprises", "inspections", "territories"]


def cases(person: Person) -> QuerySet[Case]:
    qs = Case.objects.all()
    if sees_all(person):
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.DEPARTMENT:
        return qs.filter(dimension__in=person.dimensions, territory__in=territory_codes(person))
    if person.role == Role.DISTRICT:
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(enterprise_id=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()


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
