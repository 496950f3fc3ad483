from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from phaseout.audit.exports import audited_export, exported
from phaseout.cases import scope as case_scope
from phaseout.cases.models import OPEN_STATES, Case, CaseState, CaseTally
from phaseout.complaints import scope as tipoff_scope
from phaseout.orgs import scope
from phaseout.orgs.access import ALL_STAFF_ROLES, READ_ACROSS_PROVINCE, allow
from phaseout.orgs.models import Person, Role
from phaseout.plans import scope as plan_scope
from phaseout.plans.models import Plan, Submission, TaskUnit
from phaseout.registry import scope as registry_scope
from phaseout.reports import documents, maps
from phaseout.reports.ledger import GROUPS, Paged, Row, Selection, aggregate, selection, totals
from phaseout.web import current_person, current_user, paginate
from phaseout.widgets import DatePicker

READERS = ALL_STAFF_ROLES
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GROUP_LABELS = {
    "year": _("Year"),
    "industry": _("Industry"),
    "territory": _("Territory"),
    "department": _("Department"),
    "dimension": _("Dimension"),
    "method": _("Exit method"),
}


def _selection(person: Person, params: dict[str, str] | None = None, **period: Any) -> Selection:
    """The ledger rows the person sees that the filter selects (a department: the lines exited by a
    case on one of its dimensions, and those without a case), as SQL."""
    dimensions = list(person.dimensions) if person.role == Role.DEPARTMENT else None
    territories = registry_scope.line_territories(person)
    return selection(
        registry_scope.lines(person), params, dimensions=dimensions, territories=territories, **period
    )


def _params(request: HttpRequest) -> dict[str, str]:
    keys = (*GROUPS, "unit", "q")
    return {k: request.GET.get(k, "")[:60] for k in keys if request.GET.get(k)}


@allow(*READ_ACROSS_PROVINCE)
@audited_export("export.exit_ledger")
def exit_ledger(request: HttpRequest) -> HttpResponseBase:
    params = _params(request)
    selected = _selection(current_person(request), params)
    if request.GET.get("format") == "xlsx":  # streamed from a temporary file, written a chunk at a time
        from django.http import FileResponse

        handle, count = documents.xlsx_file(selected)
        download = FileResponse(handle, as_attachment=True, filename="exit-ledger.xlsx", content_type=XLSX)
        return exported(download, format="xlsx", filter=params, rows=count)
    return render(
        request,
        "reports/ledger.html",
        {
            "params": params,
            "count": selected.count(),
            "totals": totals(selected, "industry"),
            **paginate(request, Paged(selected)),
        },
    )


@allow(*READ_ACROSS_PROVINCE)
def aggregates(request: HttpRequest) -> HttpResponse:
    group = request.GET.get("group", "year")
    if group not in GROUPS:
        group = "year"
    table = []
    for item in totals(_selection(current_person(request)), group):
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
    start = forms.DateField(label=_("Exits from"), widget=DatePicker())
    end = forms.DateField(label=_("Exits until"), widget=DatePicker())
    narrative = forms.CharField(
        label=_("The officer's text"), widget=forms.Textarea(attrs={"rows": 8}), required=False
    )
    issuer = forms.CharField(label=_("Issuing body (signature)"), max_length=100)
    fmt = forms.ChoiceField(label=_("Format"), choices=[("docx", ".docx"), ("pdf", "PDF"), ("xlsx", ".xlsx")])
    submission = forms.ModelChoiceField(
        label=_("For the plan's submission"),
        queryset=Submission.objects.none(),
        required=False,
        help_text=_("Choosing one fills in the period; tick below to hand the report in as that submission."),
    )
    hand_in = forms.BooleanField(
        label=_("Hand the report in as this submission, with its figures"), required=False
    )

    def __init__(self, *args: Any, submissions: QuerySet[Submission], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["submission"]
        field.queryset = submissions  # type: ignore[attr-defined]
        field.label_from_instance = lambda s: (  # type: ignore[attr-defined]
            f"{s.due_date:%Y-%m-%d} {s.get_kind_display()}：{s.unit_name}（{s.plan.title}）"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The period ends before it starts."))
        if data.get("hand_in"):
            if data.get("submission") is None:
                self.add_error("submission", _("Choose the submission to hand the report in as."))
            elif data.get("fmt") == "xlsx":
                self.add_error("fmt", _("A submission is handed in as a document: choose .docx or PDF."))
        return data


def _period(submission: Submission) -> tuple[dt.date, dt.date]:
    """The stage a submission reports on, within the plan's year (a summary due on 5 January
    reports on the year before): a year summary covers the year up to its due date; a report, the
    days after the same unit's previous report."""
    year = submission.plan.year
    end = min(submission.due_date, dt.date(year, 12, 31))
    previous = (
        Submission.objects.filter(
            plan=submission.plan,
            department=submission.department_id,
            territory=submission.territory_id,
            kind=Submission.Kind.REPORT,
            due_date__lt=end,
            due_date__year=year,
        )
        .order_by("-due_date")
        .first()
    )
    if submission.kind == Submission.Kind.SUMMARY or previous is None:
        return dt.date(year, 1, 1), end
    return previous.due_date + dt.timedelta(days=1), end


def _prefilled(submission: Submission, issuer: str) -> dict[str, Any]:
    start, end = _period(submission)
    if submission.kind == Submission.Kind.SUMMARY:
        title = f"关于{end.year}年推动落后产能退出工作的总结报告"
    else:
        months = f"{start.month}月" if start.month == end.month else f"{start.month}月至{end.month}月"
        title = f"关于{start.year}年{months}推动落后产能退出工作情况的报告"
    receiver = submission.task.units.filter(role=TaskUnit.Role.RECEIVER).first()
    return {
        "submission": submission.pk,
        "title": title,
        "recipient": receiver.name if receiver else "",
        "start": start,
        "end": end,
        "issuer": issuer,
        "fmt": "docx",
    }


def _handed_in_figures(rows: list[Row]) -> dict[str, Any]:
    """The figures a submission reports, counted from the rows of its document."""
    totals = aggregate(rows, "industry")
    return {
        "enterprises": len({r.enterprise_id for r in rows}),
        "lines": len(rows),
        "capacity": "；".join(f"{t['label']} {t['capacity']}{t['unit_label']}" for t in totals),
    }


@allow(*READERS)
@audited_export("export.stage_report")
def stage_report(request: HttpRequest) -> HttpResponse:
    """A stage report filled from the ledger: free, or for one of the plan's submissions (the period
    follows the plan, and the report can be handed in as that submission with its figures)."""
    from django.contrib import messages
    from django.core.files.base import ContentFile
    from django.shortcuts import redirect

    from phaseout.plans import actions as plan_actions

    person = current_person(request)
    today = timezone.localdate()
    unit = (
        person.department.name if person.department else (person.territory.name if person.territory else "")
    )
    submissions = plan_scope.submissions(
        person,
        Submission.objects.filter(plan__status__in=Plan.CONFIRMED_STATES).select_related(
            "plan", "task", "department", "territory"
        ),
    )
    initial: dict[str, Any] = {
        "start": dt.date(today.year, 1, 1),
        "end": today,
        "issuer": unit,
        "fmt": "docx",
    }
    chosen = request.GET.get("submission", "")
    if chosen.isdigit():
        submission = submissions.filter(pk=int(chosen)).first()
        if submission is not None:
            initial = _prefilled(submission, unit)
    form = StageReportForm(request.POST or None, initial=initial, submissions=submissions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rows = _selection(person, start=data["start"], end=data["end"]).rows()
        if data["fmt"] == "xlsx":
            response = HttpResponse(documents.xlsx_bytes(rows), content_type=XLSX)
            response["Content-Disposition"] = 'attachment; filename="stage-report.xlsx"'
            return exported(response, data["submission"], **_report_sent(data, rows))
        submission = data["submission"]
        cases = None
        if scope.sees_all(person) or (submission and submission.kind == Submission.Kind.SUMMARY):
            from phaseout.reports.summary import year_summary

            cases = year_summary(
                data["end"].year, tallies=case_scope.tallies(person), lines=registry_scope.lines(person)
            )["by_territory"]
        report = documents.StageReport(
            doc_number=data["doc_number"],
            title=data["title"],
            recipient=data["recipient"],
            narrative=data["narrative"],
            issuer=data["issuer"],
            issued_on=today,
            rows=rows,
            cases=cases,
            cases_year=data["end"].year,
        )
        if data["fmt"] == "pdf":
            from phaseout.officialdoc import FontMissing
            from phaseout.reports.pdf import pdf_bytes

            try:
                body = pdf_bytes(report)
            except FontMissing:
                form.add_error(
                    "fmt", _("PDF needs the font package fonts-arphic-uming; please ask the administrator.")
                )
                return render(request, "reports/stage.html", {"form": form})
            content_type, name = "application/pdf", "stage-report.pdf"
        else:
            body = documents.docx_bytes(report)
            content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            name = "stage-report.docx"
        if data["hand_in"]:
            try:
                plan_actions.submit(
                    submission=submission,
                    document=ContentFile(body, name=name),  # type: ignore[arg-type]
                    numbers=_handed_in_figures(rows),
                    note=str(_("Produced from the exit ledger for %(start)s to %(end)s."))
                    % {"start": data["start"].isoformat(), "end": data["end"].isoformat()},
                    by=current_user(request),
                )
            except plan_actions.PlanError as exc:
                form.add_error("submission", str(exc))
                return render(request, "reports/stage.html", {"form": form})
            messages.success(request, _("The report was handed in with its figures."))
            return redirect("my-submissions")
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return exported(response, data["submission"], **_report_sent(data, rows))
    return render(request, "reports/stage.html", {"form": form})


def _report_sent(data: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    """What a stage report holds, for its audit entry (its object: the submission it was made for)."""
    return {
        "format": data["fmt"],
        "start": data["start"].isoformat(),
        "end": data["end"].isoformat(),
        "rows": len(rows),
    }


@allow(*READ_ACROSS_PROVINCE)
def charts(request: HttpRequest) -> HttpResponse:
    """Progress against the plan, exits by industry and territory, cases by state and age, overdue
    items by unit, tip-offs by status."""
    from django.db.models import Count, Q

    from phaseout.complaints.models import TipOff
    from phaseout.plans.models import Plan, Submission
    from phaseout.reports.charts import bars

    person = current_person(request)
    today = timezone.localdate()
    cases = case_scope.cases(person)
    state_labels = dict(CaseState.choices)
    figures_of_cases = case_figures(cases, today, case_scope.tallies(person))
    by_state = figures_of_cases["by_state"]
    ages = figures_of_cases["ages"]
    this_year = _selection(person, {"year": str(today.year)})
    by_industry: dict[str, int] = {}
    for item in totals(this_year, "industry"):  # per (industry, unit): the lines added over units
        by_industry[item["label"]] = by_industry.get(item["label"], 0) + item["lines"]
    by_territory: dict[tuple[str, str], int] = {}
    for item in totals(this_year, "territory"):
        key = (item["value"], item["label"])
        by_territory[key] = by_territory.get(key, 0) + item["lines"]
    plan = plan_scope.plans(person).filter(status__in=Plan.CONFIRMED_STATES).order_by("-year", "-id").first()
    progress: dict[str, int] = {}
    missing_by_unit: dict[str, int] = {}
    if plan is not None:
        labels = dict(Submission.Status.choices)
        for submission in plan_scope.submissions(
            person, plan.submissions.select_related("department", "territory")
        ):
            status = submission.status_on(today)
            progress[str(labels[status])] = progress.get(str(labels[status]), 0) + 1
            if status == Submission.Status.MISSING:
                missing_by_unit[submission.unit_name] = missing_by_unit.get(submission.unit_name, 0) + 1
    tipoff_labels = dict(TipOff.Status.choices)
    tipoff_counts = (
        tipoff_scope.tipoffs(person)
        .values("status")
        .annotate(n=Count("id"), late=Count("id", filter=Q(escalated_at__isnull=False)))
    )
    figures = [
        bars(f"{plan.title if plan else '—'}：报送进度", sorted(progress.items()), chart_id="chart-plan"),
        bars(
            f"{today.year}年退出生产线（设备）：按行业",
            sorted(by_industry.items()),
            unit="条",
            chart_id="chart-industry",
        ),
        bars(
            f"{today.year}年退出生产线（设备）：按地区",
            [(name, n) for (_code, name), n in sorted(by_territory.items())],  # GB/T 2260 order
            unit="条",
            chart_id="chart-territory",
        ),
        bars(
            "案件：按状态",
            [(str(state_labels[r["state"]]), r["n"]) for r in by_state],
            unit="件",
            chart_id="chart-states",
        ),
        bars("在办案件：按时长", list(ages.items()), unit="件", chart_id="chart-ages"),
        bars(
            "逾期案件：按地区",
            figures_of_cases["overdue_by_territory"],
            unit="件",
            chart_id="chart-overdue",
        ),
        bars("逾期未报送：按单位", sorted(missing_by_unit.items()), unit="项", chart_id="chart-missing"),
        bars(
            "举报：按状态",
            [(str(tipoff_labels[r["status"]]), r["n"]) for r in tipoff_counts],
            unit="件",
            chart_id="chart-tipoffs",
        ),
    ]
    return render(
        request,
        "reports/charts.html",
        {
            "figures": figures,
            "maps": _progress_maps(person, figures_of_cases["this_year"], today.year),
            "outline_source": "{package} {version} ({licence})".format(**maps.source()),
        },
    )


def case_figures(cases: QuerySet[Case], today: dt.date, tallies: QuerySet[CaseTally]) -> dict[str, Any]:
    """The charts' figures of the cases: cases by state, overdue cases by territory and this year's cases
    found and settled by territory (the progress maps) from the case tally (`tallies`: of the same cases,
    phaseout.cases.tally), grouped by (territory, state, year); open cases by age from the tally's open
    cases and, for those opened in the last 180 days, the cases themselves (an index of the open cases by
    the time they were opened: the older ones are the rest).

    Age is counted in days since the case was opened, on the local calendar: a case opened on day D
    is at most 30 days old when D is on or after today - 30, i.e. when it was opened at or after the
    local midnight starting that day."""
    from django.db.models import Count, Q

    from phaseout.cases import tally
    from phaseout.orgs.models import Territory
    from phaseout.reports.summary import EXITED

    def since(days: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time.min))

    by_state: dict[str, int] = {}
    overdue: dict[str, int] = {}
    found: dict[str, int] = {}
    settled: dict[str, int] = {}
    still_open = 0
    for territory, state, year, n in tally.grouped(tallies, "territory", "state", "year"):
        by_state[state] = by_state.get(state, 0) + n
        still_open += n if state in OPEN_STATES else 0
        if state == CaseState.OVERDUE:
            overdue[territory] = overdue.get(territory, 0) + n
        if year == today.year:
            found[territory] = found.get(territory, 0) + n
            done = n if state in (*EXITED, CaseState.CLOSED) else 0
            settled[territory] = settled.get(territory, 0) + done
    recent = cases.filter(state__in=OPEN_STATES, opened_at__gte=since(180)).aggregate(
        d30=Count("id", filter=Q(opened_at__gte=since(30))),
        d90=Count("id", filter=Q(opened_at__gte=since(90), opened_at__lt=since(30))),
        d180=Count("id", filter=Q(opened_at__lt=since(90))),
    )
    aged = [recent["d30"], recent["d90"], recent["d180"]]
    ages = dict(zip(AGES, [*aged, still_open - sum(aged)], strict=True))
    names = dict(Territory.objects.filter(code__in=overdue).values_list("code", "name"))
    return {
        "by_state": [{"state": state, "n": n} for state, n in sorted(by_state.items())],
        "ages": ages,
        "overdue_by_territory": [(names.get(code, code), n) for code, n in sorted(overdue.items())],
        "this_year": {code: maps.Progress(n, settled[code]) for code, n in found.items()},
    }


AGES = ("≤30天", "31–90天", "91–180天", ">180天")


def _progress_maps(person: Person, counted: dict[str, maps.Progress], year: int) -> list[dict[str, Any]]:
    """One map per city: each county filled by the share of the year's cases that are settled
    (exited, accepted, archived or closed compliant; `counted` by territory), linking to those
    cases."""
    from django.urls import reverse

    from phaseout.orgs.models import Territory

    visible = set(scope.territories(person).values_list("code", flat=True))
    shipped = maps.outlines()
    base = reverse("case-list")
    drawn = []
    for city in Territory.objects.filter(level=Territory.Level.CITY, children__code__in=shipped).distinct():
        counties = {t.code: t.name for t in city.children.all()}
        figures = {
            code: (counted.get(code, maps.Progress(0, 0)) if code in visible else None) for code in counties
        }
        if not any(figure is not None for figure in figures.values()):
            continue
        drawn.append(
            {
                "svg": maps.progress_map(
                    city.code,
                    _("%(city)s %(year)d: cases settled by county") % {"city": city.name, "year": year},
                    figures,
                    counties,
                    lambda code: f"{base}?{urlencode({'territory': code, 'year': year})}",
                ),
                "city_level": counted.get(city.code) if city.code in visible else None,
                "city": city,
            }
        )
    return drawn


@allow(*READ_ACROSS_PROVINCE)
def summary(request: HttpRequest) -> HttpResponse:
    from phaseout.reports.summary import year_summary

    person = current_person(request)
    year, notice = summary_year(request.GET.get("year"), timezone.localdate().year)
    data = year_summary(year, tallies=case_scope.tallies(person), lines=registry_scope.lines(person))
    return render(request, "reports/summary.html", {"s": data, "notice": notice})


SUMMARY_YEARS = (2000, 2100)
YEAR_OUT_OF_RANGE = _(
    "The year must be between %(first)d and %(last)d; this year's figures are shown instead."
)


def summary_year(raw: str | None, this_year: int) -> tuple[int, str]:
    """The year asked for (`?year=`, ASCII digits within SUMMARY_YEARS), or this year with a message why:
    a year outside the calendar's range (0, 99999, -1) failed in the database's date lookup (a 500)."""
    if raw is None or raw == "":
        return this_year, ""
    first, last = SUMMARY_YEARS
    if re.fullmatch(r"[0-9]{1,4}", raw) and first <= int(raw) <= last:
        return int(raw), ""
    return this_year, str(YEAR_OUT_OF_RANGE % {"first": first, "last": last})
