"""The tip-offs a person sees (the rule by role: phaseout.orgs.scope)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from phaseout.complaints.models import TipOff
from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territory_codes


def tipoffs(person: Person, qs: QuerySet[TipOff] | None = None) -> QuerySet[TipOff]:
    """Tip-offs: the intake officers and the office all, a department those routed to it, a district its
    territory's. (Who may see a reporter is another matter: only intake, see complaints.actions.reveal.)"""
    qs = qs if qs is not None else TipOff.objects.all()
    if person.role == Role.INTAKE:
        return qs
    if sees_all(person):
        # Where the reporter named no place, the tip-off is the city's whose department it was routed to.
        codes = territory_codes(person)
        return qs.filter(Q(territory__in=codes) | Q(territory__isnull=True, department__territory__in=codes))
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=territory_codes(person))
    return qs.none()
