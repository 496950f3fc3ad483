from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from phaseout.cases.views import _person
from phaseout.orgs import scope
from phaseout.orgs.access import ALL_STAFF_ROLES, allow
from phaseout.orgs.models import Person, Role
from phaseout.registry.models import ProductionLine
from phaseout.reports import documents
from phaseout.reports.ledger import GROUPS, Row, aggregate, filtered, ledger

READERS = (*ALL_STAFF_ROLES, Role.AUDITOR)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GROUP_LABELS = {
    "year": _("Year"),
    "industry": _("Industry"),
    "territory": _("Territory"),
    "department": _("Department"),
    "dimension": _("Dimension"),
    "method": _("Exit method"),
}


def _rows(person: Person) -> list[Row]:
    rows = ledger(ProductionLine.objects.filter(enterprise__in=scope.enterprises(person)))
    if person.role == Role.DEPARTMENT:
        rows = [r for r in rows if r.dimension in person.dimensions or not r.dimension]
    return rows


def _params(request: HttpRequest) -> dict[str, str]:
    keys = (*GROUPS, "unit", "q")
    return {k: request.GET.get(k, "")[:60] for k in keys if request.GET.get(k)}


@allow(*READERS)
def exit_ledger(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    rows = filtered(_rows(_person(request)), params)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(documents.xlsx_bytes(rows), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="exit-ledger.xlsx"'
        return response
    return render(
        request,
        "reports/ledger.html",
        {"rows": rows, "params": params, "query": urlencode(params), "totals": aggregate(rows, "industry")},
    )


@allow(*READERS)
def aggregates(request: HttpRequest) -> HttpResponse:
    group = request.GET.get("group", "year")
    if group not in GROUPS:
        group = "year"
    rows = _rows(_person(request))
    table = []
    for item in aggregate(rows, group):
        link = urlencode({group: item["value"], "unit": item["unit"]})
        table.append({**item, "link": link})
    return render(
        request,
        "reports/aggregates.html",
        {"group": group, "groups": GROUP_LABELS, "table": table},
    )


class StageReportForm(forms.Form):
    doc_number = forms.CharField(label=_("Document number"), max_length=60, required=False)
    title = forms.CharField(label=_("Title"), max_length=120)
    recipient = forms.CharField(label=_("Main recipient"), max_length=120, required=False)
    start = forms.DateField(label=_("Exits from"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Exits until"), widget=forms.DateInput(attrs={"type": "date"}))
    narrative = forms.CharField(
        label=_("The officer's text"), widget=forms.Textarea(attrs={"rows": 8}), required=False
    )
    issuer = forms.CharField(label=_("Issuing body (signature)"), max_length=100)
    fmt = forms.ChoiceField(label=_("Format"), choices=[("docx", ".docx"), ("xlsx", ".xlsx")])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The period ends before it starts."))
        return data


@allow(*READERS)
def stage_report(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    today = timezone.localdate()
    unit = (
        person.department.name if person.department else (person.territory.name if person.territory else "")
    )
    form = StageReportForm(
        request.POST or None,
        initial={"start": dt.date(today.year, 1, 1), "end": today, "issuer": unit, "fmt": "docx"},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rows = [r for r in _rows(person) if r.exited_on and data["start"] <= r.exited_on <= data["end"]]
        if data["fmt"] == "xlsx":
            response = HttpResponse(documents.xlsx_bytes(rows), content_type=XLSX)
            response["Content-Disposition"] = 'attachment; filename="stage-report.xlsx"'
            return response
        report = documents.StageReport(
            doc_number=data["doc_number"],
            title=data["title"],
            recipient=data["recipient"],
            narrative=data["narrative"],
            issuer=data["issuer"],
            issued_on=today,
            rows=rows,
        )
        response = HttpResponse(
            documents.docx_bytes(report),
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
        response["Content-Disposition"] = 'attachment; filename="stage-report.docx"'
        return response
    return render(request, "reports/stage.html", {"form": form})
