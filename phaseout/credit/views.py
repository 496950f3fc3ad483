from __future__ import annotations

import io
import json

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from openpyxl import Workbook

from phaseout import exports
from phaseout.audit.exports import audited_export, exported
from phaseout.credit import actions, scope
from phaseout.credit.models import Acknowledgement, Referral
from phaseout.orgs.access import allow
from phaseout.orgs.models import Role
from phaseout.web import current_person, current_user
from phaseout.web.lists import Column, ListSpec, list_response

FIELDS = [
    ("enterprise_name", "失信主体名称"),
    ("uscc", "统一社会信用代码"),
    ("decision_number", "决定文书号"),
    ("legal_basis", "惩戒依据"),
    ("content", "惩戒内容"),
    ("deciding_body", "决定机关"),
    ("decided_on", "决定日期"),
    ("valid_from", "有效期起"),
    ("valid_until", "有效期止"),
    ("status", "状态"),
]


def _exchange(referral: Referral) -> dict[str, str]:
    """The fields the national credit information sharing platform exchanges."""
    return {
        "enterprise_name": referral.enterprise.name,
        "uscc": referral.enterprise.uscc,
        "decision_number": referral.decision_number,
        "legal_basis": referral.legal_basis,
        "content": referral.content,
        "deciding_body": referral.deciding_body,
        "decided_on": referral.decided_on.isoformat() if referral.decided_on else "",
        "valid_from": referral.valid_from.isoformat() if referral.valid_from else "",
        "valid_until": referral.valid_until.isoformat() if referral.valid_until else "",
        "status": referral.status,
    }


class ReferralFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", "—"), *Referral.Status.choices], required=False
    )
    q = forms.CharField(label=gettext_lazy("Enterprise name or USCC"), max_length=60, required=False)


def _decision(r: Referral) -> str:
    parts = [r.decision_number, r.deciding_body, r.decided_on.isoformat() if r.decided_on else ""]
    return " ".join(p for p in parts if p)


def _acknowledged(r: Referral) -> str:
    return "；".join(
        f"{a.measure.domain}：{'✓' if a.acknowledged_at else '—'}" for a in r.acknowledgements.all()
    )


REFERRALS = ListSpec(
    columns=(
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda r: r.enterprise.name, sort="enterprise__name"
        ),
        Column("uscc", gettext_lazy("USCC"), lambda r: r.enterprise.uscc, on_page=False),
        Column("reason", gettext_lazy("Reason"), lambda r: r.reason),
        Column("status", gettext_lazy("Status"), lambda r: r.get_status_display(), sort="status"),
        Column("decision", gettext_lazy("Decision"), _decision, sort="decided_on"),
        Column("acknowledged", gettext_lazy("Acknowledged"), _acknowledged),
        Column("basis", gettext_lazy("legal basis"), lambda r: r.legal_basis, on_page=False),
        Column("from", gettext_lazy("valid from"), lambda r: r.valid_from, on_page=False),
        Column("until", gettext_lazy("valid until"), lambda r: r.valid_until, on_page=False),
        Column("lifted", gettext_lazy("lifted on"), lambda r: r.lifted_on, on_page=False),
    ),
    default_order=("-id",),
)


@allow(Role.OFFICE, Role.DEPARTMENT)
@audited_export("export.credit_list")
def referrals(request: HttpRequest) -> HttpResponseBase:
    person = current_person(request)
    form = ReferralFilterForm(request.GET or None)
    rows = (
        scope.referrals(person)
        .select_related("enterprise", "case")
        .prefetch_related("acknowledgements__measure", "acknowledgements__department")
    )
    if form.is_valid():
        if form.cleaned_data["status"]:
            rows = rows.filter(status=form.cleaned_data["status"])
        q = (form.cleaned_data["q"] or "").strip()
        if q:
            rows = rows.filter(Q(enterprise__name__contains=q) | Q(enterprise__uscc=q.upper()))
    mine = (
        Acknowledgement.objects.filter(
            department=person.department_id,
            acknowledged_at__isnull=True,
            referral__status=Referral.Status.APPROVED,
        ).select_related("referral__enterprise", "measure")
        if person.role == Role.DEPARTMENT
        else []
    )
    exporting = request.GET.get("format") == "xlsx"  # the file holds the list only, not the blocks
    licences = (
        actions.licences_to_cancel(scope.licences(person))
        if person.role == Role.OFFICE and not exporting
        else []
    )
    return list_response(
        request, rows, REFERRALS, template="credit/referrals.html",
        context={"form": form, "mine": mine, "licences": licences}, form=form,
        filename="credit-sanctions.xlsx", title=str(_("Credit sanctions")),
    )  # fmt: skip


@require_POST
@allow(Role.OFFICE)
def referral_approve(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(scope.referrals(current_person(request)), pk=pk)
    try:
        actions.approve(
            referral=referral,
            decision_number=request.POST.get("decision_number", ""),
            deciding_body=request.POST.get("deciding_body", ""),
            content=request.POST.get("content", ""),
            by=current_user(request),
        )
        messages.success(request, _("Approved; the executing departments are asked to acknowledge."))
    except actions.CreditError as exc:
        messages.error(request, str(exc))
    return redirect("referrals")


@require_POST
@allow(Role.DEPARTMENT)
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    ack = get_object_or_404(Acknowledgement, pk=pk)
    try:
        assert person.department is not None
        actions.acknowledge(acknowledgement=ack, by=current_user(request), department=person.department)
        messages.success(request, _("Acknowledged."))
    except actions.CreditError as exc:
        messages.error(request, str(exc))
    return redirect("referrals")


@require_POST
@allow(Role.OFFICE)
def licence_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    licence = get_object_or_404(scope.licences(current_person(request)), pk=pk)
    try:
        actions.cancel_licence(
            licence=licence, by=current_user(request), reason=request.POST.get("reason", "")
        )
        messages.success(request, _("The licence is cancelled."))
    except actions.CreditError as exc:
        messages.error(request, str(exc))
    return redirect("referrals")


@allow(Role.OFFICE)
@audited_export("export.credit_referrals")
def referral_export(request: HttpRequest, fmt: str) -> HttpResponse:
    approved = (
        scope.referrals(current_person(request))
        .exclude(status=Referral.Status.PROPOSED)
        .select_related("enterprise")
    )
    data = [_exchange(r) for r in approved]
    if fmt == "json":
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False), content_type="application/json; charset=utf-8"
        )
        return exported(response, format="json", rows=len(data))
    if fmt != "xlsx":
        raise Http404
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([label for _key, label in FIELDS])
    for row in data:
        sheet.append(exports.row([row[key] for key, _label in FIELDS]))
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="credit-referrals.xlsx"'
    return exported(response, format="xlsx", rows=len(data))
