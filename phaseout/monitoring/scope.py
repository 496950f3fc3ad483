"""Who sees online monitoring (the rule by role: phaseout.orgs.scope).

The coordination office and a department enforcing the environment dimension see their city's key
discharge units and monitoring points; a district its own territory (and what lies under it). Other
departments, enterprises and the administrators see no monitoring pages (an enterprise sees its own
points on its enterprise page: `enterprise_points`)."""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.monitoring.models import DataCheck, KeyDischargeUnit, MonitoringPoint
from phaseout.orgs.models import Dimension, Person, Role
from phaseout.orgs.scope import territory_codes


def may_see(person: Person | None) -> bool:
    """The office, an environment department, a district."""
    if person is None:
        return False
    if person.role in (Role.OFFICE, Role.DISTRICT):
        return True
    return person.role == Role.DEPARTMENT and Dimension.ENVIRONMENT.value in person.dimensions


def points(person: Person) -> QuerySet[MonitoringPoint]:
    if not may_see(person):
        return MonitoringPoint.objects.none()
    return MonitoringPoint.objects.filter(enterprise__territory__in=territory_codes(person))


def key_units(person: Person) -> QuerySet[KeyDischargeUnit]:
    if not may_see(person):
        return KeyDischargeUnit.objects.none()
    return KeyDischargeUnit.objects.filter(enterprise__territory__in=territory_codes(person))


def enterprise_points(person: Person, enterprise_id: int) -> QuerySet[MonitoringPoint]:
    """The points an enterprise page shows: to those who see monitoring (in their scope) and to the
    enterprise itself."""
    if person.role == Role.ENTERPRISE and person.enterprise_id == enterprise_id:
        return MonitoringPoint.objects.filter(enterprise=enterprise_id)
    return points(person).filter(enterprise=enterprise_id)


def data_checks(person: Person) -> QuerySet[DataCheck]:
    """The data checks a person sees: those of the territory whose monitoring the person sees."""
    if not may_see(person):
        return DataCheck.objects.none()
    return DataCheck.objects.filter(territory__in=territory_codes(person))
