"""The enterprises and production lines a person sees (the rule by role: phaseout.orgs.scope)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territory_codes
from phaseout.registry.models import Enterprise, ImportBatch, ProductionLine


def enterprises(person: Person) -> QuerySet[Enterprise]:
    qs = Enterprise.objects.all()
    if sees_all(person) or person.role in (Role.DEPARTMENT, Role.DISTRICT):
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE:
        return qs.filter(pk=person.enterprise_id) if person.enterprise_id else qs.none()
    return qs.none()


def line_territories(person: Person) -> list[str] | None:
    """The territory codes that `lines` keeps the person's lines to, or None when their lines are not
    chosen by territory (an enterprise's person: its own)."""
    if sees_all(person) or person.role in (Role.DEPARTMENT, Role.DISTRICT):
        return territory_codes(person)
    return None


def lines(person: Person) -> QuerySet[ProductionLine]:
    """The production lines of the enterprises the person sees: by the territory each line keeps (an
    index, not a join of 3,000,000 lines to their enterprises, nor a sub-query of enterprise ids)."""
    codes = line_territories(person)
    if codes is not None:
        return ProductionLine.objects.filter(territory__in=codes)
    return ProductionLine.objects.filter(enterprise__in=enterprises(person))


def import_batches(person: Person) -> QuerySet[ImportBatch]:
    """The register imports of the person's unit: the office all, a department those its own people
    uploaded, a district those uploaded by people of its territory (and those under it)."""
    qs = ImportBatch.objects.all()
    if sees_all(person):
        codes = territory_codes(person)
        by_city = Q(uploaded_by__person__department__territory__in=codes)
        return qs.filter(by_city | Q(uploaded_by__person__territory__in=codes))
    if person.role == Role.DEPARTMENT and person.department_id:
        return qs.filter(
            uploaded_by__person__role=Role.DEPARTMENT, uploaded_by__person__department=person.department_id
        )
    if person.role == Role.DISTRICT and person.territory_id:
        return qs.filter(
            uploaded_by__person__role=Role.DISTRICT,
            uploaded_by__person__territory__in=territory_codes(person),
        )
    return qs.none()
