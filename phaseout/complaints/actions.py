"""Tip-offs: intake (form and hotline API), classification and routing, deadlines on the working-day
calendar, hand-over, answer, and the protected reading of a reporter's identity."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.cases.models import Case
from phaseout.complaints import identity
from phaseout.complaints.models import TipOff
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.labels import Label, may_read
from phaseout.orgs.models import Department, Person, Territory
from phaseout.orgs.scope import intake_people, office_people, people_of_department
from phaseout.registry.models import Enterprise
from phaseout.rules.deadlines import add_working_days


class TipOffError(ValueError):
    pass


class WorkOrderNumberError(TipOffError):
    """A work-order number that cannot be one: spaces inside it."""


def work_order_number(value: str) -> str:
    """A hotline's work-order number as it is looked up and stored: trimmed, so that " WO-1 " sent again
    as "WO-1" is the same tip-off; whitespace inside it is refused rather than guessed at."""
    number = value.strip()
    if any(character.isspace() for character in number):
        raise WorkOrderNumberError(_("A work-order number has no spaces inside."))
    return number


class IdentityRefused(TipOffError):
    """A read of a reporter's identity by a role not cleared for it (recorded, answered 403)."""


KEYWORDS = [
    ("technology", ("地条钢", "中频炉", "工频炉", "感应炉", "淘汰类", "落后设备", "立窑", "小高炉")),
    ("environment", ("排放", "污染", "冒黑烟", "粉尘", "废水", "废气", "偷排", "环保")),
    ("energy", ("能耗", "耗电", "节能", "用电")),
    ("quality", ("质量", "不合格", "无证生产", "假冒")),
    ("safety", ("安全", "事故", "隐患", "爆炸")),
]
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def classify(text: str) -> str:
    for dimension, words in KEYWORDS:
        if any(word in text for word in words):
            return dimension
    return ""


def _territory_in(text: str) -> Territory | None:
    for territory in Territory.objects.exclude(level="province").order_by("-level"):
        short = re.sub(r"(市|区|县)$", "", territory.name)
        if territory.name in text or (len(short) >= 2 and short in text):
            return territory
    return None


def _route(dimension: str, territory: Territory | None) -> Department | None:
    city = territory.parent if territory and territory.level != "city" else territory
    departments = Department.objects.filter(territory=city) if city else Department.objects.all()
    chosen = [d for d in departments.order_by("is_office", "code") if dimension and dimension in d.dimensions]
    if chosen:
        return chosen[0]
    return departments.filter(is_office=True).first()


def _due(start: dt.date, days: int, unit: str) -> dt.date:
    """A time limit in working days (the official calendar) or calendar days."""
    return add_working_days(start, days) if unit == "working" else start + dt.timedelta(days=days)


def _code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(12))


def _normal(name: str) -> str:
    return re.sub(r"[\s()（）有限责任公司股份]", "", name)


@transaction.atomic
def receive(
    *,
    source: str,
    text: str,
    enterprise_name: str = "",
    territory: Territory | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    external_id: str = "",
    today: dt.date | None = None,
) -> tuple[TipOff, bool]:
    """(the tip-off, whether it is new). A work order sent twice with the same external id is one."""
    if source not in TipOff.Source.values:
        raise TipOffError(_("Unknown source."))
    text = text.strip()
    if len(text) < 5:
        raise TipOffError(_("Please describe what you are reporting."))
    external_id = work_order_number(external_id)
    if external_id:
        existing = TipOff.objects.filter(source=source, external_id=external_id).first()
        if existing:
            return existing, False
    today = today or timezone.localdate()
    territory = territory or _territory_in(f"{enterprise_name} {text}")
    dimension = classify(text)
    enterprise = (
        Enterprise.objects.filter(name=enterprise_name.strip()).first() if enterprise_name.strip() else None
    )
    if enterprise is not None and territory is None:
        territory = enterprise.territory
    policy = settings.TIPOFF_POLICIES.get(source, settings.TIPOFF_POLICIES["default"])
    duplicate = None
    if enterprise_name.strip():
        since = today - dt.timedelta(days=30)
        for earlier in TipOff.objects.filter(
            received_on__gte=since, dimension=dimension, duplicate_of__isnull=True
        ):
            if _normal(earlier.enterprise_name) and _normal(earlier.enterprise_name) == _normal(
                enterprise_name
            ):
                duplicate = earlier
                break
    try:
        with transaction.atomic():
            tipoff = TipOff.objects.create(
                tracking_code=_code(),
                source=source,
                external_id=external_id[:64],
                text=text[:5000],
                enterprise_name=enterprise_name.strip()[:120],
                enterprise=enterprise,
                territory=territory,
                dimension=dimension,
                department=_route(dimension, territory),
                received_on=today,
                handover_due=_due(today, *policy["handover"]),
                feedback_due=_due(today, *policy["feedback"]),
                duplicate_of=duplicate,
                reporter_name=identity.seal(reporter_name.strip()[:60], identity.NAME),
                reporter_phone=identity.seal(reporter_phone.strip()[:30], identity.PHONE),
            )
    except IntegrityError:
        # The same work order arrived twice at the same moment.
        return TipOff.objects.get(source=source, external_id=external_id), False
    record(
        actor=None,
        action="tipoff.receive",
        obj=tipoff,
        data={"source": source, "dimension": dimension, "duplicate_of": duplicate.pk if duplicate else None},
    )
    return tipoff, True


@transaction.atomic
def hand_over(*, tipoff: TipOff, department: Department, by: User) -> TipOff:
    tipoff = TipOff.objects.select_for_update().get(pk=tipoff.pk)
    tipoff.department = department
    tipoff.status = TipOff.Status.HANDED_OVER
    tipoff.handed_over_at = timezone.now()
    tipoff.save()
    record(actor=by, action="tipoff.hand_over", obj=tipoff, data={"department": department.code})
    notify(
        people_of_department(department.pk),
        MessageKind.TIPOFF,
        _("Tip-off %(code)s handed over to your department") % {"code": tipoff.tracking_code},
        _("Answer by %(due)s.") % {"due": tipoff.feedback_due.isoformat()},
        obj=tipoff,
        url=reverse("tipoff-detail", args=[tipoff.pk]),
        by=by,
    )
    return tipoff


@transaction.atomic
def answer(*, tipoff: TipOff, text: str, by: User) -> TipOff:
    if not text.strip():
        raise TipOffError(_("Please write the answer to the reporter."))
    tipoff = TipOff.objects.select_for_update().get(pk=tipoff.pk)
    tipoff.answer = text.strip()
    tipoff.answered_at = timezone.now()
    tipoff.status = TipOff.Status.ANSWERED
    tipoff.save()
    record(actor=by, action="tipoff.answer", obj=tipoff)
    return tipoff


def reveal(*, tipoff: TipOff, by: User, reason: str) -> tuple[str, str]:
    """The reporter's name and phone, for the role cleared for the reporter-identity label (intake), with
    the reason for reading them; the read is recorded first (no record, no identity), and so is a refused
    one. Nothing decrypted is stored anywhere."""
    if not may_read(Person.objects.filter(user=by).first(), Label.REPORTER_IDENTITY):
        message = _("Only the tip-off intake officer may see who reported.")
        record(actor=by, action="tipoff.identity_read", obj=tipoff, reason=message, outcome=Outcome.REFUSED)
        raise IdentityRefused(message)
    reason = " ".join(reason.split())[:200]
    if not reason:
        raise TipOffError(_("Please give the reason for reading the reporter's identity."))
    record(actor=by, action="tipoff.identity_read", obj=tipoff, reason=reason)
    return (
        identity.open_sealed(tipoff.reporter_name, identity.NAME),
        identity.open_sealed(tipoff.reporter_phone, identity.PHONE),
    )


def overdue(tipoff: TipOff, today: dt.date) -> str:
    if tipoff.status == TipOff.Status.RECEIVED and today > tipoff.handover_due:
        return "handover"
    if tipoff.status != TipOff.Status.ANSWERED and today > tipoff.feedback_due:
        return "feedback"
    return ""


def escalate_overdue(*, now: dt.datetime | None = None, today: dt.date | None = None) -> int:
    """Mark tip-offs past a time limit, once each, and tell the office, the intake officers and the
    department it was handed to. Safe to run twice and at once (each row is claimed by compare-and-set)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    late = TipOff.objects.filter(escalated_at__isnull=True).exclude(status=TipOff.Status.ANSWERED)
    handover = late.filter(status=TipOff.Status.RECEIVED, handover_due__lt=today)
    feedback = late.filter(feedback_due__lt=today)
    escalated = 0
    for tipoff in list((handover | feedback).distinct()):
        with transaction.atomic():
            if not TipOff.objects.filter(pk=tipoff.pk, escalated_at__isnull=True).update(escalated_at=now):
                continue
            limit = overdue(tipoff, today)
            due = tipoff.handover_due if limit == "handover" else tipoff.feedback_due
            people = [*office_people(tipoff.territory_id), *intake_people()]
            if tipoff.department_id:
                people += list(people_of_department(tipoff.department_id))
            notify(
                people,
                MessageKind.ESCALATION,
                _("Tip-off %(code)s is past its time limit (%(due)s)")
                % {"code": tipoff.tracking_code, "due": due.isoformat()},
                # Not the text: what a reporter wrote may name them, and mail leaves the platform.
                _("Received on %(received)s.") % {"received": tipoff.received_on.isoformat()},
                obj=tipoff,
                url=reverse("tipoff-detail", args=[tipoff.pk]),
                key=f"tipoff.escalation:{tipoff.pk}",
                now=now,
            )
            escalated += 1
    return escalated


@transaction.atomic
def link_case(*, tipoff: TipOff, case: Case, by: User) -> TipOff:
    if tipoff.enterprise_id and case.enterprise_id != tipoff.enterprise_id:
        raise TipOffError(_("That case is about another enterprise."))
    tipoff = TipOff.objects.select_for_update().get(pk=tipoff.pk)
    tipoff.case = case
    tipoff.enterprise_id = case.enterprise_id
    tipoff.save(update_fields=["case", "enterprise"])
    record(actor=by, action="tipoff.link_case", obj=tipoff, data={"case": case.pk})
    return tipoff
