"""Credit referrals for enterprises that missed their exit deadline; joint punishment; licences."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.cases.models import Case, CaseState, ExitMeasure
from phaseout.credit.models import Acknowledgement, Measure, Referral
from phaseout.orgs.models import Department
from phaseout.registry.models import Licence
from phaseout.rules.deadlines import add_months

LEGAL_BASIS = (
    "工信部联产业〔2017〕30号：对未按期完成落后产能退出的企业，纳入全国信用信息共享平台，"
    "依法依规实施联合惩戒和信用约束"
)
EXITED = [CaseState.EXITED, CaseState.ACCEPTED, CaseState.ARCHIVED]


class CreditError(ValueError):
    pass


def propose(*, today: dt.date | None = None) -> int:
    """Propose a referral for every case whose exit measures are overdue; once per case. Safe to run twice."""
    today = today or timezone.localdate()
    late = ExitMeasure.objects.filter(done_on__isnull=True, deadline__lt=today).values("case")
    cases = Case.objects.filter(state=CaseState.EXIT_ORDERED, pk__in=late).exclude(
        referrals__status__in=[Referral.Status.PROPOSED, Referral.Status.APPROVED]
    )
    made = 0
    for case in cases.select_related("enterprise"):
        try:
            with transaction.atomic():
                referral = Referral.objects.create(
                    case=case,
                    enterprise=case.enterprise,
                    reason=_("Exit measures not carried out by their deadline (case %(case)s).")
                    % {"case": case.number},
                    legal_basis=LEGAL_BASIS,
                )
        except IntegrityError:
            continue  # another run proposed it
        record(actor=None, action="credit.propose", obj=referral, data={"case": case.pk})
        made += 1
    return made


@transaction.atomic
def approve(
    *,
    referral: Referral,
    decision_number: str,
    deciding_body: str,
    content: str,
    by: User,
    today: dt.date | None = None,
) -> Referral:
    today = today or timezone.localdate()
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.status != Referral.Status.PROPOSED:
        raise CreditError(_("Only a proposed referral can be approved."))
    if not decision_number.strip() or not deciding_body.strip():
        raise CreditError(_("The decision number and the deciding body are required."))
    measures = list(Measure.objects.all())
    referral.status = Referral.Status.APPROVED
    referral.decision_number = decision_number.strip()
    referral.deciding_body = deciding_body.strip()
    referral.content = content.strip() or "；".join(m.domain for m in measures)
    referral.decided_on = referral.valid_from = today
    referral.valid_until = add_months(today, max((m.months for m in measures), default=36))
    referral.approved_by = by
    referral.save()
    city = referral.enterprise.territory.parent_id or referral.enterprise.territory_id
    for measure in measures:
        department = Department.objects.filter(
            territory_id=city, code__endswith=f"-{measure.executing_suffix}"
        ).first()
        Acknowledgement.objects.create(referral=referral, measure=measure, department=department)
    record(actor=by, action="credit.approve", obj=referral, data={"decision": referral.decision_number})
    return referral


@transaction.atomic
def acknowledge(*, acknowledgement: Acknowledgement, by: User, department: Department) -> Acknowledgement:
    ack = Acknowledgement.objects.select_for_update().get(pk=acknowledgement.pk)
    if ack.department_id != department.pk:
        raise CreditError(_("This measure is carried out by another department."))
    if ack.acknowledged_at is None:
        ack.acknowledged_by, ack.acknowledged_at = by, timezone.now()
        ack.save()
        record(actor=by, action="credit.acknowledge", obj=ack.referral, data={"measure": ack.measure_id})
    return ack


def lift_after_exit(*, today: dt.date | None = None) -> int:
    """Lift the sanctions of enterprises whose exit is now complete; the record stays."""
    today = today or timezone.localdate()
    lifted = 0
    due = Referral.objects.filter(
        status__in=[Referral.Status.PROPOSED, Referral.Status.APPROVED], case__state__in=EXITED
    )
    for referral in due:
        with transaction.atomic():
            # Compare-and-set: a concurrent sweep lifts each once; each lift has its audit row.
            if Referral.objects.filter(pk=referral.pk, status=referral.status).update(
                status=Referral.Status.LIFTED, lifted_on=today
            ):
                record(actor=None, action="credit.lift", obj=referral, data={"lifted_on": today.isoformat()})
                lifted += 1
    return lifted


def licences_to_cancel(licences: QuerySet[Licence] | None = None) -> list[Licence]:
    """Production licences (of those given) of enterprises whose capacity exited: their cancellation is
    due."""
    exited = Case.objects.filter(state__in=EXITED).values("enterprise")
    return list(
        (licences if licences is not None else Licence.objects.all())
        .filter(Q(kind=Licence.Kind.PRODUCTION) & Q(status=Licence.Status.VALID) & Q(enterprise__in=exited))
        .select_related("enterprise")
    )


@transaction.atomic
def cancel_licence(*, licence: Licence, by: User, reason: str) -> Licence:
    if not reason.strip():
        raise CreditError(_("Please give the reason for the cancellation."))
    licence = Licence.objects.select_for_update().get(pk=licence.pk)
    licence.status = Licence.Status.CANCELLED
    licence.save(update_fields=["status"])
    record(actor=by, action="licence.cancel", obj=licence, reason=reason)
    return licence
