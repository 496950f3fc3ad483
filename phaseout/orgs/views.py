from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import CaseState, Escalation, ExitMeasure, ExtensionRequest
from phaseout.cases.views import _page, _person, _user
from phaseout.orgs import actions as org_actions
from phaseout.orgs import scope
from phaseout.orgs.access import ALL_STAFF_ROLES, allow, public
from phaseout.orgs.forms import NewPersonForm, PasswordResetForm, PersonForm
from phaseout.orgs.models import Person, Role
from phaseout.registry.models import CapacityUnit, Industry, LineStatus

# What each role acts on next: the states in which a case waits for them.
WAITING_STATES: dict[str, list[str]] = {
    Role.OFFICE: [
        CaseState.FINDING,
        CaseState.OVERDUE,
        CaseState.VERIFIED,
        CaseState.EXITED,
        CaseState.ACCEPTED,
    ],
    Role.DEPARTMENT: [CaseState.FINDING, CaseState.OVERDUE, CaseState.VERIFIED, CaseState.EXITED],
    Role.DISTRICT: [CaseState.EXIT_ORDERED],
    Role.ENTERPRISE: [CaseState.RECTIFYING, CaseState.EXIT_ORDERED],
}


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


public(LoginView)


@require_POST
@public
def logout_view(request: HttpRequest) -> HttpResponseBase:
    return auth_views.LogoutView.as_view()(request)


@allow(*Role)
def home(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    today = timezone.localdate()
    if person.role not in WAITING_STATES:
        return render(request, "orgs/home_admin.html", {"today": today})
    cases = scope.cases(person).select_related("enterprise", "line")
    soon = today + dt.timedelta(days=30)
    measures = ExitMeasure.objects.filter(case__in=scope.cases(person), done_on__isnull=True).select_related(
        "case__enterprise"
    )
    context = {
        "today": today,
        "due": cases.filter(state=CaseState.RECTIFYING, deadline__lte=soon).order_by("deadline")[:50],
        "overdue": cases.filter(state=CaseState.OVERDUE).order_by("overdue_at")[:50],
        "measures_due": measures.filter(deadline__lte=today + dt.timedelta(days=15)).order_by("deadline")[
            :50
        ],
        "escalations": Escalation.objects.filter(
            case__in=scope.cases(person), resolved_at__isnull=True
        ).select_related("case__enterprise", "measure")[:50],
        "waiting": cases.filter(state__in=WAITING_STATES[person.role]).order_by("id")[:50],
        "extension_requests": (
            ExtensionRequest.objects.filter(
                case__in=scope.cases(person), status=ExtensionRequest.Status.PENDING
            )
            .select_related("case__enterprise")
            .order_by("requested_at")[:50]
            if person.role in (Role.OFFICE, Role.DEPARTMENT)
            else []
        ),
        "reinspections": cases.filter(state=CaseState.ARCHIVED, reinspection_due__lte=soon).order_by(
            "reinspection_due"
        )[:50],
        "submissions": _open_submissions(person, today),
        "tipoffs": _open_tipoffs(person, today),
    }
    return render(request, "orgs/home.html", context)


def _open_tipoffs(person: Person, today: dt.date) -> list[Any]:
    """Tip-offs routed to my unit whose hand-over or answer falls due within three days, or is past."""
    from phaseout.complaints.models import TipOff

    if person.role not in ALL_STAFF_ROLES:
        return []
    qs = scope.tipoffs(
        person,
        TipOff.objects.exclude(status=TipOff.Status.ANSWERED).filter(
            feedback_due__lte=today + dt.timedelta(days=3)
        ),
    )
    return list(qs.order_by("feedback_due")[:50])


def _open_submissions(person: Person, today: dt.date) -> list[tuple[Any, str]]:
    """What my unit (the office: everyone) owes under confirmed plans: due within 15 days, or missing."""
    from phaseout.plans.models import Plan, Submission

    qs = scope.submissions(
        person,
        Submission.objects.filter(
            plan__status=Plan.Status.CONFIRMED,
            submitted_on__isnull=True,
            due_date__lte=today + dt.timedelta(days=15),
        ),
    ).select_related("task", "department", "territory", "plan")
    return [(s, s.status_on(today)) for s in qs.order_by("due_date")[:50]]


def exited_capacity(person: Person, year: int) -> list[dict[str, Any]]:
    """Capacity exited in `year` by industry, summed per unit: units are never added together."""
    lines = scope.lines(person).filter(status=LineStatus.EXITED, exited_on__year=year)
    totals = (
        lines.values("enterprise__industry", "capacity_unit")
        .annotate(total=Sum("capacity"), count=Count("id"))
        .order_by("enterprise__industry", "capacity_unit")
    )
    names = dict(Industry.objects.values_list("code", "name"))
    units = dict(CapacityUnit.choices)
    return [
        {
            "industry": names.get(row["enterprise__industry"], row["enterprise__industry"]),
            "unit": units.get(row["capacity_unit"], row["capacity_unit"]),
            "total": (row["total"] or Decimal(0)).normalize(),
            "lines": row["count"],
        }
        for row in totals
    ]


@allow(*ALL_STAFF_ROLES, Role.AUDITOR)
def dashboard(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    year = timezone.localdate().year
    cases = scope.cases(person)
    by_state = dict(cases.values_list("state").annotate(n=Count("id")).order_by())
    states = [(label, by_state.get(value, 0)) for value, label in CaseState.choices]
    open_q = Q(state__in=[s for s in CaseState.values if s not in (CaseState.CLOSED, CaseState.ARCHIVED)])
    by_territory = (
        cases.values("territory__name", "territory__code")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=open_q),
            overdue=Count("id", filter=Q(state=CaseState.OVERDUE)),
            exited=Count(
                "id", filter=Q(state__in=[CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED])
            ),
        )
        .order_by("territory__code")
    )
    by_industry = (
        cases.values("industry__name")
        .annotate(total=Count("id"), open=Count("id", filter=open_q))
        .order_by("industry__name")
    )
    matrix: dict[str, dict[str, int]] = defaultdict(dict)
    for row in cases.values("territory__name", "state").annotate(n=Count("id")).order_by():
        matrix[row["territory__name"]][row["state"]] = row["n"]
    max_state = max((n for _label, n in states), default=0) or 1
    return render(
        request,
        "orgs/dashboard.html",
        {
            "year": year,
            "states": states,
            "max_state": max_state,
            "by_territory": by_territory,
            "by_industry": by_industry,
            "capacity": exited_capacity(person, year),
        },
    )


@allow(Role.AUDITOR)
def audit_log(request: HttpRequest) -> HttpResponse:
    qs = AuditEvent.objects.select_related("actor__person")
    action = request.GET.get("action", "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
    return render(request, "orgs/audit_log.html", {"action": action, **_page(request, qs)})


@allow(Role.SECURITY_ADMIN)
def people(request: HttpRequest) -> HttpResponse:
    qs = Person.objects.select_related("user", "department", "territory", "enterprise").order_by("role", "id")
    return render(request, "orgs/people.html", {**_page(request, qs)})


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
        person = org_actions.create_person(
            username=data["username"],
            password=data["password"],
            display_name=data["display_name"],
            role=Role(data["role"]),
            by=_user(request),
            **_unit_kwargs(data),
        )
        if not data["active"]:
            org_actions.update_person(
                person=person,
                display_name=person.display_name,
                role=Role(person.role),
                active=False,
                by=_user(request),
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
    form = PersonForm(request.POST or None, initial=initial)
    password_form = PasswordResetForm()
    if request.method == "POST" and "password" in request.POST:
        password_form = PasswordResetForm(request.POST)
        form = PersonForm(initial=initial)
        if password_form.is_valid():
            org_actions.reset_password(
                person=person, password=password_form.cleaned_data["password"], by=_user(request)
            )
            messages.success(request, _("Password reset."))
            return redirect("people")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if person.user_id == request.user.pk and (not data["active"] or data["role"] != Role.SECURITY_ADMIN):
            messages.error(request, _("You cannot deactivate your own account or change your own role."))
        else:
            org_actions.update_person(
                person=person,
                display_name=data["display_name"],
                role=Role(data["role"]),
                active=data["active"],
                by=_user(request),
                **_unit_kwargs(data),
            )
            messages.success(request, _("Saved."))
            return redirect("people")
    return render(
        request, "orgs/person_form.html", {"form": form, "account": person, "password_form": password_form}
    )
