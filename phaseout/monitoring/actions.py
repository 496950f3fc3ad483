"""Writes of people: monitoring points registered and changed, key discharge units listed. (Readings come
from the receiver, phaseout.monitoring.store.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.cases.actions import record_finding, record_inspection
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import Finding, Inspection
from phaseout.monitoring.models import (
    CheckKind,
    CheckStatus,
    DataCheck,
    DismissalReason,
    KeyDischargeUnit,
    MonitoringPoint,
    PointKind,
)
from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import territory_codes
from phaseout.registry.models import Enterprise, ProductionLine
from phaseout.rules.monitoring import POLLUTANTS


class MonitoringError(ValueError):
    pass


def _check_mn(mn: str) -> str:
    mn = mn.strip()
    if not (1 <= len(mn) <= 24) or not mn.isascii() or not mn.isalnum():
        raise MonitoringError(_("An MN is 1 to 24 letters and digits."))
    return mn


def _check_password(password: str) -> str:
    if not (1 <= len(password) <= 32) or not password.isascii() or not password.isprintable():
        raise MonitoringError(_("A data logger's password is 1 to 32 printable ASCII characters."))
    if any(ch in password for ch in ";=,&"):
        raise MonitoringError(_("A data logger's password cannot hold ; = , or &."))
    return password


def register_point(
    *,
    enterprise: Enterprise,
    mn: str,
    outlet_code: str,
    outlet_name: str,
    kind: PointKind,
    password: str,
    lines: Iterable[ProductionLine] = (),
    by: User | None,
) -> MonitoringPoint:
    """A monitor on one of the enterprise's discharge outlets, with its logger's MN and password."""
    mn = _check_mn(mn)
    password = _check_password(password)
    lines = list(lines)
    if any(line.enterprise_id != enterprise.pk for line in lines):
        raise MonitoringError(_("A monitoring point serves lines of its own enterprise only."))
    with transaction.atomic():
        if MonitoringPoint.objects.filter(mn=mn).exists():
            raise MonitoringError(_("This MN is already registered."))
        point = MonitoringPoint.objects.create(
            enterprise=enterprise, mn=mn, outlet_code=outlet_code[:20], outlet_name=outlet_name[:60],
            kind=kind, password=password,
        )  # fmt: skip
        point.lines.set(lines)
        record(
            actor=by, action="monitoring.register_point", obj=point,
            data={"mn": mn, "enterprise": enterprise.pk, "outlet": outlet_code,
                  "lines": [x.pk for x in lines]},
        )  # fmt: skip
    return point


def set_point_active(
    *, point: MonitoringPoint, active: bool, by: User | None, reason: str
) -> MonitoringPoint:
    with transaction.atomic():
        point = MonitoringPoint.objects.select_for_update().get(pk=point.pk)
        point.active = active
        point.save(update_fields=["active"])
        record(
            actor=by, action="monitoring.set_active", obj=point, reason=reason[:200], data={"active": active}
        )
    return point


def list_key_unit(
    *, enterprise: Enterprise, year: int, flue_gas: bool, wastewater: bool, by: User | None
) -> KeyDischargeUnit:
    """Put the enterprise on the key discharge units list (or change what it must monitor)."""
    if not (flue_gas or wastewater):
        raise MonitoringError(_("A key discharge unit must monitor flue gas, wastewater or both."))
    with transaction.atomic():
        unit, created = KeyDischargeUnit.objects.update_or_create(
            enterprise=enterprise,
            defaults={"listed_year": year, "flue_gas": flue_gas, "wastewater": wastewater},
        )
        record(
            actor=by, action="monitoring.list_key_unit", obj=unit,
            data={"year": year, "flue_gas": flue_gas, "wastewater": wastewater, "created": created},
        )  # fmt: skip
    return unit


# ── data checks: a person of the environment department decides ─────────────────────────────────────────

NOTES_MAX = 2000


def check_refusal(person: Person | None, check: DataCheck) -> str | None:
    """Why this person may not decide the data check (None: they may): an officer of a department that
    enforces the environment dimension in the check's city."""
    if person is None or person.role != Role.DEPARTMENT or person.department is None:
        return _("Only an officer of the environment department decides a data check.")
    if "environment" not in person.dimensions:
        return _(
            "%(department)s does not enforce the environment dimension; its competent department decides."
        ) % {"department": person.department.name}
    if check.territory_id not in territory_codes(person):
        return _("This data check lies outside your city.")
    return None


def _lock_open(check: DataCheck, by: User) -> DataCheck:
    locked = (
        DataCheck.objects.select_for_update(of=("self",))
        .select_related("point", "enterprise", "line")
        .get(pk=check.pk)
    )
    if locked.status != CheckStatus.OPEN:
        raise MonitoringError(
            _("This data check was already decided: %(status)s.") % {"status": locked.get_status_display()}
        )
    refused = check_refusal(getattr(by, "person", None), locked)
    if refused:
        raise MonitoringError(refused)
    return locked


def _check_decided_on(check: DataCheck, decided_on: dt.date, today: dt.date) -> None:
    if decided_on > today:
        raise MonitoringError(_("The decision date cannot be in the future."))
    if decided_on < timezone.localtime(check.raised_at).date():
        raise MonitoringError(_("The decision date cannot be before the data check was raised."))


def _clean_notes(notes: str) -> str:
    notes = notes.strip()
    if "\x00" in notes:
        raise MonitoringError(_("The notes contain a character that is not allowed."))
    if len(notes) > NOTES_MAX:
        raise MonitoringError(_("The notes are too long (at most %(n)d characters).") % {"n": NOTES_MAX})
    return notes


def confirm_check(
    *,
    check: DataCheck,
    by: User,
    decided_on: dt.date,
    notes: str = "",
    serious: bool = False,
    today: dt.date | None = None,
) -> DataCheck:
    """The officer confirms what the data shows. An exceedance becomes an inspection by monitoring data and
    a finding under the rule it breached, which opens a case on the environment path as a proposal of the
    department (the department then decides restriction or suspension there, with its dates of issue and
    service). A monitor offline or incomplete data is confirmed as a breach of the duty to run the monitor,
    on the record. `serious` (情节严重) puts a confirmed exceedance on the serious over-emission list."""
    today = today or timezone.localdate()
    notes = _clean_notes(notes)
    with transaction.atomic():
        check = _lock_open(check, by)
        _check_decided_on(check, decided_on, today)
        if serious and check.kind != CheckKind.EXCEEDANCE:
            raise MonitoringError(_("Only an exceedance can be marked serious."))
        person = by.person
        finding = None
        # The steel ultra-low rule is a policy requirement (差别化管控), not an emission standard: its
        # confirmation is recorded and notified, and opens no case.
        if check.kind == CheckKind.EXCEEDANCE and check.averaging != "hours_share":
            if check.line is None or check.peak is None:
                raise MonitoringError(_("This data check names no production line or value to judge."))
            start = timezone.localtime(check.period_start)
            end = timezone.localtime(check.period_end)
            basis = _(
                "Online monitoring %(mn)s (%(outlet)s): %(pollutant)s %(averaging)s averages above "
                "%(limit)s "
                "from %(start)s to %(end)s, highest %(peak)s."
            ) % {
                "mn": check.point.mn,
                "outlet": check.point.outlet_name,
                "pollutant": POLLUTANTS[check.pollutant].name
                if check.pollutant in POLLUTANTS
                else check.pollutant,
                "averaging": _("daily") if check.averaging == "day" else _("hourly"),
                "limit": f"{check.limit_value.normalize():f}" if check.limit_value is not None else "",
                "start": f"{start:%Y-%m-%d %H:%M}",
                "end": f"{end:%Y-%m-%d %H:%M}",
                "peak": f"{check.peak.normalize():f}",
            }
            assert person.department is not None  # _lock_open refused anyone without one
            inspection = record_inspection(
                department=person.department,
                enterprise=check.enterprise,
                line=check.line,
                dimension="environment",
                inspected_on=decided_on,
                inspectors=person.display_name[:120],
                notes=f"{basis}\n{notes}".strip(),
                by=by,
                today=today,
                method=Inspection.Method.MONITORING,
            )
            try:
                finding = record_finding(
                    inspection=inspection,
                    rule_id=check.rule_id,
                    line=check.line,
                    measured_value=check.peak,
                    by=by,
                    basis=(_("Online monitoring data check, MN %(mn)s") % {"mn": check.point.mn})[:80],
                )
            except CaseActionError as error:
                raise MonitoringError(str(error)) from error
            if finding.conclusion == Finding.Conclusion.COMPLIANT:
                raise MonitoringError(
                    _(
                        "Under the rule in force on the decision date the value is within the limit: "
                        "dismiss it."
                    )
                )
        check.status = CheckStatus.CONFIRMED
        check.decided_by = by
        check.decided_at = timezone.now()
        check.decided_on = decided_on
        check.notes = notes
        check.serious = serious
        check.finding = finding
        check.save()
        record(
            actor=by,
            action="monitoring.check_confirm",
            obj=check,
            data={
                "kind": check.kind,
                "decided_on": decided_on.isoformat(),
                "serious": serious,
                "finding": finding.pk if finding else None,
                "case": finding.case.pk if finding is not None and hasattr(finding, "case") else None,
            },
        )
    return check


def dismiss_check(
    *,
    check: DataCheck,
    by: User,
    decided_on: dt.date,
    reason: str,
    notes: str = "",
    today: dt.date | None = None,
) -> DataCheck:
    """The officer dismisses the data check with its reason (calibration, start-up, a fault found on site...);
    "other" needs the explanation in the notes."""
    today = today or timezone.localdate()
    notes = _clean_notes(notes)
    if reason not in DismissalReason.values:
        raise MonitoringError(_("Choose the reason for dismissing the data check."))
    if reason == DismissalReason.OTHER and not notes:
        raise MonitoringError(_("Explain the reason in the notes."))
    with transaction.atomic():
        check = _lock_open(check, by)
        _check_decided_on(check, decided_on, today)
        check.status = CheckStatus.DISMISSED
        check.decided_by = by
        check.decided_at = timezone.now()
        check.decided_on = decided_on
        check.reason = reason
        check.notes = notes
        check.save()
        record(
            actor=by,
            action="monitoring.check_dismiss",
            obj=check,
            reason=str(DismissalReason(reason).label),
            data={"kind": check.kind, "decided_on": decided_on.isoformat(), "reason": reason},
        )
    return check
