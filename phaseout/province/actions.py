"""Writes for the year summary on its way up: draw it up, record the city government's approval, hand it
up, and the province's acceptance or return. Every step is an edge of phaseout.rules.approvals, leaves a
SummaryEvent (its history) and an audit row, and tells the other side in its message centre."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.cases.models import CaseTally
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person, Role, Territory
from phaseout.orgs.scope import city_code, office_people, province_people, unit_territory
from phaseout.plans.actions import PlanError, approval_fields
from phaseout.province.models import SummaryEvent, YearSummary
from phaseout.registry.models import ProductionLine
from phaseout.reports.summary import FIGURES, year_summary
from phaseout.rules.approvals import OFFICE, PROVINCE, StepRefused, SummaryStep, summary_step

RETURN_REASON_MAX = 2000
FIRST_YEAR = 2000


class SummaryError(ValueError):
    """A step on a year summary refused, with a message for the person."""


def _person(by: User) -> Person | None:
    return Person.objects.filter(user=by).select_related("department__territory", "territory").first()


def _check_office(by: User, city: str) -> None:
    person = _person(by)
    if person is None or person.role != Role.OFFICE or city_code(person) != city:
        raise SummaryError(_("Only the city's coordination office takes this step on its year summary."))


def check_province(by: User, city: str) -> None:
    person = _person(by)
    territory = unit_territory(person) if person is not None else None
    parent = Territory.objects.filter(code=city).values_list("parent_id", flat=True).first()
    if person is None or person.role != Role.PROVINCE or territory is None or territory.code != parent:
        raise SummaryError(_("Only the provincial office of the city's province reviews its year summary."))


def city_figures(city: Territory, year: int) -> dict[str, Any]:
    """The year's figures of a city from its records, with its districts rolled up into the city's total
    (JSON-safe: capacities as decimal strings)."""
    codes = city.subtree_codes()
    data = year_summary(
        year,
        tallies=CaseTally.objects.filter(territory__in=codes),
        lines=ProductionLine.objects.filter(territory__in=codes),
    )
    figures: dict[str, Any] = json.loads(json.dumps(data, default=str))
    figures["city"] = {"code": city.code, "name": city.name}
    figures["city_total"] = roll_up(figures.get("by_territory", []))
    return figures


def roll_up(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The sum of each figure over rows (districts into their city, cities into the province)."""
    total = dict.fromkeys(FIGURES, 0)
    for row in rows:
        for key in FIGURES:
            value = row.get(key, 0)
            total[key] += value if isinstance(value, int) and not isinstance(value, bool) else 0
    return total


def _event(
    summary: YearSummary, step: str, before: str, *, by: User, at: dt.datetime, note: str = ""
) -> None:
    SummaryEvent.objects.create(
        summary=summary, step=step, before=before, after=summary.state, note=note, by=by, at=at
    )


def _move(summary: YearSummary, step: SummaryStep, role: str, refused: str) -> str:
    try:
        return summary_step(summary.state, step, role).value
    except StepRefused:
        raise SummaryError(refused) from None


@transaction.atomic
def draw_up_summary(
    *,
    city: Territory,
    year: int,
    by: User,
    document: ContentFile | None = None,
    now: dt.datetime | None = None,
) -> YearSummary:
    """The office draws up its city's year summary from the records (again, while it is a draft, or after
    the province returned it: then the step is the revision)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not FIRST_YEAR <= year <= today.year:
        raise SummaryError(
            _("Please give a year from %(first)d to %(last)d.") % {"first": FIRST_YEAR, "last": today.year}
        )
    _check_office(by, city.code)
    existing = YearSummary.objects.select_for_update().filter(city=city, year=year).first()
    figures = city_figures(city, year)
    if existing is None:
        summary = YearSummary.objects.create(
            city=city, year=year, figures=figures, drawn_up_by=by, drawn_up_at=now
        )
        _event(summary, SummaryEvent.Step.DRAW_UP, "", by=by, at=now)
    else:
        summary = existing
        before = summary.state
        if before == YearSummary.State.RETURNED:
            summary.state = _move(summary, SummaryStep.REVISE, OFFICE, "")
            step = SummaryEvent.Step.REVISE
        elif before == YearSummary.State.DRAFT:
            step = SummaryEvent.Step.DRAW_UP
        else:
            raise SummaryError(
                _(
                    "The year summary of %(year)d has been approved by the city government; it is drawn up "
                    "again only when the province returns it."
                )
                % {"year": year}
            )
        summary.figures, summary.drawn_up_by, summary.drawn_up_at = figures, by, now
        summary.save(update_fields=["state", "figures", "drawn_up_by", "drawn_up_at"])
        _event(summary, step, before, by=by, at=now)
    if document is not None:
        content = document.read()
        document.seek(0)
        summary.document_name = (document.name or "summary")[:200]
        summary.document_sha256 = hashlib.sha256(content).hexdigest()
        summary.document.save(summary.document_name, document, save=False)
        summary.save(update_fields=["document", "document_name", "document_sha256"])
    record(
        actor=by,
        action="summary.draw_up",
        obj=summary,
        data={"city": city.code, "year": year, "found": summary.figures["city_total"]["found"]},
    )
    return summary


@transaction.atomic
def approve_summary(
    *,
    summary: YearSummary,
    body: str,
    doc_number: str,
    approved_on: dt.date | None,
    by: User,
    now: dt.datetime | None = None,
) -> YearSummary:
    """Record the city government's approval of the year summary (报市政府同意): body, document, date."""
    now = now or timezone.now()
    try:
        body, doc_number, day = approval_fields(
            body=body, doc_number=doc_number, approved_on=approved_on, today=timezone.localdate(now)
        )
    except PlanError as exc:
        raise SummaryError(str(exc)) from None
    locked = YearSummary.objects.select_for_update().get(pk=summary.pk)
    _check_office(by, locked.city_id)
    before = locked.state
    locked.state = _move(
        locked,
        SummaryStep.APPROVE,
        OFFICE,
        _("Only a draft year summary can be approved by the city government."),
    )
    if day < timezone.localdate(locked.drawn_up_at):
        raise SummaryError(_("The date of approval cannot be before the office drew up the year summary."))
    locked.approval_body, locked.approval_doc_number, locked.approved_on = body, doc_number, day
    locked.approval_recorded_by, locked.approval_recorded_at = by, now
    locked.save()
    _event(
        locked,
        SummaryEvent.Step.APPROVE,
        before,
        by=by,
        at=now,
        note=f"{body} {doc_number} {day.isoformat()}",
    )
    record(
        actor=by,
        action="summary.approve",
        obj=locked,
        data={"body": body, "document": doc_number, "approved_on": day.isoformat()},
    )
    return locked


def _summary_url(summary: YearSummary) -> str:
    return reverse("summary-detail", args=[summary.pk])


@transaction.atomic
def hand_up_summary(*, summary: YearSummary, by: User, now: dt.datetime | None = None) -> YearSummary:
    """The office hands the approved summary up to the provincial office, which is told."""
    now = now or timezone.now()
    locked = YearSummary.objects.select_for_update().select_related("city").get(pk=summary.pk)
    _check_office(by, locked.city_id)
    before = locked.state
    refused = (
        _("This year summary has already been handed up to the province.")
        if before in (YearSummary.State.HANDED_UP, YearSummary.State.ACCEPTED)
        else _("Only a year summary the city government approved can be handed up to the province.")
    )
    locked.state = _move(locked, SummaryStep.HAND_UP, OFFICE, refused)
    locked.handed_up_by, locked.handed_up_at = by, now
    locked.save(update_fields=["state", "handed_up_by", "handed_up_at"])
    _event(locked, SummaryEvent.Step.HAND_UP, before, by=by, at=now)
    record(actor=by, action="summary.hand_up", obj=locked, data={"city": locked.city_id, "year": locked.year})
    tell_province(locked, by=by, now=now)
    return locked


def tell_province(summary: YearSummary, *, by: User, now: dt.datetime) -> None:
    notify(
        province_people(summary.city_id),
        MessageKind.NOTICE,
        _("Year summary handed up: %(city)s %(year)d") % {"city": summary.city.name, "year": summary.year},
        obj=summary,
        url=_summary_url(summary),
        key=f"summary.handed_up:{summary.pk}:{summary.handed_up_at:%Y%m%d%H%M%S}",
        by=by,
        now=now,
    )


@transaction.atomic
def review_summary(
    *, summary: YearSummary, accept: bool, reason: str, by: User, now: dt.datetime | None = None
) -> YearSummary:
    """The provincial office accepts the summary, or returns it with the reason (required); the city's
    office is told either way."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not accept and not reason:
        raise SummaryError(
            _("Please give the reason for returning it: the city needs to know what to change.")
        )
    if len(reason) > RETURN_REASON_MAX:
        raise SummaryError(
            _("The text is too long: at most %(limit)d characters.") % {"limit": RETURN_REASON_MAX}
        )
    if "\x00" in reason:
        raise SummaryError(_("The text contains a character that is not allowed."))
    locked = YearSummary.objects.select_for_update().select_related("city").get(pk=summary.pk)
    check_province(by, locked.city_id)
    before = locked.state
    locked.state = _move(
        locked,
        SummaryStep.ACCEPT if accept else SummaryStep.RETURN,
        PROVINCE,
        _("Only a year summary handed up and awaiting the province can be accepted or returned."),
    )
    locked.reviewed_by, locked.reviewed_at = by, now
    locked.return_reason = "" if accept else reason
    locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "return_reason"])
    step = SummaryEvent.Step.ACCEPT if accept else SummaryEvent.Step.RETURN
    _event(locked, step, before, by=by, at=now, note=reason)
    record(
        actor=by,
        action="summary.accept" if accept else "summary.return",
        obj=locked,
        reason=reason,
        data={"city": locked.city_id, "year": locked.year},
    )
    title = (
        _("Year summary accepted by the province: %(year)d")
        if accept
        else _("Year summary returned by the province: %(year)d")
    ) % {"year": locked.year}
    if locked.source == YearSummary.Source.PLATFORM:
        notify(
            office_people(locked.city_id),
            MessageKind.NOTICE if accept else MessageKind.RETURNED,
            title,
            reason,
            obj=locked,
            url=_summary_url(locked),
            key=f"summary.{step}:{locked.pk}:{now:%Y%m%d%H%M%S}",
            by=by,
            now=now,
        )
    return locked
