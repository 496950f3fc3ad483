"""The small built-in rule list used by inspections until the standards engine lands.

Each value is copied from the project's reference data (docs/reference-data.md, itself
compiled from the sources named in `source`); `verification` says how sure we are of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from phaseout.rules.deadlines import ENERGY_RECTIFICATION_MONTHS
from phaseout.rules.dimensions import Dimension


class Comparison(StrEnum):
    AT_MOST = "at_most"  # the measured value must not exceed the limit
    ELIMINATED_AT_OR_BELOW = "eliminated_at_or_below"  # equipment this size or smaller is elimination class
    ELIMINATED_ALWAYS = "eliminated_always"  # equipment of this kind is elimination class whatever its size


class Consequence(StrEnum):
    RECTIFY = "rectify"  # rectification order with a deadline
    EXIT_AT_ONCE = "exit_at_once"  # elimination class: exit order at once, no rectification period
    RESTRICT = "restrict"  # restricted production or suspension for rectification


class Verification(StrEnum):
    SECONDARY = "secondary"  # seen in a secondary source, not yet checked against the official text
    UNCONFIRMED = "unconfirmed"  # not seen in any source


class Conclusion(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    ELIMINATION = "elimination"


@dataclass(frozen=True)
class Rule:
    id: str
    dimension: Dimension
    title: str
    source: str  # document number, title and clause
    effective_from: dt.date
    industry: str
    equipment_types: tuple[str, ...]
    indicator: str
    unit: str
    comparison: Comparison
    limit: Decimal | None
    consequence: Consequence
    rectification_months: int | None
    verification: Verification
    effective_until: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def evaluate(self, value: Decimal | None) -> Conclusion:
        """The conclusion for a measured value (for equipment rules: its size parameter)."""
        if self.comparison is Comparison.ELIMINATED_ALWAYS:
            return Conclusion.ELIMINATION
        if value is None:
            raise ValueError("this rule needs a measured value")
        assert self.limit is not None
        if self.comparison is Comparison.ELIMINATED_AT_OR_BELOW:
            return Conclusion.ELIMINATION if value <= self.limit else Conclusion.COMPLIANT
        return Conclusion.NON_COMPLIANT if value > self.limit else Conclusion.COMPLIANT


_D = Decimal
_GUIDANCE = "工信部联产业〔2017〕30号"
_RULES: tuple[Rule, ...] = (
    Rule(
        id="energy.cement.clinker.gb16780-2021",
        dimension=Dimension.ENERGY,
        title="熟料单位产品综合能耗 3级限额",
        source="GB 16780-2021《水泥单位产品能源消耗限额》表2; " + _GUIDANCE,
        effective_from=dt.date(2022, 11, 1),
        industry="cement",
        equipment_types=("clinker_line",),
        indicator="熟料单位产品综合能耗",
        unit="kgce/t",
        comparison=Comparison.AT_MOST,
        limit=_D("117"),
        consequence=Consequence.RECTIFY,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="energy.cement.cement.gb16780-2021",
        dimension=Dimension.ENERGY,
        title="水泥单位产品综合能耗 3级限额",
        source="GB 16780-2021《水泥单位产品能源消耗限额》表1; " + _GUIDANCE,
        effective_from=dt.date(2022, 11, 1),
        industry="cement",
        equipment_types=("clinker_line", "cement_mill"),
        indicator="水泥单位产品综合能耗",
        unit="kgce/t",
        comparison=Comparison.AT_MOST,
        limit=_D("94"),
        consequence=Consequence.RECTIFY,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="energy.steel.blast-furnace.gb21256-2025",
        dimension=Dimension.ENERGY,
        title="高炉工序单位产品能耗 3级限额",
        source="GB 21256-2025《粗钢生产主要工序单位产品能源消耗限额》表3; " + _GUIDANCE,
        effective_from=dt.date(2026, 7, 1),
        industry="steel",
        equipment_types=("blast_furnace",),
        indicator="高炉工序单位产品能耗",
        unit="kgce/t",
        comparison=Comparison.AT_MOST,
        limit=_D("415"),
        consequence=Consequence.RECTIFY,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="energy.glass.flat-over-800.gb21340-2019",
        dimension=Dimension.ENERGY,
        title="平板玻璃（>800 t/d）单位产品综合能耗 3级限额",
        source="GB 21340-2019《玻璃和铸石单位产品能源消耗限额》表1; " + _GUIDANCE,
        effective_from=dt.date(2020, 5, 1),
        industry="flat_glass",
        equipment_types=("flat_glass_line",),
        indicator="平板玻璃单位产品综合能耗",
        unit="kgce/重量箱",
        comparison=Comparison.AT_MOST,
        limit=_D("12.0"),
        consequence=Consequence.RECTIFY,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="technology.steel.induction-furnace",
        dimension=Dimension.TECHNOLOGY,
        title="用于地条钢、普碳钢、不锈钢冶炼的工频和中频感应炉",
        source="产业结构调整指导目录 淘汰类; 广东省发展改革委 钢铁淘汰类装备通知（2016）",
        effective_from=dt.date(2016, 1, 1),
        industry="steel",
        equipment_types=("induction_furnace",),
        indicator="设备类型",
        unit="",
        comparison=Comparison.ELIMINATED_ALWAYS,
        limit=None,
        consequence=Consequence.EXIT_AT_ONCE,
        rectification_months=None,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="technology.steel.blast-furnace-400",
        dimension=Dimension.TECHNOLOGY,
        title="400立方米及以下炼铁高炉（铸造铁企业除外）",
        source="产业结构调整指导目录 淘汰类; 广东省发展改革委 钢铁淘汰类装备通知（2016）",
        effective_from=dt.date(2016, 1, 1),
        industry="steel",
        equipment_types=("blast_furnace",),
        indicator="高炉容积",
        unit="m³",
        comparison=Comparison.ELIMINATED_AT_OR_BELOW,
        limit=_D("400"),
        consequence=Consequence.EXIT_AT_ONCE,
        rectification_months=None,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="technology.steel.converter-30",
        dimension=Dimension.TECHNOLOGY,
        title="30吨及以下转炉（不含铁合金转炉）",
        source="产业结构调整指导目录 淘汰类; 广东省发展改革委 钢铁淘汰类装备通知（2016）",
        effective_from=dt.date(2016, 1, 1),
        industry="steel",
        equipment_types=("converter",),
        indicator="转炉公称容量",
        unit="t",
        comparison=Comparison.ELIMINATED_AT_OR_BELOW,
        limit=_D("30"),
        consequence=Consequence.EXIT_AT_ONCE,
        rectification_months=None,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="technology.steel.electric-furnace-30",
        dimension=Dimension.TECHNOLOGY,
        title="30吨及以下电炉（不含机械铸造电炉）",
        source="产业结构调整指导目录 淘汰类; 广东省发展改革委 钢铁淘汰类装备通知（2016）",
        effective_from=dt.date(2016, 1, 1),
        industry="steel",
        equipment_types=("electric_furnace",),
        indicator="电炉公称容量",
        unit="t",
        comparison=Comparison.ELIMINATED_AT_OR_BELOW,
        limit=_D("30"),
        consequence=Consequence.EXIT_AT_ONCE,
        rectification_months=None,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="environment.cement.kiln-pm.gb4915-2013",
        dimension=Dimension.ENVIRONMENT,
        title="水泥窑颗粒物排放限值（一般地区）",
        source="GB 4915-2013《水泥工业大气污染物排放标准》; Heyuan 2021 plan 二(一)2",
        effective_from=dt.date(2014, 3, 1),
        industry="cement",
        equipment_types=("clinker_line",),
        indicator="颗粒物排放浓度",
        unit="mg/m³",
        comparison=Comparison.AT_MOST,
        limit=_D("30"),
        consequence=Consequence.RESTRICT,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
    Rule(
        id="safety.general.conditions",
        dimension=Dimension.SAFETY,
        title="安全生产条件不符合法律法规和国家标准、行业标准",
        source="《安全生产法》; Heyuan 2021 plan 二(五)2",
        effective_from=dt.date(2021, 9, 1),
        industry="",
        equipment_types=(),
        indicator="安全生产条件不符合项",
        unit="项",
        comparison=Comparison.AT_MOST,
        limit=_D("0"),
        consequence=Consequence.RESTRICT,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.UNCONFIRMED,
    ),
    Rule(
        id="quality.general.mandatory-standard",
        dimension=Dimension.QUALITY,
        title="产品质量达不到强制性标准要求",
        source="《产品质量法》; " + _GUIDANCE + "; Heyuan 2021 plan 二(四)2",
        effective_from=dt.date(2017, 3, 9),
        industry="",
        equipment_types=(),
        indicator="不合格批次数",
        unit="批",
        comparison=Comparison.AT_MOST,
        limit=_D("0"),
        consequence=Consequence.RECTIFY,
        rectification_months=ENERGY_RECTIFICATION_MONTHS,
        verification=Verification.SECONDARY,
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rules_for(dimension: Dimension | str) -> list[Rule]:
    return [rule for rule in _RULES if rule.dimension == dimension]


def get_rule(rule_id: str) -> Rule:
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule {rule_id!r}") from None
