"""The Django admin, for the system administrator only, and only for reference data (等保 three-role
separation, least privilege).

- The site lets in a person whose role is the system administrator, whatever the account's
  is_staff/is_superuser flags say: an account made with `createsuperuser` (no person) or an is_staff flag
  set by hand opens nothing.
- Signing in happens on the platform's own login page (with its lockout and its audit), never on the
  admin's; the admin's password change is not offered (a password is changed where the policy applies).
- A signed-in account of any other role (or a login without a person) is refused with a plain 403, its
  refusal recorded as any other page's (`access.refused`): sending it to sign in would loop, since the
  platform's login page sends a signed-in account back to where it came from.
- Accounts, people, groups, permissions, sessions, login records and the audit trail are not in the
  admin: accounts and roles are the security administrator's (phaseout.accounts), the audit trail the
  auditor's. Business records are not in the admin either: they change only through their actions.
- What the system administrator may still change there (territories, departments, industries) is
  recorded in the audit trail by `AuditedAdmin`: every add, change and delete.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _

from phaseout.audit.record import record
from phaseout.orgs.access import intact_or_recorded
from phaseout.orgs.models import Person, Role


def is_system_admin(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return False
    try:
        person = user.person
    except Person.DoesNotExist:
        return False
    return person.role == Role.SYSTEM_ADMIN and intact_or_recorded(person)


V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def refuse_signed_in_other_roles(request: HttpRequest) -> None:
    """A signed-in account that is not the system administrator is refused (403); the refusal is recorded
    by `phaseout.orgs.access.DenyByDefaultMiddleware.process_exception`, as for every page."""
    if request.user.is_authenticated and not is_system_admin(request):
        raise PermissionDenied


class SystemAdminSite(admin.AdminSite):
    site_header = _("Phaseout system administration")
    site_title = _("Phaseout system administration")
    index_title = _("Reference data")

    def has_permission(self, request: HttpRequest) -> bool:
        return is_system_admin(request)

    def admin_view(self, view: V, cacheable: bool = False) -> V:
        inner = super().admin_view(view, cacheable)

        def refuse_other_roles(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            refuse_signed_in_other_roles(request)
            return inner(request, *args, **kwargs)

        return cast(V, update_wrapper(refuse_other_roles, inner))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One way in: the platform's login page (lockout, second factor, audit)."""
        refuse_signed_in_other_roles(request)
        return redirect_to_login(request.GET.get("next") or request.get_full_path())

    def password_change(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        raise PermissionDenied

    def password_change_done(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        raise PermissionDenied


def _value(obj: models.Model, field: str) -> str:
    value = getattr(obj, field, None)
    return "" if value is None else str(value)


class AuditedAdmin(admin.ModelAdmin):
    """A model the system administrator keeps: every change reaches the audit trail, in the same
    transaction as the change (if the entry cannot be written, the change is not made)."""

    def _allowed(self, request: HttpRequest) -> bool:
        return is_system_admin(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def save_model(self, request: HttpRequest, obj: Any, form: Form, change: bool) -> None:
        with transaction.atomic():
            # What changed is read from the database row, not from the form's changed_data, which rests on
            # initial values the browser sends back and could hide a change from the record.
            fields = [f.attname for f in obj._meta.concrete_fields]
            old = (
                type(obj)._default_manager.filter(pk=obj.pk).first()
                if change and obj.pk is not None
                else None
            )
            super().save_model(request, obj, form, change)
            changed = [f for f in fields if old is None or _value(old, f) != _value(obj, f)]
            before = {f: _value(old, f) for f in changed} if old is not None else {}
            after = {f: _value(obj, f) for f in changed}
            record(
                actor=request.user,
                action="admin.change" if change else "admin.add",
                obj=obj,
                data={"before": before, "after": after} if change else {"after": after},
            )

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """The confirmation page names only the reference records themselves: related business records
        (cases, decisions, people ...) are counted by kind, never listed, since the system administrator
        reads no business record."""
        _deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            protected = [str(_("Business records depend on it; it cannot be deleted."))]
        return [str(obj) for obj in objs], counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            pk, label = obj.pk, str(obj)
            record(
                actor=request.user,
                action="admin.delete",
                obj=obj,
                data={"deleted": label, "pk": str(pk)},
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                record(
                    actor=request.user,
                    action="admin.delete",
                    obj=obj,
                    data={"deleted": str(obj), "pk": str(obj.pk)},
                )
            super().delete_queryset(request, queryset)
