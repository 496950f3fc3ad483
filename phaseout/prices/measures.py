"""Gather the cases behind price measures and compute the measures (rules in phaseout.rules.prices)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from phaseout.cases.actions import rule_of
from phaseout.cases.models import Case, CaseEvent, Finding
from phaseout.prices.models import PriceRate
from phaseout.rules.case_flow import State
from phaseout.rules.dimensions import Dimension
from phaseout.rules.prices import CaseFacts, PriceMeasure, measures_for
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


def price_rows(cases: QuerySet[Case]) -> list[Row]:
    """Every price measure the cases bring, with its period."""
    rates = [rate.to_rate() for rate in PriceRate.objects.all()]
    qs = (
        cases.filter(finding__isnull=False)
        .exclude(finding__conclusion=Finding.Conclusion.COMPLIANT)
        .exclude(state=State.DISMISSED)  # a proposal the department did not confirm brings no price
        .select_related("finding__inspection", "enterprise", "line", "territory")
        .order_by("id")
    )
    found = list(qs)
    closed = _closed_on([case.pk for case in found])
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
