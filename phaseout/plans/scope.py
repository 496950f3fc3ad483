"""The submissions a person's unit owes or sees, and the notices and summonses naming it (the rule by
role: phaseout.orgs.scope)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from phaseout.orgs.models import Person, Role, Territory
from phaseout.orgs.scope import city_code, departments, is_province, sees_all, territory_codes
from phaseout.plans.models import Plan, Submission, Supervision

__all__ = [
    "addressed_to",
    "departments",
    "owed_by_city",
    "plans",
    "provincial_plans",
    "readable_plans",
    "reviewable",
    "submissions",
]


def submissions(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """What a unit owes under the plans: a department its own, a district its territory's."""
    qs = qs if qs is not None else Submission.objects.all()
    if sees_all(person):
        # The city's plans are a handful a year: their ids, not the OR of the plan's city and its reader,
        # which the planner misjudges over 100,000s of submissions.
        own = Q(plan__in=list(Plan.objects.filter(_of_city(person)).values_list("pk", flat=True)))
        provincial = _provincial_plan_ids(person) if person.role == Role.OFFICE else []
        if provincial:
            # the city's own duties under its province's plan (ADR 0030), not the other cities'
            own |= Q(plan__in=provincial, territory=city_code(person))
        return qs.filter(own)
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    if person.role == Role.DISTRICT and person.territory is not None:
        return qs.filter(territory__in=territory_codes(person))
    return qs.none()


def reviewable(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """The submissions whose hand-ins the person accepts or returns: the city's office those owed under
    its city's plans (never its own duties under the provincial plan); the provincial office those owed
    by the cities under the province's own plan (the cities' plans it reads, it does not review)."""
    qs = qs if qs is not None else Submission.objects.all()
    if person.role == Role.OFFICE:
        return qs.filter(plan__in=list(Plan.objects.filter(_of_city(person)).values_list("pk", flat=True)))
    if is_province(person):
        return qs.filter(plan__in=list(provincial_plans(person).values_list("pk", flat=True)))
    return qs.none()


def owed_by_city(person: Person, qs: QuerySet[Submission] | None = None) -> QuerySet[Submission]:
    """The duties the office's city owes under its province's plan (what the office itself hands in)."""
    qs = qs if qs is not None else Submission.objects.all()
    provincial = _provincial_plan_ids(person) if person.role == Role.OFFICE else []
    return qs.filter(plan__in=provincial, territory=city_code(person)) if provincial else qs.none()


def provincial_plans(person: Person) -> QuerySet[Plan]:
    """The plans of the province itself: for the provincial office its own province's; for a city's
    office the plans of the province above its city (which it reads, and whose duties its city owes)."""
    if is_province(person):
        province = city_code(person)
    elif person.role == Role.OFFICE:
        city = city_code(person)
        province = (
            Territory.objects.filter(code=city).values_list("parent_id", flat=True).first() if city else None
        )
    else:
        province = None
    if not province:
        return Plan.objects.none()
    return Plan.objects.filter(territory=province, territory__level=Territory.Level.PROVINCE)


def _provincial_plan_ids(person: Person) -> list[int]:
    return list(
        provincial_plans(person).filter(status__in=Plan.CONFIRMED_STATES).values_list("pk", flat=True)
    )


def readable_plans(person: Person) -> QuerySet[Plan]:
    """The plans a person may read: `plans`, and for a city's office the confirmed plans of its province
    (read only: it owes duties under them)."""
    if person.role == Role.OFFICE:
        return Plan.objects.filter(_of_city(person) | Q(pk__in=_provincial_plan_ids(person)))
    return plans(person)


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
