"""The year summaries a person sees (the rule by role: phaseout.orgs.scope): a city's office its city's;
the provincial office those its province's cities handed up (a city's draft is its own working copy)."""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import city_code, unit_territory
from phaseout.province.models import YearSummary
from phaseout.rules.approvals import SUMMARY_BEFORE_PROVINCE


def summaries(person: Person) -> QuerySet[YearSummary]:
    qs = YearSummary.objects.all()
    if person.role == Role.OFFICE:
        city = city_code(person)
        return qs.filter(city=city) if city else qs.none()
    if person.role == Role.PROVINCE:
        province = unit_territory(person)
        if province is None:
            return qs.none()
        return qs.filter(city__parent=province.code).exclude(
            state__in=[s.value for s in SUMMARY_BEFORE_PROVINCE]
        )
    return qs.none()
