from __future__ import annotations

import datetime as dt
import tempfile

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from phaseout import exports
from phaseout.audit.exports import audited_export, exported
from phaseout.cases import scope
from phaseout.orgs.access import allow
from phaseout.orgs.models import Role
from phaseout.prices.actions import enter_rate
from phaseout.prices.forms import PriceRateForm
from phaseout.prices.measures import priced_cases, rows_of, streamed
from phaseout.prices.models import PriceRate
from phaseout.rules.prices import Utility
from phaseout.web import current_person, current_user
from phaseout.web.lists import XLSX, Column, ListSpec, filters_of, list_response, xlsx_response

READERS = (Role.OFFICE, Role.DEPARTMENT)
KIND_LABELS = dict(PriceRate.Kind.choices)


class PriceFilterForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("In force on"), required=False)


PRICES = ListSpec(
    columns=[
        Column(
            "enterprise",
            gettext_lazy("Enterprise"),
            lambda r: r.case.enterprise.name,
            sort="enterprise__name",
        ),
        Column("uscc", gettext_lazy("USCC"), lambda r: r.case.enterprise.uscc, on_page=False),
        Column("territory", gettext_lazy("Territory"), lambda r: r.case.territory.name, on_page=False),
        Column(
            "line", gettext_lazy("Line"), lambda r: r.case.line.name if r.case.line else "", on_page=False
        ),
        Column("measure", gettext_lazy("Measure"), lambda r: KIND_LABELS[r.measure.kind.value]),
        Column(
            "rate",
            gettext_lazy("Rate"),
            lambda r: r.measure.rate_text or _("rate not yet entered by the office"),
        ),
        Column("basis", gettext_lazy("Basis"), lambda r: r.measure.basis),
        Column(
            "start", gettext_lazy("From"), lambda r: r.measure.start, sort="finding__inspection__inspected_on"
        ),
        Column("end", gettext_lazy("Until"), lambda r: r.measure.end),
        Column("case", gettext_lazy("Case"), lambda r: r.case.number, sort="id"),
    ],
    default_order=("id",),
)


def _on(request: HttpRequest) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET.get("on", ""))
    except ValueError:
        return None


@allow(*READERS)
@audited_export("export.prices")
def price_measures(request: HttpRequest) -> HttpResponseBase:
    """The price measures of the cases the person sees: the cases are filtered, counted and paged by
    the database, the measures computed for the page only; `?format=xlsx` streams every filtered
    measure (read a chunk of cases at a time)."""
    person = current_person(request)
    form = PriceRateForm(request.POST or None) if person.role == Role.OFFICE else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            enter_rate(rate=form.save(commit=False), by=current_user(request))
            messages.success(request, _("The rate has been entered."))
            return redirect("price-measures")
    filters = PriceFilterForm(request.GET if "on" in request.GET else None)
    on = filters.cleaned_data["on"] if filters.is_bound and filters.is_valid() else None
    qs = priced_cases(scope.cases(person), on)
    if request.GET.get("format") == "xlsx" and not (filters.is_bound and not filters.is_valid()):
        order, _current = PRICES.ordering(request)
        response, count = xlsx_response(
            streamed(qs.order_by(*order), on),
            PRICES,
            filename=f"price-measures-{timezone.localdate():%Y%m%d}.xlsx",
            title=str(_("Price measures")),
        )
        return exported(response, format="xlsx", filter=filters_of(request), rows=count)
    return list_response(
        request,
        qs,
        PRICES,
        template="prices/measures.html",
        context={
            "filters": filters,
            "on": on,
            "rates": PriceRate.objects.select_related("industry", "entered_by__person"),
            "form": form,
            "kinds": KIND_LABELS,
            "today": timezone.localdate(),
        },
        filename="price-measures.xlsx",
        title=str(_("Price measures")),
        rows=lambda cases: [row for row in rows_of(cases) if on is None or row.active_on(on)],
        form=filters,
    )


@allow(*READERS)
@audited_export("export.prices")
def price_export(request: HttpRequest, utility: str) -> HttpResponseBase:
    try:
        wanted = Utility(utility)
    except ValueError:
        raise Http404 from None
    on = _on(request)
    qs = priced_cases(scope.cases(current_person(request)), on).order_by("id")
    rows = (row for row in streamed(qs, on) if row.measure.utility is wanted)
    book = Workbook(write_only=True)
    title = _("Power utility") if wanted is Utility.POWER else _("Water utility")
    sheet = book.create_sheet(title)
    for column, width in zip(
        "ABCDEFGHIJKLMN", (28, 20, 10, 14, 16, 30, 20, 40, 12, 12, 12, 12, 50, 30), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.append([_("Price measures for the %(utility)s") % {"utility": title}])
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
    bold = []
    for text in header:
        heading = WriteOnlyCell(sheet, value=text)
        heading.font = Font(bold=True)
        bold.append(heading)
    sheet.append(bold)
    count = 0
    ends = {"closed_compliant": _("closed, compliant"), "exited": _("capacity exited"), "": ""}
    for row in rows:
        count += 1
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
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    book.save(handle)
    handle.seek(0)
    name = f"price-measures-{wanted.value}-{timezone.localdate():%Y%m%d}.xlsx"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX)
    return exported(
        response, format="xlsx", utility=wanted.value, on=on.isoformat() if on else None, rows=count
    )
