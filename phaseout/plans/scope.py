"""The submissions a person's unit owes or sees, and the notices and summonses naming it (the rule by
role: phaseout.orgs.scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territory_codes
from phaseout.plans.models import Submission, Supervision


def submissions(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """What a unit owes under the plans: a department its own, a district its territory's."""
    qs = qs if qs is not None else Submission.objects.all()
    if sees_all(person):
        return qs
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=territory_codes(person))
    return qs.none()


def addressed_to(person: Person) -> QuerySet[Supervision]:
    """The notices and summonses that name the person's own unit: a department its department, a
    district its territory (and those under it), an enterprise itself. The office issues them and reads
    them on the plan's page; nobody else is named."""
    qs = Supervision.objects.all()
    if person.role == Role.DEPARTMENT and person.department_id:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE and person.enterprise_id:
        return qs.filter(enterprise=person.enterprise_id)
    return qs.none()
