"""The data checks' pages: the queue of the environment department (and what the office and a district
see), each check with the averages behind it, confirmed or dismissed by a person."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export
from phaseout.monitoring import actions, scope
from phaseout.monitoring.models import CheckKind, CheckStatus, DataCheck, DismissalReason
from phaseout.orgs.access import allow
from phaseout.orgs.models import Role
from phaseout.rules.monitoring import POLLUTANTS
from phaseout.web import current_person, current_user, form_errors
from phaseout.web.forms import confirmation
from phaseout.web.lists import Column, ListSpec, list_response
from phaseout.widgets import DatePicker

CHECK_VIEWERS = (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT)


def pollutant_name(code: str) -> str:
    return POLLUTANTS[code].name if code in POLLUTANTS else code


class CheckFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", "—"), *CheckStatus.choices], required=False
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=[("", "—"), *CheckKind.choices], required=False
    )
    q = forms.CharField(label=gettext_lazy("Enterprise name, USCC or MN"), max_length=60, required=False)


def _period(c: DataCheck) -> str:
    start, end = timezone.localtime(c.period_start), timezone.localtime(c.period_end)
    return f"{start:%Y-%m-%d %H:%M} — {end:%Y-%m-%d %H:%M}"


def _value(c: DataCheck) -> str:
    if c.kind != CheckKind.EXCEEDANCE:
        return ""
    if c.averaging == "hours_share":
        return _("%(share)s %% of hours within %(limit)s") % {
            "share": c.peak,
            "limit": _figure(c.limit_value),
        }
    return f"{_figure(c.peak)} / {_figure(c.limit_value)}"


def _figure(value: Any) -> str:
    return "" if value is None else f"{value.normalize():f}"


CHECKS = ListSpec(
    columns=(
        Column(
            "enterprise", gettext_lazy("Enterprise"), lambda c: c.enterprise.name, sort="enterprise__name"
        ),
        Column("uscc", gettext_lazy("USCC"), lambda c: c.enterprise.uscc, on_page=False),
        Column("point", gettext_lazy("Monitoring point"), lambda c: f"{c.point.outlet_name} ({c.point.mn})"),
        Column("kind", gettext_lazy("Kind"), lambda c: c.get_kind_display(), sort="kind"),
        Column("pollutant", gettext_lazy("Pollutant"), lambda c: pollutant_name(c.pollutant)),
        Column("period", gettext_lazy("Period"), _period, sort="period_start"),
        Column("value", gettext_lazy("Highest value / limit"), _value),
        Column("status", gettext_lazy("Status"), lambda c: c.get_status_display(), sort="status"),
        Column("rule", gettext_lazy("Rule"), lambda c: c.rule_title, on_page=False),
        Column("decided_on", gettext_lazy("Decided on"), lambda c: c.decided_on, on_page=False),
    ),
    default_order=("-period_start", "-id"),
)


@allow(*CHECK_VIEWERS)
@audited_export("export.data_checks")
def check_list(request: HttpRequest) -> HttpResponseBase:
    person = current_person(request)
    form = CheckFilterForm(request.GET or None)
    rows = scope.data_checks(person).select_related("enterprise", "point")
    if form.is_valid():
        if form.cleaned_data["status"]:
            rows = rows.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["kind"]:
            rows = rows.filter(kind=form.cleaned_data["kind"])
        q = (form.cleaned_data["q"] or "").strip()
        if q:
            rows = rows.filter(
                Q(enterprise__name__contains=q) | Q(enterprise__uscc=q.upper()) | Q(point__mn=q)
            )
    return list_response(
        request, rows, CHECKS, template="monitoring/checks.html", context={"form": form}, form=form,
        filename="data-checks.xlsx", title=str(_("Data checks")),
    )  # fmt: skip


class ConfirmForm(forms.Form):
    decided_on = forms.DateField(label=gettext_lazy("Decided on"), widget=DatePicker())
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=actions.NOTES_MAX,
    )
    serious = forms.BooleanField(
        label=gettext_lazy("Serious (情节严重): put it on the serious over-emission list"), required=False
    )
    confirm = confirmation(
        gettext_lazy(
            "I confirm: the data shows a breach; an exceedance becomes a finding and a case of my department "
            "on the environment path."
        )
    )


class DismissForm(forms.Form):
    decided_on = forms.DateField(label=gettext_lazy("Decided on"), widget=DatePicker())
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=[("", "—"), *DismissalReason.choices])
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=actions.NOTES_MAX,
    )
    confirm = confirmation(gettext_lazy("I confirm: the data check is dismissed; nothing follows from it."))


@allow(*CHECK_VIEWERS)
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    check = get_object_or_404(
        scope.data_checks(person).select_related("enterprise", "point", "line", "finding__case"), pk=pk
    )
    may_decide = check.status == CheckStatus.OPEN and actions.check_refusal(person, check) is None
    today = timezone.localdate()
    context = {
        "check": check,
        "pollutant": pollutant_name(check.pollutant),
        "period": _period(check),
        "value": _value(check),
        "may_decide": may_decide,
        "confirm_form": ConfirmForm(initial={"decided_on": today}) if may_decide else None,
        "dismiss_form": DismissForm(initial={"decided_on": today}) if may_decide else None,
        "case": getattr(check.finding, "case", None) if check.finding_id else None,
    }
    return render(request, "monitoring/check_detail.html", context)


@require_POST
@allow(Role.DEPARTMENT)
def check_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in ("confirm", "dismiss"):
        raise Http404
    person = current_person(request)
    check = get_object_or_404(scope.data_checks(person), pk=pk)
    form_class = ConfirmForm if decision == "confirm" else DismissForm
    form = form_class(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("monitoring-check", pk=check.pk)
    data = form.cleaned_data
    try:
        if decision == "confirm":
            actions.confirm_check(check=check, by=current_user(request), decided_on=data["decided_on"],
                                  notes=data["notes"], serious=data["serious"])  # fmt: skip
            messages.success(request, _("Confirmed."))
        else:
            actions.dismiss_check(check=check, by=current_user(request), decided_on=data["decided_on"],
                                  reason=data["reason"], notes=data["notes"])  # fmt: skip
            messages.success(request, _("Dismissed."))
    except actions.MonitoringError as error:
        messages.error(request, str(error))
    return redirect("monitoring-check", pk=check.pk)
