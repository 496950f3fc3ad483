"""How an exit is carried out: the measures of each exit plan and the period of each.

The plans follow Heyuan 2021 二(三)2 and 工信部联产业〔2017〕30号: equipment that can be dismantled
is dismantled at once; otherwise water and power are cut, power equipment is removed, main
equipment is sealed, the enterprise pledges publicly not to resume, the city announces it on its
website, and dismantling follows by a deadline. The periods are the coordination office's working
norms (the plans say "at once" and "by a deadline" without a number); they are set here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MeasureKind(StrEnum):
    CLOSE_ENTERPRISE = "close_enterprise"
    POWER_CUT = "power_cut"
    WATER_CUT = "water_cut"
    POWER_EQUIPMENT_REMOVAL = "power_equipment_removal"
    EQUIPMENT_SEALING = "equipment_sealing"
    DISMANTLING = "dismantling"
    PUBLIC_PLEDGE = "public_pledge"
    WEBSITE_ANNOUNCEMENT = "website_announcement"


class ExitPlan(StrEnum):
    DISMANTLE_AT_ONCE = "dismantle_at_once"
    SEAL_THEN_DISMANTLE = "seal_then_dismantle"
    CLOSE_ENTERPRISE = "close_enterprise"


@dataclass(frozen=True)
class MeasureNorm:
    days: int = 0
    months: int = 0
    unit: str = ""


# Period from the exit order date, and the unit that carries the measure out.
NORMS: dict[MeasureKind, MeasureNorm] = {
    MeasureKind.CLOSE_ENTERPRISE: MeasureNorm(days=30, unit="属地县（区）人民政府"),
    MeasureKind.POWER_CUT: MeasureNorm(days=5, unit="供电局"),
    MeasureKind.WATER_CUT: MeasureNorm(days=5, unit="属地县（区）人民政府（供水单位）"),
    MeasureKind.POWER_EQUIPMENT_REMOVAL: MeasureNorm(days=15, unit="属地县（区）人民政府"),
    MeasureKind.EQUIPMENT_SEALING: MeasureNorm(days=15, unit="属地县（区）人民政府"),
    MeasureKind.DISMANTLING: MeasureNorm(months=6, unit="属地县（区）人民政府"),
    MeasureKind.PUBLIC_PLEDGE: MeasureNorm(days=15, unit="企业"),
    MeasureKind.WEBSITE_ANNOUNCEMENT: MeasureNorm(days=20, unit="市工业和信息化局"),
}

# Dismantling at once still gets a short working period for the work itself.
DISMANTLE_AT_ONCE_DAYS = 30

PLANS: dict[ExitPlan, tuple[MeasureKind, ...]] = {
    ExitPlan.DISMANTLE_AT_ONCE: (MeasureKind.DISMANTLING, MeasureKind.WEBSITE_ANNOUNCEMENT),
    ExitPlan.SEAL_THEN_DISMANTLE: (
        MeasureKind.POWER_CUT,
        MeasureKind.WATER_CUT,
        MeasureKind.POWER_EQUIPMENT_REMOVAL,
        MeasureKind.EQUIPMENT_SEALING,
        MeasureKind.PUBLIC_PLEDGE,
        MeasureKind.WEBSITE_ANNOUNCEMENT,
        MeasureKind.DISMANTLING,
    ),
    ExitPlan.CLOSE_ENTERPRISE: (
        MeasureKind.CLOSE_ENTERPRISE,
        MeasureKind.POWER_CUT,
        MeasureKind.WATER_CUT,
        MeasureKind.PUBLIC_PLEDGE,
        MeasureKind.WEBSITE_ANNOUNCEMENT,
    ),
}

# Measures that may still be open when the exit is confirmed: they have their own later deadline
# and the sweep keeps watching them.
MAY_FOLLOW_EXIT = frozenset({MeasureKind.DISMANTLING})


def norm_for(plan: ExitPlan, kind: MeasureKind) -> MeasureNorm:
    norm = NORMS[kind]
    if plan is ExitPlan.DISMANTLE_AT_ONCE and kind is MeasureKind.DISMANTLING:
        return MeasureNorm(days=DISMANTLE_AT_ONCE_DAYS, unit=norm.unit)
    return norm


# Re-inspection (回头看) after archive.
REINSPECTION_MONTHS = 6
