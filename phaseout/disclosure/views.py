from __future__ import annotations

import csv
import io
import json
from typing import Any
from xml.sax.saxutils import escape

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from phaseout import exports
from phaseout.disclosure import actions
from phaseout.disclosure.forms import PublishForm, WithdrawForm
from phaseout.disclosure.models import ListKind, Snapshot
from phaseout.orgs.access import allow, public
from phaseout.orgs.models import Role
from phaseout.web import current_person, current_user, form_errors, posted_id, throttled

COLUMNS = [
    ("enterprise", gettext_lazy("Enterprise")),
    ("uscc", gettext_lazy("USCC")),
    ("territory", gettext_lazy("Territory")),
    ("industry", gettext_lazy("Industry")),
    ("equipment", gettext_lazy("Equipment")),
    ("capacity", gettext_lazy("Capacity")),
    ("basis", gettext_lazy("Basis")),
    ("since", gettext_lazy("Since")),
]


def _kind(kind: str) -> str:
    if kind not in ListKind.values:
        raise Http404
    return kind


def _search(rows: list[dict[str, Any]], q: str) -> list[dict[str, Any]]:
    q = q.strip()
    if not q:
        return rows
    return [r for r in rows if q in r.get("enterprise", "") or q.upper() == r.get("uscc", "")]


def _public_rows(row: dict[str, Any]) -> dict[str, Any]:
    """What leaves the building: no internal codes."""
    return {key: row.get(key, "") for key, _label in COLUMNS} | {
        k: row[k] for k in ("measured", "limit") if row.get(k)
    }


def _cacheable(response: HttpResponse) -> HttpResponse:
    """Mark a public answer cacheable: PublicCacheMiddleware keeps it per published version."""
    response.public_cacheable = True  # type: ignore[attr-defined]
    return response


@public
def portal(request: HttpRequest) -> HttpResponse:
    lists = [(kind, label, actions.current(kind)) for kind, label in ListKind.choices]
    return _cacheable(render(request, "disclosure/portal.html", {"lists": lists}))


@public
def public_list(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind(kind)
    snapshot = actions.current(kind)
    q = request.GET.get("q", "")[:100]
    rows = _search(snapshot.rows, q) if snapshot and snapshot.status == Snapshot.Status.PUBLISHED else []
    context = {
        "kind": kind,
        "label": ListKind(kind).label,
        "snapshot": snapshot,
        "rows": [_public_rows(r) for r in rows],
        "columns": COLUMNS,
        "q": q,
        "report_form": ErrorReportForm(),
    }
    return _cacheable(render(request, "disclosure/public_list.html", context))


@public
def public_export(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    kind = _kind(kind)
    if fmt not in ("csv", "json", "atom"):
        raise Http404
    return _cacheable(_export(request, kind, fmt, actions.current(kind)))


def _export(request: HttpRequest, kind: str, fmt: str, snapshot: Snapshot | None) -> HttpResponse:
    """A list as open data: CSV (formula-safe), JSON or an Atom feed."""
    published = snapshot is not None and snapshot.status == Snapshot.Status.PUBLISHED
    rows = [_public_rows(r) for r in snapshot.rows] if snapshot is not None and published else []
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([str(label) for _key, label in COLUMNS])
        for row in rows:
            writer.writerow(exports.row([row.get(key, "") for key, _label in COLUMNS]))
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
        return response
    if fmt == "json":
        data = {
            "list": kind,
            "title": str(ListKind(kind).label),
            "as_of": snapshot.as_of.isoformat() if snapshot else None,
            "published_at": snapshot.published_at.isoformat() if snapshot and snapshot.published_at else None,
            "status": snapshot.status if snapshot else None,
            "withdrawal_reason": snapshot.withdrawal_reason if snapshot else "",
            "entries": rows,
        }
        return HttpResponse(
            json.dumps(data, ensure_ascii=False), content_type="application/json; charset=utf-8"
        )
    url = request.build_absolute_uri(reverse("public-list", args=[kind]))
    updated = (
        (snapshot.published_at or snapshot.created_at).isoformat() if snapshot else "1970-01-01T00:00:00Z"
    )

    def summary(row: dict[str, Any]) -> str:
        return escape(" · ".join(str(row.get(key, "")) for key, _label in COLUMNS[1:]))

    entries = "".join(
        f"<entry><title>{escape(r['enterprise'])}</title><id>{escape(url)}#{escape(r['uscc'])}-{i}</id>"
        f"<updated>{updated}</updated><summary>{summary(r)}</summary></entry>"
        for i, r in enumerate(rows)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(str(ListKind(kind).label))}</title><id>{escape(url)}</id>"
        f'<link href="{escape(url)}"/><updated>{updated}</updated>{entries}</feed>'
    )
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


class ErrorReportForm(forms.Form):
    uscc = forms.CharField(label=gettext_lazy("USCC of the entry"), max_length=18, required=False)
    text = forms.CharField(
        label=gettext_lazy("What is wrong"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact = forms.CharField(label=gettext_lazy("Contact (optional)"), max_length=100, required=False)
    website = forms.CharField(required=False, widget=forms.HiddenInput)  # left empty by people; bots fill it


@csrf_exempt  # an anonymous form on a cached page: no session to protect; throttled, with a honeypot
@require_POST
@public
def public_report(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind(kind)
    snapshot = actions.current(kind)
    if snapshot is None or snapshot.status != Snapshot.Status.PUBLISHED:
        raise Http404
    if throttled(request, "error-report"):
        return HttpResponse(_("Too many reports from your address; please try again later."), status=429)
    form = ErrorReportForm(request.POST)
    if not form.is_valid() or form.cleaned_data["website"]:
        return HttpResponse(_("Please say what is wrong."), status=400)
    actions.report_error(
        snapshot=snapshot,
        uscc=form.cleaned_data["uscc"],
        text=form.cleaned_data["text"],
        contact=form.cleaned_data["contact"],
    )
    return render(request, "disclosure/thanks.html", {"kind": kind}, status=201)


# --- the office's side ----------------------------------------------------------------------------


@allow(Role.OFFICE)
def lists_admin(request: HttpRequest) -> HttpResponse:
    snapshots = Snapshot.objects.select_related("created_by__person", "approved_by__person")
    return render(request, "disclosure/admin.html", {"kinds": ListKind.choices, "snapshots": snapshots[:200]})


@require_POST
@allow(Role.OFFICE)
def list_draft(request: HttpRequest) -> HttpResponse:
    try:
        snapshot = actions.draft(kind=request.POST.get("kind", ""), by=current_user(request))
    except actions.DisclosureError as exc:
        messages.error(request, str(exc))
        return redirect("lists-admin")
    return redirect("list-snapshot", snapshot.pk)


@allow(Role.OFFICE)
def list_snapshot(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot = get_object_or_404(Snapshot, pk=pk)
    return render(
        request,
        "disclosure/snapshot.html",
        {
            "snapshot": snapshot,
            "columns": COLUMNS,
            "publish_form": PublishForm(),
            "withdraw_form": WithdrawForm(),
        },
    )


@require_POST
@allow(Role.OFFICE)
def list_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    snapshot = get_object_or_404(Snapshot, pk=pk)
    by = current_user(request)
    form: forms.Form | None = None
    if action == "publish":
        form = PublishForm(request.POST)
    elif action == "withdraw":
        form = WithdrawForm(request.POST)
    elif action != "approve":
        raise Http404
    if form is not None and not form.is_valid():
        form_errors(request, form)
        return redirect("list-snapshot", snapshot.pk)
    try:
        if action == "approve":
            actions.approve(snapshot=snapshot, by=by)
        elif action == "publish":
            actions.publish(snapshot=snapshot, by=by)
        else:
            assert form is not None
            actions.withdraw(snapshot=snapshot, reason=form.cleaned_data["reason"], by=by)
    except actions.DisclosureError as exc:
        messages.error(request, str(exc))
    return redirect("list-snapshot", snapshot.pk)


@allow(Role.OFFICE, Role.DEPARTMENT)
def error_reports(request: HttpRequest) -> HttpResponse:
    """Reports of errors in published lists, for the department that owns the entry (the office: all)."""
    from phaseout.disclosure.models import ErrorReport

    person = current_person(request)
    qs = ErrorReport.objects.select_related("snapshot", "department")
    if person.role == Role.DEPARTMENT:
        qs = qs.filter(department=person.department_id)
    if request.method == "POST":
        report = get_object_or_404(qs, pk=posted_id(request, "report"))
        actions.mark_handled(report=report, by=current_user(request))
        return redirect("error-reports")
    return render(request, "disclosure/errors.html", {"reports": qs[:200]})
