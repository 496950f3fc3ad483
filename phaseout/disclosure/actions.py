"""Drafting, approving, publishing and withdrawing the public lists; error reports."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.disclosure.cache import forget
from phaseout.disclosure.lists import rows_for
from phaseout.disclosure.models import ErrorReport, ListKind, Snapshot
from phaseout.orgs.models import Department


class DisclosureError(ValueError):
    pass


@transaction.atomic
def draft(*, kind: str, by: User, today: dt.date | None = None) -> Snapshot:
    if kind not in ListKind.values:
        raise DisclosureError(_("Unknown list."))
    today = today or timezone.localdate()
    snapshot = Snapshot.objects.create(kind=kind, as_of=today, rows=rows_for(kind, today), created_by=by)
    record(actor=by, action="list.draft", obj=snapshot, data={"kind": kind, "rows": len(snapshot.rows)})
    return snapshot


def _lock(snapshot: Snapshot, *expected: str) -> Snapshot:
    locked = Snapshot.objects.select_for_update().get(pk=snapshot.pk)
    if locked.status not in expected:
        raise DisclosureError(
            _("This list is %(status)s; that cannot be done now.") % {"status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def approve(*, snapshot: Snapshot, by: User) -> Snapshot:
    snapshot = _lock(snapshot, Snapshot.Status.DRAFT)
    snapshot.status = Snapshot.Status.APPROVED
    snapshot.approved_by, snapshot.approved_at = by, timezone.now()
    snapshot.save()
    record(actor=by, action="list.approve", obj=snapshot)
    return snapshot


@transaction.atomic
def publish(*, snapshot: Snapshot, by: User) -> Snapshot:
    """Publish an approved snapshot; the one it replaces is kept as superseded."""
    snapshot = _lock(snapshot, Snapshot.Status.APPROVED)
    Snapshot.objects.select_for_update().filter(kind=snapshot.kind, status=Snapshot.Status.PUBLISHED).update(
        status=Snapshot.Status.SUPERSEDED
    )
    snapshot.status = Snapshot.Status.PUBLISHED
    snapshot.published_at = timezone.now()
    snapshot.save()
    kind = snapshot.kind
    forget(kind)  # now, and again once committed (a request in between may have cached the old one)
    transaction.on_commit(lambda: forget(kind))
    record(actor=by, action="list.publish", obj=snapshot, data={"rows": len(snapshot.rows)})
    return snapshot


@transaction.atomic
def withdraw(*, snapshot: Snapshot, reason: str, by: User) -> Snapshot:
    if not reason.strip():
        raise DisclosureError(_("Please give the reason for withdrawing the list."))
    snapshot = _lock(snapshot, Snapshot.Status.PUBLISHED)
    snapshot.status = Snapshot.Status.WITHDRAWN
    snapshot.withdrawn_by, snapshot.withdrawn_at, snapshot.withdrawal_reason = (
        by,
        timezone.now(),
        reason.strip(),
    )
    snapshot.save()
    kind = snapshot.kind
    forget(kind)
    transaction.on_commit(lambda: forget(kind))
    record(actor=by, action="list.withdraw", obj=snapshot, reason=reason)
    return snapshot


def current(kind: str) -> Snapshot | None:
    """What the public sees: the latest published or withdrawn snapshot of the list."""
    return (
        Snapshot.objects.filter(kind=kind, status__in=[Snapshot.Status.PUBLISHED, Snapshot.Status.WITHDRAWN])
        .order_by("-published_at", "-id")
        .first()
    )


@transaction.atomic
def report_error(*, snapshot: Snapshot, uscc: str, text: str, contact: str) -> ErrorReport:
    """Routed to the department that owns the entry (the office when the entry has no owner)."""
    if not text.strip():
        raise DisclosureError(_("Please say what is wrong."))
    owner = next(
        (row.get("department") for row in snapshot.rows if row.get("uscc") == uscc and row.get("department")),
        "",
    )
    department = Department.objects.filter(code=owner).first() if owner else None
    if department is None:
        department = Department.objects.filter(is_office=True).order_by("code").first()
    report = ErrorReport.objects.create(
        snapshot=snapshot,
        uscc=uscc[:18],
        text=text.strip()[:2000],
        contact=contact.strip()[:100],
        department=department,
    )
    record(
        actor=None,
        action="list.error_report",
        obj=report,
        data={"department": department.code if department else ""},
    )
    return report


@transaction.atomic
def mark_handled(*, report: ErrorReport, by: User) -> ErrorReport:
    if report.handled_at is None:
        report.handled_at = timezone.now()
        report.save(update_fields=["handled_at"])
        record(actor=by, action="list.error_report_handled", obj=report)
    return report
