"""The pages that read every app: each person's home page (what waits for them), the dashboard, an
enterprise's page (its registry entry with its cases and inspections) and the audit log.

A top-level module, not an app: it sits above all the apps, so none of them depends on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections import defaultdict
from decimal import Decimal
from functools import reduce
from typing import IO, Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from phaseout.audit import labels
from phaseout.audit.exports import audited_export, exported
from phaseout.audit.forms import XLSX, AuditFilterForm, newest_first, outcome_counts
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import scope as case_scope
from phaseout.cases.models import OPEN_STATES, CaseState, Escalation, ExitMeasure, ExtensionRequest
from phaseout.complaints import scope as tipoff_scope
from phaseout.complaints.models import TipOff
from phaseout.monitoring import scope as monitoring_scope
from phaseout.monitoring.models import CheckStatus
from phaseout.orgs.access import ALL_STAFF_ROLES, allow
from phaseout.orgs.models import Person, Role
from phaseout.plans import scope as plan_scope
from phaseout.plans.models import Plan, Submission
from phaseout.registry import scope as registry_scope
from phaseout.registry.models import CapacityUnit, Industry, LineStatus
from phaseout.rules import case_flow
from phaseout.rules.dimensions import Dimension
from phaseout.signals import scope as signal_scope
from phaseout.signals.models import SignalStatus
from phaseout.web import current_person, form_errors, paginate
from phaseout.web.lists import Column, ListSpec, xlsx_file

AUDIT_EXPORT_CHUNK = 2000


def audit_xlsx(qs: QuerySet[AuditEvent]) -> tuple[IO[bytes], int]:
    """Every selected entry as a row of an .xlsx in a temporary file (read from its start), and how many.

    The entries are read in blocks of AUDIT_EXPORT_CHUNK from a server-side cursor; each block's records are
    named with one query per kind of record (labels.described), never one per entry; the rows go to the
    lists' constant-memory writer (phaseout.web.lists.xlsx_file): memory stays flat whatever the count.
    Here, beside the view, not in the audit app: the audit app does not import the web layer."""
    outcomes = dict(Outcome.choices)

    def who(e: AuditEvent) -> str:
        person = getattr(e.actor, "person", None) if e.actor_id else None
        return person.display_name if person is not None else (e.actor_name or str(_("system")))

    spec = ListSpec(
        columns=[
            Column("seq", _("No."), lambda e: e.seq),
            Column("at", _("Time"), lambda e: e.at),
            Column("who", _("Who"), who),
            Column("user", _("User name"), lambda e: e.actor_name),
            Column("unit", _("Unit"), lambda e: e.unit),
            Column("event", _("Event"), lambda e: e.event_label),
            Column("action", _("Event code"), lambda e: e.action),
            Column("kind", _("Kind of record"), lambda e: e.record_kind),
            Column("record", _("Record"), lambda e: e.record_name),
            Column("object", _("Record number"), lambda e: e.object_id),
            Column("outcome", _("Outcome"), lambda e: str(outcomes.get(e.outcome, e.outcome))),
            Column("ip", _("IP address"), lambda e: e.ip or ""),
            Column("reason", _("Reason"), lambda e: e.reason),
        ]
    )

    def described() -> Any:
        events = qs.iterator(chunk_size=AUDIT_EXPORT_CHUNK)
        while block := list(itertools.islice(events, AUDIT_EXPORT_CHUNK)):
            yield from labels.described(block)

    return xlsx_file(described(), spec, str(_("Audit trail")))


ENTERPRISE_VIEWERS = (*ALL_STAFF_ROLES, Role.ENTERPRISE)

# What an enterprise acts on: the orders it must carry out (it takes no step of the path itself).
ENTERPRISE_WAITING = [
    CaseState.RECTIFYING,
    CaseState.RESTRICTED,
    CaseState.SUSPENDED,
    CaseState.EXIT_ORDERED,
]
WAITING_ROLES = (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE)


def _admin_day(person: Person, today: dt.date) -> dict[str, Any]:
    """What waits for the intake officer and the three administrators, bounded lists each."""
    now = timezone.now()
    if person.role == Role.INTAKE:
        received = TipOff.objects.filter(status=TipOff.Status.RECEIVED).order_by("handover_due", "id")
        return {"to_hand_over": received[:20], "to_hand_over_count": received.count()}
    if person.role == Role.AUDITOR:
        since = now - dt.timedelta(days=7)
        events = AuditEvent.objects.filter(at__gte=since).exclude(outcome="success").order_by("-seq")
        return {"security_events": labels.described(list(events.select_related("actor__person")[:20]))}
    if person.role == Role.SECURITY_ADMIN:
        from phaseout.identity import dormant, limits

        return {
            "limited": limits.blocked(now),
            "must_change": Person.objects.filter(
                user__credentials__must_change_password=True, user__is_active=True
            )
            .select_related("user")
            .order_by("id")[:20],
            # Turned off by the sweep within two weeks unless they sign in.
            "dormant_soon": list(dormant.dormant(now + dt.timedelta(days=14)).select_related("person")[:20]),
        }
    if person.role == Role.SYSTEM_ADMIN:
        from phaseout.orgs.models import Department, Territory

        return {
            "reference": [
                (_("Territories"), Territory.objects.count()),
                (_("Departments"), Department.objects.count()),
                (_("Industries"), Industry.objects.count()),
            ]
        }
    return {}


def waiting(role: str) -> Q:
    """The cases waiting for this role: on each dimension's path, the states in which a step names the
    role (read from the flow table, not kept here)."""
    if role == Role.ENTERPRISE:
        return Q(state__in=ENTERPRISE_WAITING)
    return reduce(
        operator.or_,
        (Q(dimension=d.value, state__in=case_flow.waiting_states(d, role)) for d in Dimension),
    )


@allow(*Role)
def home(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    today = timezone.localdate()
    if person.role == Role.PROVINCE:  # the provincial office's day: its cities
        from phaseout.province.views import province_progress

        return province_progress(request)
    if person.role not in WAITING_ROLES:
        return render(request, "orgs/home_admin.html", {"today": today, **_admin_day(person, today)})
    # Each list reads only the columns it shows (_case_rows.html and the lists below): not the cases'
    # other columns, nor the enterprises' (their contacts would be decrypted for nothing).
    cases = (
        case_scope.cases(person)
        .select_related("enterprise", "line")
        .only(*CASE_ROW, "reinspection_due", "enterprise__name", "line__name")
    )
    soon = today + dt.timedelta(days=30)
    measures = (
        ExitMeasure.objects.filter(case__in=case_scope.cases(person), done_on__isnull=True)
        .select_related("case__enterprise")
        .only("kind", "unit", "deadline", *_of_case())
    )
    context = {
        "today": today,
        "due": cases.filter(state=CaseState.RECTIFYING, deadline__lte=soon).order_by("deadline")[:50],
        "overdue": cases.filter(state=CaseState.OVERDUE).order_by("overdue_at")[:50],
        "measures_due": measures.filter(deadline__lte=today + dt.timedelta(days=15)).order_by("deadline")[
            :50
        ],
        "escalations": Escalation.objects.filter(case__in=case_scope.cases(person), resolved_at__isnull=True)
        .select_related("case__enterprise", "measure")
        .only("kind", "due_date", "measure", "measure__kind", *_of_case())[:50],
        "waiting": cases.filter(waiting(person.role)).order_by("id")[:50],
        "extension_requests": (
            ExtensionRequest.objects.filter(
                case__in=case_scope.cases(person), status=ExtensionRequest.Status.PENDING
            )
            .select_related("case__enterprise")
            .only("months", "requested_at", *_of_case())
            .order_by("requested_at")[:50]
            if person.role in (Role.OFFICE, Role.DEPARTMENT)
            else []
        ),
        "reinspections": cases.filter(state=CaseState.ARCHIVED, reinspection_due__lte=soon).order_by(
            "reinspection_due"
        )[:50],
        "submissions": _open_submissions(person, today),
        "to_review": _to_review(person),
        "supervisions": _supervisions(person),
        "tipoffs": _open_tipoffs(person, today),
        "data_checks": _open_data_checks(person),
        "signals": _open_signals(person),
    }
    return render(request, "orgs/home.html", context)


# What a row of a case on the home page shows (_case_rows.html): its number (its year and id), the
# enterprise's and the line's names, dimension, state and deadline.
CASE_ROW = ("opened_at", "dimension", "state", "deadline", "enterprise", "line")


def _of_case() -> tuple[str, ...]:
    """The fields of a home page's row that names its case (number and enterprise), through `case`."""
    return ("case", "case__opened_at", "case__enterprise", "case__enterprise__name")


def _open_data_checks(person: Person) -> list[Any] | None:
    """For an environment officer (and the office, to follow): data checks awaiting a decision."""
    if not (
        person.role == Role.OFFICE or (person.role == Role.DEPARTMENT and "environment" in person.dimensions)
    ):
        return None
    qs = (
        monitoring_scope.data_checks(person)
        .filter(status=CheckStatus.OPEN)
        .select_related("enterprise", "point")
    )
    return list(qs.order_by("raised_at", "id")[:50])


def _open_signals(person: Person) -> list[Any]:
    """Open signals (回头看) for my unit: the competent department's, the district's where the line is."""
    if person.role not in ALL_STAFF_ROLES:
        return []
    qs = signal_scope.signals(person).filter(status=SignalStatus.OPEN)
    return list(qs.select_related("enterprise", "line", "furnace").order_by("-id")[:50])


def _open_tipoffs(person: Person, today: dt.date) -> list[Any]:
    """Tip-offs routed to my unit whose hand-over or answer falls due within three days, or is past."""
    if person.role not in ALL_STAFF_ROLES:
        return []
    qs = tipoff_scope.tipoffs(
        person,
        TipOff.objects.exclude(status=TipOff.Status.ANSWERED).filter(
            feedback_due__lte=today + dt.timedelta(days=3)
        ),
    )
    return list(qs.order_by("feedback_due")[:50])


def _supervisions(person: Person) -> list[Any]:
    """Notices and summonses naming my unit or my enterprise: the unread first, then the latest."""
    qs = plan_scope.addressed_to(person).select_related(
        "plan", "task", "department", "territory", "enterprise", "acknowledged_by__person"
    )
    return list(qs.order_by(F("acknowledged_at").asc(nulls_first=True), "-issued_on", "-id")[:50])


def _to_review(person: Person) -> list[Submission] | None:
    """For the office: what units handed in that awaits its review, the longest waiting first."""
    if person.role != Role.OFFICE:
        return None
    qs = plan_scope.submissions(
        person,
        Submission.objects.filter(plan__status__in=Plan.CONFIRMED_STATES, state=Submission.State.PENDING),
    )
    return list(qs.select_related("department", "territory").order_by("submitted_on", "id")[:50])


def _open_submissions(person: Person, today: dt.date) -> list[tuple[Any, str]]:
    """What my unit (the office: everyone) owes under confirmed plans: due within 15 days, or missing."""
    qs = plan_scope.submissions(
        person,
        Submission.objects.filter(
            plan__status__in=Plan.CONFIRMED_STATES,
            submitted_on__isnull=True,
            due_date__lte=today + dt.timedelta(days=15),
        ),
    ).select_related("task", "department", "territory", "plan")
    return [(s, s.status_on(today)) for s in qs.order_by("due_date")[:50]]


def exited_capacity(person: Person, year: int) -> list[dict[str, Any]]:
    """Capacity exited in `year` by industry, summed per unit: units are never added together."""
    lines = registry_scope.lines(person).filter(status=LineStatus.EXITED, exited_on__year=year)
    totals = (  # by the industry the lines keep (their enterprise's), read from the exited lines' index
        lines.values("industry", "capacity_unit")
        .annotate(total=Sum("capacity"), count=Count("id"))
        .order_by("industry", "capacity_unit")
    )
    names = dict(Industry.objects.values_list("code", "name"))
    units = dict(CapacityUnit.choices)
    return [
        {
            "industry": names.get(row["industry"], row["industry"]),
            "unit": units.get(row["capacity_unit"], row["capacity_unit"]),
            "total": (row["total"] or Decimal(0)).normalize(),
            "lines": row["count"],
        }
        for row in totals
    ]


@allow(*ALL_STAFF_ROLES)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Cases by state, by territory and by industry from the case tally (phaseout.cases.tally: a few
    thousand groups at most, exact at every moment), added up here; and the year's exited capacity."""
    from phaseout.cases import tally
    from phaseout.orgs.models import Territory

    person = current_person(request)
    year = timezone.localdate().year
    groups = tally.grouped(case_scope.tallies(person), "territory", "industry", "state")
    by_state: dict[str, int] = defaultdict(int)
    territories: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TERRITORY_FIGURES, 0))
    industries: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(INDUSTRY_FIGURES, 0))
    for territory, industry, state, n in groups:
        by_state[state] += n
        is_open = state in OPEN_STATES
        counted = territories[territory]
        counted["total"] += n
        counted["open"] += n * is_open
        counted["overdue"] += n * (state == CaseState.OVERDUE)
        counted["exited"] += n * (state in EXITED_STATES)
        industries[industry]["total"] += n
        industries[industry]["open"] += n * is_open
    states = [(label, by_state.get(value, 0)) for value, label in CaseState.choices]
    territory_names = dict(Territory.objects.filter(code__in=territories).values_list("code", "name"))
    industry_names = dict(Industry.objects.filter(code__in=industries).values_list("code", "name"))
    by_territory = [
        {"territory__code": code, "territory__name": territory_names.get(code, code), **counted}
        for code, counted in sorted(territories.items())  # GB/T 2260 order
    ]
    by_industry = sorted(
        (
            {"industry__name": industry_names.get(code, code), **counted}
            for code, counted in industries.items()
        ),
        key=operator.itemgetter("industry__name"),
    )
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


TERRITORY_FIGURES = ("total", "open", "overdue", "exited")
INDUSTRY_FIGURES = ("total", "open")
EXITED_STATES = (CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED)


@allow(*ENTERPRISE_VIEWERS)
def enterprise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    enterprise = get_object_or_404(
        registry_scope.enterprises(person).select_related("territory", "industry"), pk=pk
    )
    return render(
        request,
        "registry/enterprise_detail.html",
        {
            "enterprise": enterprise,
            "lines": enterprise.lines.all(),
            "licences": enterprise.licences.all(),
            "cases": case_scope.cases(person).filter(enterprise=enterprise).select_related("line"),
            "inspections": case_scope.inspections(person)
            .filter(enterprise=enterprise)
            .select_related("department"),
            "may_inspect": person.role in (Role.OFFICE, Role.DEPARTMENT) and bool(person.dimensions),
            "may_edit": person.role in ALL_STAFF_ROLES,
            "monitoring_points": monitoring_scope.enterprise_points(person, enterprise.pk).order_by(
                "outlet_code", "id"
            ),
            "may_see_monitoring": monitoring_scope.may_see(person),
            "online_since": timezone.now() - dt.timedelta(minutes=settings.MONITORING_ONLINE_MINUTES),
        },
    )


@allow(Role.AUDITOR)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, filtered by person, event, outcome and dates; paged and counted in
    the database. Bad filters are refused with their message and select nothing."""
    form = AuditFilterForm(request.GET or None)
    qs = AuditEvent.objects.select_related("actor__person")
    if form.is_bound and not form.is_valid():
        form_errors(request, form)
        qs = qs.none()
    elif form.is_bound:
        qs = form.filter(qs)
    qs = newest_first(qs, form)
    counts, capped = outcome_counts(qs)
    page = paginate(request, qs)
    page["rows"] = labels.described(list(page["rows"]))
    return render(request, "orgs/audit_log.html", {"form": form, "counts": counts, "capped": capped, **page})


@allow(Role.AUDITOR)
@audited_export("export.audit_trail")
def audit_export(request: HttpRequest) -> HttpResponseBase:
    """The selected entries as .xlsx, every one of them (not a page), written row by row to a temporary
    file (openpyxl's write-only mode) and streamed from it; cells formula-safe."""
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        form_errors(request, form)
        return redirect("audit-log")
    qs = AuditEvent.objects.select_related("actor__person")
    qs = newest_first(form.filter(qs) if form.is_bound else qs, form)
    handle, count = audit_xlsx(qs)
    response = FileResponse(handle, as_attachment=True, filename="audit-trail.xlsx", content_type=XLSX)
    filters = {k: v for k, v in request.GET.items() if k != "page"}
    return exported(response, format="xlsx", filter=filters, rows=count)
