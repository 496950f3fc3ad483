from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from phaseout import exports
from phaseout.disclosure import actions
from phaseout.disclosure import public as portal_pages
from phaseout.disclosure.forms import EntryDecisionForm, EntryWithdrawForm, PublishForm, WithdrawForm
from phaseout.disclosure.models import Decision, Entry, ListKind, Snapshot
from phaseout.orgs.access import allow, public
from phaseout.orgs.models import Role
from phaseout.web import current_person, current_user, form_errors, paginate, posted_id, throttled

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
    """A published list, a page at a time, searched in the database. Only the unfiltered pages are
    cacheable (PublicCacheMiddleware keys nothing else), so a client cycling `q` writes no cache entry."""
    kind = _kind(kind)
    snapshot = actions.current(kind)
    context: dict[str, Any] = {
        "kind": kind,
        "label": ListKind(kind).label,
        "snapshot": snapshot,
        "columns": COLUMNS,
        "q": "",
        "report_form": ErrorReportForm(),
        "page_size": portal_pages.PAGE_SIZE,
        "max_pages": portal_pages.MAX_PAGES,
    }
    try:
        q = portal_pages.clean_query(request.GET.get("q", ""))
        context["q"] = q
        number = portal_pages.clean_page(request.GET.get("page"))
        if snapshot is not None and snapshot.status == Snapshot.Status.PUBLISHED:
            entries = portal_pages.public_entries(snapshot)
            context["page"] = (
                portal_pages.search_page(portal_pages.matching(entries, q), number)
                if q
                else portal_pages.list_page(entries, number, total=snapshot.public_entries)
            )
    except portal_pages.BadQuery as exc:
        context["error"] = str(exc)
        return render(request, "disclosure/public_list.html", context, status=400)
    response = render(request, "disclosure/public_list.html", context)
    return _cacheable(response) if not q else response


@public
def public_export(request: HttpRequest, kind: str, fmt: str) -> HttpResponseBase:
    kind = _kind(kind)
    if fmt not in ("csv", "json", "atom"):
        raise Http404
    return _export(request, kind, fmt, actions.current(kind))


EXPORT_CHUNK = 2000


def _open_rows(snapshot: Snapshot | None) -> Iterator[dict[str, Any]]:
    """The published entries as open data, streamed from a server-side cursor (constant memory)."""
    if snapshot is None:
        return iter(())
    entries = portal_pages.public_entries(snapshot).values(*portal_pages.OPEN_DATA_FIELDS)
    return (
        {k: v for k, v in row.items() if v or k not in ("measured", "limit")}
        for row in entries.iterator(chunk_size=EXPORT_CHUNK)
    )


def _csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    class Line:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Line())
    yield "\ufeff" + writer.writerow([str(label) for _key, label in COLUMNS])
    for row in rows:
        yield writer.writerow(exports.row([row.get(key, "") for key, _label in COLUMNS]))


def _json_chunks(head: dict[str, Any], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    opening = json.dumps(head, ensure_ascii=False)
    yield opening[:-1] + ', "entries": ['
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
    yield "]}"


def _export(request: HttpRequest, kind: str, fmt: str, snapshot: Snapshot | None) -> HttpResponseBase:
    """A list as open data: CSV (formula-safe), JSON or an Atom feed, streamed from the entries."""
    rows = _open_rows(snapshot)
    response: StreamingHttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    elif fmt == "json":
        head = {
            "list": kind,
            "title": str(ListKind(kind).label),
            "as_of": snapshot.as_of.isoformat() if snapshot else None,
            "published_at": snapshot.published_at.isoformat() if snapshot and snapshot.published_at else None,
            "status": snapshot.status if snapshot else None,
            "withdrawal_reason": snapshot.withdrawal_reason if snapshot else "",
        }
        response = StreamingHttpResponse(
            _json_chunks(head, rows), content_type="application/json; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            _atom_chunks(request, kind, snapshot, rows), content_type="application/atom+xml; charset=utf-8"
        )
    return response


def _atom_chunks(
    request: HttpRequest, kind: str, snapshot: Snapshot | None, rows: Iterator[dict[str, Any]]
) -> Iterator[str]:
    url = request.build_absolute_uri(reverse("public-list", args=[kind]))
    updated = (
        (snapshot.published_at or snapshot.created_at).isoformat() if snapshot else "1970-01-01T00:00:00Z"
    )

    def summary(row: dict[str, Any]) -> str:
        return escape(" · ".join(str(row.get(key, "")) for key, _label in COLUMNS[1:]))

    yield (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(str(ListKind(kind).label))}</title><id>{escape(url)}</id>"
        f'<link href="{escape(url)}"/><updated>{updated}</updated>'
    )
    for i, r in enumerate(rows):
        yield (
            f"<entry><title>{escape(r['enterprise'])}</title><id>{escape(url)}#{escape(r['uscc'])}-{i}</id>"
            f"<updated>{updated}</updated><summary>{summary(r)}</summary></entry>"
        )
    yield "</feed>"


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
    """A snapshot's entries, a page at a time, filtered by decision or searched; on a draft each can be
    ticked and approved or excluded; on a published list one entry can be withdrawn."""
    snapshot = get_object_or_404(Snapshot, pk=pk)
    entries = Entry.objects.filter(snapshot=snapshot).order_by("position")
    decision = request.GET.get("decision", "")
    if decision in Decision.values:
        entries = entries.filter(decision=decision)
    else:
        decision = ""
    q = request.GET.get("q", "")
    try:
        q = portal_pages.clean_query(q)
        entries = portal_pages.matching(entries, q)
    except portal_pages.BadQuery as exc:
        messages.error(request, str(exc))
        q, entries = q[: portal_pages.MAX_QUERY], entries.none()
    page = paginate(request, entries)
    page["rows"] = [(entry, [getattr(entry, key) for key, _label in COLUMNS]) for entry in page["rows"]]
    counts = dict(
        Entry.objects.filter(snapshot=snapshot)
        .values("decision")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("decision", "n")
    )
    return render(
        request,
        "disclosure/snapshot.html",
        {
            "snapshot": snapshot,
            "columns": COLUMNS,
            "decisions": [(value, label, counts.get(value, 0)) for value, label in Decision.choices],
            "decision": decision,
            "q": q,
            "undecided": counts.get(Decision.UNDECIDED, 0),
            "publish_form": PublishForm(),
            "withdraw_form": WithdrawForm(),
            "decision_form": EntryDecisionForm(),
            "entry_withdraw_form": EntryWithdrawForm(),
            **page,
        },
    )


def _ticked(request: HttpRequest) -> list[int] | None:
    """The ticked entry ids, or None when one of them is not an id at all."""
    raw = request.POST.getlist("entry")
    if len(raw) > actions.MAX_BATCH * 2 or not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in raw):
        return None
    return [int(v) for v in raw]


@require_POST
@allow(Role.OFFICE)
def list_entries(request: HttpRequest, pk: int) -> HttpResponse:
    """The office's batch decision on a draft's entries: approve the ticked ones, exclude them with a
    reason, or approve every entry still undecided."""
    snapshot = get_object_or_404(Snapshot, pk=pk)
    form = EntryDecisionForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("list-snapshot", snapshot.pk)
    by, choice = current_user(request), form.cleaned_data["decision"]
    try:
        if choice == "approve_undecided":
            actions.approve_undecided(snapshot=snapshot, by=by)
        else:
            ids = _ticked(request)
            if ids is None:
                raise actions.DisclosureError(_("Some of the ticked entries are not in this list."))
            if choice == "approve":
                actions.approve_entries(snapshot=snapshot, entries=ids, by=by)
            else:
                actions.exclude_entries(
                    snapshot=snapshot, entries=ids, reason=form.cleaned_data["reason"], by=by
                )
    except actions.DisclosureError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The decision is recorded."))
    return redirect("list-snapshot", snapshot.pk)


@require_POST
@allow(Role.OFFICE)
def entry_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry.objects.select_related("snapshot"), pk=pk)
    form = EntryWithdrawForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("list-snapshot", entry.snapshot_id)
    try:
        actions.withdraw_entry(entry=entry, reason=form.cleaned_data["reason"], by=current_user(request))
    except actions.DisclosureError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The entry is withdrawn from the portal."))
    return redirect("list-snapshot", entry.snapshot_id)


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
