"""Access is denied by default: every view declares who may use it.

`@allow(Role.OFFICE, ...)` names the roles that may use a view; `@public` marks the few views
anyone may see (login); `@signed_in` the sign-in steps that any signed-in account goes
through. The middleware refuses any view that declares nothing, so a view
added without a declaration is closed, not open.

Every page refused to a signed-in account (403) — by this middleware, or by a view raising
PermissionDenied — is written to the audit trail here, in one place, naming the path and the role.
Anonymous requests are sent to sign in (or refused) without an entry, and a 404 writes none, so the
public cannot flood the trail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.orgs import integrity
from phaseout.orgs.models import Person, Role

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "phaseout_access"
PUBLIC = "public"
SIGNED_IN = "signed_in"
REFUSED_EVENT = "access.refused"
PATH_MAX = 300

ALL_STAFF_ROLES = (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
# The pages that only read, which the provincial office reads too, over every city of its province (its
# scope: phaseout.orgs.scope). Every page that writes stays closed to it; it writes only its review of
# the year summaries (phaseout.province).
READ_ACROSS_PROVINCE = (*ALL_STAFF_ROLES, Role.PROVINCE)


def allow(*roles: Role) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, frozenset(roles))
        return view

    return decorate


def public(view: F) -> F:
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def signed_in(view: F) -> F:
    """Any signed-in account, whatever its role: the sign-in steps themselves (second factor, password)."""
    setattr(view, ACCESS_ATTR, SIGNED_IN)
    return view


def person_of(request: HttpRequest) -> Person | None:
    user = request.user
    if not user.is_authenticated:
        return None
    try:
        return user.person
    except Person.DoesNotExist:
        return None


class DenyByDefaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The audit address is set before, by phaseout.web.ClientAddressMiddleware (trusted proxies only).
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is not None and match.app_name == "admin":
            return None  # the admin checks is_staff itself; only system administrators are staff
        declared = getattr(view, ACCESS_ATTR, None)
        if declared is None:
            view_class = getattr(view, "view_class", None)
            declared = getattr(view_class, ACCESS_ATTR, None) if view_class else None
        if declared == PUBLIC:
            return None
        if declared is None:
            record_refusal(request)
            raise PermissionDenied("view declares no access")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if declared == SIGNED_IN:
            return None
        person = person_of(request)
        if person is not None and not intact_or_recorded(person):
            return render(request, "403.html", {"reason": TAMPERED}, status=403)
        if person is None or person.role not in declared:
            record_refusal(request)
            raise PermissionDenied
        request.person = person  # type: ignore[attr-defined]
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view's own PermissionDenied (not its role's action, a record it may not change): recorded,
        then answered 403 by Django as before."""
        if isinstance(exception, PermissionDenied):
            record_refusal(request)
        return None


def record_refusal(request: HttpRequest) -> None:
    """One audit entry, outcome refused, for a page refused to a signed-in account; none for anyone else."""
    if not request.user.is_authenticated:
        return
    person = person_of(request)
    record(
        actor=request.user,
        action=REFUSED_EVENT,
        reason=_("Your role does not give you access to this page or record."),
        data={
            "path": request.path[:PATH_MAX],
            "method": request.method,
            "role": person.role if person is not None else "",
        },
        outcome=Outcome.REFUSED,
    )


TAMPERED = gettext_lazy(
    "Your account's role and unit fail their integrity check: they were changed outside the platform. "
    "Ask the security administrator."
)


def intact_or_recorded(person: Person) -> bool:
    """Whether the person's role and unit are as the platform sealed them; a refusal is recorded."""
    if integrity.intact(person):
        return True
    record(
        actor=person.user,
        action="access.integrity_failed",
        obj=person,
        outcome=Outcome.REFUSED,
        reason=str(TAMPERED),
        data={"role": person.role},
    )
    return False


def person_context(request: HttpRequest) -> dict[str, Any]:
    return {"person": person_of(request)}
