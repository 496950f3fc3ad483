from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from typing import Any, cast

from csp.decorators import csp_replace
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.forms import ModelChoiceField
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export, exported
from phaseout.orgs.access import ALL_STAFF_ROLES, READ_ACROSS_PROVINCE, allow
from phaseout.orgs.models import Person, Role, Territory
from phaseout.orgs.scope import unit_territory
from phaseout.plans import actions, handin, preview, scope
from phaseout.plans.documents import UnreadableDocument
from phaseout.plans.forms import (
    AcceptSubmissionForm,
    ApprovePlanForm,
    ConfirmPlanForm,
    MapUnitForm,
    PlanUploadForm,
    ProgrammeForm,
    ProvincialPlanForm,
    ReturnSubmissionForm,
    ReviewTimeForm,
    SubmissionFilterForm,
    SubmitForm,
    SupervisionForm,
    TaskFailedForm,
    TaskForm,
)
from phaseout.plans.models import (
    Plan,
    Programme,
    Submission,
    SubmissionVersion,
    Task,
    TaskUnit,
    TimeExpression,
)
from phaseout.plans.parser import NotAPlan, kind_of
from phaseout.plans.tasktable import TableRefused
from phaseout.web import current_person, current_user, form_errors, open_stored
from phaseout.web.lists import Column, ListSpec, list_response

READERS = READ_ACROSS_PROVINCE

NOT_A_PLAN = {
    "empty": gettext_lazy("The document is empty."),
    "not_a_plan": gettext_lazy(
        "This is not an official document: it has no title, document number or numbered headings."
    ),
}


def _not_a_plan(exc: NotAPlan) -> str:
    return str(NOT_A_PLAN.get(exc.code, exc))


@allow(*READERS)
def plan_list(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = PlanUploadForm() if person.role in READS_IN else None
    return render(request, "plans/plan_list.html", {"plans": scope.plans(person), "form": form})


# Who reads a plan document in and reviews it: the city's office its city's plan, the provincial office the
# province's own plan (ADR 0026).
READS_IN = (Role.OFFICE, Role.PROVINCE)


def _own_plans(person: Person) -> QuerySet[Plan]:
    """The plans a person reads in, reviews and confirms: the office its city's; the provincial office
    only the province's own (it reads the cities' plans, it does not review them)."""
    if person.role == Role.PROVINCE:
        territory = unit_territory(person)
        return Plan.objects.filter(territory=territory.code) if territory is not None else Plan.objects.none()
    return scope.plans(person)


@require_POST
@allow(*READS_IN)
def plan_upload(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = PlanUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["document"]
        table = form.cleaned_data.get("table")
        try:
            plan = actions.import_plan(
                name=upload.name,
                data=upload.read(),
                by=current_user(request),
                year=form.cleaned_data["year"],
                table=(table.name, table.read()) if table else None,
            )
        except UnreadableDocument as exc:
            form.add_error("document", str(exc))
        except NotAPlan as exc:
            form.add_error("document", _not_a_plan(exc))
        except TableRefused as exc:
            form.add_error("table", str(exc))
        except actions.PlanError as exc:
            form.add_error("year", str(exc))
        else:
            messages.success(
                request, _("The document was read into a draft plan. Please review it and confirm.")
            )
            kind = kind_of(plan.problems)
            if kind != "plan":
                messages.warning(
                    request,
                    _(
                        "This document is %(kind)s, not a work plan: the duties it names with a unit or a "
                        "date were read as tasks."
                    )
                    % {"kind": actions.kind_name(kind)},
                )
            return redirect("plan-detail", plan.pk)
    return render(request, "plans/plan_list.html", {"plans": scope.plans(person), "form": form}, status=400)


@allow(*READERS)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    plan = get_object_or_404(scope.readable_plans(person).select_related("territory"), pk=pk)
    today = timezone.localdate()
    tasks = list(
        plan.tasks.select_related("section").prefetch_related("units__department", "units__territory")
    )
    submissions = list(
        plan.submissions.select_related("department", "territory", "task").order_by("due_date", "id")
    )
    status_of = {s.pk: s.status_on(today) for s in submissions}
    per_task: dict[int, Counter[str]] = defaultdict(Counter)
    per_unit: dict[str, Counter[str]] = defaultdict(Counter)
    for s in submissions:
        per_task[s.task_id][status_of[s.pk]] += 1
        per_unit[s.unit_name][status_of[s.pk]] += 1
    notices: Counter[str] = Counter()
    for supervision in plan.supervisions.select_related("department", "territory", "enterprise"):
        notices[supervision.target_name] += 1
    unmapped = sorted({u.name for t in tasks for u in t.units.all() if u.match == TaskUnit.Match.UNMAPPED})
    review = list(plan.times.filter(needs_review=True).select_related("task"))
    failed = actions.failed_tasks(plan, today) if plan.status in Plan.CONFIRMED_STATES else []
    reviewer = person.role in READS_IN and _own_plans(person).filter(pk=plan.pk).exists()
    # the city's office edits its own plans; its province's plan it only reads
    office = person.role == Role.OFFICE and reviewer
    provincial = actions.is_provincial(plan)
    provincial_choices = (
        actions.provincial_plans(plan.territory).filter(year=plan.year)
        if office and plan.territory is not None and plan.territory.level == Territory.Level.CITY
        else Plan.objects.none()
    )
    milestones = sorted(
        [(s.period_start, s.period_end, s.title) for s in plan.sections.exclude(stage="") if s.period_end],
        key=lambda m: m[1],
    )
    deadlines = sorted({(t.deadline, t.number) for t in tasks if t.deadline})
    case_progress = _case_progress(plan, tasks)
    context: dict[str, Any] = {
        "plan": plan,
        "sections": plan.sections.all(),
        "tasks": tasks,
        "submissions": submissions,
        "status_of": status_of,
        "per_task": {k: dict(v) for k, v in per_task.items()},
        "per_unit": {k: dict(v) for k, v in sorted(per_unit.items())},
        "unit_rows": [
            (unit, dict(counts), notices.get(unit, 0)) for unit, counts in sorted(per_unit.items())
        ],
        "unmapped": [
            (name, MapUnitForm(plan=plan, initial={"name": name}, prefix=f"u{i}"))
            for i, name in enumerate(unmapped)
        ],
        "review": [(t, ReviewTimeForm(prefix=f"t{t.pk}")) for t in review],
        "may_edit": office,
        "may_review": reviewer,
        "confirm_form": ConfirmPlanForm() if reviewer and plan.status == Plan.Status.DRAFT else None,
        "link_form": ProvincialPlanForm(
            choices=provincial_choices, initial={"provincial": plan.provincial_plan}
        )
        if provincial_choices.exists()
        else None,
        "city_plans": plan.city_plans.select_related("territory").order_by("territory")
        if plan.territory is not None and plan.territory.level == Territory.Level.PROVINCE
        else None,
        "approve_form": ApprovePlanForm(initial={"approved_on": today}, provincial=provincial)
        if reviewer and plan.status == Plan.Status.CONFIRMED
        else None,
        "provincial": provincial,
        "failed_tasks": failed,
        "task_failed_form": TaskFailedForm(plan=plan, initial={"failed_on": today})
        if office and plan.status in Plan.CONFIRMED_STATES
        else None,
        "supervision_form": SupervisionForm(plan=plan, failed=failed, initial={"issued_on": today})
        if office and plan.status in Plan.CONFIRMED_STATES
        else None,
        "supervisions": plan.supervisions.select_related(
            "department", "territory", "enterprise", "task", "acknowledged_by__person"
        ).prefetch_related("submissions__task"),
        "changes": plan.changes.select_related("by__person", "task"),
        "milestones": milestones,
        "deadlines": deadlines,
        "today": today,
        "mine": {s.pk for s in scope.submissions(person, plan.submissions.all())},
        "case_progress": case_progress,
    }
    return render(request, "plans/plan_detail.html", context)


@require_POST
@allow(*READS_IN)
def plan_map(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(_own_plans(current_person(request)), pk=pk)
    prefix = request.POST.get("prefix", "")
    form = MapUnitForm(request.POST, plan=plan, prefix=prefix or None)
    if form.is_valid():
        try:
            actions.map_unit(
                plan=plan,
                name=form.cleaned_data["name"],
                match=form.cleaned_data["match"],
                department=form.cleaned_data["department"],
                territory=form.cleaned_data["territory"],
                by=current_user(request),
            )
            messages.success(request, _("Matched."))
        except actions.PlanError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, _("Please choose what this name is."))
    return redirect("plan-detail", plan.pk)


@require_POST
@allow(*READS_IN)
def plan_review_time(request: HttpRequest, pk: int, expression_id: int) -> HttpResponse:
    expression = get_object_or_404(
        TimeExpression, pk=expression_id, plan__in=_own_plans(current_person(request)), plan_id=pk
    )
    form = ReviewTimeForm(request.POST, prefix=f"t{expression.pk}")
    if form.is_valid():
        try:
            actions.review_time(
                expression=expression, date=form.cleaned_data["date"], by=current_user(request)
            )
            messages.success(request, _("Reviewed."))
        except actions.PlanError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, _("Please enter a valid date, or leave it empty."))
    return redirect("plan-detail", pk)


@require_POST
@allow(*READS_IN)
def plan_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(_own_plans(current_person(request)), pk=pk)
    form = ConfirmPlanForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("plan-detail", plan.pk)
    try:
        actions.confirm_plan(plan=plan, by=current_user(request))
        messages.success(request, _("The plan is confirmed; the submissions it asks for are now tracked."))
    except actions.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", plan.pk)


@require_POST
@allow(*READS_IN)
def plan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """The office records the city government's approval of the confirmed plan; the provincial office the
    provincial government's approval of the province's plan."""
    plan = get_object_or_404(_own_plans(current_person(request)).select_related("territory"), pk=pk)
    provincial = actions.is_provincial(plan)
    form = ApprovePlanForm(request.POST, provincial=provincial)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("plan-detail", plan.pk)
    try:
        actions.approve_plan(
            plan=plan,
            body=form.cleaned_data["body"],
            doc_number=form.cleaned_data["doc_number"],
            approved_on=form.cleaned_data["approved_on"],
            by=current_user(request),
        )
        messages.success(
            request,
            _("The provincial government's approval is recorded; the plan is in force.")
            if provincial
            else _("The city government's approval is recorded; the plan is in force."),
        )
    except actions.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", plan.pk)


@require_POST
@allow(Role.OFFICE)
def plan_link_provincial(request: HttpRequest, pk: int) -> HttpResponse:
    """The office records which provincial plan its city's plan implements."""
    plan = get_object_or_404(scope.plans(current_person(request)).select_related("territory"), pk=pk)
    choices = actions.provincial_plans(plan.territory) if plan.territory is not None else Plan.objects.none()
    form = ProvincialPlanForm(request.POST, choices=choices)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("plan-detail", plan.pk)
    try:
        actions.link_provincial_plan(
            plan=plan, provincial=form.cleaned_data["provincial"], by=current_user(request)
        )
        messages.success(request, _("The plan is linked to the provincial plan it implements."))
    except actions.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", plan.pk)


@allow(Role.OFFICE)
def task_edit(request: HttpRequest, pk: int, task_id: int) -> HttpResponse:
    task = get_object_or_404(
        Task.objects.select_related("plan"),
        pk=task_id,
        plan__in=scope.plans(current_person(request)),
        plan_id=pk,
    )
    form = TaskForm(request.POST or None, task=task, initial={"text": task.text, "deadline": task.deadline})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.edit_task(
                task=task,
                text=data["text"],
                deadline=data["deadline"],
                add=data["add"],
                remove=list(data["remove"]),
                reason=data["reason"],
                by=current_user(request),
            )
        except actions.PlanError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The task was changed; the change is kept in the plan's history."))
            return redirect("plan-detail", pk)
    return render(request, "plans/task_edit.html", {"task": task, "form": form})


@require_POST
@allow(Role.OFFICE)
def plan_supervise(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(scope.plans(current_person(request)), pk=pk, status__in=Plan.CONFIRMED_STATES)
    today = timezone.localdate()
    form = SupervisionForm(request.POST, plan=plan, failed=actions.failed_tasks(plan, today))
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.record_supervisions(
                plan=plan,
                kind=data["kind"],
                issued_on=data["issued_on"],
                text=data["text"],
                task=data["task"],
                units=data["unit"],
                enterprise=data["enterprise"],
                talk_at=data["talk_at"],
                talk_place=data["talk_place"],
                by=current_user(request),
                today=today,
            )
            messages.success(request, _("Recorded."))
        except actions.PlanError as exc:
            messages.error(request, str(exc))
    else:
        form_errors(request, form)
    return redirect("plan-detail", plan.pk)


@require_POST
@allow(Role.OFFICE)
def plan_task_failed(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(scope.plans(current_person(request)), pk=pk)
    form = TaskFailedForm(request.POST, plan=plan)
    if form.is_valid():
        try:
            actions.mark_task_failed(
                task=form.cleaned_data["task"],
                failed_on=form.cleaned_data["failed_on"],
                reason=form.cleaned_data["reason"],
                by=current_user(request),
                today=timezone.localdate(),
            )
            messages.success(request, _("The task is recorded as failed."))
        except actions.PlanError as exc:
            messages.error(request, str(exc))
    else:
        form_errors(request, form)
    return redirect("plan-detail", plan.pk)


@require_POST
@allow(Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE)
def supervision_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The person a notice or summons names marks it read."""
    person = current_person(request)
    supervision = get_object_or_404(scope.addressed_to(person), pk=pk)
    try:
        actions.acknowledge_supervision(supervision=supervision, person=person)
        messages.success(request, _("Marked as read."))
    except actions.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("home")


def _submissions_all() -> QuerySet[Submission]:
    return Submission.objects.filter(plan__status__in=Plan.CONFIRMED_STATES).select_related(
        "plan", "task", "department", "territory"
    )


def _submissions(person: Person) -> QuerySet[Submission]:
    """The submissions of confirmed plans the person sees: the office every one, a unit its own."""
    return scope.submissions(person, _submissions_all())


def submissions_spec(today: dt.date) -> ListSpec:
    """The submissions list and its export; the status is the one `status_on(today)` gives. The labels
    are translated once per request, not once per row of an export."""
    status = {value: str(label) for value, label in Submission.Status.choices}
    kind = {value: str(label) for value, label in Submission.Kind.choices}
    return ListSpec(
        columns=(
            Column("plan", gettext_lazy("Plan"), lambda s: s.plan.title),
            Column(
                "task",
                gettext_lazy("Task"),
                lambda s: f"{s.task.number} {s.task.text}".strip(),
                on_page=False,
            ),
            Column("unit", gettext_lazy("Unit"), lambda s: s.unit_name, sort="unit_sort"),
            Column("kind", gettext_lazy("Kind"), lambda s: kind.get(s.kind, s.kind), sort="kind"),
            Column("due", gettext_lazy("Due date"), lambda s: s.due_date, sort="due_date"),
            Column("status", gettext_lazy("Status"), lambda s: status[s.status_on(today)]),
            Column("submitted", gettext_lazy("submitted on"), lambda s: s.submitted_on, on_page=False),
        ),
        default_order=("due_date", "id"),
    )


@allow(*ALL_STAFF_ROLES)
@audited_export("export.submissions")
def my_submissions(request: HttpRequest) -> HttpResponseBase:
    """What the person's units owe (the office: every unit), filtered, sorted, paged and exported."""
    person = current_person(request)
    today = timezone.localdate()
    form = SubmissionFilterForm(request.GET or None)
    plans = scope.plans(person).filter(status__in=Plan.CONFIRMED_STATES).order_by("-year", "-id")
    cast(ModelChoiceField, form.fields["plan"]).queryset = plans
    qs = _submissions(person).annotate(unit_sort=Coalesce("department__name", "territory__name"))
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            qs = qs.filter(Submission.status_filter(data["status"], today))
        if data["kind"]:
            qs = qs.filter(kind=data["kind"])
        if data["plan"]:
            qs = qs.filter(plan=data["plan"])
        if data["since"]:
            qs = qs.filter(due_date__gte=data["since"])
        if data["until"]:
            qs = qs.filter(due_date__lte=data["until"])
        unit = (data["unit"] or "").strip()
        if unit:
            qs = qs.filter(Q(department__name__contains=unit) | Q(territory__name__contains=unit))

    def shown(page: list[Submission]) -> list[tuple[Submission, str, SubmissionVersion | None]]:
        """Beside each submission of the page: its status today and its latest version (one query)."""
        latest: dict[int, SubmissionVersion] = {}
        for version in SubmissionVersion.objects.filter(submission__in=[s.pk for s in page]).order_by(
            "submission", "-number"
        ):
            latest.setdefault(version.submission_id, version)
        return [(s, s.status_on(today), latest.get(s.pk)) for s in page]

    return list_response(
        request, qs, submissions_spec(today), template="plans/submissions.html",
        context={"form": form, "today": today}, form=form,
        filename="submissions.xlsx", title=str(_("Submissions")), rows=shown,
    )  # fmt: skip


@allow(Role.DEPARTMENT, Role.DISTRICT, Role.OFFICE)
def submission_submit(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    submission = get_object_or_404(_submissions(person), pk=pk)
    returned = (
        submission.versions.filter(review=SubmissionVersion.Review.RETURNED).order_by("-number").first()
    )
    form = SubmitForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.submit(
                submission=submission,
                document=form.cleaned_data["document"],
                numbers=form.numbers(),
                note=form.cleaned_data["note"],
                by=current_user(request),
            )
        except actions.PlanError as exc:
            form.add_error("document", str(exc))
        else:
            messages.success(request, _("Submitted."))
            return redirect("my-submissions")
    return render(
        request, "plans/submit.html", {"submission": submission, "form": form, "returned": returned}
    )


def may_review(person: Person, submission: Submission) -> bool:
    """Who accepts or returns what units hand in: the city's coordination office under its city's plans,
    the provincial office under the province's plan (phaseout.plans.scope.reviewable)."""
    return scope.reviewable(person).filter(pk=submission.pk).exists()


def may_hand_in(person: Person, submission: Submission) -> bool:
    """The unit that owes it hands it in; the city's office, its city's duties under the provincial plan."""
    if submission.state not in (Submission.State.OPEN, Submission.State.RETURNED):
        return False
    if person.role == Role.OFFICE:
        return scope.owed_by_city(person).filter(pk=submission.pk).exists()
    return person.role in (Role.DEPARTMENT, Role.DISTRICT)


@csp_replace({"object-src": ["'self'"]})  # type: ignore[arg-type]
@allow(*READERS)
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A submission as the office reads it (and the unit that owes it): what is owed, every version with
    its review, the latest shown in the page — a PDF in the browser's viewer, a Word file or a workbook
    read on the server — and the office's accept and return."""
    person = current_person(request)
    submission = get_object_or_404(_submissions(person), pk=pk)
    today = timezone.localdate()
    versions = list(
        submission.versions.select_related("handed_in_by__person", "reviewed_by__person").order_by("-number")
    )
    latest = versions[0] if versions else None
    reviewing = (
        latest is not None
        and latest.review == SubmissionVersion.Review.PENDING
        and may_review(person, submission)
    )
    context: dict[str, Any] = {
        "submission": submission,
        "status": submission.status_on(today),
        "versions": versions,
        "latest": latest,
        "preview": preview.preview(latest) if latest is not None else None,
        "accept_form": AcceptSubmissionForm(initial={"version": latest.number}) if reviewing else None,  # type: ignore[union-attr]
        "return_form": ReturnSubmissionForm(initial={"version": latest.number}) if reviewing else None,  # type: ignore[union-attr]
        "may_hand_in": may_hand_in(person, submission),
        "plan_readable": scope.readable_plans(person).filter(pk=submission.plan_id).exists(),
    }
    return render(request, "plans/submission_detail.html", context)


@require_POST
@allow(Role.OFFICE, Role.PROVINCE)
def submission_review(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Accept the version read, or return it with comments; a stale or second review is refused. The
    city's office reviews under its city's plans, the provincial office under the province's plan."""
    submission = get_object_or_404(scope.reviewable(current_person(request), _submissions_all()), pk=pk)
    form: AcceptSubmissionForm | ReturnSubmissionForm
    form = AcceptSubmissionForm(request.POST) if decision == "accept" else ReturnSubmissionForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("submission-detail", submission.pk)
    try:
        actions.review_submission(
            submission=submission,
            version=form.cleaned_data["version"],
            accept=decision == "accept",
            comments=form.cleaned_data.get("comments", ""),
            by=current_user(request),
        )
    except actions.PlanError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("The submission was accepted.")
            if decision == "accept"
            else _("Returned to the unit with your comments."),
        )
    return redirect("submission-detail", submission.pk)


def _version_file(request: HttpRequest, pk: int, number: int, *, inline: bool) -> FileResponse:
    submission = get_object_or_404(_submissions(current_person(request)), pk=pk)
    version = get_object_or_404(submission.versions.exclude(document=""), number=number)
    if inline and version.content_type != handin.PDF:
        raise Http404
    extension = handin.EXTENSIONS.get(version.content_type, "bin")
    response = FileResponse(
        open_stored(version.document),
        as_attachment=not inline,
        filename=f"{submission.get_kind_display()}-{submission.unit_name}-v{version.number}.{extension}",
        content_type=version.content_type or "application/octet-stream",
    )
    return exported(
        response,
        submission,
        version=version.number,
        sha256=version.sha256,
        disposition="inline" if inline else "attachment",
    )


@allow(*READERS)
@audited_export("export.submission")
def submission_file(request: HttpRequest, pk: int, number: int) -> FileResponse:
    """A version's file, downloaded."""
    return _version_file(request, pk, number, inline=False)


@xframe_options_sameorigin
@csp_replace({"default-src": ["'none'"], "frame-ancestors": ["'self'"], "script-src": ["'none'"]})  # type: ignore[arg-type]
@allow(*READERS)
@audited_export("export.submission")
def submission_pdf(request: HttpRequest, pk: int, number: int) -> FileResponse:
    """A version's PDF, served inline for the browser's viewer in the submission's page (the only page
    allowed to embed it; no script of the application's runs in it)."""
    return _version_file(request, pk, number, inline=True)


def _programmes(person: Person) -> QuerySet[Programme]:
    qs = Programme.objects.select_related("department")
    if person.role == Role.DEPARTMENT:
        return qs.filter(department=person.department_id)
    return qs.filter(department__in=scope.departments(person))


@allow(Role.OFFICE, Role.DEPARTMENT)
def programme_list(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = None
    if person.role == Role.DEPARTMENT and person.department is not None:
        form = ProgrammeForm(request.POST or None, department=person.department)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                programme = actions.create_programme(
                    department=person.department,
                    title=data["title"],
                    dimension=data["dimension"],
                    year=data["due_date"].year,
                    due_date=data["due_date"],
                    method=data["method"],
                    rule_id=data["rule_id"],
                    count=data["count"] or 0,
                    per_target=data["per_target"],
                    industry=data["industry"].code if data["industry"] else "",
                    by=current_user(request),
                )
            except actions.PlanError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The programme was created."))
                return redirect("programme-detail", programme.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "plans/programmes.html", {"programmes": _programmes(person), "form": form})


@allow(Role.OFFICE, Role.DEPARTMENT)
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    programme = get_object_or_404(_programmes(current_person(request)), pk=pk)
    today = timezone.localdate()
    status = actions.target_status(programme, today)
    targets = [
        (t, *status[t.pk])
        for t in programme.targets.select_related("enterprise").prefetch_related("inspectors")
    ]
    counts = Counter(s for _, s, _ in targets)
    verified = None
    if programme.method == Programme.Method.RANDOM and programme.seed is not None:
        again = actions.draw(
            programme.pool,
            programme.inspector_pool,
            count=len(targets),
            per_target=max((t.inspectors.count() for t, _, _ in targets), default=0),
            seed=programme.seed,
        )
        recorded = sorted((t.enterprise_id, sorted(p.pk for p in t.inspectors.all())) for t, _, _ in targets)
        verified = sorted((e, sorted(p)) for e, p in again) == recorded
    return render(
        request,
        "plans/programme_detail.html",
        {
            "programme": programme,
            "targets": targets,
            "counts": dict(counts),
            "verified": verified,
            "rule_title": _rule_title(programme.rule_id),
        },
    )


DIMENSION_WORDS = {"环保": "environment", "环境": "environment", "能耗": "energy", "节能": "energy",
                   "技术": "technology", "质量": "quality", "安全": "safety"}  # fmt: skip


def _case_progress(plan: Plan, tasks: list[Task]) -> dict[int, list[dict[str, Any]]]:
    """For tasks under a dimension's heading (环保方面, 能耗方面 …): the cases of that dimension in the
    plan's year and city, by territory — how many were found, ordered to exit, and exited. One grouped
    query for every dimension the plan's headings name (not one per dimension, nor one per task)."""
    from django.db.models import Count

    from phaseout.cases.models import Case, CaseState

    exited = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]
    ordered = [CaseState.EXIT_ORDERED, *exited]
    titles = dict(plan.sections.values_list("path", "title"))  # one query, not one per task
    dimension_of: dict[int, str] = {}
    for task in tasks:
        title = task.section.title if task.section else ""
        if task.section and task.section.level == 3:
            title = titles.get(re.sub(r"\d+$", "", task.section.path), title)
        dimension = next((d for word, d in DIMENSION_WORDS.items() if word in title), None)
        if dimension is not None:
            dimension_of[task.pk] = dimension
    if not dimension_of:
        return {}
    start = dt.datetime(plan.year, 1, 1, tzinfo=timezone.get_current_timezone())
    cases = Case.objects.filter(
        dimension__in=set(dimension_of.values()),
        opened_at__gte=start,
        opened_at__lt=start.replace(year=plan.year + 1),
    )
    if plan.territory_id:
        cases = cases.filter(territory__in=plan.territory.subtree_codes() if plan.territory else [])
    by_dimension: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        cases.values("dimension", "territory__code", "territory__name")
        .annotate(
            found=Count("id"),
            ordered=Count("id", filter=Q(state__in=ordered)),
            exited=Count("id", filter=Q(state__in=exited)),
        )
        .order_by("dimension", "territory__code")
    ):
        by_dimension[row.pop("dimension")].append(row)
    return {task: by_dimension[dimension] for task, dimension in dimension_of.items()}


def _rule_title(rule_id: str) -> str:
    from phaseout.rules.rulebook import library

    versions = library().versions.get(rule_id)
    return versions[-1].title if versions else rule_id
