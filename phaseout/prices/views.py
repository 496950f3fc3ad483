from __future__ import annotations

import datetime as dt
import io

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from phaseout import exports
from phaseout.audit.exports import audited_export, exported
from phaseout.cases import scope
from phaseout.orgs.access import allow
from phaseout.orgs.models import Role
from phaseout.prices.actions import enter_rate
from phaseout.prices.forms import PriceRateForm
from phaseout.prices.measures import Row, price_rows
from phaseout.prices.models import PriceRate
from phaseout.rules.prices import Utility
from phaseout.web import current_person, current_user

READERS = (Role.OFFICE, Role.DEPARTMENT)
KIND_LABELS = dict(PriceRate.Kind.choices)


def _rows(request: HttpRequest) -> list[Row]:
    return price_rows(scope.cases(current_person(request)))


def _on(request: HttpRequest) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET.get("on", ""))
    except ValueError:
        return None


@allow(*READERS)
def price_measures(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = PriceRateForm(request.POST or None) if person.role == Role.OFFICE else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            enter_rate(rate=form.save(commit=False), by=current_user(request))
            messages.success(request, _("The rate has been entered."))
            return redirect("price-measures")
    on = _on(request)
    rows = _rows(request)
    if on:
        rows = [row for row in rows if row.active_on(on)]
    return render(
        request,
        "prices/measures.html",
        {
            "rows": rows,
            "on": on,
            "rates": PriceRate.objects.select_related("industry", "entered_by__person"),
            "form": form,
            "kinds": KIND_LABELS,
            "today": timezone.localdate(),
        },
    )


@allow(*READERS)
@audited_export("export.prices")
def price_export(request: HttpRequest, utility: str) -> HttpResponse:
    try:
        wanted = Utility(utility)
    except ValueError:
        raise Http404 from None
    on = _on(request)
    rows = [
        row for row in _rows(request) if row.measure.utility is wanted and (on is None or row.active_on(on))
    ]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Power utility") if wanted is Utility.POWER else _("Water utility")
    sheet.append([_("Price measures for the %(utility)s") % {"utility": sheet.title}])
    sheet.append(
        [
            _(
                "Rates marked unconfirmed are not confirmed by any source and must be checked against the "
                "official text before they are applied; rates marked office-entered were entered by the "
                "office, citing the source shown."
            )
        ]
    )
    header = [
        _("Enterprise"),
        _("USCC"),
        _("Territory"),
        _("Line"),
        _("Measure"),
        _("Rate"),
        _("Basis"),
        _("Legal basis of the finding"),
        _("From"),
        _("Until"),
        _("Ends because"),
        _("Case"),
        _("Source of the rate"),
        _("Verification"),
    ]
    sheet.append(header)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    ends = {"closed_compliant": _("closed, compliant"), "exited": _("capacity exited"), "": ""}
    for row in rows:
        rate = row.measure.rate
        status = _("rate not yet entered by the office")
        if rate is not None:
            status = {
                "official": _("checked against the official text"),
                "secondary": _("secondary source"),
                "unconfirmed": _("unconfirmed"),
            }[rate.verification.value]
            if rate.entered_by_office:
                status = _("office-entered") + "；" + status
        if row.rule and row.rule.uses_unconfirmed:
            status += "；" + _("the rule's values are unconfirmed")
        case = row.case
        sheet.append(
            [
                exports.cell(case.enterprise.name),  # text typed by people: formula-safe
                case.enterprise.uscc,
                case.territory.name,
                exports.cell(case.line.name if case.line else ""),
                str(KIND_LABELS[row.measure.kind.value]),
                row.measure.rate_text or _("rate not yet entered by the office"),
                row.measure.basis,
                case.finding.rule_source if case.finding else "",
                row.measure.start,
                row.measure.end,
                str(ends[row.measure.end_reason]),
                case.number,
                exports.cell(rate.source if rate else ""),
                status,
            ]
        )
    for column, width in zip(
        "ABCDEFGHIJKLMN", (28, 20, 10, 14, 16, 30, 20, 40, 12, 12, 12, 12, 50, 30), strict=True
    ):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    name = f"price-measures-{wanted.value}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return exported(
        response, format="xlsx", utility=wanted.value, on=on.isoformat() if on else None, rows=len(rows)
    )
