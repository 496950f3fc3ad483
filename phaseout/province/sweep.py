"""The deadline sweep of the year summaries (the province app's job in phaseout.jobs; ADR 0026).

A city's year summary is due at the province on the date its plan in force states (Plan.summary_due, read
at confirmation from the task that hands the summary up; else the date of the provincial plan it
implements). A city whose summary was not with the province by then — not handed up, or returned and not
handed up again, or handed up only after the date — is marked overdue once, its office and the provincial
office told. Set-based: one query finds the cities to mark (there is at most one row per city and year,
and those already marked are left out by the query itself); the marks go in with INSERT … ON CONFLICT DO
NOTHING RETURNING, so two runs at once mark, tell and audit each city once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout import bulk
from phaseout.audit.record import Entry, record_many
from phaseout.messaging.actions import Notice, notify_many
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person, Territory
from phaseout.orgs.scope import office_people, province_people
from phaseout.plans.models import Plan
from phaseout.province.models import SummaryOverdue, YearSummary

SUMMARY = gettext_lazy("Year summaries overdue at the province: %(overdue)d.")
WITH_THE_PROVINCE = (YearSummary.State.HANDED_UP, YearSummary.State.ACCEPTED)
COLUMNS = ("city_id", "year", "due_on", "plan_id", "marked_at")


def candidates(today: dt.date) -> Iterator[tuple[str, int, dt.date, int]]:
    """(city, year, due date, plan) of the cities whose summary is overdue and not yet marked: one query,
    streamed. A city with two plans in force for a year is taken once (its newest plan)."""
    on_time = (
        YearSummary.objects.annotate(
            handed_up_on=TruncDate("handed_up_at", tzinfo=timezone.get_current_timezone())
        )
        .filter(city=OuterRef("territory"), year=OuterRef("year"), state__in=WITH_THE_PROVINCE)
        .filter(handed_up_on__lte=OuterRef("due"))
    )
    marked = SummaryOverdue.objects.filter(city=OuterRef("territory"), year=OuterRef("year"))
    plans = (
        Plan.objects.filter(status__in=Plan.IN_FORCE, territory__level=Territory.Level.CITY)
        .annotate(due=Coalesce("summary_due", "provincial_plan__summary_due"))
        .filter(due__lt=today)
        .exclude(Exists(marked))
        .exclude(Exists(on_time))
        .order_by("territory", "year", "-id")
        .values_list("territory", "year", "due", "pk")
    )
    seen: set[tuple[str, int]] = set()
    for city, year, due, plan in plans.iterator(chunk_size=bulk.BATCH):
        if (city, year) in seen:
            continue
        seen.add((city, year))
        yield city, year, due, plan


def sweep_overdue_summaries(*, now: dt.datetime, today: dt.date) -> int:
    """Mark each overdue city once, tell its office and its provincial office, audit each mark. Returns
    how many cities were marked by this run."""
    marked = 0
    batch: list[tuple[object, ...]] = []
    for city, year, due, plan in candidates(today):
        batch.append((city, year, due, plan, now))
        if len(batch) >= bulk.BATCH:
            marked += _mark(batch, now=now)
            batch = []
    if batch:
        marked += _mark(batch, now=now)
    return marked


def _mark(rows: list[tuple[object, ...]], *, now: dt.datetime) -> int:
    inserted = bulk.insert_new(SummaryOverdue, COLUMNS, rows, returning=("id", "city_id", "year", "due_on"))
    if not inserted:
        return 0
    names = dict(Territory.objects.filter(code__in={row[1] for row in inserted}).values_list("code", "name"))
    notices: list[Notice] = []
    entries: list[Entry] = []
    people: dict[str, tuple[list[Person], list[Person]]] = {}  # a city's office and its province's office
    for pk, city, year, due in inserted:
        if city not in people:
            people[city] = (list(office_people(city)), list(province_people(city)))
        office, province = people[city]
        due_on = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))
        title = _("Year summary overdue: %(city)s had not handed up its summary of %(year)d by %(due)s") % {
            "city": names.get(city, city),
            "year": year,
            "due": due_on.isoformat(),
        }
        key = f"summary.overdue:{city}:{year}"
        where = (
            (office, reverse("summary-list")),
            (province, f"{reverse('province-progress')}?year={year}"),
        )
        notices.extend(
            Notice(
                recipients=recipients,
                kind=MessageKind.ESCALATION,
                title=title,
                key=key,
                object_type=SummaryOverdue._meta.label_lower,
                object_id=str(pk),
                url=url,
            )
            for recipients, url in where
        )
        entries.append(
            (
                "summary.overdue",
                SummaryOverdue._meta.label_lower,
                str(pk),
                "",
                {"city": city, "year": year, "due_on": due_on.isoformat()},
            )
        )
    record_many(entries)
    notify_many(notices, now=now)
    return len(inserted)


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    return {"overdue": sweep_overdue_summaries(now=now, today=today)}
