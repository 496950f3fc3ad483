"""Online monitoring data judged as HJ 212-2017 and the marking rules write it (pure Python, no Django).

What a monitoring point reports is turned into valid averages bottom-up (HJ 212-2017 Appendix D), each
average keeping the flags and values behind it; only valid data judges an exceedance (生态环境部公告
2022年第21号《污染物排放自动监测设备标记规则》); concentrations are corrected to the reference oxygen the
standard names; the limits are the environment rulebook's, over the averaging period each standard names;
the steel ultra-low rules are judged by the share of compliant hours (环大气〔2019〕35号). What comes out
is a proposal (a data check) for a person of the environment department — never a decision.

Sources and their status are in `SOURCES`; values resting on secondary sources or recollection are marked
so and shown so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from phaseout.rules.engine import LineFacts, corrected_limit, matches
from phaseout.rules.rulebook import Comparison, Library, Rule, Verification

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SOURCES: Mapping[str, tuple[str, Verification]] = {
    "validity": ("HJ 212-2017 附录D（数据有效性判别，二手文本）", Verification.SECONDARY),
    "flags": (
        "HJ 212-2017 数据标记；生态环境部公告2022年第21号（标记规则，二手来源）",
        Verification.SECONDARY,
    ),
    "oxygen": (
        "HJ 212-2017 附录D 折算公式 C折 = C × (21 − O₂基准)/(21 − O₂实测)（二手文本）",
        Verification.SECONDARY,
    ),
    "ultra_low": ("环大气〔2019〕35号：小时均值达标率不低于95%（二手来源）", Verification.SECONDARY),
    "averaging": ("各排放标准以小时均值判定超标（本平台的解读，未经核实）", Verification.UNCONFIRMED),
}

# HJ 212-2017 Appendix D, flue gas: a minute value needs at least 12 valid readings, an hour at least 45
# valid minute values, a day at least 20 valid hours. Wastewater: an hour from 1 to 6 valid 10-minute values.
MINUTE_MIN_READINGS = 12
HOUR_MIN_MINUTES = 45
DAY_MIN_HOURS = 20
WASTEWATER_HOUR_MIN_TEN_MINUTES = 1
ULTRA_LOW_SHARE = Decimal(95)


class Medium(StrEnum):
    FLUE_GAS = "flue_gas"
    WASTEWATER = "wastewater"


class Flag(StrEnum):
    """HJ 212-2017 data flags (reference data 7a)."""

    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    MANUAL = "S"
    FAULT = "D"
    CALIBRATION = "C"
    ABOVE_RANGE = "T"  # the reading is above the instrument's range: not an exceedance by itself
    COMMUNICATION = "B"


# Data that may judge an exceedance. A reading above the instrument's range is kept: the true value is at
# least what was read, so it cannot make an exceedance that is not there, and leaving it out would hide one.
# Stopped, maintenance, manual, fault, calibration and communication data are invalid for judgement.
USABLE_FLAGS = frozenset({Flag.NORMAL, Flag.ABOVE_RANGE})


@dataclass(frozen=True)
class Pollutant:
    code: str  # HJ 212-2017 code
    indicator: str  # the rulebook's indicator
    name: str
    legacy_code: str  # HJ 212-2005


POLLUTANTS: Mapping[str, Pollutant] = {
    p.code: p
    for p in (
        Pollutant("a34013", "pm_concentration", "颗粒物", "01"),
        Pollutant("a21026", "so2_concentration", "二氧化硫", "02"),
        Pollutant("a21002", "nox_concentration", "氮氧化物", "03"),
    )
}
OXYGEN_CODE = "a19001"
LEGACY_CODES: Mapping[str, str] = {p.legacy_code: p.code for p in POLLUTANTS.values()}

# Reference oxygen (%) by equipment type, with its status: sintering and pellet shaft furnaces 16 % (GB
# 28662-2012 amendment, secondary source); cement kilns 10 % (GB 4915-2013, recollection, unconfirmed).
# Equipment not listed is judged on the measured concentration.
REFERENCE_OXYGEN: Mapping[str, tuple[Decimal, Verification]] = {
    "sintering_machine": (Decimal(16), Verification.SECONDARY),
    "pellet_shaft_furnace": (Decimal(16), Verification.SECONDARY),
    "clinker_line": (Decimal(10), Verification.UNCONFIRMED),
}

# Standards whose limits are judged on daily means rather than hourly averages (by rule version). None of
# the rulebooks' environment standards is daily today; 部令第10号 (incinerators) would be.
DAILY_AVERAGED_VERSIONS: frozenset[str] = frozenset()


class Averaging(StrEnum):
    HOUR = "hour"
    DAY = "day"
    HOURS_SHARE = "hours_share"  # the ultra-low rule: the share of compliant valid hours


def normal_code(code: str) -> str:
    """The 2017 code of a pollutant reported under its 2017 or 2005 id."""
    return LEGACY_CODES.get(code, code)


def usable(flag: str) -> bool:
    return flag in USABLE_FLAGS


def correct_oxygen(value: Decimal, measured_o2: Decimal, reference_o2: Decimal) -> Decimal | None:
    """C折 = C × (21 − O₂基准)/(21 − O₂实测); None when the measured oxygen makes it meaningless (≥ 21 %)."""
    if measured_o2 >= 21 or measured_o2 < 0:
        return None
    return value * (21 - reference_o2) / (21 - measured_o2)


@dataclass(frozen=True)
class Average:
    """One averaged value over its period, with what it rests on."""

    start: dt.datetime
    value: Decimal | None
    flag: str
    count: int  # valid values it was averaged from (readings, minutes or hours); 0 when reported whole
    valid: bool


def minute_value(start: dt.datetime, readings: Sequence[tuple[Decimal, str]]) -> Average:
    """A minute from its real-time readings: valid with at least 12 usable ones (flue gas)."""
    values = [v for v, f in readings if usable(f)]
    if len(values) < MINUTE_MIN_READINGS:
        return Average(start, None, _worst_flag(readings), len(values), False)
    return Average(start, sum(values, Decimal(0)) / len(values), Flag.NORMAL, len(values), True)


def hour_value(start: dt.datetime, parts: Sequence[Average], medium: Medium = Medium.FLUE_GAS) -> Average:
    """An hour from its minute values (flue gas: at least 45 valid) or 10-minute values (wastewater: 1-6)."""
    values = [p.value for p in parts if p.valid and p.value is not None]
    needed = HOUR_MIN_MINUTES if medium is Medium.FLUE_GAS else WASTEWATER_HOUR_MIN_TEN_MINUTES
    if len(values) < needed:
        return Average(start, None, _worst_flag((p.value, p.flag) for p in parts), len(values), False)
    return Average(start, sum(values, Decimal(0)) / len(values), Flag.NORMAL, len(values), True)


def reported_hour(start: dt.datetime, value: Decimal | None, flag: str) -> Average:
    """An hourly value as the data logger reported it (CN 2061): valid when its flag is usable."""
    return Average(start, value, flag, 0, value is not None and usable(flag))


def day_value(day: dt.date, hours: Sequence[Average]) -> Average:
    """A natural day's mean from its valid hours: valid with at least 20."""
    values = [h.value for h in hours if h.valid and h.value is not None]
    start = dt.datetime.combine(day, dt.time(), tzinfo=hours[0].start.tzinfo if hours else None)
    if len(values) < DAY_MIN_HOURS:
        return Average(start, None, _worst_flag((h.value, h.flag) for h in hours), len(values), False)
    return Average(start, sum(values, Decimal(0)) / len(values), Flag.NORMAL, len(values), True)


def _worst_flag(parts: Iterable[tuple[Decimal | None, str]]) -> str:
    flags = [f for _, f in parts if not usable(f)]
    return flags[0] if flags else Flag.COMMUNICATION  # no data at all: nothing arrived


def days(hours: Sequence[Average]) -> list[Average]:
    """Daily means of hourly averages (their starts in local time), one per day that has any hour."""
    by_day: dict[dt.date, list[Average]] = {}
    for hour in hours:
        by_day.setdefault(hour.start.date(), []).append(hour)
    return [day_value(day, by_day[day]) for day in sorted(by_day)]


@dataclass(frozen=True)
class Limit:
    """A limit a point's data is judged against: the rule, its figure after corrections, its averaging."""

    rule: Rule
    pollutant: Pollutant
    value: Decimal
    averaging: Averaging
    reference_oxygen: Decimal | None
    oxygen_verification: Verification | None

    @property
    def unconfirmed(self) -> bool:
        return self.rule.uses_unconfirmed or self.oxygen_verification is Verification.UNCONFIRMED


def limits_for(library: Library, facts: LineFacts, on: dt.date) -> list[Limit]:
    """The emission limits in force on `on` for a line a monitoring point serves, one per pollutant and
    averaging period.

    Concentration rules of a version that also has an hours-share rule for the same equipment (the steel
    ultra-low rules) are judged by that share, not hour by hour: an hour above the ultra-low figure but
    within the emission standard is not an exceedance of the standard.
    """
    in_force = [r for r in library.in_force(on) if matches(r, facts)]
    share_versions = {
        r.version
        for r in in_force
        if r.indicator == "ultra_low_hours_share" and r.comparison is Comparison.AT_LEAST
    }
    by_indicator = {p.indicator: p for p in POLLUTANTS.values()}
    oxygen = REFERENCE_OXYGEN.get(facts.equipment_type)
    limits = []
    for rule in in_force:
        pollutant = by_indicator.get(rule.indicator)
        if pollutant is None or rule.comparison is not Comparison.AT_MOST:
            continue
        value, _, _, missing = corrected_limit(rule, facts)
        if value is None or missing:
            continue
        if rule.version in share_versions:
            averaging = Averaging.HOURS_SHARE
        elif rule.version in DAILY_AVERAGED_VERSIONS:
            averaging = Averaging.DAY
        else:
            averaging = Averaging.HOUR
        limits.append(
            Limit(
                rule=rule,
                pollutant=pollutant,
                value=value,
                averaging=averaging,
                reference_oxygen=oxygen[0] if oxygen else None,
                oxygen_verification=oxygen[1] if oxygen else None,
            )
        )
    # Where several rules limit the same pollutant over the same period (a special emission zone's limit
    # beside the general one), the strictest judges: exceeding the looser one exceeds it too.
    strictest: dict[tuple[str, Averaging], Limit] = {}
    for limit in limits:
        key = (limit.pollutant.code, limit.averaging)
        if key not in strictest or limit.value < strictest[key].value:
            strictest[key] = limit
    return sorted(strictest.values(), key=lambda limit: (limit.pollutant.code, limit.averaging))


@dataclass(frozen=True)
class Exceedance:
    """Valid averages over a limit in a row: an invalid one between does not end it, a compliant one does."""

    limit: Limit
    start: dt.datetime
    end: dt.datetime  # start of the last exceeding average
    peak: Decimal
    averages: tuple[Average, ...]  # every average of the episode, the invalid ones with their flags

    @property
    def count(self) -> int:
        return sum(1 for a in self.averages if a.valid and a.value is not None and a.value > self.limit.value)


def exceedances(limit: Limit, hours: Sequence[Average]) -> list[Exceedance]:
    """Episodes of exceedance of an hourly or daily limit; hours sorted by start, in local time."""
    if limit.averaging is Averaging.HOURS_SHARE:
        return []
    series = days(hours) if limit.averaging is Averaging.DAY else list(hours)
    episodes: list[Exceedance] = []
    current: list[Average] = []
    pending: list[Average] = []  # invalid averages after an exceeding one, kept if the episode goes on

    def close() -> None:
        if current:
            exceeding = [a for a in current if a.valid and a.value is not None and a.value > limit.value]
            peak = max(a.value for a in exceeding if a.value is not None)
            episodes.append(Exceedance(limit, exceeding[0].start, exceeding[-1].start, peak, tuple(current)))
        current.clear()
        pending.clear()

    for average in series:
        if not average.valid or average.value is None:
            if current:
                pending.append(average)
            continue
        if average.value > limit.value:
            current.extend(pending)
            pending.clear()
            current.append(average)
        else:
            close()
    close()
    return episodes


@dataclass(frozen=True)
class ShareResult:
    limit: Limit
    valid_hours: int
    compliant_hours: int

    @property
    def share(self) -> Decimal | None:
        if not self.valid_hours:
            return None
        return (Decimal(100) * self.compliant_hours / self.valid_hours).quantize(Decimal("0.01"))

    @property
    def meets(self) -> bool | None:
        share = self.share
        return None if share is None else share >= ULTRA_LOW_SHARE


def hours_share(limit: Limit, hours: Sequence[Average]) -> ShareResult:
    """The ultra-low rule: the share of valid hours at or below the ultra-low figure."""
    valid = [h for h in hours if h.valid and h.value is not None]
    compliant = sum(1 for h in valid if h.value is not None and h.value <= limit.value)
    return ShareResult(limit, len(valid), compliant)


def completeness(valid_hours: int, expected_hours: int) -> Decimal | None:
    """Data completeness: valid hours over expected hours, in per cent (None when nothing was expected)."""
    if expected_hours <= 0:
        return None
    return (Decimal(100) * min(valid_hours, expected_hours) / expected_hours).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Screen:
    """Per point: valid hours, hours above the limit, and the first exceeding hour's index (-1: none)."""

    valid_hours: npt.NDArray[np.int32]
    exceeding_hours: npt.NDArray[np.int32]
    first_exceeding: npt.NDArray[np.int64]


def screen(
    values: npt.NDArray[np.float32], usable_mask: npt.NDArray[np.bool_], limits: npt.NDArray[np.float32]
) -> Screen:
    """Column-wise screening of hourly averages: `values` and `usable_mask` are (points, hours) or
    (points, pollutants, hours); `limits` broadcasts over the leading axes (NaN: no limit). The same answers
    as `exceedances`' hour count, for a whole province's year at once; a test holds the two together."""
    import numpy as np

    valid = usable_mask & ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        over = valid & (values > limits[..., np.newaxis])
    exceeding = over.sum(axis=-1, dtype=np.int32)
    first = np.where(exceeding > 0, over.argmax(axis=-1), -1)
    return Screen(valid.sum(axis=-1, dtype=np.int32), exceeding, first.astype(np.int64))
