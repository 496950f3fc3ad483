from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from phaseout.audit.record import record
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.registry.models import Enterprise


@transaction.atomic
def create_person(
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    department: Department | None = None,
    territory: Territory | None = None,
    enterprise: Enterprise | None = None,
    by: User | None,
) -> Person:
    user = get_user_model().objects.create_user(username=username, password=password)
    # Only the system administrator uses the Django admin (等保 three-role separation).
    user.is_staff = user.is_superuser = role == Role.SYSTEM_ADMIN
    user.save()
    person = Person.objects.create(
        user=user,
        role=role,
        display_name=display_name,
        department=department,
        territory=territory,
        enterprise=enterprise,
    )
    record(actor=by, action="person.create", obj=person, data={"role": role.value})
    return person
