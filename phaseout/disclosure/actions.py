"""Drafting, approving, publishing and withdrawing the public lists; error reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.disclosure.cache import forget
from phaseout.disclosure.lists import rows_for
from phaseout.disclosure.models import (
    Decision,
    Entry,
    EntryEvent,
    ErrorReport,
    ListKind,
    Snapshot,
    bigrams_of,
    search_text,
)
from phaseout.orgs.models import Department

# At most this many entries are decided in one action (the office ticks them on a page of the draft).
MAX_BATCH = 500
INSERT_BATCH = 5000
ENTRY_FIELDS = (
    "enterprise", "uscc", "territory", "industry", "equipment", "capacity", "basis", "legal_basis",
    "measured", "limit", "since", "case", "department",
)  # fmt: skip


class DisclosureError(ValueError):
    pass


@transaction.atomic
def draft(*, kind: str, by: User, today: dt.date | None = None) -> Snapshot:
    """A new snapshot of the list, its entries written in batches, every one undecided."""
    if kind not in ListKind.values:
        raise DisclosureError(_("Unknown list."))
    today = today or timezone.localdate()
    snapshot = Snapshot.objects.create(kind=kind, as_of=today, created_by=by)
    count = 0
    batch: list[Entry] = []
    for count, row in enumerate(rows_for(kind, today), start=1):
        values = {name: str(row.get(name) or "") for name in ENTRY_FIELDS}
        search = search_text(values["enterprise"])
        batch.append(
            Entry(snapshot=snapshot, position=count, search=search, bigrams=bigrams_of(search), **values)
        )
        if len(batch) >= INSERT_BATCH:
            Entry.objects.bulk_create(batch)
            batch = []
    Entry.objects.bulk_create(batch)
    snapshot.entry_count = count
    snapshot.save(update_fields=["entry_count"])
    record(actor=by, action="list.draft", obj=snapshot, data={"kind": kind, "rows": count})
    return snapshot


def _lock(snapshot: Snapshot, *expected: str) -> Snapshot:
    locked = Snapshot.objects.select_for_update().get(pk=snapshot.pk)
    if locked.status not in expected:
        raise DisclosureError(
            _("This list is %(status)s; that cannot be done now.") % {"status": locked.get_status_display()}
        )
    return locked


def _entries_of(snapshot: Snapshot, ids: Sequence[int]) -> list[Entry]:
    if not ids:
        raise DisclosureError(_("Please tick at least one entry."))
    unique = sorted(set(ids))
    if len(unique) > MAX_BATCH:
        raise DisclosureError(
            _("At most %(max)d entries can be decided at once; %(count)d were ticked.")
            % {"max": MAX_BATCH, "count": len(unique)}
        )
    entries = list(
        Entry.objects.select_for_update().filter(snapshot=snapshot, pk__in=unique).order_by("position")
    )
    if len(entries) != len(unique):
        raise DisclosureError(_("Some of the ticked entries are not in this list."))
    return entries


def _decide(
    *,
    snapshot: Snapshot,
    entries: list[Entry],
    to: Decision,
    action: str,
    reason: str,
    by: User,
    now: dt.datetime,
) -> list[Entry]:
    """The entries that change: updated in one statement, one history event each."""
    changed = [e for e in entries if e.decision != to or (to != Decision.APPROVED and e.reason != reason)]
    if not changed:
        return []
    Entry.objects.filter(pk__in=[e.pk for e in changed]).update(
        decision=to, decided_by=by, decided_at=now, reason=reason
    )
    EntryEvent.objects.bulk_create(
        EntryEvent(
            entry=e, action=action, from_decision=e.decision, to_decision=to, actor=by, at=now, reason=reason
        )
        for e in changed
    )
    return changed


@transaction.atomic
def approve_entries(
    *, snapshot: Snapshot, entries: Sequence[int], by: User, now: dt.datetime | None = None
) -> Snapshot:
    """The ticked entries of a draft approved for publication (an excluded one can be approved again)."""
    snapshot = _lock(snapshot, Snapshot.Status.DRAFT)
    now = now or timezone.now()
    changed = _decide(
        snapshot=snapshot, entries=_entries_of(snapshot, entries), to=Decision.APPROVED,
        action="approve", reason="", by=by, now=now,
    )  # fmt: skip
    record(
        actor=by,
        action="list.entries_approve",
        obj=snapshot,
        data={"count": len(changed), "positions": [e.position for e in changed]},
    )
    return snapshot


@transaction.atomic
def exclude_entries(
    *, snapshot: Snapshot, entries: Sequence[int], reason: str, by: User, now: dt.datetime | None = None
) -> Snapshot:
    """The ticked entries of a draft left out of the publication, with the reason."""
    reason = reason.strip()
    if not reason:
        raise DisclosureError(_("Please give the reason for excluding the entries."))
    snapshot = _lock(snapshot, Snapshot.Status.DRAFT)
    now = now or timezone.now()
    changed = _decide(
        snapshot=snapshot, entries=_entries_of(snapshot, entries), to=Decision.EXCLUDED,
        action="exclude", reason=reason[:500], by=by, now=now,
    )  # fmt: skip
    record(
        actor=by,
        action="list.entries_exclude",
        obj=snapshot,
        reason=reason[:500],
        data={"count": len(changed), "positions": [e.position for e in changed]},
    )
    return snapshot


@transaction.atomic
def approve_undecided(*, snapshot: Snapshot, by: User, now: dt.datetime | None = None) -> Snapshot:
    """Every entry of a draft not yet decided approved, in two statements whatever the list's size: the
    history events inserted from the entries, then the entries updated. One audit entry with the count."""
    snapshot = _lock(snapshot, Snapshot.Status.DRAFT)
    now = now or timezone.now()
    entry, event = Entry._meta.db_table, EntryEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {event} (entry_id, action, from_decision, to_decision, actor_id, at, reason) "  # noqa: S608
            f"SELECT id, %s, %s, %s, %s, %s, '' FROM {entry} WHERE snapshot_id = %s AND decision = %s",
            ["approve", Decision.UNDECIDED, Decision.APPROVED, by.pk, now, snapshot.pk, Decision.UNDECIDED],
        )
    count = Entry.objects.filter(snapshot=snapshot, decision=Decision.UNDECIDED).update(
        decision=Decision.APPROVED, decided_by=by, decided_at=now, reason=""
    )
    record(actor=by, action="list.entries_approve_undecided", obj=snapshot, data={"count": count})
    return snapshot


@transaction.atomic
def approve(*, snapshot: Snapshot, by: User) -> Snapshot:
    """The draft approved as a whole: only once every entry is approved or excluded."""
    snapshot = _lock(snapshot, Snapshot.Status.DRAFT)
    undecided = Entry.objects.filter(snapshot=snapshot, decision=Decision.UNDECIDED).count()
    if undecided:
        raise DisclosureError(
            _("%(count)d entries are still undecided: approve or exclude each before approving the list.")
            % {"count": undecided}
        )
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
    snapshot.public_entries = Entry.objects.filter(snapshot=snapshot, decision=Decision.APPROVED).count()
    snapshot.save()
    kind = snapshot.kind
    forget(kind)  # now, and again once committed (a request in between may have cached the old one)
    transaction.on_commit(lambda: forget(kind))
    record(actor=by, action="list.publish", obj=snapshot, data={"rows": snapshot.public_entries})
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


@transaction.atomic
def withdraw_entry(*, entry: Entry, reason: str, by: User, now: dt.datetime | None = None) -> Entry:
    """One entry of the published list taken off the portal, with the reason. It stays in the record as
    withdrawn (the office sees it so); the rest of the list stays published."""
    reason = reason.strip()
    if not reason:
        raise DisclosureError(_("Please give the reason for withdrawing the entry."))
    snapshot = _lock(entry.snapshot, Snapshot.Status.PUBLISHED)
    locked = Entry.objects.select_for_update().get(pk=entry.pk)
    if locked.decision != Decision.APPROVED:
        raise DisclosureError(
            _("This entry is %(decision)s; only a published entry can be withdrawn.")
            % {"decision": locked.get_decision_display()}
        )
    now = now or timezone.now()
    _decide(
        snapshot=snapshot, entries=[locked], to=Decision.WITHDRAWN, action="withdraw",
        reason=reason[:500], by=by, now=now,
    )  # fmt: skip
    Snapshot.objects.filter(pk=snapshot.pk, public_entries__gt=0).update(
        public_entries=models.F("public_entries") - 1
    )
    kind = snapshot.kind
    forget(kind)
    transaction.on_commit(lambda: forget(kind))
    record(
        actor=by,
        action="list.entry_withdraw",
        obj=locked,
        reason=reason[:500],
        data={"snapshot": snapshot.pk, "position": locked.position, "uscc": locked.uscc},
    )
    locked.refresh_from_db()
    return locked


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
    owner = (
        Entry.objects.filter(snapshot=snapshot, uscc=uscc)
        .exclude(department="")
        .order_by("position")
        .values_list("department", flat=True)
        .first()
        if uscc
        else None
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
