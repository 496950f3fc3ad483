"""Pages of the report up the chain: the city office's year summaries (draw up, approval, hand-up, the
exchange file) and the provincial office's view of its cities (progress, review, the exchange file in)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.base import ContentFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export, exported
from phaseout.orgs.access import allow
from phaseout.orgs.models import Role, Territory
from phaseout.orgs.scope import city_code, unit_territory
from phaseout.plans import scope as plan_scope
from phaseout.plans.forms import GovernmentApprovalForm
from phaseout.plans.handin import HandInRefused, check
from phaseout.plans.models import Plan, Submission
from phaseout.province import actions, duties, exchange, keys, progress, scope
from phaseout.province.models import CityKey, SummaryOverdue, YearSummary
from phaseout.rules.approvals import OFFICE, PROVINCE, summary_steps_from
from phaseout.web import current_person, current_user, form_errors, paginate
from phaseout.web.forms import confirmation

SUMMARY_READERS = (Role.OFFICE, Role.PROVINCE)


class DrawUpForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=2000, max_value=2100)
    document = forms.FileField(
        label=gettext_lazy("The summary document (PDF, .docx, .xlsx or OFD)"), required=False
    )


class ApproveSummaryForm(GovernmentApprovalForm):
    confirm = confirmation(
        gettext_lazy(
            "I confirm: the city government approved this year summary by the document above; its figures "
            "are fixed and it may be handed up to the province. This cannot be undone."
        )
    )


class HandUpForm(forms.Form):
    confirm = confirmation(
        gettext_lazy(
            "I confirm: the approved year summary and its figures go to the provincial office, which accepts "
            "or returns it. It cannot be changed while the province holds it."
        )
    )


class ReviewForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (required when returning)"),
        widget=forms.Textarea,
        required=False,
        max_length=2000,
    )
    confirm = confirmation(
        gettext_lazy("I confirm my decision on this year summary; the city's office is told at once.")
    )


class DutiesForm(forms.Form):
    plan = forms.ModelChoiceField(label=gettext_lazy("Provincial plan"), queryset=Plan.objects.none())

    def __init__(self, *args: Any, plans: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans  # type: ignore[attr-defined]


class ExchangeUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Exchange file (.json)"))


@allow(Role.OFFICE)
def summary_list(request: HttpRequest) -> HttpResponse:
    """The city office's year summaries, and the form to draw up one from the records."""
    person = current_person(request)
    form = DrawUpForm(initial={"year": timezone.localdate().year})
    city = city_code(person) or ""
    return render(
        request,
        "province/summary_list.html",
        {
            "form": form,
            **paginate(request, scope.summaries(person).select_related("city")),
            "own_key": exchange.own_key(city) if city else None,
            "overdue": SummaryOverdue.objects.filter(city=city).order_by("-year")[:10],
        },
    )


@require_POST
@allow(Role.OFFICE)
def summary_draw_up(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = DrawUpForm(request.POST, request.FILES)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("summary-list")
    city = get_object_or_404(Territory, code=city_code(person))
    upload = form.cleaned_data["document"]
    document = None
    if upload is not None:
        name = (upload.name or "").rsplit("/", 1)[-1]
        try:
            checked = check(upload, name=name, size=upload.size or 0, kind=Submission.Kind.SUMMARY)
        except HandInRefused as exc:
            messages.error(request, str(exc))
            return redirect("summary-list")
        upload.seek(0)
        stem = name.rsplit(".", 1)[0] or "summary"
        document = ContentFile(upload.read(), name=f"{stem}.{checked.extension}")
    try:
        summary = actions.draw_up_summary(
            city=city, year=form.cleaned_data["year"], document=document, by=current_user(request)
        )
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
        return redirect("summary-list")
    messages.success(request, _("The year summary was drawn up from the records."))
    return redirect("summary-detail", summary.pk)


@allow(*SUMMARY_READERS)
def summary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    summary = get_object_or_404(scope.summaries(person).select_related("city"), pk=pk)
    role = OFFICE if person.role == Role.OFFICE else PROVINCE
    steps = {s.value for s in summary_steps_from(summary.state, role)}
    context: dict[str, Any] = {
        "summary": summary,
        "figures": summary.figures,
        "events": summary.events.select_related("by__person"),
        "approve_form": ApproveSummaryForm(initial={"approved_on": timezone.localdate()})
        if "approve" in steps
        else None,
        "hand_up_form": HandUpForm() if "hand_up" in steps else None,
        "review_form": ReviewForm() if "accept" in steps else None,
        "may_redraw": role == OFFICE
        and summary.state in (YearSummary.State.DRAFT, YearSummary.State.RETURNED),
        "may_export": role == OFFICE and summary.state in exchange.EXPORTABLE,
    }
    return render(request, "province/summary_detail.html", context)


@require_POST
@allow(Role.OFFICE)
def summary_approve(request: HttpRequest, pk: int) -> HttpResponse:
    summary = get_object_or_404(scope.summaries(current_person(request)), pk=pk)
    form = ApproveSummaryForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("summary-detail", pk)
    try:
        actions.approve_summary(
            summary=summary,
            body=form.cleaned_data["body"],
            doc_number=form.cleaned_data["doc_number"],
            approved_on=form.cleaned_data["approved_on"],
            by=current_user(request),
        )
        messages.success(request, _("The city government's approval is recorded."))
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
    return redirect("summary-detail", pk)


@require_POST
@allow(Role.OFFICE)
def summary_hand_up(request: HttpRequest, pk: int) -> HttpResponse:
    summary = get_object_or_404(scope.summaries(current_person(request)), pk=pk)
    form = HandUpForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("summary-detail", pk)
    try:
        actions.hand_up_summary(summary=summary, by=current_user(request))
        messages.success(request, _("The year summary was handed up to the province."))
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
    return redirect("summary-detail", pk)


@allow(Role.OFFICE)
@audited_export("export.year_summary")
def summary_export(request: HttpRequest, pk: int) -> HttpResponse:
    summary = get_object_or_404(scope.summaries(current_person(request)).select_related("city"), pk=pk)
    try:
        data, what = exchange.export_file(summary)
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
        return redirect("summary-detail", pk)
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="year-summary-{summary.city_id}-{summary.year}.json"'
    )
    return exported(response, summary, sha256=what["sha256"], key=what["key"])


@require_POST
@allow(Role.PROVINCE)
def summary_review(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    summary = get_object_or_404(scope.summaries(current_person(request)), pk=pk)
    if decision not in ("accept", "return"):
        return redirect("summary-detail", pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("summary-detail", pk)
    try:
        actions.review_summary(
            summary=summary,
            accept=decision == "accept",
            reason=form.cleaned_data["reason"],
            by=current_user(request),
        )
        messages.success(
            request,
            _("The year summary is accepted.")
            if decision == "accept"
            else _("The year summary was returned to the city."),
        )
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
    return redirect("summary-detail", pk)


@allow(Role.PROVINCE)
def province_progress(request: HttpRequest) -> HttpResponse:
    """Every city of the province: its plan and the plan's approval, what its units owe, its cases
    (districts rolled up into the city) and its year summary; the province's total above."""
    person = current_person(request)
    province = unit_territory(person)
    today = timezone.localdate()
    raw = request.GET.get("year", "")
    year = int(raw) if raw.isascii() and raw.isdigit() and 2000 <= int(raw) <= 2100 else today.year
    if province is None:
        return render(request, "province/progress.html", {"rows": [], "year": year})
    paged = paginate(request, progress.cities(province.code))
    return render(
        request,
        "province/progress.html",
        {
            **paged,
            "rows": progress.rows(paged["rows"], year, today),
            "total": progress.province_total(province.code, year, today),
            "province": province,
            "year": year,
            "provincial_plans": progress.provincial_plans(province.code, year),
            "upload_form": ExchangeUploadForm(),
        },
    )


@require_POST
@allow(Role.PROVINCE)
def exchange_import(request: HttpRequest) -> HttpResponse:
    form = ExchangeUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("province-progress")
    upload = form.cleaned_data["file"]
    if (upload.size or 0) > exchange.MAX_BYTES:  # refused before it is read
        messages.error(request, str(exchange.too_large()))
        return redirect("province-progress")
    try:
        summary = exchange.import_file(data=upload.read(exchange.MAX_BYTES + 1), by=current_user(request))
    except actions.SummaryError as exc:
        messages.error(request, str(exc))
        return redirect("province-progress")
    messages.success(request, _("The exchange file was verified and taken in."))
    return redirect("summary-detail", summary.pk)


# --- the register of the cities' signing keys ---------------------------------------------------------


class RegisterKeyForm(forms.Form):
    city = forms.ModelChoiceField(label=gettext_lazy("City"), queryset=Territory.objects.none())
    public_key = forms.CharField(
        label=gettext_lazy("Public signing key (SM2, hexadecimal, as in the city's letter)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=400,
    )
    letter = forms.CharField(label=gettext_lazy("Received with (letter or document number)"), max_length=100)
    confirm = confirmation(
        gettext_lazy(
            "I confirm: I compared this key with the city's letter; exchange files of the city are taken in "
            "only when signed with it."
        )
    )

    def __init__(self, *args: Any, province: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["city"].queryset = progress.cities(province)  # type: ignore[attr-defined]


class RetireKeyForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for retiring"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    confirm = confirmation(
        gettext_lazy(
            "I confirm: files signed with this key are refused from now on; the key stays in the register's "
            "history. This cannot be undone."
        )
    )


def _province_code(request: HttpRequest) -> str:
    territory = unit_territory(current_person(request))
    return territory.code if territory is not None else ""


@allow(Role.PROVINCE)
def city_keys(request: HttpRequest) -> HttpResponse:
    """Every city key of the province, current ones first, with each one's history."""
    province = _province_code(request)
    keys = (
        CityKey.objects.filter(city__parent=province)
        .select_related("city", "registered_by__person", "retired_by__person")
        .prefetch_related("events__by__person")
        .order_by("retired_at", "city", "-registered_at")
    )
    paged = paginate(request, keys)
    return render(
        request,
        "province/keys.html",
        {
            **paged,
            "form": RegisterKeyForm(province=province),
            "retire_forms": {k.pk: RetireKeyForm(prefix=f"k{k.pk}") for k in paged["rows"] if k.current},
        },
    )


@require_POST
@allow(Role.PROVINCE)
def city_key_register(request: HttpRequest) -> HttpResponse:
    form = RegisterKeyForm(request.POST, province=_province_code(request))
    if not form.is_valid():
        form_errors(request, form)
        return redirect("city-keys")
    try:
        keys.register_key(
            city=form.cleaned_data["city"],
            public_key=form.cleaned_data["public_key"],
            letter=form.cleaned_data["letter"],
            by=current_user(request),
        )
    except keys.KeyRefused as exc:
        messages.error(request, str(exc))
        return redirect("city-keys")
    messages.success(request, _("The city's signing key is registered."))
    return redirect("city-keys")


@require_POST
@allow(Role.PROVINCE)
def city_key_retire(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(CityKey, pk=pk, city__parent=_province_code(request))
    form = RetireKeyForm(request.POST, prefix=f"k{key.pk}")
    if not form.is_valid():
        form_errors(request, form)
        return redirect("city-keys")
    try:
        keys.retire_key(key=key, reason=form.cleaned_data["reason"], by=current_user(request))
    except keys.KeyRefused as exc:
        messages.error(request, str(exc))
        return redirect("city-keys")
    messages.success(request, _("The key is retired."))
    return redirect("city-keys")


@allow(Role.OFFICE, Role.PROVINCE)
def provincial_duties(request: HttpRequest) -> HttpResponse:
    """The cities' duties under the provincial plan (ADR 0030). The provincial office: per duty of the
    chosen plan, every city's hand-in and its status (handed in, late, missing), each opening the
    submission to accept or return it. A city's office: its own city's duties, to hand in against."""
    person = current_person(request)
    today = timezone.localdate()
    plans = (
        plan_scope.provincial_plans(person)
        .filter(status__in=Plan.CONFIRMED_STATES)
        .select_related("territory")
        .order_by("-year", "-id")
    )
    context: dict[str, Any] = {"today": today}
    status = 200
    if person.role == Role.PROVINCE:
        form = DutiesForm(request.GET or None, plans=plans)
        plan = None
        if request.GET:
            if form.is_valid():
                plan = form.cleaned_data["plan"]
            else:
                status = 400
        else:
            plan = plans.first()
            form = DutiesForm(initial={"plan": plan}, plans=plans)
        context.update(form=form, plan=plan, rows=duties.board(plan, today) if plan is not None else [])
    else:
        owed = plan_scope.owed_by_city(person).select_related("plan", "task").order_by("due_date", "id")
        context["owed"] = [(s, s.status_on(today)) for s in owed]
    return render(request, "province/duties.html", context, status=status)
