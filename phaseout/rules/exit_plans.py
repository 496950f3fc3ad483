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
    LICENCE_REVOCATION = "licence_revocation"


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
    if kind is MeasureKind.LICENCE_REVOCATION:
        return LICENCE_REVOCATION_NORM
    norm = NORMS[kind]
    if plan is ExitPlan.DISMANTLE_AT_ONCE and kind is MeasureKind.DISMANTLING:
        return MeasureNorm(days=DISMANTLE_AT_ONCE_DAYS, unit=norm.unit)
    return norm


# Re-inspection (回头看) after archive.
REINSPECTION_MONTHS = 6


# The legal basis each measure is taken under (行政强制法 arts. 12–13: an enforcement measure needs a
# statute; art. 43 ¶2: the supply of residents' living is never cut). Cutting power is statutory only
# for safety (安全生产法 art. 70); elsewhere the utility acts on the government's closure decision,
# and enforcement against a refusal goes to the people's court (行政强制法 art. 13).
UTILITY_CUT_SAFETY = (
    "安全生产法（2021）第七十条：书面决定，除危及生产安全的紧急情形外提前二十四小时通知；"
    "不得停止居民生活供水供电（行政强制法第四十三条第二款）"
)
UTILITY_CUT_GENERAL = (
    "依人民政府（或主管部门）关停决定由供电、供水单位依法实施（国发〔2005〕40号）；拒不履行的，"
    "依行政强制法第十三条申请人民法院强制执行；不得停止居民生活供水供电（第四十三条第二款）"
)
MEASURE_BASIS: dict[MeasureKind, str] = {
    MeasureKind.CLOSE_ENTERPRISE: "关停（关闭）决定",
    MeasureKind.POWER_EQUIPMENT_REMOVAL: "关停（关闭）决定；工信部联产业〔2017〕30号",
    MeasureKind.EQUIPMENT_SEALING: "关停（关闭）决定；工信部联产业〔2017〕30号",
    MeasureKind.DISMANTLING: "关停（关闭）决定；工信部联产业〔2017〕30号（不能立即拆除的限期拆除）",
    MeasureKind.PUBLIC_PLEDGE: "工信部联产业〔2017〕30号（企业公开承诺不再恢复生产）",
    MeasureKind.WEBSITE_ANNOUNCEMENT: "工信部联产业〔2017〕30号（验收、公告）",
    MeasureKind.LICENCE_REVOCATION: "安全生产法（2021）第一百一十三条：有关部门应当依法吊销其有关证照",
}
# Measures whose record must say what notice the enterprise was given.
NEEDS_NOTICE = frozenset({MeasureKind.POWER_CUT, MeasureKind.WATER_CUT})
# After a safety closure the licences concerned are revoked by their issuing departments.
LICENCE_REVOCATION_NORM = MeasureNorm(days=30, unit="发证部门（安全生产许可证等有关证照）")


def measure_basis(kind: MeasureKind, dimension: str) -> str:
    if kind in NEEDS_NOTICE:
        return (
            UTILITY_CUT_SAFETY
            if dimension == "safety" and kind is MeasureKind.POWER_CUT
            else UTILITY_CUT_GENERAL
        )
    return MEASURE_BASIS[kind]


def measures_for(plan: ExitPlan, dimension: str) -> tuple[MeasureKind, ...]:
    """The measures of an exit plan on a dimension's path: a safety closure adds the revocation of the
    licences concerned (安全生产法 art. 113)."""
    kinds = PLANS[plan]
    if dimension == "safety":
        return (*kinds, MeasureKind.LICENCE_REVOCATION)
    return kinds
