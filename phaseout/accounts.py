"""Accounts: the people who use the platform, their roles and their units (the security
administrator's work), with their forms and pages.

A top-level module, not part of orgs: a person's unit may be an enterprise of the registry, and the
registry sits above orgs.
"""

from __future__ import annotations

import unicodedata
from typing import Any, NoReturn

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.exports import audited_export
from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.identity import actions as identity
from phaseout.orgs.access import allow
from phaseout.orgs.models import (
    ADMINISTRATOR_ROLES,
    Credentials,
    Department,
    Dimension,
    Person,
    Role,
    Territory,
)
from phaseout.registry.models import Enterprise
from phaseout.web import current_user, form_errors
from phaseout.web.forms import CONFIRMATION_REQUIRED, confirmation
from phaseout.web.lists import Column, ListSpec, list_response

# ── actions ─────────────────────────────────────────────────────────────────────────────
#
# 等保 three-role separation, kept here and not only in the pages: only an active security administrator
# manages accounts (None: the command line, e.g. the demo loader); a person has one role (Person is one
# row per account) and an administrator's role carries no unit, hence no business scope (also a check
# constraint); nobody changes their own role, turns themselves off or resets their own password or second
# factor here; the last security administrator stays; is_staff follows the system administrator's role and
# nobody is a superuser. A refusal changes nothing, is recorded with the outcome "refused", and says why.


class AccountError(Exception):
    """A refused change to an account, with the reason in words a person can read."""


def _not_security_admin(user: User | None) -> str | None:
    """The refusal when the actor may not manage accounts and roles, else None."""
    if user is None:
        return None  # the command line (demo data, the first security administrator)
    person = Person.objects.filter(user=user).first()
    if user.is_active and person is not None and person.role == Role.SECURITY_ADMIN:
        return None
    return _("Only a security administrator manages accounts and roles.")


def _refuse(
    *, by: User | None, action: str, obj: Person | Department | None, message: str, data: dict[str, Any]
) -> NoReturn:
    """Record the refusal (after the rolled-back attempt, so the entry stays) and raise it."""
    record(actor=by, action=action, obj=obj, reason=message, data=data, outcome=Outcome.REFUSED)
    raise AccountError(message)


def _units_refusal(role: Role, units: dict[str, Any]) -> str | None:
    if role in ADMINISTRATOR_ROLES and any(units.values()):
        return _("An administrator's account has no unit: it sees no business records.")
    return None


def normal_username(username: str) -> str:
    """A username as it is stored: NFKC (full-width letters and digits as ASCII, as Django's create_user
    stores them), surrounding spaces dropped."""
    return unicodedata.normalize("NFKC", username).strip()


def username_key(username: str) -> str:
    """What two usernames are compared by: NFKC (full-width letters and digits as ASCII, as Django's
    create_user stores them), surrounding spaces dropped, case folded."""
    return normal_username(username).casefold()


def username_refusal(username: str) -> str | None:
    """Why a new account cannot have this username: it is taken, or differs from an existing one only by
    case, width or surrounding spaces (two accounts a person could not tell apart). Stored usernames are
    NFKC already (create_user and the admin's forms normalise them), so the database compares them without
    case (an index lookup, whatever the number of accounts) and `username_key` confirms the match."""
    wanted = normal_username(username)
    users = get_user_model().objects
    if users.filter(username=wanted).exists():
        return _("This username is taken.")
    key = username_key(username)
    for existing in users.filter(username__iexact=wanted).values_list("username", flat=True)[:10]:
        if username_key(existing) == key:
            return _(
                "This username differs from the existing account “%(existing)s” only by case, full-width "
                "characters or spaces: choose another."
            ) % {"existing": existing}
    return None


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
    password_hashed: bool = False,
) -> Person:
    """A new account. Its password is an initial one: the person must choose their own at the first
    sign-in (the demo's accounts pass must_change_password=False). With password_hashed the password is
    already hashed (make_password): the demo's accounts share one public password, hashed once."""
    units = {"department": department, "territory": territory, "enterprise": enterprise}
    refused = {"username": username, "role": role.value}
    message = _not_security_admin(by) or _units_refusal(role, units) or username_refusal(username)
    if message:
        _refuse(by=by, action="person.create", obj=None, message=message, data=refused)
    try:
        with transaction.atomic():
            person = _create(
                username=normal_username(username),
                password=password,
                password_hashed=password_hashed,
                must_change_password=must_change_password,
                display_name=display_name,
                role=role,
                units=units,
                by=by,
            )
    except IntegrityError:  # the same username made at the same moment by another request
        _refuse(by=by, action="person.create", obj=None, message=_("This username is taken."), data=refused)
    return person


def _create(
    *,
    username: str,
    password: str,
    password_hashed: bool,
    must_change_password: bool,
    display_name: str,
    role: Role,
    units: dict[str, Any],
    by: User | None,
) -> Person:
    user = get_user_model().objects.create_user(
        username=username, password=None if password_hashed else password
    )
    if password_hashed:
        user.password = password
    identity.set_must_change(user, must_change_password)
    # Only the system administrator uses the Django admin, and its site checks the role too.
    user.is_staff = role == Role.SYSTEM_ADMIN
    user.is_superuser = False
    user.save()
    person = Person.objects.create(user=user, role=role, display_name=display_name, **units)
    record(actor=by, action="person.create", obj=person, data={"role": role.value})
    return person


class _Refused(Exception):
    pass


def update_person(
    *,
    person: Person,
    display_name: str,
    role: Role,
    department: Department | None,
    territory: Territory | None,
    enterprise: Enterprise | None,
    active: bool,
    by: User | None,
) -> Person:
    """Change a person's role, unit or status (the security administrator's work; None: the command
    line)."""
    units = {"department": department, "territory": territory, "enterprise": enterprise}
    attempt = {"role": role.value, "active": active}
    try:
        with transaction.atomic():
            # The security administrators' rows are locked first, so two of them turning each other off at
            # the same moment cannot leave none.
            list(Person.objects.select_for_update().filter(role=Role.SECURITY_ADMIN).values_list("pk"))
            person = Person.objects.select_for_update().select_related("user").get(pk=person.pk)
            before = {"role": person.role, "active": person.user.is_active}
            message = _update_refusal(person=person, role=role, active=active, units=units, by=by)
            if message:
                raise _Refused(message)
            person.display_name, person.role = display_name, role
            person.department, person.territory, person.enterprise = department, territory, enterprise
            person.save()
            person.user.is_active = active
            person.user.is_staff = role == Role.SYSTEM_ADMIN
            person.user.is_superuser = False
            person.user.save()
            if active and not before["active"]:
                # Turned on again: its idle days count from now (phaseout.identity.dormant).
                Credentials.objects.update_or_create(
                    user=person.user,
                    defaults={"reactivated_at": timezone.now()},
                    create_defaults={
                        "reactivated_at": timezone.now(),
                        "password_changed_at": person.user.date_joined,
                    },
                )
            # A deactivated account's sessions end at once (等保 L3-CES1-07), not at their next request.
            ended = identity.end_sessions(person.user) if before["active"] and not active else 0
            record(
                actor=by,
                action="person.update",
                obj=person,
                data={"before": before, "after": attempt, "sessions_ended": ended},
            )
            return person
    except _Refused as refused:
        _refuse(by=by, action="person.update", obj=person, message=str(refused), data={"attempt": attempt})


def _update_refusal(
    *, person: Person, role: Role, active: bool, units: dict[str, Any], by: User | None
) -> str | None:
    refused = _not_security_admin(by)
    if refused:
        return refused
    if by is not None and person.user_id == by.pk and (not active or role != person.role):
        return _("You cannot deactivate your own account or change your own role.")
    if person.role == Role.SECURITY_ADMIN and person.user.is_active and (not active or role != person.role):
        others = Person.objects.filter(role=Role.SECURITY_ADMIN, user__is_active=True).exclude(pk=person.pk)
        if not others.exists():
            return _(
                "The last security administrator cannot be removed: make another account security "
                "administrator first."
            )
    return _units_refusal(role, units)


def reset_password(*, person: Person, password: str, by: User) -> Person:
    """A new password, to be changed at the next sign-in; the person's sessions end and the sign-in
    limits on the account start afresh (phaseout.identity.actions.reset_password, audited)."""
    message = _not_security_admin(by)
    if not message and person.user_id == by.pk:
        message = _("You cannot reset your own password here: another security administrator does it.")
    if message:
        _refuse(by=by, action="person.reset_password", obj=person, message=message, data={})
    identity.reset_password(user=person.user, password=password, by=by)
    return person


def reset_second_factor(*, person: Person, by: User) -> Person:
    """The person's second factor removed: they set up a new one at the next sign-in (audited)."""
    message = _not_security_admin(by)
    if not message and person.user_id == by.pk:
        message = _("You cannot reset your own second factor here: another security administrator does it.")
    if message:
        _refuse(by=by, action="person.reset_second_factor", obj=person, message=message, data={})
    identity.reset_second_factor(user=person.user, by=by)
    return person


def set_department_dimensions(*, department: Department, dimensions: list[str], by: User) -> Department:
    """The dimensions a department enforces, which set its people's data scope (the cases and findings
    of those dimensions): the security administrator's, like roles and units, and recorded."""
    message = _not_security_admin(by)
    chosen = sorted(set(dimensions))
    known = {d.value for d in Dimension}
    if not message and not set(chosen) <= known:
        message = _("Unknown dimension: choose among energy, environment, quality, safety and technology.")
    if message:
        _refuse(
            by=by, action="department.dimensions", obj=department, message=message, data={"attempt": chosen}
        )
    with transaction.atomic():
        locked = Department.objects.select_for_update().get(pk=department.pk)
        before = sorted(locked.dimensions)
        locked.dimensions = [d.value for d in Dimension if d.value in chosen]  # in the platform's order
        locked.save(update_fields=["dimensions"])
        record(
            actor=by,
            action="department.dimensions",
            obj=locked,
            data={"before": before, "after": sorted(locked.dimensions)},
        )
    return locked


# ── forms ───────────────────────────────────────────────────────────────────────────────

# The unit each role needs: its data scope follows from it.
UNIT_FOR_ROLE = {
    Role.DEPARTMENT: "department",
    Role.DISTRICT: "territory",
    Role.ENTERPRISE: "enterprise",
    Role.PROVINCE: "department",  # the provincial office: a department whose territory is the province
}


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
        elif role == Role.PROVINCE and data["department"].territory.level != Territory.Level.PROVINCE:
            self.add_error(
                "department", gettext_lazy("The provincial office's unit is a department of the province.")
            )
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
        username: str = normal_username(self.cleaned_data["username"])
        refusal = username_refusal(username)
        if refusal:
            raise forms.ValidationError(refusal)
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


class PeopleFilterForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=[("", "—"), *Role.choices], required=False)
    active = forms.ChoiceField(
        label=gettext_lazy("Active"),
        choices=[("", "—"), ("yes", gettext_lazy("Active")), ("no", gettext_lazy("Inactive"))],
        required=False,
    )
    q = forms.CharField(label=gettext_lazy("Username or name"), max_length=60, required=False)


PEOPLE = ListSpec(
    columns=(
        Column("username", gettext_lazy("Username"), lambda p: p.user.username, sort="user__username"),
        Column("name", gettext_lazy("Name"), lambda p: p.display_name, sort="display_name"),
        Column("role", gettext_lazy("Role"), lambda p: p.get_role_display(), sort="role"),
        Column(
            "unit", gettext_lazy("Unit"), lambda p: str(p.department or p.territory or p.enterprise or "")
        ),
        Column(
            "active",
            gettext_lazy("Active"),
            lambda p: gettext_lazy("yes") if p.user.is_active else gettext_lazy("no"),
        ),
        Column(
            "last_login", gettext_lazy("Last sign-in"), lambda p: p.user.last_login, sort="user__last_login"
        ),
    ),
    default_order=("role", "id"),
)


@allow(Role.SECURITY_ADMIN)
@audited_export("export.people")
def people(request: HttpRequest) -> HttpResponseBase:
    form = PeopleFilterForm(request.GET or None)
    qs = Person.objects.select_related("user", "department", "territory", "enterprise")
    if form.is_valid():
        data = form.cleaned_data
        if data["role"]:
            qs = qs.filter(role=data["role"])
        if data["active"]:
            qs = qs.filter(user__is_active=data["active"] == "yes")
        q = (data["q"] or "").strip()
        if q:
            qs = qs.filter(Q(user__username__contains=q) | Q(display_name__contains=q))
    return list_response(
        request, qs, PEOPLE, template="orgs/people.html", context={"form": form}, form=form,
        filename="accounts.xlsx", title=str(_("Accounts")),
    )  # fmt: skip


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
        try:
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
        except AccountError as exc:
            messages.error(request, str(exc))
        else:
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
        try:
            reset_second_factor(person=person, by=current_user(request))
        except AccountError as exc:
            messages.error(request, str(exc))
            form = EditPersonForm(initial=initial)
        else:
            messages.success(
                request, _("Second factor reset: the person sets up a new one at the next sign-in.")
            )
            return redirect("people")
    elif request.method == "POST" and "password" in request.POST:
        password_form = PasswordResetForm(request.POST, user=person.user)
        form = EditPersonForm(initial=initial)
        if password_form.is_valid():
            try:
                reset_password(
                    person=person, password=password_form.cleaned_data["password"], by=current_user(request)
                )
            except AccountError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Password reset."))
                return redirect("people")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            update_person(
                person=person,
                display_name=data["display_name"],
                role=Role(data["role"]),
                active=data["active"],
                by=current_user(request),
                **_unit_kwargs(data),
            )
        except AccountError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("people")
    return render(
        request, "orgs/person_form.html", {"form": form, "account": person, "password_form": password_form}
    )


class DimensionsForm(forms.Form):
    dimensions = forms.MultipleChoiceField(
        label=gettext_lazy("Dimensions enforced"),
        choices=Dimension.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@allow(Role.SECURITY_ADMIN)
def departments(request: HttpRequest) -> HttpResponse:
    """Each department's dimensions, which set what its people see: changed here, recorded."""
    rows = list(Department.objects.select_related("territory").order_by("territory__code", "code"))
    if request.method == "POST":
        department = get_object_or_404(Department, pk=request.POST.get("department") or 0)
        form = DimensionsForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
        else:
            try:
                set_department_dimensions(
                    department=department,
                    dimensions=form.cleaned_data["dimensions"],
                    by=current_user(request),
                )
            except AccountError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("%(department)s now enforces: %(dimensions)s.")
                    % {
                        "department": department.name,
                        "dimensions": Department.objects.get(pk=department.pk).dimension_labels() or "—",
                    },
                )
                return redirect("departments")
    forms_by_row = [(d, DimensionsForm(initial={"dimensions": d.dimensions}, prefix=None)) for d in rows]
    return render(request, "orgs/departments.html", {"rows": forms_by_row})
