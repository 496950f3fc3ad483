from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export
from phaseout.orgs.access import ALL_STAFF_ROLES, READ_ACROSS_PROVINCE, allow
from phaseout.orgs.models import Role
from phaseout.orgs.scope import territories
from phaseout.registry import actions, scope
from phaseout.registry.actions import territories_allowed
from phaseout.registry.facts import line_facts
from phaseout.registry.forms import (
    EnterpriseFilterForm,
    EnterpriseForm,
    LicenceForm,
    LineForm,
    MeasurementForm,
    RegisterUploadForm,
)
from phaseout.registry.models import (
    Enterprise,
    EquipmentType,
    ImportBatch,
    Licence,
    LineStatus,
    ProductionLine,
)
from phaseout.rules.engine import FactsError, Status, evaluate
from phaseout.rules.rulebook import library
from phaseout.web import current_person, current_user, form_errors
from phaseout.web.lists import Column, ListSpec, choice_of, label_of, list_response

ENTERPRISE_VIEWERS = (*ALL_STAFF_ROLES, Role.ENTERPRISE)


ENTERPRISES = ListSpec(
    columns=(
        Column("uscc", gettext_lazy("USCC"), lambda e: e.uscc, sort="uscc", path="uscc"),
        Column("name", gettext_lazy("Enterprise name"), lambda e: e.name, sort="name", path="name"),
        Column(
            "territory", gettext_lazy("Territory"), lambda e: e.territory.name, sort="territory__code",
            path="territory__name",
        ),
        Column(
            "industry", gettext_lazy("Industry"), lambda e: e.industry.name, sort="industry__code",
            path="industry__name",
        ),
        Column("address", gettext_lazy("Address"), lambda e: e.address, path="address"),
        Column(
            "contact", gettext_lazy("contact person"), lambda e: e.contact_name, on_page=False,
            path="contact_name",
        ),
        Column(
            "phone", gettext_lazy("contact phone"), lambda e: e.contact_phone, on_page=False,
            path="contact_phone",
        ),
    )
)  # fmt: skip


@allow(*READ_ACROSS_PROVINCE)
@audited_export("export.enterprises")
def enterprise_list(request: HttpRequest) -> HttpResponseBase:
    person = current_person(request)
    form = EnterpriseFilterForm(request.GET or None)
    cast(ModelChoiceField, form.fields["territory"]).queryset = territories(person)
    qs = scope.enterprises(person).select_related("territory", "industry")
    if form.is_valid():
        data = form.cleaned_data
        q = (data["q"] or "").strip().upper()
        if q:
            if len(q) >= 6 and q.isalnum() and not any("\u4e00" <= ch <= "\u9fff" for ch in q):
                qs = qs.filter(uscc__startswith=q)
            else:
                qs = qs.filter(name__contains=data["q"].strip())
        if data["territory"]:
            qs = qs.filter(territory=data["territory"])
        if data["industry"]:
            qs = qs.filter(industry=data["industry"])
    return list_response(
        request, qs, ENTERPRISES, template="registry/enterprise_list.html", context={"form": form}, form=form,
        filename="enterprises.xlsx", title=str(_("Enterprise registry")),
    )  # fmt: skip


class LineFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", "—"), *LineStatus.choices], required=False
    )
    equipment_type = forms.ChoiceField(
        label=gettext_lazy("equipment type"), choices=[("", "—"), *EquipmentType.choices], required=False
    )
    q = forms.CharField(label=gettext_lazy("Enterprise or line"), max_length=60, required=False)


_capacity_unit = label_of(ProductionLine, "capacity_unit")
_capacity_unit_of_row = choice_of(ProductionLine, "capacity_unit")
LINES = ListSpec(
    columns=(
        Column(
            "enterprise", gettext_lazy("Enterprise name"), lambda x: x.enterprise.name,
            path="enterprise__name",
        ),
        Column(
            "uscc", gettext_lazy("USCC"), lambda x: x.enterprise.uscc, on_page=False, path="enterprise__uscc"
        ),
        Column(
            "territory", gettext_lazy("Territory"), lambda x: x.enterprise.territory.name,
            sort="enterprise__territory__code", path="enterprise__territory__name",
        ),
        Column("name", gettext_lazy("line or equipment name"), lambda x: x.name, sort="name", path="name"),
        Column(
            "type", gettext_lazy("equipment type"), label_of(ProductionLine, "equipment_type"),
            sort="equipment_type", row=choice_of(ProductionLine, "equipment_type"),
        ),
        Column(
            "size", gettext_lazy("Size"), lambda x: f"{x.size_value or ''} {x.size_unit}".strip(),
            row=lambda r: f"{r['size_value'] or ''} {r['size_unit']}".strip(),
        ),
        Column(
            "capacity", gettext_lazy("capacity"), lambda x: f"{x.capacity} {_capacity_unit(x)}",
            row=lambda r: f"{r['capacity']} {_capacity_unit_of_row(r)}",
        ),
        Column(
            "status", gettext_lazy("Status"), label_of(ProductionLine, "status"), sort="status",
            row=choice_of(ProductionLine, "status"),
        ),
        Column(
            "exited", gettext_lazy("exited on"), lambda x: x.exited_on, sort="exited_on", path="exited_on"
        ),
    ),
    reads=("equipment_type", "size_value", "size_unit", "capacity", "capacity_unit", "status"),
)  # fmt: skip


@allow(*ALL_STAFF_ROLES)
@audited_export("export.lines")
def line_list(request: HttpRequest) -> HttpResponseBase:
    """Every production line and piece of main equipment in the person's scope."""
    form = LineFilterForm(request.GET or None)
    # The enterprise's contact (encrypted at rest) is neither shown nor exported: not read, not decrypted.
    qs = (
        scope.lines(current_person(request))
        .select_related("enterprise__territory")
        .defer("enterprise__contact_name", "enterprise__contact_phone")
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            qs = qs.filter(status=data["status"])
        if data["equipment_type"]:
            qs = qs.filter(equipment_type=data["equipment_type"])
        q = (data["q"] or "").strip()
        if q:
            qs = qs.filter(Q(enterprise__name__contains=q) | Q(name__contains=q))
    return list_response(
        request, qs, LINES, template="registry/line_list.html", context={"form": form}, form=form,
        filename="lines.xlsx", title=str(_("Production lines")),
    )  # fmt: skip


@allow(*ALL_STAFF_ROLES)
def enterprise_create(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = EnterpriseForm(request.POST or None, territories=territories(person))
    if request.method == "POST" and form.is_valid():
        enterprise = actions.create_enterprise(data=form.cleaned_data, by=current_user(request))
        messages.success(request, _("Enterprise registered."))
        return redirect("enterprise-detail", enterprise.pk)
    return render(request, "registry/enterprise_form.html", {"form": form})


@allow(*ALL_STAFF_ROLES)
def enterprise_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    enterprise = get_object_or_404(scope.enterprises(person), pk=pk)
    form = EnterpriseForm(request.POST or None, instance=enterprise, territories=territories(person))
    if request.method == "POST" and form.is_valid():
        fresh = Enterprise.objects.get(pk=pk)
        actions.update_enterprise(enterprise=fresh, data=form.cleaned_data, by=current_user(request))
        messages.success(request, _("Saved."))
        return redirect("enterprise-detail", pk)
    return render(request, "registry/enterprise_form.html", {"form": form, "enterprise": enterprise})


def _edit_part(
    request: HttpRequest,
    enterprise_id: int,
    pk: int | None,
    model: type[ProductionLine] | type[Licence],
    form_class: type[LineForm] | type[LicenceForm],
    template: str,
    saved: str,
) -> HttpResponse:
    """Create or edit a production line or a licence of an enterprise in the person's scope."""
    enterprise = get_object_or_404(scope.enterprises(current_person(request)), pk=enterprise_id)
    part = get_object_or_404(model, pk=pk, enterprise=enterprise) if pk else model(enterprise=enterprise)
    form = form_class(request.POST or None, instance=part)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_enterprise_part(part=form.save(commit=False), by=current_user(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, saved)
            return redirect("enterprise-detail", enterprise.pk)
    return render(request, template, {"form": form, "enterprise": enterprise, "part": part})


@allow(*ALL_STAFF_ROLES)
def line_edit(request: HttpRequest, enterprise_id: int, pk: int | None = None) -> HttpResponse:
    return _edit_part(
        request,
        enterprise_id,
        pk,
        ProductionLine,
        LineForm,
        "registry/line_form.html",
        _("Production line saved."),
    )


@allow(*ALL_STAFF_ROLES)
def licence_edit(request: HttpRequest, enterprise_id: int, pk: int | None = None) -> HttpResponse:
    return _edit_part(
        request, enterprise_id, pk, Licence, LicenceForm, "registry/licence_form.html", _("Licence saved.")
    )


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = RegisterUploadForm(
        request.POST or None,
        request.FILES or None,
        territories_allowed=territories_allowed(current_person(request)),
    )
    if request.method == "POST":
        if form.is_valid():
            batch = actions.preview_import(
                upload=form.cleaned_data["file"],
                register=form.register,
                by=current_user(request),
            )
            return redirect("import-detail", batch.pk)
        form_errors(request, form)
    batches = scope.import_batches(current_person(request)).select_related("uploaded_by__person")[:10]
    return render(request, "registry/import_upload.html", {"form": form, "batches": batches})


def _batch(request: HttpRequest, pk: int) -> ImportBatch:
    """A register import of the viewer's unit (another unit's is not found: 404, as for any record out
    of scope)."""
    return get_object_or_404(scope.import_batches(current_person(request)), pk=pk)


@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    if request.htmx and batch.status == ImportBatch.Status.PREVIEW:  # type: ignore[attr-defined]
        # The check off the request has finished: the whole page (rows, problems, accept) is shown.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    template = "registry/_import_progress.html" if request.htmx else "registry/import_detail.html"  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "batch": batch,
        "errors": batch.errors[:1000],
        "more_errors": max(0, len(batch.errors) - 1000),
    }
    return render(request, template, context)


@require_POST
@allow(Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)
def import_accept(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    if batch.status != ImportBatch.Status.PREVIEW:
        messages.error(request, _("This file has already been imported."))
    elif not batch.valid_rows:
        messages.error(request, _("The file has no valid rows to import."))
    else:
        actions.accept_import(batch=batch, by=current_user(request))
    return redirect("import-detail", batch.pk)


@allow(*ENTERPRISE_VIEWERS)
def line_detail(request: HttpRequest, enterprise_id: int, pk: int) -> HttpResponse:
    """A line's facts, its measured values, and what the standards say about it today."""
    person = current_person(request)
    enterprise = get_object_or_404(scope.enterprises(person), pk=enterprise_id)
    line = get_object_or_404(
        ProductionLine.objects.select_related("enterprise"), pk=pk, enterprise=enterprise
    )
    may_measure = person.role in ALL_STAFF_ROLES
    form = MeasurementForm(request.POST or None) if may_measure else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                actions.record_measurement(line=line, by=current_user(request), **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Measured value recorded."))
                return redirect("line-detail", enterprise.pk, line.pk)
    today = timezone.localdate()
    measurements = list(line.measurements.select_related("recorded_by__person"))
    current = [m for m in measurements if m.measured_on <= today]
    lib = library()
    try:
        outcomes = evaluate(lib, line_facts(line, current), today)
        problem = ""
    except FactsError as exc:
        outcomes, problem = [], str(exc)
    vocabulary = lib.vocabulary
    shown = []
    for code, value in (line.attributes or {}).items():
        known = vocabulary.attributes.get(code)
        if code == "product":
            shown.append((_("Product"), vocabulary.products.get(str(value), value)))
        elif known:
            shown.append((known.name, known.categories.get(str(value), f"{value} {known.unit}".strip())))
    return render(
        request,
        "registry/line_detail.html",
        {
            "enterprise": enterprise,
            "line": line,
            "attributes": shown,
            "process": vocabulary.processes.get(line.process, line.process),
            "measurements": measurements,
            "names": {code: i.name for code, i in vocabulary.measurements.items()},
            "breaches": [o for o in outcomes if o.status is Status.BREACH],
            "others": [o for o in outcomes if o.status is not Status.BREACH],
            "problem": problem,
            "form": form,
            "may_edit": may_measure,
            "today": today,
        },
    )
