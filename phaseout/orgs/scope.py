"""Data scope: what each person may see. The rule by role is stated here, once; each app applies it to
its own models in its scope.py (registry: enterprises and lines; cases: cases and inspections; plans:
submissions; complaints: tip-offs).

A district sees its own territory; a department sees the whole registry and the cases and
inspections of its dimensions; an enterprise sees itself; the office sees everything. The three
administrators (system, security, auditor) see no business records at all (等保 least privilege): the
auditor reads the audit trail, the security administrator the accounts, the system administrator the
reference data.
"""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.orgs.models import Person, Role, Territory

SEES_ALL = {Role.OFFICE}


def sees_all(person: Person) -> bool:
    """The office sees everything."""
    return person.role in SEES_ALL


def territory_codes(person: Person) -> list[str]:
    """The codes of a district's territory and everything under it."""
    assert person.territory is not None
    return person.territory.subtree_codes()


def territories(person: Person) -> QuerySet[Territory]:
    if person.role == Role.DISTRICT:
        return Territory.objects.filter(code__in=territory_codes(person))
    return Territory.objects.all()
