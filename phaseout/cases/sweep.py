"""The cases' part of the periodic sweep: marks overdue rectification orders and exit measures and
escalates them, and raises the re-inspections that fall due. Registered as the cases app's job in
phaseout.jobs (see CasesConfig.ready); the other apps register their own.

Set-based: each kind of mark is a few statements per batch of BATCH rows — the due rows selected by an
indexed predicate in keyset order (never a list of every id), the marks written by one compare-and-set
UPDATE, the history events, escalations, messages and audit rows by bulk inserts.

Idempotent and safe to run concurrently: a batch's rows are locked as they are selected (PostgreSQL: FOR
UPDATE SKIP LOCKED — a second run at once takes other rows; SQLite serialises writers), every mark is a
compare-and-set update on the predicate, an escalation is raised only where none is open, and a message
is made once per person and key. A second (or simultaneous) run finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout import bulk
from phaseout.audit.record import Entry, record_many
from phaseout.cases.models import Case, CaseEvent, CaseState, Escalation, ExitMeasure, MeasureKind
from phaseout.messaging.actions import Notice, notify_many
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person
from phaseout.orgs.scope import competent_people, people_of_enterprises, people_of_territory
from phaseout.rules.case_flow import CLOCKED, Action

# Reminders go out this many days before a rectification deadline or an exit measure's deadline.
REMIND_DAYS = 7

# Rows marked (or reminded) per batch: one transaction, a few statements, bounded memory.
BATCH = bulk.BATCH

CASE_TYPE = Case._meta.label_lower


@dataclass
class SweepResult:
    orders_overdue: int = 0
    measures_overdue: int = 0
    reinspections_due: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by the names SUMMARY uses."""
        return {
            "orders": self.orders_overdue,
            "measures": self.measures_overdue,
            "visits": self.reinspections_due,
        }

    def __str__(self) -> str:
        return str(SUMMARY) % self.counts()


SUMMARY = gettext_lazy(
    "Orders overdue: %(orders)d; exit measures overdue: %(measures)d; re-inspections due: %(visits)d."
)


def _case_url() -> Callable[[int], str]:
    """The address of a case's page by its id: reversed once, not once per row."""
    marker = 987654321987654321  # an id no case has, replaced by each case's
    head, tail = reverse("case-detail", args=[marker]).split(str(marker))
    return lambda pk: f"{head}{pk}{tail}"


class _Concerned:
    """Who is told about a case: the competent department's officers and the district's — and the
    enterprise's own accounts when it is the enterprise that has something to do. Looked up once per
    dimension and territory for the whole sweep, and per batch of enterprises."""

    def __init__(self) -> None:
        self._officials: dict[tuple[str, str], list[Person]] = {}

    def officials(self, dimension: str, territory_id: str) -> list[Person]:
        key = (dimension, territory_id)
        if key not in self._officials:
            self._officials[key] = [
                *competent_people(dimension, territory_id),
                *people_of_territory(territory_id),
            ]
        return self._officials[key]


def _keyset(qs: QuerySet[Any], field: str, after: tuple[Any, int] | None) -> QuerySet[Any]:
    """The rows after the last of the previous batch, in (field, id) order, so that each batch starts
    where the last one ended on the index instead of at its beginning."""
    if after is not None:
        value, pk = after
        qs = qs.filter(**{f"{field}__gte": value}).filter(Q(**{f"{field}__gt": value}) | Q(pk__gt=pk))
    return qs.order_by(field, "pk")


def _batches(
    qs: QuerySet[Any], field: str, *columns: str, lock: bool = True
) -> Iterator[list[dict[str, Any]]]:
    """The rows of `qs` in batches of BATCH, each batch inside its own transaction, as dicts of
    `columns`. With `lock`, the batch's rows are locked until it ends; rows another run holds are skipped
    (that run marks them)."""
    after = None
    while True:
        with transaction.atomic():
            batch = _keyset(qs, field, after)
            if lock:
                batch = batch.select_for_update(skip_locked=True, of=("self",))
            rows = list(batch.values("pk", field, *columns)[:BATCH])
            if not rows:
                return
            yield rows
        after = (rows[-1][field], rows[-1]["pk"])


def _raise(kind: str, rows: list[tuple[int, int | None, dt.date]], now: dt.datetime) -> dict[int, int]:
    """Escalations of `kind` for (case, measure, due) rows, except where one is open already (the rows
    are locked by the caller, so no other run raises the same one meanwhile). Returns the new
    escalations' ids by case (by measure for measures)."""
    if kind == Escalation.Kind.MEASURE_OVERDUE:
        measures = [measure for _, measure, _ in rows]
        open_ = Escalation.objects.filter(kind=kind, measure__in=measures, resolved_at__isnull=True)
        taken = set(open_.values_list("measure_id", flat=True))
    else:
        cases = [case for case, _, _ in rows]
        open_ = Escalation.objects.filter(
            kind=kind, case__in=cases, measure__isnull=True, resolved_at__isnull=True
        )
        taken = set(open_.values_list("case_id", flat=True))
    new = [
        (case, measure, kind, now, due)
        for case, measure, due in rows
        if (measure if measure is not None else case) not in taken
    ]
    ids = bulk.insert(Escalation, ("case_id", "measure_id", "kind", "raised_at", "due_date"), new, ids=True)
    return {
        (measure if measure is not None else case): pk
        for (case, measure, *_), pk in zip(new, ids, strict=True)
    }


def _escalation_notices(
    kind: str,
    raised: list[tuple[int, dict[str, Any], dt.date, str]],
    concerned: _Concerned,
) -> list[Notice]:
    """One message per escalation to the concerned: (escalation id, case row, due, body) each."""
    label = Escalation.Kind(kind).label
    text = _("Escalation: %(kind)s — %(enterprise)s (due %(due)s)")
    url = _case_url()
    notices = []
    for pk, case, due, body in raised:
        title = text % {
            "kind": label,
            "enterprise": case["enterprise_name"],
            "due": due.isoformat(),
        }
        notices.append(
            Notice(
                recipients=concerned.officials(case["dimension"], case["territory_id"]),
                kind=MessageKind.ESCALATION,
                title=title,
                body=body,
                object_type=CASE_TYPE,
                object_id=str(case["case_id"]),
                url=url(case["case_id"]),
                key=f"case.escalation:{pk}",
            )
        )
    return notices


def _events(rows: list[tuple[int, str, str, str, str, dict[str, Any]]], at: dt.datetime) -> None:
    """The history events (by the system) and their audit rows, for (case, action, from, to, reason,
    data) rows, in that order."""
    bulk.insert(
        CaseEvent,
        ("case_id", "action", "from_state", "to_state", "actor_id", "at", "dated", "reason", "data"),
        [
            (case, action, from_, to, None, at, None, reason, data)
            for case, action, from_, to, reason, data in rows
        ],
    )
    entries: list[Entry] = [
        (f"case.{action}", CASE_TYPE, str(case), reason, data) for case, action, _, _, reason, data in rows
    ]
    record_many(entries)


CASE_COLUMNS = ("enterprise_id", "territory_id", "dimension", "enterprise__name")


def _case_row(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The case fields a message needs, from a row of `values()` (of a case, or of a measure: `case__`)."""
    return {
        "case_id": row[f"{prefix}id"] if prefix else row["pk"],
        "enterprise_id": row[f"{prefix}enterprise_id"],
        "territory_id": row[f"{prefix}territory_id"],
        "dimension": row[f"{prefix}dimension"],
        "enterprise_name": row[f"{prefix}enterprise__name"],
    }


def _orders_overdue(today: dt.date, now: dt.datetime, concerned: _Concerned) -> int:
    """Rectification and restriction orders past their deadline: marked overdue (state, time, version),
    a history event and an audit row each, escalated once, the concerned told."""
    clocked = [s.value for s in CLOCKED]
    due = Case.objects.filter(state__in=clocked, deadline__lt=today)
    marked = 0
    for rows in _batches(due, "deadline", "state", *CASE_COLUMNS):
        ids = [row["pk"] for row in rows]
        claimed = Case.objects.filter(pk__in=ids, state__in=clocked, deadline__lt=today).update(
            state=CaseState.OVERDUE, overdue_at=now, version=F("version") + 1
        )
        if claimed != len(rows):  # the rows are locked: nobody else can have changed them
            raise RuntimeError(f"the sweep claimed {claimed} of {len(rows)} locked cases")
        reason = _("The rectification deadline %(deadline)s passed without verified compliance.")
        _events(
            [
                (
                    row["pk"],
                    Action.MARK_OVERDUE.value,
                    row["state"],
                    CaseState.OVERDUE.value,
                    reason % {"deadline": row["deadline"].isoformat()},
                    {},
                )
                for row in rows
            ],
            timezone.now(),
        )
        kind = Escalation.Kind.ORDER_OVERDUE
        raised = _raise(kind, [(row["pk"], None, row["deadline"]) for row in rows], now)
        notices = _escalation_notices(
            kind,
            [(raised[row["pk"]], _case_row(row), row["deadline"], "") for row in rows if row["pk"] in raised],
            concerned,
        )
        notify_many(notices, now=now)
        marked += claimed
    return marked


MEASURE_CASE_COLUMNS = ("case__state", *(f"case__{c}" for c in CASE_COLUMNS), "case__id")


def _measures_overdue(today: dt.date, now: dt.datetime, concerned: _Concerned) -> int:
    """Exit measures not done by their deadline: marked overdue, the case's version moved on (an open
    form on it is stale), a history event and an audit row each, escalated once, the concerned told."""
    due = ExitMeasure.objects.filter(done_on__isnull=True, overdue_at__isnull=True, deadline__lt=today)
    marked = 0
    for rows in _batches(due, "deadline", "kind", *MEASURE_CASE_COLUMNS):
        ids = [row["pk"] for row in rows]
        claimed = ExitMeasure.objects.filter(
            pk__in=ids, done_on__isnull=True, overdue_at__isnull=True
        ).update(overdue_at=now)
        if claimed != len(rows):  # the rows are locked: nobody else can have changed them
            raise RuntimeError(f"the sweep claimed {claimed} of {len(rows)} locked measures")
        # Each case's version moves on once per measure marked (as many times as a form could be stale).
        per_case = Counter(row["case__id"] for row in rows)
        by_count: dict[int, list[int]] = {}
        for case, count in per_case.items():
            by_count.setdefault(count, []).append(case)
        for count, cases in by_count.items():
            Case.objects.filter(pk__in=cases).update(version=F("version") + count)
        reason = _("%(measure)s was due on %(deadline)s and is not done.")
        _events(
            [
                (
                    row["case__id"],
                    "measure_overdue",
                    row["case__state"],
                    row["case__state"],
                    reason
                    % {"measure": MeasureKind(row["kind"]).label, "deadline": row["deadline"].isoformat()},
                    {"measure": row["kind"]},
                )
                for row in rows
            ],
            timezone.now(),
        )
        kind = Escalation.Kind.MEASURE_OVERDUE
        raised = _raise(kind, [(row["case__id"], row["pk"], row["deadline"]) for row in rows], now)
        notices = _escalation_notices(
            kind,
            [
                (
                    raised[row["pk"]],
                    _case_row(row, "case__"),
                    row["deadline"],
                    str(MeasureKind(row["kind"]).label),
                )
                for row in rows
                if row["pk"] in raised
            ],
            concerned,
        )
        notify_many(notices, now=now)
        marked += claimed
    return marked


def _reinspections_due(today: dt.date, now: dt.datetime, concerned: _Concerned) -> int:
    """Archived cases whose re-inspection (回头看) falls due: escalated once (while one is open, not
    again), the concerned told. The case itself is not touched."""
    kind = Escalation.Kind.REINSPECTION_DUE
    open_ = Escalation.objects.filter(
        case=OuterRef("pk"), kind=kind, measure__isnull=True, resolved_at__isnull=True
    )
    due = Case.objects.filter(state=CaseState.ARCHIVED, reinspection_due__lte=today).exclude(Exists(open_))
    raised_count = 0
    for rows in _batches(due, "reinspection_due", *CASE_COLUMNS):
        raised = _raise(kind, [(row["pk"], None, row["reinspection_due"]) for row in rows], now)
        notices = _escalation_notices(
            kind,
            [
                (raised[row["pk"]], _case_row(row), row["reinspection_due"], "")
                for row in rows
                if row["pk"] in raised
            ],
            concerned,
        )
        notify_many(notices, now=now)
        raised_count += len(raised)
    return raised_count


def remind(*, today: dt.date, now: dt.datetime) -> None:
    """Reminders of the rectification deadlines and exit measures due within REMIND_DAYS: once per
    person and deadline (a deadline moved by an extension is reminded again)."""
    soon = today + dt.timedelta(days=REMIND_DAYS)
    concerned = _Concerned()
    url = _case_url()
    clocked = [s.value for s in CLOCKED]
    cases = Case.objects.filter(state__in=clocked, deadline__gte=today, deadline__lte=soon)
    # No lock: a reminder is made once per person and key by the database (notify_many).
    for rows in _batches(cases, "deadline", *CASE_COLUMNS, lock=False):
        firms = people_of_enterprises({row["enterprise_id"] for row in rows})
        text = _("Reminder: the rectification deadline of %(enterprise)s is %(deadline)s")
        notify_many(
            (
                Notice(
                    recipients=[
                        *concerned.officials(row["dimension"], row["territory_id"]),
                        *firms.get(row["enterprise_id"], []),
                    ],
                    kind=MessageKind.REMINDER,
                    title=text
                    % {"enterprise": row["enterprise__name"], "deadline": row["deadline"].isoformat()},
                    object_type=CASE_TYPE,
                    object_id=str(row["pk"]),
                    url=url(row["pk"]),
                    key=f"case.deadline:{row['pk']}:{row['deadline'].isoformat()}",
                )
                for row in rows
            ),
            now=now,
        )
    measures = ExitMeasure.objects.filter(done_on__isnull=True, deadline__gte=today, deadline__lte=soon)
    for rows in _batches(measures, "deadline", "kind", *MEASURE_CASE_COLUMNS, lock=False):
        firms = people_of_enterprises({row["case__enterprise_id"] for row in rows})
        text = _("Reminder: %(measure)s of %(enterprise)s is due on %(deadline)s")
        notify_many(
            (
                Notice(
                    recipients=[
                        *concerned.officials(row["case__dimension"], row["case__territory_id"]),
                        *firms.get(row["case__enterprise_id"], []),
                    ],
                    kind=MessageKind.REMINDER,
                    title=text
                    % {
                        "measure": MeasureKind(row["kind"]).label,
                        "enterprise": row["case__enterprise__name"],
                        "deadline": row["deadline"].isoformat(),
                    },
                    object_type=CASE_TYPE,
                    object_id=str(row["case__id"]),
                    url=url(row["case__id"]),
                    key=f"measure.deadline:{row['pk']}:{row['deadline'].isoformat()}",
                )
                for row in rows
            ),
            now=now,
        )


def sweep(*, today: dt.date | None = None, now: dt.datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    concerned = _Concerned()
    result = SweepResult(
        orders_overdue=_orders_overdue(today, now, concerned),
        measures_overdue=_measures_overdue(today, now, concerned),
        reinspections_due=_reinspections_due(today, now, concerned),
    )
    remind(today=today, now=now)
    return result


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """The cases app's sweep job (phaseout.jobs)."""
    return sweep(today=today, now=now).counts()
