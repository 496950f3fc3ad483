"""Monitoring data judged as HJ 212-2017 Appendix D and the marking rules write it: validity bottom-up,
flags, oxygen correction, the rulebook's limits per equipment, exceedance episodes, the ultra-low share,
completeness, and the column-wise screen agreeing with the exact judgement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phaseout.rules.engine import LineFacts
from phaseout.rules.monitoring import (
    DAY_MIN_HOURS,
    HOUR_MIN_MINUTES,
    MINUTE_MIN_READINGS,
    POLLUTANTS,
    Average,
    Averaging,
    Flag,
    Limit,
    Medium,
    completeness,
    correct_oxygen,
    day_value,
    days,
    exceedances,
    hour_value,
    hours_share,
    limits_for,
    minute_value,
    normal_code,
    reported_hour,
    screen,
    usable,
)
from phaseout.rules.rulebook import Verification, library

LIB = library()
T0 = dt.datetime(2027, 3, 1, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ON = dt.date(2027, 3, 1)


def _hours(values: Sequence[float | None], flags: str | None = None) -> list[Average]:
    flags = flags or "N" * len(values)
    return [
        reported_hour(T0 + dt.timedelta(hours=i), None if v is None else D(str(v)), flags[i])
        for i, v in enumerate(values)
    ]


def _limit(value: int, averaging: Averaging = Averaging.HOUR, code: str = "a21026") -> Limit:
    rule = next(r for r in LIB.in_force(ON) if r.indicator == POLLUTANTS[code].indicator)
    return Limit(rule, POLLUTANTS[code], D(value), averaging, None, None)


def test_flags_that_judge_an_exceedance_are_normal_and_above_range_only() -> None:
    assert {f for f in Flag if usable(f)} == {Flag.NORMAL, Flag.ABOVE_RANGE}
    assert not usable("X")


def test_a_minute_needs_twelve_usable_readings() -> None:
    readings = [(D(10), "N")] * (MINUTE_MIN_READINGS - 1)
    short = minute_value(T0, [*readings, (D(99), "C")])
    assert (short.valid, short.value, short.count, short.flag) == (False, None, 11, "C")
    full = minute_value(T0, [*readings, (D(22), "N")])
    assert full.valid and full.count == 12 and full.value == D(11)


def test_an_hour_of_flue_gas_needs_45_valid_minutes_and_wastewater_one_ten_minute_value() -> None:
    minute = Average(T0, D(4), "N", 12, True)
    bad = Average(T0, None, "D", 3, False)
    assert not hour_value(T0, [minute] * (HOUR_MIN_MINUTES - 1) + [bad] * 15).valid
    assert hour_value(T0, [minute] * (HOUR_MIN_MINUTES - 1) + [bad]).flag == "D"
    hour = hour_value(T0, [minute] * HOUR_MIN_MINUTES + [bad] * 15)
    assert (hour.valid, hour.value, hour.count) == (True, D(4), 45)
    assert hour_value(T0, [minute], Medium.WASTEWATER).valid
    assert not hour_value(T0, [bad], Medium.WASTEWATER).valid


def test_a_day_needs_twenty_valid_hours_and_a_reported_hour_its_flag() -> None:
    hours = _hours([10.0] * (DAY_MIN_HOURS - 1) + [None] * 5, "N" * 19 + "MMMMM")
    assert not day_value(ON, hours).valid
    assert day_value(ON, hours).flag == "M"
    hours = _hours([10.0] * DAY_MIN_HOURS + [50.0] * 4, "N" * 20 + "CCCC")
    day = day_value(ON, hours)
    assert (day.valid, day.value, day.count) == (True, D(10), 20)
    assert not reported_hour(T0, D(5), "F").valid
    assert reported_hour(T0, D(5), "T").valid
    assert not reported_hour(T0, None, "N").valid


def test_oxygen_correction_to_the_reference_oxygen() -> None:
    assert correct_oxygen(D(100), D(18), D(16)) == D(100) * 5 / 3
    assert correct_oxygen(D(100), D(16), D(16)) == D(100)
    assert correct_oxygen(D(100), D(21), D(16)) is None
    assert correct_oxygen(D(100), D(-1), D(16)) is None


def test_codes_of_2005_are_read_as_2017() -> None:
    assert normal_code("02") == "a21026"
    assert normal_code("a21002") == "a21002"


def _facts(kind: str, **attributes: str) -> LineFacts:
    return LineFacts(
        industry="cement" if kind == "clinker_line" else "steel",
        equipment_type=kind,
        attributes=dict(attributes),
    )


def test_a_cement_kiln_is_judged_hourly_against_gb_4915_and_the_special_zone_takes_the_stricter() -> None:
    kiln_limits = limits_for(LIB, _facts("clinker_line"), ON)
    general = {(lim.pollutant.code, lim.averaging): lim for lim in kiln_limits}
    assert {k: v.value for k, v in general.items()} == {
        ("a21002", Averaging.HOUR): D(400),
        ("a21026", Averaging.HOUR): D(200),
        ("a34013", Averaging.HOUR): D(30),
    }
    kiln = general[("a34013", Averaging.HOUR)]
    assert kiln.reference_oxygen == D(10) and kiln.oxygen_verification is Verification.UNCONFIRMED
    assert kiln.unconfirmed
    special = limits_for(LIB, _facts("clinker_line", emission_zone="special"), ON)
    assert sorted(lim.value for lim in special) == [D(20), D(100), D(320)]


def test_a_sinter_head_is_judged_hourly_by_the_standard_and_by_share_for_ultra_low() -> None:
    sinter = limits_for(LIB, _facts("sintering_machine"), ON)
    limits = {(lim.pollutant.code, lim.averaging): lim.value for lim in sinter}
    assert limits == {
        ("a21002", Averaging.HOUR): D(300),
        ("a21002", Averaging.HOURS_SHARE): D(50),
        ("a21026", Averaging.HOUR): D(200),
        ("a21026", Averaging.HOURS_SHARE): D(35),
        ("a34013", Averaging.HOUR): D(50),
        ("a34013", Averaging.HOURS_SHARE): D(10),
    }
    assert limits_for(LIB, _facts("sintering_machine"), dt.date(2012, 1, 1)) == []


def test_exceedance_episodes_keep_their_hours_invalid_ones_between_do_not_break_them() -> None:
    limit = _limit(30)
    hours = _hours([10, 35, None, 40, 20, 50, 31, 30], "NNCNNNNN")
    first, second = exceedances(limit, hours)
    assert (first.start, first.end, first.peak, first.count) == (hours[1].start, hours[3].start, D(40), 2)
    assert [a.flag for a in first.averages] == ["N", "C", "N"]
    assert (second.start, second.end, second.peak, second.count) == (hours[5].start, hours[6].start, D(50), 2)
    assert exceedances(limit, _hours([30, 29, 1])) == []
    # an invalid hour above the limit is not an exceedance, and trailing invalid hours are not kept
    assert exceedances(limit, _hours([99, 10], "DN")) == []
    (only,) = exceedances(limit, _hours([31, 99], "NM"))
    assert len(only.averages) == 1


def test_a_daily_limit_is_judged_on_valid_daily_means_and_the_share_rule_makes_no_episode() -> None:
    day_over: list[float | None] = [40.0] * 20 + [None] * 4
    day_short: list[float | None] = [90.0] * 19 + [None] * 5
    day_under: list[float | None] = [10.0] * 24
    hours = _hours(day_over + day_short + day_under, "N" * 20 + "BBBB" + "N" * 19 + "BBBBB" + "N" * 24)
    (episode,) = exceedances(_limit(30, Averaging.DAY), hours)
    assert (episode.start, episode.peak, episode.count) == (T0, D(40), 1)
    assert len(days(hours)) == 3
    assert exceedances(_limit(30, Averaging.HOURS_SHARE), hours) == []


def test_the_ultra_low_share_is_ninety_five_per_cent_of_valid_hours() -> None:
    limit = _limit(35, Averaging.HOURS_SHARE)
    meets = hours_share(limit, _hours([36.0] * 5 + [35.0] * 95 + [99.0] * 3, "N" * 100 + "CCC"))
    assert (meets.valid_hours, meets.compliant_hours, meets.share, meets.meets) == (100, 95, D("95.00"), True)
    fails = hours_share(limit, _hours([36.0] * 6 + [1.0] * 94))
    assert (fails.share, fails.meets) == (D("94.00"), False)
    empty = hours_share(limit, _hours([None], "B"))
    assert (empty.share, empty.meets) == (None, None)


def test_completeness_is_valid_over_expected_hours() -> None:
    assert completeness(700, 744) == D("94.1")
    assert completeness(800, 744) == D("100.0")
    assert completeness(0, 0) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(0, 60)), st.sampled_from("NNNNTCDMFSB")),
        min_size=1,
        max_size=48,
    ),
    st.integers(1, 50),
)
def test_the_column_screen_counts_what_the_exact_judgement_counts(
    series: list[tuple[int | None, str]], limit_value: int
) -> None:
    values = [v for v, _ in series]
    flags = "".join(f for _, f in series)
    hours = _hours(values, flags)
    exact = sum(e.count for e in exceedances(_limit(limit_value), hours))
    exact_valid = sum(1 for h in hours if h.valid)
    array = np.array([[np.nan if v is None else v for v in values]], dtype=np.float32)
    mask = np.array([[usable(f) for f in flags]])
    result = screen(array, mask, np.array([limit_value], dtype=np.float32))
    assert int(result.exceeding_hours[0]) == exact
    assert int(result.valid_hours[0]) == exact_valid
    over = (i for i, h in enumerate(hours) if h.valid and h.value is not None and h.value > limit_value)
    first = next(over, -1)
    assert int(result.first_exceeding[0]) == first


def test_the_screen_takes_pollutants_as_an_axis_and_nan_limits_judge_nothing() -> None:
    values = np.array([[[40, 10], [5, 5]]], dtype=np.float32)  # 1 point, 2 pollutants, 2 hours
    mask = np.ones_like(values, dtype=bool)
    result = screen(values, mask, np.array([[30, np.nan]], dtype=np.float32))
    assert result.exceeding_hours.tolist() == [[1, 0]]
    assert result.valid_hours.tolist() == [[2, 2]]
    assert result.first_exceeding.tolist() == [[0, -1]]


@pytest.mark.parametrize("code", sorted(POLLUTANTS))
def test_every_pollutant_maps_to_a_rulebook_indicator(code: str) -> None:
    assert POLLUTANTS[code].indicator in LIB.vocabulary.measurements
