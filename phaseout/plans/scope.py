"""The submissions a person's unit owes or sees, and the notices and summonses naming it (the rule by
role: phaseout.orgs.scope)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import city_code, departments, is_province, sees_all, territory_codes
from phaseout.plans.models import Plan, Submission, Supervision

__all__ = ["addressed_to", "departments", "plans", "submissions"]


def submissions(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """What a unit owes under the plans: a department its own, a district its territory's."""
    qs = qs if qs is not None else Submission.objects.all()
    if sees_all(person):
        # The city's plans are a handful a year: their ids, not the OR of the plan's city and its reader,
        # which the planner misjudges over 100,000s of submissions.
        return qs.filter(plan__in=list(Plan.objects.filter(_of_city(person)).values_list("pk", flat=True)))
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


def _of_city(person: Person) -> Q:
    """The plans of the person's city; a plan whose issuer named no known city, the office's that read it.
    The provincial office: the plans of every city of its province (a few dozen a year) and its own."""
    if is_province(person):
        return Q(territory__in=territory_codes(person))
    city = city_code(person)
    if city is None:
        return Q(pk__in=[])
    mine = Q(territory=city)
    if person.department_id:
        mine |= Q(territory__isnull=True, created_by__person__department=person.department_id)
    return mine


def plans(person: Person) -> QuerySet[Plan]:
    return Plan.objects.filter(_of_city(person))
