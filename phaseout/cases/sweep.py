"""The deadline sweep: marks overdue rectification orders and exit measures and escalates them.

Idempotent and safe to run concurrently: each row is claimed by a compare-and-set update, so a
second (or simultaneous) run finds nothing left to do and writes nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.cases.actions import append_event
from phaseout.cases.models import Case, CaseState, Escalation, ExitMeasure
from phaseout.rules.case_flow import CLOCKED, Action


@dataclass
class SweepResult:
    orders_overdue: int = 0
    measures_overdue: int = 0
    reinspections_due: int = 0
    submissions_reminded: int = 0
    submissions_overdue: int = 0

    def __str__(self) -> str:
        submissions = _("Submissions reminded: %(reminded)d; submissions overdue: %(overdue)d.") % {
            "reminded": self.submissions_reminded,
            "overdue": self.submissions_overdue,
        }
        return (
            _(
                "Orders overdue: %(orders)d; exit measures overdue: %(measures)d; "
                "re-inspections due: %(visits)d."
            )
            % {
                "orders": self.orders_overdue,
                "measures": self.measures_overdue,
                "visits": self.reinspections_due,
            }
            + " "
            + submissions
        )


def _escalate(
    case: Case, kind: str, due: dt.date, now: dt.datetime, measure: ExitMeasure | None = None
) -> bool:
    try:
        with transaction.atomic():
            Escalation.objects.create(case=case, measure=measure, kind=kind, raised_at=now, due_date=due)
    except IntegrityError:
        return False
    return True


def sweep(*, today: dt.date | None = None) -> SweepResult:
    today = today or timezone.localdate()
    now = timezone.now()
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
    from phaseout.plans.actions import sweep_submissions  # plans build on cases, not the other way

    result.submissions_reminded, result.submissions_overdue = sweep_submissions(now=now, today=today)
    from phaseout.credit.actions import lift_after_exit, propose

    propose(today=today)
    lift_after_exit(today=today)
    from phaseout.complaints.actions import escalate_overdue

    escalate_overdue(now=now, today=today)
    return result
