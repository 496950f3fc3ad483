"""Pages: the power-use import, electricity accounts, the induction-furnace register and the signals."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export
from phaseout.orgs.access import ALL_STAFF_ROLES, allow
from phaseout.orgs.models import Role
from phaseout.orgs.scope import territories, territory_codes
from phaseout.rules.furnaces import BASIS, PERMITTED_USES, judge_use
from phaseout.signals import actions, scope
from phaseout.signals.forms import (
    AccountForm,
    FurnaceFilterForm,
    FurnaceForm,
    PowerUploadForm,
    SignalDecisionForm,
    SignalFilterForm,
    VerifyForm,
)
from phaseout.signals.importer import PowerFileError
from phaseout.signals.models import Signal, SignalStatus
from phaseout.web import current_person, current_user, form_errors, paginate
from phaseout.web.lists import Column, ListSpec, list_response

POWER_ROLES = (Role.OFFICE, Role.DEPARTMENT)


def _scope_label(use: str) -> str:
    judgement = judge_use(use)
    text = _("Within the permitted scope") if judgement.permitted else _("Outside the permitted scope")
    return f"{text}（{_('partly confirmed')}）"


FURNACES = ListSpec(
    columns=[
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda f: f.enterprise.name, sort="enterprise__name"
        ),
        Column("territory", gettext_lazy("Territory"), lambda f: f.territory.name, sort="territory"),
        Column("name", gettext_lazy("Furnace"), lambda f: f.name, sort="name"),
        Column("kind", gettext_lazy("Furnace type"), lambda f: f.get_kind_display()),
        Column("capacity", gettext_lazy("Capacity (t)"), lambda f: f.capacity_t, sort="capacity_t"),
        Column(
            "kva",
            gettext_lazy("Transformer rating (kVA)"),
            lambda f: f.transformer_kva,
            sort="transformer_kva",
        ),
        Column("use", gettext_lazy("Use"), lambda f: f.get_use_display(), sort="use"),
        Column("scope", gettext_lazy("Permitted scope"), lambda f: _scope_label(f.use)),
        Column("status", gettext_lazy("Status"), lambda f: f.get_status_display()),
        Column(
            "account", gettext_lazy("Electricity account"), lambda f: f.account.number if f.account else ""
        ),
        Column("state", gettext_lazy("Register state"), lambda f: f.get_state_display(), sort="state"),
        Column("basis", gettext_lazy("Basis of the scope"), lambda f: BASIS, on_page=False),
    ],
)


# ── power-use data ──


@allow(*POWER_ROLES)
def power_import(request: HttpRequest) -> HttpResponse:
    """Upload and preview: the whole file checked and compared with what is stored, shown with every bad
    row; nothing is written until the person confirms (power_import_confirm)."""
    person = current_person(request)
    if not scope.may_import_power(person):
        raise PermissionDenied
    form = PowerUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                preview = actions.preview_power(
                    upload=upload, name=upload.name, by=current_user(request), today=timezone.localdate()
                )
            except (PowerFileError, actions.SignalsError) as exc:
                messages.error(request, str(exc))
            else:
                return render(
                    request,
                    "signals/power_import_preview.html",
                    {
                        "preview": preview,
                        "errors": preview.errors[:1000],
                        "more_errors": max(0, len(preview.errors) - 1000),
                        "more_rows": max(0, preview.new - len(preview.sample)),
                    },
                )
        else:
            form_errors(request, form)
    batches = scope.imports(person).select_related("uploaded_by__person")[:10]
    return render(request, "signals/power_import.html", {"form": form, "batches": batches})


@require_POST
@allow(*POWER_ROLES)
def power_import_confirm(request: HttpRequest) -> HttpResponse:
    if not scope.may_import_power(current_person(request)):
        raise PermissionDenied
    now = timezone.now()
    try:
        batch = actions.confirm_power(
            token=request.POST.get("token", "")[:2000],
            by=current_user(request),
            now=now,
            today=timezone.localdate(now),
        )
    except (PowerFileError, actions.SignalsError) as exc:
        messages.error(request, str(exc))
        return redirect("power-import")
    messages.success(
        request,
        _("%(created)d readings new, %(unchanged)d unchanged, %(errors)d rows with problems.")
        % {"created": batch.created_count, "unchanged": batch.unchanged_count, "errors": len(batch.errors)},
    )
    return redirect("power-import-detail", batch.pk)


@allow(*POWER_ROLES)
def power_import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(scope.imports(current_person(request)), pk=pk)
    return render(
        request,
        "signals/power_import_detail.html",
        {"batch": batch, "errors": batch.errors[:1000], "more_errors": max(0, len(batch.errors) - 1000)},
    )


@allow(*ALL_STAFF_ROLES)
def accounts(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    may_match = scope.may_import_power(person)
    form = AccountForm(request.POST or None, territory_codes=territory_codes(person)) if may_match else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                actions.match_account(
                    number=form.cleaned_data["number"],
                    enterprise=form.cleaned_data["enterprise"],
                    line=form.cleaned_data["line"],
                    by=current_user(request),
                    now=timezone.now(),
                )
            except actions.SignalsError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("The electricity account has been matched."))
                return redirect("power-accounts")
        else:
            form_errors(request, form)
    q = (request.GET.get("q") or "").strip()[:40]
    qs = scope.accounts(person).select_related("enterprise", "line", "territory")
    if q:
        qs = qs.filter(Q(number=q) | Q(enterprise__name__contains=q))
    page = paginate(request, qs.order_by("number", "pk"))
    return render(request, "signals/accounts.html", {"form": form, "q": q, **page})


# ── the induction-furnace register ──


@allow(*ALL_STAFF_ROLES)
@audited_export("export.furnaces")
def furnace_list(request: HttpRequest) -> HttpResponseBase:
    person = current_person(request)
    form = FurnaceFilterForm(request.GET or None, territories=territories(person))
    qs = scope.furnaces(person).select_related("enterprise", "territory", "account")
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["territory"]:
            qs = qs.filter(territory=data["territory"])
        if data["use"]:
            qs = qs.filter(use=data["use"])
        if data["within_scope"] == "yes":
            qs = qs.filter(use__in=[u.value for u in PERMITTED_USES])
        elif data["within_scope"] == "no":
            qs = qs.exclude(use__in=[u.value for u in PERMITTED_USES])
        if data["state"]:
            qs = qs.filter(state=data["state"])
        text = (data["q"] or "").strip()
        if text:
            qs = qs.filter(Q(enterprise__name__contains=text) | Q(name__contains=text))
    return list_response(
        request,
        qs,
        FURNACES,
        template="signals/furnace_list.html",
        context={"form": form, "may_register": scope.may_register_furnace(person), "basis": BASIS},
        filename="induction-furnaces.xlsx",
        title=str(_("Induction furnaces")),
        rows=lambda furnaces: [(f, judge_use(f.use)) for f in furnaces],
        form=form,
    )


def _furnace_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": data["line"],
        "name": data["name"],
        "kind": data["kind"],
        "capacity_t": data["capacity_t"],
        "transformer_kva": data["transformer_kva"],
        "use": data["use"],
        "status": data["status"],
        "account": data["account"],
    }


@allow(Role.DISTRICT)
def furnace_create(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = FurnaceForm(request.POST or None, territory_codes=territory_codes(person))
    if request.method == "POST":
        if form.is_valid():
            try:
                furnace = actions.register_furnace(
                    enterprise=form.cleaned_data["enterprise"],
                    by=current_user(request),
                    now=timezone.now(),
                    **_furnace_kwargs(form.cleaned_data),
                )
            except actions.SignalsError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("The furnace has been registered; the department verifies it."))
                return redirect("furnace-detail", furnace.pk)
        else:
            form_errors(request, form)
    return render(request, "signals/furnace_form.html", {"form": form, "furnace": None})


@allow(*ALL_STAFF_ROLES)
def furnace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    furnace = get_object_or_404(
        scope.furnaces(person).select_related("enterprise", "line", "territory", "account"), pk=pk
    )
    may_edit = scope.may_register_furnace(person)
    may_verify = scope.may_verify_furnace(person) and furnace.state == "registered"
    edit_form = None
    if may_edit:
        initial = {
            "uscc": furnace.enterprise.uscc,
            "line_name": furnace.line.name if furnace.line else "",
            "name": furnace.name,
            "kind": furnace.kind,
            "capacity_t": furnace.capacity_t,
            "transformer_kva": furnace.transformer_kva,
            "use": furnace.use,
            "status": furnace.status,
            "account_number": furnace.account.number if furnace.account else "",
        }
        edit_form = FurnaceForm(initial=initial, territory_codes=territory_codes(person))
        edit_form.fields["uscc"].disabled = True
    verify_form = VerifyForm(initial={"version": furnace.version}) if may_verify else None
    return render(
        request,
        "signals/furnace_detail.html",
        {
            "furnace": furnace,
            "judgement": judge_use(furnace.use),
            "basis": BASIS,
            "events": furnace.events.select_related("by__person"),
            "signals": furnace.signals.order_by("-id")[:20],
            "edit_form": edit_form,
            "verify_form": verify_form,
        },
    )


@require_POST
@allow(Role.DISTRICT)
def furnace_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    furnace = get_object_or_404(scope.furnaces(person), pk=pk)
    data = request.POST.copy()
    data["uscc"] = furnace.enterprise.uscc
    form = FurnaceForm(data, territory_codes=territory_codes(person))
    if form.is_valid():
        try:
            actions.update_furnace(
                furnace=furnace,
                by=current_user(request),
                now=timezone.now(),
                **_furnace_kwargs(form.cleaned_data),
            )
        except actions.SignalsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("The register entry has been changed; the department verifies it again.")
            )
    else:
        form_errors(request, form)
    return redirect("furnace-detail", furnace.pk)


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT)
def furnace_verify(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    furnace = get_object_or_404(scope.furnaces(person), pk=pk)
    if not scope.may_verify_furnace(person):
        raise PermissionDenied
    form = VerifyForm(request.POST)
    if form.is_valid():
        try:
            actions.verify_furnace(
                furnace=furnace,
                by=current_user(request),
                confirmed=form.cleaned_data["decision"] == "verify",
                note=form.cleaned_data["note"],
                now=timezone.now(),
                expected_version=form.cleaned_data["version"],
            )
        except actions.SignalsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The verification has been recorded."))
    else:
        form_errors(request, form)
    return redirect("furnace-detail", furnace.pk)


# ── signals ──


@allow(*ALL_STAFF_ROLES)
def signal_list(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = SignalFilterForm(request.GET or None)
    qs = scope.signals(person).select_related("enterprise", "line", "furnace", "territory")
    if form.is_bound and not form.is_valid():
        form_errors(request, form)
        qs = qs.none()
    elif form.is_bound:
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["kind"]:
            qs = qs.filter(kind=form.cleaned_data["kind"])
    page = paginate(request, qs.order_by("-id"))
    return render(request, "signals/signal_list.html", {"form": form, **page})


@allow(*ALL_STAFF_ROLES)
def signal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    signal = get_object_or_404(
        scope.signals(person).select_related(
            "enterprise", "line", "furnace", "territory", "decided_by__person"
        ),
        pk=pk,
    )
    may_decide = signal.status == SignalStatus.OPEN and scope.may_decide_signal(person, signal)
    form = SignalDecisionForm(request.POST or None) if may_decide else None
    if request.method == "POST":
        if form is None:
            if signal.status != SignalStatus.OPEN:
                messages.error(request, _("This signal has already been decided."))
                return redirect("signal-detail", signal.pk)
            raise PermissionDenied
        if form.is_valid():
            try:
                _decide(request, signal, form.cleaned_data)
            except actions.SignalsError as exc:
                messages.error(request, str(exc))
            else:
                return redirect("signal-detail", signal.pk)
        else:
            form_errors(request, form)
    return render(
        request,
        "signals/signal_detail.html",
        {
            "signal": signal,
            "form": form,
            "case": actions.exit_case_of(signal.line_id),
            "events": signal.events.select_related("by__person"),
            "evidence_rows": sorted(signal.evidence.items()),
        },
    )


def _decide(request: HttpRequest, signal: Signal, data: dict[str, Any]) -> None:
    now = timezone.now()
    if data["decision"] == "confirm":
        actions.confirm_signal(signal=signal, by=current_user(request), reason=data["reason"], now=now)
        messages.success(request, _("Confirmed: a re-inspection has been asked for."))
    else:
        actions.dismiss_signal(signal=signal, by=current_user(request), reason=data["reason"], now=now)
        messages.success(request, _("The signal has been dismissed."))
