"""Induction furnaces (中频炉 / 工频炉): which uses are within the permitted scope, and when a furnace's
power use does not fit what it is registered for. Pure Python, stated once.

The scope is that of the five associations' opinion on fighting 地条钢 and defining where medium- and
power-frequency induction furnaces may be used (《关于支持打击"地条钢"、界定工频和中频感应炉使用范围的意见》,
cited by the Heyuan plan 二(三)3 as 钢协〔2017〕23号). It is PARTLY confirmed: the uses were read in
secondary sources only, and the document number itself was not seen in any source
(/work/shared/reference/enforcement-law.md, item 8). Every page and export that shows the judgement says so.

Permitted (not to be eliminated):
- a foundry's melting furnace for castings (but not ingots or billets made "as castings");
- special or precision alloys;
- in stainless and high-alloy steel routes, melting ferro-alloys only (ferrochrome, ferronickel).

Not permitted: making plain carbon steel, steel for construction, ingots or billets in an induction
furnace (地条钢; the 2011 catalogue's elimination class lists induction furnaces "用于地条钢、普碳钢、不锈钢
冶炼"; 工信部联产业〔2017〕30号: "依法全面拆除生产建筑用钢的工频炉、中频炉"). Any other use is not
one the opinion names, so it is outside the scope until a person of the department judges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from phaseout.rules.rulebook import Verification


class FurnaceKind(StrEnum):
    MEDIUM_FREQUENCY = "medium_frequency"  # 中频感应炉
    POWER_FREQUENCY = "power_frequency"  # 工频感应炉


class FurnaceUse(StrEnum):
    CASTING = "casting"  # 铸造 (castings)
    SPECIAL_ALLOY = "special_alloy"  # 特种合金 / 精密合金
    FERROALLOY_MELTING = "ferroalloy_melting"  # 不锈钢、高合金钢流程中熔化铬铁、镍铁等合金
    CARBON_STEEL = "carbon_steel"  # 普碳钢冶炼
    CONSTRUCTION_STEEL = "construction_steel"  # 建筑用钢 / 钢锭 / 钢坯
    OTHER = "other"


BASIS = "钢协〔2017〕23号《关于支持打击“地条钢”、界定工频和中频感应炉使用范围的意见》"
# Secondary sources only; the document number was not seen (reference item 8: PARTLY confirmed).
VERIFICATION = Verification.SECONDARY
PARTLY_CONFIRMED = True

PERMITTED_USES = frozenset({FurnaceUse.CASTING, FurnaceUse.SPECIAL_ALLOY, FurnaceUse.FERROALLOY_MELTING})
PROHIBITED_USES = frozenset({FurnaceUse.CARBON_STEEL, FurnaceUse.CONSTRUCTION_STEEL})


@dataclass(frozen=True)
class ScopeJudgement:
    use: FurnaceUse
    permitted: bool
    # Named as prohibited by the sources (as opposed to merely not named as permitted).
    prohibited: bool
    basis: str = BASIS
    verification: Verification = VERIFICATION
    partly_confirmed: bool = PARTLY_CONFIRMED


def judge_use(use: FurnaceUse | str) -> ScopeJudgement:
    """Whether a registered use is within the permitted scope. An unknown code raises ValueError."""
    use = FurnaceUse(use)
    return ScopeJudgement(use=use, permitted=use in PERMITTED_USES, prohibited=use in PROHIBITED_USES)


# ── power pattern ──
# Time-of-use meters split a day's energy into peak, flat and valley (谷) periods; the valley period is
# the night, 8 hours of 24 in Guangdong's tariff (23:00–07:00; an assumption where a utility's periods
# differ). A load that is the same all day puts 8/24 = 1/3 of its energy in the valley. A furnace whose
# valley share is above NIGHT_SHARE draws, per hour, more than three times at night what it draws by day
# (0.6/8 against 0.4/16): the pattern cities screen for when billets are melted at night on cheap power
# under the name of daytime casting. Used only where the data carries the valley figure.
VALLEY_HOURS = 8
NIGHT_SHARE = Decimal("0.6")


def night_heavy(*, total_kwh: Decimal, valley_kwh: Decimal | None, share: Decimal = NIGHT_SHARE) -> bool:
    """Whether the night (valley) part of a period's use is above `share` of the whole."""
    if valley_kwh is None or total_kwh <= 0:
        return False
    return valley_kwh > total_kwh * share


def night_to_day_ratio(*, total_kwh: Decimal, valley_kwh: Decimal) -> Decimal | None:
    """Average night power over average day power (kWh per hour), or None without day use."""
    day = total_kwh - valley_kwh
    if day <= 0:
        return None
    return (valley_kwh / VALLEY_HOURS) / (day / (24 - VALLEY_HOURS))


def over_threshold(*, kwh: Decimal, days: int, per_day: Decimal) -> bool:
    """Whether a period's use is above the residual use a stopped site may draw (`per_day` × days)."""
    return days > 0 and kwh > per_day * days
