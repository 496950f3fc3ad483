"""Data scope: what each person may see. The rule by role is stated here, once; each app applies it to
its own models in its scope.py (registry: enterprises and lines; cases: cases and inspections; plans:
submissions; complaints: tip-offs).

A person's unit sets a territory: a district's own; a department's and the coordination office's, the
city their department belongs to. Nobody of a city's units sees another city's records: the office sees
every record of its city (every dimension, every unit), a department the whole registry of its city and
the cases and inspections of its dimensions there, a district its own territory, an enterprise itself.
The provincial coordination office sees every city of its province (read only: the views it may use
say so, phaseout.orgs.access) and reviews the year summaries the cities hand up. The intake officers take
every tip-off. The three administrators (system, security, auditor) see no
business records at all (等保 least privilege): the auditor reads the audit trail, the security
administrator the accounts, the system administrator the reference data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from phaseout.orgs.models import Department, Person, Role, Territory

SEES_ALL = {Role.OFFICE, Role.PROVINCE}
UNIT_TERRITORY_ROLES = {Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.PROVINCE}


def sees_all(person: Person) -> bool:
    """The office sees every record of its city, the provincial office of its province (apply
    `territory_codes` to keep to the city or the province)."""
    return person.role in SEES_ALL


def is_province(person: Person) -> bool:
    return person.role == Role.PROVINCE


def unit_territory(person: Person) -> Territory | None:
    """The territory of the person's unit: a district's own; a department's or the office's city."""
    if person.role == Role.DISTRICT:
        return person.territory
    if person.role in (Role.OFFICE, Role.DEPARTMENT, Role.PROVINCE) and person.department is not None:
        return person.department.territory
    return None


def territory_codes(person: Person) -> list[str]:
    """The codes of the person's unit territory and everything under it (none without a unit)."""
    territory = unit_territory(person)
    return territory.subtree_codes() if territory is not None else []


def territories(person: Person) -> QuerySet[Territory]:
    """The territories a person's lists, maps and forms offer: a unit's own and those under it."""
    if person.role in UNIT_TERRITORY_ROLES:
        return Territory.objects.filter(code__in=territory_codes(person))
    return Territory.objects.all()


def city_code(person: Person) -> str | None:
    """The city of the person's unit (a county district's is the city above it); None without a unit.
    For the provincial office it is the province's code (it has no one city: see `city_codes`)."""
    territory = unit_territory(person)
    if territory is None:
        return None
    if territory.level == Territory.Level.COUNTY and territory.parent_id:
        return territory.parent_id
    return territory.code


def city_codes(person: Person) -> list[str]:
    """The cities the person's unit covers: its own city, or every city of the provincial office's
    province (21 for Guangdong)."""
    territory = unit_territory(person)
    if territory is None:
        return []
    if territory.level == Territory.Level.PROVINCE:
        return list(provincial_cities(territory.code).values_list("code", flat=True))
    code = city_code(person)
    return [code] if code else []


def provincial_cities(province_code: str) -> QuerySet[Territory]:
    return Territory.objects.filter(parent=province_code, level=Territory.Level.CITY).order_by("code")


def departments(person: Person) -> QuerySet[Department]:
    """The departments a person's unit works with: those of its city (all, for the intake officers and
    the administrators, who have no city)."""
    city = city_code(person)
    return Department.objects.all() if city is None else Department.objects.filter(territory=city)


# ── who is concerned: the people a message about a unit's record goes to (phaseout.messaging) ──


def _active(qs: QuerySet[Person]) -> QuerySet[Person]:
    return qs.filter(user__is_active=True).select_related("user", "department")


def _city_codes(territory_code: str) -> list[str]:
    """The territory and the city above it (a county's record concerns its city's units too; a city's
    does not concern the province's, which takes no step on it)."""
    row = Territory.objects.filter(code=territory_code).values_list("parent_id", "level").first()
    if row is not None and row[0] and row[1] == Territory.Level.COUNTY:
        return [territory_code, row[0]]
    return [territory_code]


def people_of_department(department_id: int) -> QuerySet[Person]:
    """The accounts of a department (its officers; the office's, when it is the office's department)."""
    return _active(Person.objects.filter(department=department_id))


def people_of_territory(territory_code: str) -> QuerySet[Person]:
    """The district accounts that see the territory: its own and the city's above it."""
    return _active(Person.objects.filter(role=Role.DISTRICT, territory__in=_city_codes(territory_code)))


def people_of_enterprise(enterprise_id: int) -> QuerySet[Person]:
    return _active(Person.objects.filter(role=Role.ENTERPRISE, enterprise=enterprise_id))


def office_people(territory_code: str | None = None) -> QuerySet[Person]:
    """The coordination office's accounts: of the territory's city when one is given."""
    qs = Person.objects.filter(role=Role.OFFICE)
    if territory_code:
        qs = qs.filter(department__territory__in=_city_codes(territory_code))
    return _active(qs)


def competent_people(dimension: str, territory_code: str) -> list[Person]:
    """The officers of the departments that enforce the dimension in the territory's city."""
    qs = _active(
        Person.objects.filter(role=Role.DEPARTMENT, department__territory__in=_city_codes(territory_code))
    )
    return [p for p in qs if dimension in p.dimensions]


def province_people(city: str) -> QuerySet[Person]:
    """The provincial office's accounts of the province above a city."""
    province = Territory.objects.filter(code=city).values_list("parent_id", flat=True).first()
    if not province:
        return Person.objects.none()
    return _active(Person.objects.filter(role=Role.PROVINCE, department__territory=province))


def intake_people() -> QuerySet[Person]:
    return _active(Person.objects.filter(role=Role.INTAKE))


def people_of_enterprises(enterprise_ids: Iterable[int]) -> dict[int, list[Person]]:
    """people_of_enterprise for a batch of enterprises at once (the sweep's reminders), by enterprise."""
    found: dict[int, list[Person]] = defaultdict(list)
    for person in _active(Person.objects.filter(role=Role.ENTERPRISE, enterprise__in=list(enterprise_ids))):
        assert person.enterprise_id is not None
        found[person.enterprise_id].append(person)
    return found
