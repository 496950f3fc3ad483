"""The cases' part of the periodic sweep: marks overdue rectification orders and exit measures and
escalates them, and raises the re-inspections that fall due. Registered as the cases app's job in
phaseout.jobs (see CasesConfig.ready); the other apps register their own.

Idempotent and safe to run concurrently: each row is claimed by a compare-and-set update, so a
second (or simultaneous) run finds nothing left to do and writes nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.cases.actions import append_event
from phaseout.cases.models import Case, CaseState, Escalation, ExitMeasure
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person
from phaseout.orgs.scope import competent_people, people_of_enterprise, people_of_territory
from phaseout.rules.case_flow import CLOCKED, Action

# Reminders go out this many days before a rectification deadline or an exit measure's deadline.
REMIND_DAYS = 7


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


def _escalate(
    case: Case, kind: str, due: dt.date, now: dt.datetime, measure: ExitMeasure | None = None
) -> bool:
    """Raise the escalation once (an open one is never raised twice) and tell the competent department
    and the district: one message each, however often the sweep runs."""
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                case=case, measure=measure, kind=kind, raised_at=now, due_date=due
            )
    except IntegrityError:
        return False
    title = _("Escalation: %(kind)s — %(enterprise)s (due %(due)s)") % {
        "kind": escalation.get_kind_display(),
        "enterprise": case.enterprise.name,
        "due": due.isoformat(),
    }
    body = measure.get_kind_display() if measure is not None else ""
    notify(
        _concerned(case),
        MessageKind.ESCALATION,
        title,
        body,
        obj=case,
        url=reverse("case-detail", args=[case.pk]),
        key=f"case.escalation:{escalation.pk}",
        now=now,
    )
    return True


def _concerned(case: Case, *, enterprise: bool = False) -> list[Person]:
    """The competent department's officers and the district's — and the enterprise's own accounts when
    it is the enterprise that has something to do."""
    people = [*competent_people(case.dimension, case.territory_id), *people_of_territory(case.territory_id)]
    if enterprise:
        people += list(people_of_enterprise(case.enterprise_id))
    return people


def remind(*, today: dt.date, now: dt.datetime) -> None:
    """Reminders of the rectification deadlines and exit measures due within REMIND_DAYS: once per
    person and deadline (a deadline moved by an extension is reminded again)."""
    soon = today + dt.timedelta(days=REMIND_DAYS)
    clocked = [s.value for s in CLOCKED]
    for case in Case.objects.filter(
        state__in=clocked, deadline__gte=today, deadline__lte=soon
    ).select_related("enterprise"):
        assert case.deadline is not None
        notify(
            _concerned(case, enterprise=True),
            MessageKind.REMINDER,
            _("Reminder: the rectification deadline of %(enterprise)s is %(deadline)s")
            % {"enterprise": case.enterprise.name, "deadline": case.deadline.isoformat()},
            obj=case,
            url=reverse("case-detail", args=[case.pk]),
            key=f"case.deadline:{case.pk}:{case.deadline.isoformat()}",
            now=now,
        )
    measures = ExitMeasure.objects.filter(done_on__isnull=True, deadline__gte=today, deadline__lte=soon)
    for measure in measures.select_related("case__enterprise"):
        case = measure.case
        notify(
            _concerned(case, enterprise=True),
            MessageKind.REMINDER,
            _("Reminder: %(measure)s of %(enterprise)s is due on %(deadline)s")
            % {
                "measure": measure.get_kind_display(),
                "enterprise": case.enterprise.name,
                "deadline": measure.deadline.isoformat(),
            },
            obj=case,
            url=reverse("case-detail", args=[case.pk]),
            key=f"measure.deadline:{measure.pk}:{measure.deadline.isoformat()}",
            now=now,
        )


def sweep(*, today: dt.date | None = None, now: dt.datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    result = SweepResult()

    clocked = [s.value for s in CLOCKED]  # rectification and restricted production
    candidates = Case.objects.filter(state__in=clocked, deadline__lt=today).values_list("pk", "state")
    for pk, state in list(candidates):
        with transaction.atomic():
            claimed = Case.objects.filter(pk=pk, state=state, deadline__lt=today).update(
                state=CaseState.OVERDUE, overdue_at=now, version=F("version") + 1
            )
            if not claimed:
                continue  # another sweep, or an officer, got there first
            case = Case.objects.get(pk=pk)
            assert case.deadline is not None
            append_event(
                case,
                Action.MARK_OVERDUE.value,
                state,
                CaseState.OVERDUE,
                by=None,
                reason=_("The rectification deadline %(deadline)s passed without verified compliance.")
                % {"deadline": case.deadline.isoformat()},
            )
            _escalate(case, Escalation.Kind.ORDER_OVERDUE, case.deadline, now)
            result.orders_overdue += 1

    measures = ExitMeasure.objects.filter(done_on__isnull=True, overdue_at__isnull=True, deadline__lt=today)
    for measure in list(measures.select_related("case")):
        with transaction.atomic():
            claimed = ExitMeasure.objects.filter(
                pk=measure.pk, done_on__isnull=True, overdue_at__isnull=True
            ).update(overdue_at=now)
            if not claimed:
                continue
            case = measure.case
            Case.objects.filter(pk=case.pk).update(version=F("version") + 1)
            append_event(
                case,
                "measure_overdue",
                case.state,
                case.state,
                by=None,
                reason=_("%(measure)s was due on %(deadline)s and is not done.")
                % {"measure": measure.get_kind_display(), "deadline": measure.deadline.isoformat()},
                data={"measure": measure.kind},
            )
            _escalate(case, Escalation.Kind.MEASURE_OVERDUE, measure.deadline, now, measure)
            result.measures_overdue += 1

    due = Case.objects.filter(state=CaseState.ARCHIVED, reinspection_due__lte=today)
    for case in list(due):
        assert case.reinspection_due is not None
        if _escalate(case, Escalation.Kind.REINSPECTION_DUE, case.reinspection_due, now):
            result.reinspections_due += 1
    remind(today=today, now=now)
    return result


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """The cases app's sweep job (phaseout.jobs)."""
    return sweep(today=today, now=now).counts()
