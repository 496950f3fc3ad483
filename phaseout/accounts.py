"""Accounts: the people who use the platform, their roles and their units (the security
administrator's work), with their forms and pages.

A top-level module, not part of orgs: a person's unit may be an enterprise of the registry, and the
registry sits above orgs.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.record import record
from phaseout.identity import actions as identity
from phaseout.orgs.access import allow
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.registry.models import Enterprise
from phaseout.web import current_user, paginate
from phaseout.web.forms import CONFIRMATION_REQUIRED, confirmation

# ── actions ─────────────────────────────────────────────────────────────────────────────


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
    must_change_password: bool = True,
) -> Person:
    """A new account. Its password is an initial one: the person must choose their own at the first
    sign-in (the demo's accounts pass must_change_password=False)."""
    user = get_user_model().objects.create_user(username=username, password=password)
    identity.set_must_change(user, must_change_password)
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
    # A deactivated account's sessions end at once (等保 L3-CES1-07), not at their next request.
    ended = identity.end_sessions(person.user) if before["active"] and not active else 0
    record(
        actor=by,
        action="person.update",
        obj=person,
        data={"before": before, "after": {"role": role.value, "active": active}, "sessions_ended": ended},
    )
    return person


def reset_password(*, person: Person, password: str, by: User) -> Person:
    """A new password, to be changed at the next sign-in; the person's sessions end and the sign-in
    limits on the account start afresh (phaseout.identity.actions.reset_password, audited)."""
    identity.reset_password(user=person.user, password=password, by=by)
    return person


def reset_second_factor(*, person: Person, by: User) -> Person:
    """The person's second factor removed: they set up a new one at the next sign-in (audited)."""
    identity.reset_second_factor(user=person.user, by=by)
    return person


# ── forms ───────────────────────────────────────────────────────────────────────────────

# The unit each role needs: its data scope follows from it.
UNIT_FOR_ROLE = {Role.DEPARTMENT: "department", Role.DISTRICT: "territory", Role.ENTERPRISE: "enterprise"}


class PersonForm(forms.Form):
    display_name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"), queryset=Department.objects.all(), required=False
    )
    territory = forms.ModelChoiceField(
        label=gettext_lazy("Territory"), queryset=Territory.objects.all(), required=False
    )
    enterprise = forms.ModelChoiceField(
        label=gettext_lazy("Enterprise"),
        queryset=Enterprise.objects.all(),
        required=False,
        widget=forms.NumberInput,
        help_text=gettext_lazy("The enterprise's number in the registry."),
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role = data.get("role")
        if self.deactivates() and not data.get("confirm"):
            self.add_error("confirm", CONFIRMATION_REQUIRED)
        unit = UNIT_FOR_ROLE.get(Role(role)) if role else None
        if unit and not data.get(unit):
            self.add_error(unit, gettext_lazy("This role needs its unit: it sets what the person may see."))
        for other in ("department", "territory", "enterprise"):
            if other != unit and not (role == Role.OFFICE and other == "department"):
                data[other] = None  # a unit the role does not use would widen nothing, so it is not kept
        return data

    def deactivates(self) -> bool:
        """Whether saving turns an active account off (an edit form only: a new account is not yet on)."""
        return (
            "confirm" in self.fields
            and bool(self.initial.get("active"))
            and not self.cleaned_data.get("active")
        )


class EditPersonForm(PersonForm):
    """An existing account: turning it off asks for confirmation, saying what follows."""

    confirm = confirmation(
        gettext_lazy(
            "If you deactivate the account, I confirm: the person is signed out and can no longer sign in "
            "or act for their unit; the records they made stay, and only a security administrator can "
            "turn the account on again."
        ),
        required=False,
    )


class NewPersonForm(PersonForm):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Initial password"), widget=forms.PasswordInput)

    field_order = [
        "username",
        "password",
        "display_name",
        "role",
        "department",
        "territory",
        "enterprise",
        "active",
    ]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError(gettext_lazy("This username is taken."))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password")
        if password and data.get("username"):
            # The policy sees the username the account will have (the password must not contain it).
            try:
                password_validation.validate_password(password, get_user_model()(username=data["username"]))
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data


class PasswordResetForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("New password"), widget=forms.PasswordInput)

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password, self.user)
        return password


# ── pages ───────────────────────────────────────────────────────────────────────────────


@allow(Role.SECURITY_ADMIN)
def people(request: HttpRequest) -> HttpResponse:
    qs = Person.objects.select_related("user", "department", "territory", "enterprise").order_by("role", "id")
    return render(request, "orgs/people.html", {**paginate(request, qs)})


def _unit_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "department": data["department"],
        "territory": data["territory"],
        "enterprise": data["enterprise"],
    }


@allow(Role.SECURITY_ADMIN)
def person_create(request: HttpRequest) -> HttpResponse:
    form = NewPersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        person = create_person(
            username=data["username"],
            password=data["password"],
            display_name=data["display_name"],
            role=Role(data["role"]),
            by=current_user(request),
            **_unit_kwargs(data),
        )
        if not data["active"]:
            update_person(
                person=person,
                display_name=person.display_name,
                role=Role(person.role),
                active=False,
                by=current_user(request),
                **_unit_kwargs(data),
            )
        messages.success(request, _("Account created."))
        return redirect("people")
    return render(request, "orgs/person_form.html", {"form": form})


@allow(Role.SECURITY_ADMIN)
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.select_related("user"), pk=pk)
    initial = {
        "display_name": person.display_name,
        "role": person.role,
        "department": person.department_id,
        "territory": person.territory_id,
        "enterprise": person.enterprise_id,
        "active": person.user.is_active,
    }
    form = EditPersonForm(request.POST or None, initial=initial)
    password_form = PasswordResetForm(user=person.user)
    if request.method == "POST" and "reset_second_factor" in request.POST:
        reset_second_factor(person=person, by=current_user(request))
        messages.success(request, _("Second factor reset: the person sets up a new one at the next sign-in."))
        return redirect("people")
    if request.method == "POST" and "password" in request.POST:
        password_form = PasswordResetForm(request.POST, user=person.user)
        form = EditPersonForm(initial=initial)
        if password_form.is_valid():
            reset_password(
                person=person, password=password_form.cleaned_data["password"], by=current_user(request)
            )
            messages.success(request, _("Password reset."))
            return redirect("people")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if person.user_id == request.user.pk and (not data["active"] or data["role"] != Role.SECURITY_ADMIN):
            messages.error(request, _("You cannot deactivate your own account or change your own role."))
        else:
            update_person(
                person=person,
                display_name=data["display_name"],
                role=Role(data["role"]),
                active=data["active"],
                by=current_user(request),
                **_unit_kwargs(data),
            )
            messages.success(request, _("Saved."))
            return redirect("people")
    return render(
        request, "orgs/person_form.html", {"form": form, "account": person, "password_form": password_form}
    )
