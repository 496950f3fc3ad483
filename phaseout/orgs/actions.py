from __future__ import annotations

from axes.utils import reset as axes_reset
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


@transaction.atomic
def update_person(
    *,
    person: Person,
    display_name: str,
    role: Role,
    department: Department | None,
    territory: Territory | None,
    enterprise: Enterprise | None,
    active: bool,
    by: User,
) -> Person:
    """Change a person's role, unit or status (the security administrator's work)."""
    person = Person.objects.select_for_update().select_related("user").get(pk=person.pk)
    before = {"role": person.role, "active": person.user.is_active}
    person.display_name, person.role = display_name, role
    person.department, person.territory, person.enterprise = department, territory, enterprise
    person.save()
    person.user.is_active = active
    person.user.is_staff = person.user.is_superuser = role == Role.SYSTEM_ADMIN
    person.user.save()
    record(
        actor=by,
        action="person.update",
        obj=person,
        data={"before": before, "after": {"role": role.value, "active": active}},
    )
    return person


@transaction.atomic
def reset_password(*, person: Person, password: str, by: User) -> Person:
    """A new password, which also lifts a lockout after failed logins."""
    person.user.set_password(password)
    person.user.save(update_fields=["password"])
    axes_reset(username=person.user.get_username())
    record(actor=by, action="person.reset_password", obj=person)
    return person
