"""Gather the cases behind price measures and compute the measures (rules in phaseout.rules.prices)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from phaseout.cases.actions import rule_of
from phaseout.cases.models import Case, CaseEvent, Finding
from phaseout.prices.models import PriceRate
from phaseout.rules.case_flow import State
from phaseout.rules.dimensions import Dimension
from phaseout.rules.prices import CaseFacts, PriceMeasure, Rate, measures_for
from phaseout.rules.rulebook import CatalogueClass, Comparison, Rule, Verification


@dataclass(frozen=True)
class Row:
    case: Case
    rule: Rule | None
    measure: PriceMeasure

    @property
    def unconfirmed(self) -> bool:
        """The rate, or the rule that brought the measure, is not confirmed by any source."""
        rate_unconfirmed = (
            self.measure.rate is not None and self.measure.rate.verification is Verification.UNCONFIRMED
        )
        return rate_unconfirmed or bool(self.rule and self.rule.uses_unconfirmed)

    def active_on(self, day: dt.date) -> bool:
        return self.measure.start <= day and (self.measure.end is None or day <= self.measure.end)


def _closed_on(case_ids: list[int]) -> dict[int, dt.date]:
    closed: dict[int, dt.date] = {}
    events = CaseEvent.objects.filter(case_id__in=case_ids, to_state=State.CLOSED).values_list(
        "case_id", "at"
    )
    for case_id, at in events:
        closed[case_id] = max(closed.get(case_id, at.date()), at.date())
    return closed


CHUNK = 2000


def priced_cases(cases: QuerySet[Case], on: dt.date | None = None) -> QuerySet[Case]:
    """The cases that may bring a price measure (a finding that is not compliant, a case that was not
    dismissed), with what their measures read; `on`: only those whose measures are in force that day
    (the same test as `Row.active_on`, in SQL), so that the database pages and counts them."""
    qs = (
        cases.filter(finding__isnull=False)
        .exclude(finding__conclusion=Finding.Conclusion.COMPLIANT)
        .exclude(state=State.DISMISSED)  # a proposal the department did not confirm brings no price
        .select_related("finding__inspection", "enterprise", "line", "territory")
        # Not shown nor exported: the contact is encrypted, and opening it cost most of an export.
        .defer("enterprise__contact_name", "enterprise__contact_phone", "enterprise__address")
    )
    return qs.filter(in_force_on(on)) if on is not None else qs


def in_force_on(day: dt.date) -> Q:
    """A case's measures run from its inspection to the day it closed compliant (the latest closing
    event's day, as `_closed_on` reads it: the UTC date), or to the day its case or its line exited."""
    closing = CaseEvent.objects.filter(case=OuterRef("pk"), to_state=State.CLOSED)
    midnight = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    closed = Q(state=State.CLOSED) & (~Exists(closing) | Exists(closing.filter(at__gte=midnight)))
    exited = Q(exited_on__gte=day) | (
        Q(exited_on__isnull=True) & (Q(line__exited_on__isnull=True) | Q(line__exited_on__gte=day))
    )
    return Q(finding__inspection__inspected_on__lte=day) & (closed | (~Q(state=State.CLOSED) & exited))


def rows_of(found: Sequence[Case]) -> list[Row]:
    """The price measures of these cases (read with `priced_cases`), in their order."""
    rates = [rate.to_rate() for rate in PriceRate.objects.all()]
    return _measured(found, rates, _closed_on([case.pk for case in found]))


def streamed(qs: QuerySet[Case], on: dt.date | None = None) -> Iterator[Row]:
    """Every measure of `qs`'s cases, read a chunk of cases at a time through a server-side cursor:
    memory flat whatever the count."""
    rates = [rate.to_rate() for rate in PriceRate.objects.all()]
    chunk: list[Case] = []
    for case in qs.iterator(chunk_size=CHUNK):
        chunk.append(case)
        if len(chunk) == CHUNK:
            yield from _active(_measured(chunk, rates, _closed_on([c.pk for c in chunk])), on)
            chunk = []
    if chunk:
        yield from _active(_measured(chunk, rates, _closed_on([c.pk for c in chunk])), on)


def _active(rows: list[Row], on: dt.date | None) -> list[Row]:
    return rows if on is None else [row for row in rows if row.active_on(on)]


def price_rows(cases: QuerySet[Case]) -> list[Row]:
    """Every price measure the cases bring, with its period."""
    return rows_of(list(priced_cases(cases).order_by("id")))


def _measured(found: Sequence[Case], rates: list[Rate], closed: dict[int, dt.date]) -> list[Row]:
    rows: list[Row] = []
    for case in found:
        finding = case.finding
        assert finding is not None
        rule = rule_of(case)
        end, reason = None, ""
        if case.state == State.CLOSED:
            end, reason = closed.get(case.pk), "closed_compliant"
        elif case.exited_on:
            end, reason = case.exited_on, "exited"
        elif case.line is not None and case.line.exited_on:
            end, reason = case.line.exited_on, "exited"
        facts = CaseFacts(
            case_id=case.pk,
            industry=case.industry_id,
            dimension=case.dimension,
            catalogue_class=rule.catalogue_class if rule else CatalogueClass.NONE,
            energy_limit_breach=bool(
                rule
                and rule.dimension is Dimension.ENERGY
                and rule.comparison is not Comparison.ELIMINATED
                and finding.conclusion == Finding.Conclusion.NON_COMPLIANT
            ),
            indicator=rule.indicator if rule else "",
            measured=finding.measured_value,
            limit=finding.limit_value,
            start=finding.inspection.inspected_on,
            end=end,
            end_reason=reason,
        )
        rows.extend(Row(case=case, rule=rule, measure=m) for m in measures_for(facts, rates))
    return rows
