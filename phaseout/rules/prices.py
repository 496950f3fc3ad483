"""Price measures: who pays which electricity or water surcharge, from when to when.

差别电价 (differential electricity price) for elimination- and restricted-class capacity in the eight
industries it covers; 阶梯电价 (tiered price) for steel and cement by energy use; 惩罚性电价
(punitive price) for capacity over an energy limit; 超定额用水累进加价 (progressive water
surcharge) for the same. Rates come from `Rate` rows: the confirmed national levels ship with
their sources; where the reference has only a local example or nothing confirmed, the office
enters the rate and the document it cites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from phaseout.rules.rulebook import CatalogueClass, Verification


class PriceKind(StrEnum):
    DIFFERENTIAL = "differential"  # 差别电价, 元/kWh on top of the tariff
    TIERED = "tiered"  # 阶梯电价, 元/kWh above an energy-use threshold
    PUNITIVE = "punitive"  # 惩罚性电价, 元/kWh by how far the energy limit is exceeded
    WATER = "water"  # 超定额用水累进加价, % of the basic water price by how far the quota is exceeded


class Utility(StrEnum):
    POWER = "power"
    WATER = "water"


UTILITY = {
    PriceKind.DIFFERENTIAL: Utility.POWER,
    PriceKind.TIERED: Utility.POWER,
    PriceKind.PUNITIVE: Utility.POWER,
    PriceKind.WATER: Utility.WATER,
}

# 差别电价 covers eight industries (since 2004): 电解铝、铁合金、电石、烧碱、水泥、钢铁、黄磷、锌冶炼.
# Phosphorus and zinc smelting are not industries of the registry yet.
DIFFERENTIAL_INDUSTRIES = frozenset(
    {"electrolytic_aluminium", "ferroalloy", "calcium_carbide", "caustic_soda", "cement", "steel"}
)
TIERED_INDUSTRIES = frozenset({"steel", "cement"})


@dataclass(frozen=True)
class Rate:
    kind: PriceKind
    rate: Decimal  # 元/kWh for electricity; for water the surcharge of the first tier, in %
    effective_from: dt.date
    source: str
    verification: Verification
    industry: str = ""  # "" = every industry the kind covers
    catalogue_class: CatalogueClass = CatalogueClass.NONE  # differential and water: which class
    indicator: str = ""  # tiered: the energy indicator
    above: Decimal | None = None  # tiered: measured value above; punitive: exceedance (%) above
    water_tiers: tuple[Decimal, Decimal, Decimal] | None = None  # % over quota ≤30 / 30–50 / >50
    effective_until: dt.date | None = None
    entered_by_office: bool = False
    id: int | None = None

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def describe(self) -> str:
        if self.kind is PriceKind.WATER and self.water_tiers:
            a, b, c = (f"{t.normalize():f}" for t in self.water_tiers)
            return f"超定额≤30%加价{a}%，30%–50%加价{b}%，>50%加价{c}%"
        return f"+{self.rate.normalize():f} 元/kWh"


@dataclass(frozen=True)
class CaseFacts:
    """What the price rules need to know about one case."""

    case_id: int
    industry: str
    dimension: str
    catalogue_class: CatalogueClass
    energy_limit_breach: bool  # an energy rule with a limit, measured over it
    indicator: str
    measured: Decimal | None
    limit: Decimal | None
    start: dt.date  # the finding's date
    end: dt.date | None  # closed compliant, or the line exited; None while it runs
    end_reason: str  # "", "closed_compliant" or "exited"


@dataclass(frozen=True)
class PriceMeasure:
    case_id: int
    kind: PriceKind
    utility: Utility
    rate: Rate | None  # None: the office has not entered the rate this measure needs
    basis: str
    start: dt.date
    end: dt.date | None
    end_reason: str

    @property
    def rate_text(self) -> str:
        return self.rate.describe() if self.rate else ""


def _pick(rates: Iterable[Rate], day: dt.date, **match: object) -> list[Rate]:
    found = []
    for rate in rates:
        if not rate.in_force(day):
            continue
        if all(getattr(rate, key) == value for key, value in match.items()):
            found.append(rate)
    return found


def _most_specific(candidates: Sequence[Rate], industry: str) -> Rate | None:
    """An industry's own rate before the general one; the newest first."""
    own = [r for r in candidates if r.industry == industry]
    general = [r for r in candidates if not r.industry]
    for group in (own, general):
        if group:
            return max(group, key=lambda r: r.effective_from)
    return None


def exceedance(measured: Decimal, limit: Decimal) -> Decimal:
    """How far over the limit, in % of the limit's magnitude."""
    if limit == 0:
        return Decimal(100) if measured > 0 else Decimal(0)
    return (measured - limit) / abs(limit) * 100


def measures_for(case: CaseFacts, rates: Sequence[Rate]) -> list[PriceMeasure]:
    """The price measures one case brings, judged on the day it started."""
    day = case.start
    found: list[PriceMeasure] = []

    def add(kind: PriceKind, rate: Rate | None, basis: str) -> None:
        found.append(
            PriceMeasure(
                case_id=case.case_id,
                kind=kind,
                utility=UTILITY[kind],
                rate=rate,
                basis=basis,
                start=case.start,
                end=case.end,
                end_reason=case.end_reason,
            )
        )

    classed = case.catalogue_class in (CatalogueClass.ELIMINATED, CatalogueClass.RESTRICTED)
    on_differential = classed and case.industry in DIFFERENTIAL_INDUSTRIES
    if on_differential:
        candidates = _pick(rates, day, kind=PriceKind.DIFFERENTIAL, catalogue_class=case.catalogue_class)
        add(
            PriceKind.DIFFERENTIAL,
            _most_specific([r for r in candidates if r.industry in ("", case.industry)], case.industry),
            "淘汰类" if case.catalogue_class is CatalogueClass.ELIMINATED else "限制类",
        )
    if case.energy_limit_breach and case.measured is not None and case.limit is not None:
        over = exceedance(case.measured, case.limit)
        ladder = [
            r
            for r in _pick(rates, day, kind=PriceKind.PUNITIVE)
            if r.industry in ("", case.industry) and (r.above is None or over > r.above)
        ]
        rate = max(ladder, key=lambda r: (r.above or Decimal(-1), bool(r.industry))) if ladder else None
        add(PriceKind.PUNITIVE, rate, f"超过能耗限额{over.quantize(Decimal('0.1'))}%")
    if not on_differential and case.industry in TIERED_INDUSTRIES and case.measured is not None:
        tiers = [
            r
            for r in _pick(
                rates, day, kind=PriceKind.TIERED, industry=case.industry, indicator=case.indicator
            )
            if r.above is not None and case.measured > r.above
        ]
        if tiers:
            add(
                PriceKind.TIERED,
                max(tiers, key=lambda r: r.above or Decimal(0)),
                f"{case.indicator}={case.measured}",
            )
    if classed or case.energy_limit_breach:
        wanted = case.catalogue_class if classed else CatalogueClass.NONE
        candidates = _pick(rates, day, kind=PriceKind.WATER, catalogue_class=wanted)
        add(
            PriceKind.WATER,
            _most_specific(candidates, case.industry),
            "淘汰类、限制类" if classed else "超过能耗限额",
        )
    return found
