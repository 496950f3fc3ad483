from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.forms import ModelChoiceField
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export, exported
from phaseout.cases import actions, documents, scope, signatures, steps
from phaseout.cases import forms as f
from phaseout.cases.actions import EVENT_LABELS
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.evidence import safe_name
from phaseout.cases.models import (
    Case,
    CaseState,
    Decision,
    Evidence,
    ExitMeasure,
    ExtensionRequest,
    Inspection,
    case_number,
)
from phaseout.cases.permissions import actions_for, may
from phaseout.crypto import DecryptionError
from phaseout.officialdoc import FontMissing
from phaseout.orgs.access import ALL_STAFF_ROLES, allow
from phaseout.orgs.models import Dimension, Person, Role
from phaseout.rules import case_flow
from phaseout.rules.case_flow import Action, State
from phaseout.web import StoredFileUnavailable, open_stored
from phaseout.web import current_person as _person
from phaseout.web import current_user as _user
from phaseout.web import form_errors as _errors
from phaseout.web import paginate as _page
from phaseout.web.lists import Column, ListSpec, choice_of, list_response

CASE_VIEWERS = (*ALL_STAFF_ROLES, Role.ENTERPRISE)


# ── inspections ─────────────────────────────────────────────────────────────────────────


@allow(Role.OFFICE, Role.DEPARTMENT)
def inspection_create(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    person = _person(request)
    enterprise = get_object_or_404(scope.enterprises(person), pk=enterprise_id)
    if person.department is None or not person.dimensions:
        raise PermissionDenied
    form = f.InspectionForm(
        request.POST or None,
        request.FILES or None,
        enterprise=enterprise,
        dimensions=person.dimensions,
        initial={"inspected_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            inspection = actions.record_inspection(
                department=person.department,
                enterprise=enterprise,
                line=form.cleaned_data["line"],
                dimension=form.cleaned_data["dimension"],
                inspected_on=form.cleaned_data["inspected_on"],
                inspectors=form.cleaned_data["inspectors"],
                notes=form.cleaned_data["notes"],
                files=form.cleaned_data["attachments"],
                by=_user(request),
            )
        except (CaseActionError, ValidationError) as exc:
            messages.error(
                request, exc.message if isinstance(exc, CaseActionError) else " ".join(exc.messages)
            )
        else:
            messages.success(request, _("Inspection recorded. Now record what it found."))
            return redirect("inspection-detail", inspection.pk)
    return render(request, "cases/inspection_form.html", {"form": form, "enterprise": enterprise})


class InspectionFilterForm(f.forms.Form):
    dimension = f.forms.ChoiceField(
        label=gettext_lazy("Dimension"), choices=[("", "—"), *Dimension.choices], required=False
    )
    since = f.forms.DateField(label=gettext_lazy("Inspected from"), required=False, widget=f.DATE)
    until = f.forms.DateField(label=gettext_lazy("Inspected until"), required=False, widget=f.DATE)
    q = f.forms.CharField(label=gettext_lazy("Enterprise"), max_length=60, required=False)


INSPECTIONS = ListSpec(
    columns=(
        Column(
            "on",
            gettext_lazy("inspection date"),
            lambda i: i.inspected_on,
            sort="inspected_on",
            path="inspected_on",
        ),
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda i: i.enterprise.name, path="enterprise__name"
        ),
        Column("line", gettext_lazy("Line"), lambda i: i.line.name if i.line else "", path="line__name"),
        Column(
            "department", gettext_lazy("Department"), lambda i: i.department.name, path="department__name"
        ),
        Column(
            "dimension",
            gettext_lazy("Dimension"),
            lambda i: i.get_dimension_display(),
            sort="dimension",
            row=choice_of(Inspection, "dimension"),
        ),
        Column(
            "method",
            gettext_lazy("method"),
            lambda i: i.get_method_display(),
            row=choice_of(Inspection, "method"),
        ),
        Column(
            "inspectors", gettext_lazy("inspectors"), lambda i: i.inspectors, on_page=False, path="inspectors"
        ),
    ),
    default_order=("-inspected_on", "-id"),
    reads=("dimension", "method"),
)


@allow(*ALL_STAFF_ROLES)
@audited_export("export.inspections")
def inspection_list(request: HttpRequest) -> HttpResponseBase:
    form = InspectionFilterForm(request.GET or None)
    qs = scope.inspections(_person(request)).select_related("enterprise", "department", "line")
    if form.is_valid():
        data = form.cleaned_data
        if data["dimension"]:
            qs = qs.filter(dimension=data["dimension"])
        if data["since"]:
            qs = qs.filter(inspected_on__gte=data["since"])
        if data["until"]:
            qs = qs.filter(inspected_on__lte=data["until"])
        if data["q"]:
            qs = qs.filter(enterprise__name__contains=data["q"].strip())
    return list_response(
        request, qs, INSPECTIONS, template="cases/inspection_list.html", context={"form": form}, form=form,
        filename="inspections.xlsx", title=str(_("Inspections")),
    )  # fmt: skip


@allow(*CASE_VIEWERS)
def inspection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    inspection = get_object_or_404(
        scope.inspections(person).select_related("enterprise", "department", "line"), pk=pk
    )
    may_add = person.department_id == inspection.department_id and person.role in (
        Role.OFFICE,
        Role.DEPARTMENT,
    )
    form = f.FindingForm(request.POST or None, inspection=inspection) if may_add else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                finding = actions.record_finding(
                    inspection=inspection,
                    rule_id=form.cleaned_data["rule"],
                    line=form.cleaned_data["line"],
                    measured_value=form.cleaned_data["measured_value"],
                    by=_user(request),
                )
            except CaseActionError as exc:
                messages.error(request, exc.message)
            else:
                if hasattr(finding, "case"):
                    messages.warning(
                        request, _("Non-compliant: case %(number)s opened.") % {"number": finding.case.number}
                    )
                    return redirect("case-detail", finding.case.pk)
                messages.success(request, _("Finding recorded: compliant."))
                return redirect("inspection-detail", inspection.pk)
        else:
            _errors(request, form)
    return render(request, "cases/inspection_detail.html", {"inspection": inspection, "form": form})


# ── cases ───────────────────────────────────────────────────────────────────────────────


# Up to this many enterprises matching a name search, their cases are fetched by enterprise.
NAMED_ENTERPRISES_LIMIT = 5000


def enterprise_named(text: str) -> Q:
    """Cases of the enterprises whose name contains `text`.

    The enterprises are looked up first (the trigram index finds them at once), then their cases by
    the enterprise index: over 1,000,000 cases this takes a tenth of the time of the join, which
    walks the newest cases one by one looking for a matching name. A very common word (thousands of
    enterprises) keeps the join, which then finds a page of the newest cases quickly."""
    from phaseout.registry.models import Enterprise

    matching = Enterprise.objects.filter(name__contains=text).values_list("id", flat=True)
    ids = list(matching[: NAMED_ENTERPRISES_LIMIT + 1])
    if len(ids) <= NAMED_ENTERPRISES_LIMIT:
        return Q(enterprise_id__in=ids)
    return Q(enterprise__name__contains=text)


@allow(*CASE_VIEWERS, Role.PROVINCE)
@audited_export("export.cases")
def case_list(request: HttpRequest) -> HttpResponseBase:
    person = _person(request)
    form = f.CaseFilterForm(request.GET or None)
    cast(ModelChoiceField, form.fields["territory"]).queryset = scope.territories(person)
    # The enterprise's contact (encrypted at rest) is not shown on the list: neither read nor decrypted.
    qs = (
        scope.cases(person)
        .select_related("enterprise", "territory", "industry", "line")
        .defer("enterprise__contact_name", "enterprise__contact_phone")
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["state"]:
            qs = qs.filter(state=data["state"])
        if data["dimension"]:
            qs = qs.filter(dimension=data["dimension"])
        if data["territory"]:
            qs = qs.filter(territory=data["territory"])
        if data["industry"]:
            qs = qs.filter(industry=data["industry"])
        if data["year"]:
            qs = qs.filter(opened_at__year=data["year"])
        if data["q"]:
            qs = qs.filter(enterprise_named(data["q"]))
    return list_response(
        request, qs, CASES, template="cases/case_list.html", context={"form": form}, form=form,
        filename="cases.xlsx", title=str(_("Cases")),
    )  # fmt: skip


CASES = ListSpec(
    columns=(
        Column(
            "number",
            gettext_lazy("Case"),
            lambda c: c.number,
            sort="id",
            row=lambda r: case_number(r["opened_at"].year, r["id"]),
        ),
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda c: c.enterprise.name, path="enterprise__name"
        ),
        Column(
            "uscc", gettext_lazy("USCC"), lambda c: c.enterprise.uscc, on_page=False, path="enterprise__uscc"
        ),
        Column(
            "territory",
            gettext_lazy("Territory"),
            lambda c: c.territory.name,
            sort="territory__code",
            path="territory__name",
        ),
        Column("industry", gettext_lazy("Industry"), lambda c: c.industry.name, path="industry__name"),
        Column("line", gettext_lazy("Line"), lambda c: c.line.name if c.line else "", path="line__name"),
        Column(
            "dimension",
            gettext_lazy("Dimension"),
            lambda c: c.get_dimension_display(),
            sort="dimension",
            row=choice_of(Case, "dimension"),
        ),
        Column(
            "state",
            gettext_lazy("State"),
            lambda c: c.get_state_display(),
            sort="state",
            row=choice_of(Case, "state"),
        ),
        Column("deadline", gettext_lazy("Deadline"), lambda c: c.deadline, sort="deadline", path="deadline"),
        Column("opened", gettext_lazy("Opened"), lambda c: c.opened_at, on_page=False, path="opened_at"),
    ),
    reads=("id", "dimension", "state"),
)


# Steps not opened first on the page: a request nobody made, or closing a proposal without a decision.
NOT_OPENED_FIRST = frozenset({Action.GRANT_EXTENSION.value, Action.DISMISS.value})


@allow(*CASE_VIEWERS)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, pk)


def _case_page(
    request: HttpRequest, pk: int, bound: tuple[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The case page; `bound` (action, form) shows a refused step's form again, as the officer filled it
    in, opened, with its errors."""
    person = _person(request)
    case = get_object_or_404(
        scope.cases(person).select_related(
            "enterprise", "line", "territory", "industry", "finding__inspection"
        ),
        pk=pk,
    )
    names = actions_for(person, case)
    action_forms = steps.forms_for(case, names, timezone.localdate())
    if bound is not None and bound[0] in action_forms:
        action_forms[bound[0]] = bound[1]
        open_action = bound[0]
    else:
        open_action = next((n for n in names if n not in NOT_OPENED_FIRST), "")
    rule = actions.rule_of(case)
    extension_step = case_flow.step(case.dimension, Action.GRANT_EXTENSION)
    context = {
        "case": case,
        "rule": rule,
        "today": timezone.localdate(),
        "events": case.events.select_related("actor__person").order_by(*documents.HISTORY_ORDER),
        "measures": case.measures.prefetch_related("evidence"),
        "evidence": case.evidence.all(),
        "reinspections": case.reinspections.all(),
        "action_forms": action_forms,
        "open_action": open_action,
        "decisions": case.decisions.all(),
        "may_complete_measures": may(person, "complete_measure", case),
        "may_add_evidence": may(person, "add_evidence", case),
        "measure_form": f.MeasureDoneForm(initial={"version": case.version, "done_on": timezone.localdate()}),
        "measures_form": f.MeasuresDoneForm(
            initial={"version": case.version, "done_on": timezone.localdate()},
            open_measures=[m for m in case.measures.all() if not m.done_on],
        ),
        "evidence_form": f.EvidenceForm(),
        "extension_requests": case.extension_requests.select_related("requested_by__person"),
        "extension_request_form": (
            f.ExtensionRequestForm(initial={"version": case.version})
            if person.role == Role.ENTERPRISE
            and extension_step is not None
            and State(case.state) in extension_step.sources
            and not case.extension_months
            and not case.extension_requests.filter(status=ExtensionRequest.Status.PENDING).exists()
            else None
        ),
        "extension_decision_form": (
            f.ExtensionDecisionForm(
                initial={"issued_on": timezone.localdate(), "served_on": timezone.localdate()}
            )
            if may(person, Action.GRANT_EXTENSION, case)
            else None
        ),
        "labels": actions.ACTION_LABELS,
        "path_steps": {s.action.value: s for s in case_flow.steps_for(case.dimension)},
    }
    return render(request, "cases/case_detail.html", context, status=status)


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    person = _person(request)
    case = get_object_or_404(scope.cases(person), pk=pk)
    if not may(person, action, case):
        raise PermissionDenied  # not this role's action, or no such action
    # The action itself refuses a move from the wrong state, with a message that says why.
    spec = steps.STEPS.get(action)
    if spec is None:
        raise PermissionDenied
    form = spec.form(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _case_page(request, case.pk, bound=(action, form), status=400)
    data = form.cleaned_data
    try:
        result = spec.handler(case, _user(request), data, data["version"])
    except CaseActionError as exc:
        messages.error(request, exc.message)
        if isinstance(exc, StaleCase):
            return redirect("case-detail", case.pk)  # the page must show what the other officer did
        return _case_page(request, case.pk, bound=(action, form), status=400)
    new_case = getattr(result, "new_case", None)
    if new_case is not None:
        messages.warning(request, _("Production has resumed: a new case was opened, to be closed at once."))
        return redirect("case-detail", new_case.pk)
    messages.success(request, _("Done: %(action)s.") % {"action": spec.label})
    return redirect("case-detail", case.pk)


def _submit(
    request: HttpRequest, form: Any, do: Callable[[dict[str, Any]], object], done: str, case_id: int
) -> HttpResponse:
    """Run one action with a checked form; report a refusal or bad input in the person's language."""
    if form.is_valid():
        try:
            do(form.cleaned_data)
        except CaseActionError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, done)
    else:
        _errors(request, form)
    return redirect("case-detail", case_id)


@require_POST
@allow(Role.ENTERPRISE)
def extension_request(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(scope.cases(_person(request)), pk=pk)
    return _submit(
        request,
        f.ExtensionRequestForm(request.POST),
        lambda data: actions.request_extension(
            case=case,
            months=data["months"],
            reason=data["reason"],
            by=_user(request),
            expected_version=data["version"],
        ),
        _("Your extension request has been sent to the department."),
        case.pk,
    )


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT)
def extension_decide(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    application = get_object_or_404(
        ExtensionRequest.objects.filter(case__in=scope.cases(person)).select_related("case"), pk=pk
    )
    if not may(person, Action.GRANT_EXTENSION, application.case):
        raise PermissionDenied
    return _submit(
        request,
        f.ExtensionDecisionForm(request.POST),
        lambda data: actions.decide_extension(
            request=application,
            grant=data["grant"],
            note=data["note"],
            by=_user(request),
            issued_on=data["issued_on"],
            served_on=data["served_on"],
        ),
        _("Decision recorded."),
        application.case_id,
    )


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def measure_done(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    measure = get_object_or_404(ExitMeasure.objects.filter(case__in=scope.cases(person)), pk=pk)
    if not may(person, "complete_measure", measure.case):
        raise PermissionDenied
    return _submit(
        request,
        f.MeasureDoneForm(request.POST, request.FILES),
        lambda data: actions.complete_measure(
            measure=measure,
            by=_user(request),
            done_on=data["done_on"],
            note=data["note"],
            notice=data["notice"],
            files=data["attachments"],
            expected_version=data["version"],
        ),
        _("Recorded: %(measure)s.") % {"measure": measure.get_kind_display()},
        measure.case_id,
    )


def _labels(posted: list[str], chosen: dict[int, ExitMeasure]) -> list[str]:
    return [str(chosen[int(i)].get_kind_display()) for i in posted if i.isdigit() and int(i) in chosen]


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def measures_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Several exit measures recorded as done at once (one visit, one set of evidence)."""
    person = _person(request)
    case = get_object_or_404(scope.cases(person), pk=pk)
    if not may(person, "complete_measure", case):
        raise PermissionDenied
    open_measures = list(case.measures.filter(done_on__isnull=True))
    form = f.MeasuresDoneForm(request.POST, request.FILES, open_measures=open_measures)
    chosen = {m.pk: m for m in open_measures}
    return _submit(
        request,
        form,
        lambda data: actions.complete_measures(
            case=case,
            measures=[chosen[i] for i in data["measures"]],
            by=_user(request),
            done_on=data["done_on"],
            note=data["note"],
            notice=data["notice"],
            files=data["attachments"],
            expected_version=data["version"],
        ),
        _("Recorded: %(measure)s.")
        % {"measure": "、".join(_labels(request.POST.getlist("measures"), chosen))},
        case.pk,
    )


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE)
def case_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(scope.cases(_person(request)), pk=pk)
    return _submit(
        request,
        f.EvidenceForm(request.POST, request.FILES),
        lambda data: actions.add_case_evidence(
            case=case, files=data["attachments"], by=_user(request), description=data["description"]
        ),
        _("Evidence added."),
        case.pk,
    )


def _visible_evidence(person: Person) -> QuerySet[Evidence]:
    cases = scope.cases(person)
    return Evidence.objects.filter(
        Q(case__in=cases) | Q(measure__case__in=cases) | Q(inspection__in=scope.inspections(person))
    )


@allow(*CASE_VIEWERS)
@audited_export("export.evidence")
def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(_visible_evidence(_person(request)), pk=pk)
    response = FileResponse(
        open_stored(evidence.file),
        as_attachment=True,
        # the name made safe again: files kept before names were made safe at upload
        filename=safe_name(evidence.original_name, evidence.content_type),
        content_type=evidence.content_type,
    )
    return exported(response, evidence, file=evidence.original_name, sha256=evidence.sha256)


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
@audited_export("export.case_file_zip")
def case_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole case file as one .zip: a summary with every event in order, and every document."""
    case = get_object_or_404(scope.cases(_person(request)).select_related("enterprise", "finding"), pk=pk)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("案件卷宗.txt", _summary_text(case))
        manifest = []
        for number, decision in enumerate(case.decisions.all(), start=1):
            archive.writestr(
                f"000-决定文书/{number:02d}-{decision.content['title']}.docx", documents.docx_bytes(decision)
            )
        for index, (folder, evidence) in enumerate(documents.case_evidence(case), start=1):
            name = f"{index:03d}-{folder}/{safe_name(evidence.original_name, evidence.content_type)}"
            try:
                with evidence.file.open("rb") as fh:
                    archive.writestr(name, fh.read())
            except FileNotFoundError as exc:
                raise StoredFileUnavailable(_("A document of this case is missing from storage.")) from exc
            except DecryptionError as exc:
                altered = _("This file was altered in storage and cannot be opened.")
                raise StoredFileUnavailable(altered) from exc
            manifest.append(
                {"file": name, "sha256": evidence.sha256, "uploaded_at": evidence.uploaded_at.isoformat()}
            )
        events = [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor.get_username() if e.actor else "system",
                "reason": e.reason,
                "data": e.data,
            }
            for e in case.events.select_related("actor")
        ]
        archive.writestr("events.json", json.dumps(events, ensure_ascii=False, indent=1))
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    filename = f"case-{case.number}.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return exported(response, case, format="zip", files=len(manifest))


def _summary_text(case: Case) -> str:
    lines = [
        f"案件编号：{case.number}",
        f"企业：{case.enterprise.name}（{case.enterprise.uscc}）",
        f"生产线/设备：{case.line.name if case.line else '—'}",
        f"维度：{case.get_dimension_display()}",
        f"规则：{case.finding.rule_title if case.finding else case.rule_id}",
        f"依据：{case.finding.rule_source if case.finding else ''}",
        f"当前状态：{case.get_state_display()}",
        "",
        "办理经过：",
    ]
    for event in case.events.select_related("actor__person"):
        who = event.actor.person.display_name if event.actor and hasattr(event.actor, "person") else "系统"
        when = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M")
        state = CaseState(event.to_state).label
        lines.append(
            f"{when}  {who}  {EVENT_LABELS.get(event.action, event.action)} → {state}  {event.reason}"
        )
    if case.acceptance_record:
        lines += ["", f"验收组：{case.acceptance_team}", f"验收记录：{case.acceptance_record}"]
    return "\n".join(lines) + "\n"


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE)
@audited_export("export.decision_document")
def decision_document(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """A decision's formal document as issued, as .docx or PDF (the enterprise reads its own); under any
    other extension it is not found (the URL's converter refuses it first)."""
    if fmt not in ("docx", "pdf"):
        raise Http404
    decision = get_object_or_404(Decision.objects.filter(case__in=scope.cases(_person(request))), pk=pk)
    # 不可否认性: a document whose SM2 signature does not hold for what is on record is not given out.
    problem = signatures.check(decision)
    if problem is not None:
        actions.refuse_unverified_document(decision=decision, by=_user(request), problem=problem)
        messages.error(request, problem)
        return redirect("case-detail", decision.case_id)
    name = f"{decision.content['title']}-{decision.number}"
    if fmt == "pdf":
        try:
            body, content_type = documents.pdf_bytes(decision), "application/pdf"
        except FontMissing:
            messages.error(request, _("PDF output needs the font AR PL UMing, which is not installed here."))
            return redirect("case-detail", decision.case_id)
    else:
        body = documents.docx_bytes(decision)
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}.{fmt}"
    # 数据接收证据: the enterprise's first opening of a served decision is its signed receipt, recorded
    # with the download's entry (both, or neither and no file).
    user = _user(request)
    return exported(
        response,
        decision,
        then=lambda: actions.acknowledge_receipt(decision=decision, by=user),
        format="pdf" if fmt == "pdf" else "docx",
        number=decision.number,
    )


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
@audited_export("export.case_file_pdf")
def case_file_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The case file (卷宗) as one PDF: cover, contents, history, every document and all evidence."""
    case = get_object_or_404(scope.cases(_person(request)).select_related("enterprise", "territory"), pk=pk)
    try:
        body = documents.case_file_pdf(case, EVENT_LABELS)
    except FontMissing:
        messages.error(request, _("PDF output needs the font AR PL UMing, which is not installed here."))
        return redirect("case-detail", case.pk)
    except FileNotFoundError as exc:
        raise StoredFileUnavailable(_("A document of this case is missing from storage.")) from exc
    except DecryptionError as exc:
        raise StoredFileUnavailable(_("This file was altered in storage and cannot be opened.")) from exc
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.number}.pdf"'
    return exported(response, case, format="pdf")


@allow(Role.OFFICE, Role.DEPARTMENT)
def proposals(request: HttpRequest) -> HttpResponse:
    """拟处理: the findings of evaluations, inspections, signals and tip-offs awaiting a person's decision,
    in the dimensions this person's department enforces."""
    person = _person(request)
    qs = (
        scope.cases(person)
        .filter(state=CaseState.FINDING, dimension__in=person.dimensions)
        .select_related("enterprise", "territory", "industry", "line", "finding")
        .order_by("id")
    )
    return render(request, "cases/proposals.html", _page(request, qs))


@allow(*CASE_VIEWERS)
def paths_help(request: HttpRequest) -> HttpResponse:
    """The legal path of each dimension, for officials: read from the same table the actions keep."""
    roles = dict(Role.choices)
    actor_labels = {**roles, "system": _("the platform (deadline sweep)")}
    paths = []
    for dimension in case_flow.Dimension:
        rows = []
        for step in case_flow.steps_for(dimension):
            rows.append(
                {
                    "label": actions.ACTION_LABELS[step.action],
                    "sources": "、".join(str(CaseState(s).label) for s in sorted(step.sources)),
                    "target": CaseState(step.target).label if step.target else "—",
                    "roles": "、".join(str(actor_labels.get(r, r)) for r in sorted(step.roles)),
                    "step": step,
                }
            )
        paths.append({"code": dimension.value, "dimension": Dimension(dimension.value).label, "rows": rows})
    return render(request, "cases/paths.html", {"paths": paths})
