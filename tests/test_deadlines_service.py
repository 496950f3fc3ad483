"""Clocks from the day a decision is served: whole months over month ends and leap years, rolled past
statutory rest days (民法典 art. 203) on the official calendar, working days for service (30号令
art. 14), and the refusals the rules give. Checked against the official calendar read directly."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phaseout.rules import deadlines as d

# chinese_calendar 1.11 has the official rest days up to 2026; later years fall back to weekends.
LAST_COVERED_YEAR = 2026
served = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2030, 12, 31))


def official_working_day(day: dt.date) -> bool:
    if day.year <= LAST_COVERED_YEAR:
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def first_working_day_from(day: dt.date) -> dt.date:
    while not official_working_day(day):
        day += dt.timedelta(days=1)
    return day


@pytest.mark.parametrize(
    ("served_on", "months", "due"),
    [
        (dt.date(2028, 2, 29), 6, dt.date(2028, 8, 29)),  # served on a leap day
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),  # into a leap February
        (dt.date(2023, 8, 31), 6, dt.date(2024, 2, 29)),
        (dt.date(2028, 8, 31), 6, dt.date(2029, 2, 28)),
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2026, 10, 31), 3, dt.date(2027, 1, 31)),  # across the year end
        (dt.date(2026, 12, 15), 0, dt.date(2026, 12, 15)),
        (dt.date(2026, 3, 15), 25, dt.date(2028, 4, 15)),
    ],
)
def test_add_months_examples(served_on: dt.date, months: int, due: dt.date) -> None:
    assert d.add_months(served_on, months) == due


def test_negative_months_are_refused() -> None:
    with pytest.raises(d.DeadlineError, match=r"^months must not be negative$"):
        d.add_months(dt.date(2026, 3, 2), -1)


@pytest.mark.parametrize(
    ("served_on", "months", "due"),
    [
        # 31 Aug + 6 months is 28 Feb 2026, a Saturday, but an official make-up working day.
        (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
        # 28 Feb 2027 is a Sunday (weekends only, the calendar does not cover 2027): Monday 1 March.
        (dt.date(2026, 8, 31), 6, dt.date(2027, 3, 1)),
        (dt.date(2028, 2, 29), 6, dt.date(2028, 8, 29)),
        # 1 October 2026, National Day: the period ends on the first working day after the holiday.
        (dt.date(2026, 4, 1), 6, dt.date(2026, 10, 8)),
        # 17 February 2026, the Spring Festival holiday (15–23 February): it ends on 24 February.
        (dt.date(2025, 8, 17), 6, dt.date(2026, 2, 24)),
    ],
)
def test_period_end_examples(served_on: dt.date, months: int, due: dt.date) -> None:
    assert d.period_end(served_on, months=months) == due


def test_period_end_counts_days_after_the_months() -> None:
    assert d.period_end(dt.date(2026, 3, 2), days=7) == dt.date(2026, 3, 9)
    assert d.period_end(dt.date(2026, 3, 2), days=5) == dt.date(2026, 3, 9)  # Saturday 7th rolls on
    assert d.period_end(dt.date(2026, 1, 31), months=1, days=1) == dt.date(2026, 3, 2)  # 28 Feb + 1 = Sunday
    assert d.period_end(dt.date(2026, 3, 2)) == dt.date(2026, 3, 2)
    with pytest.raises(d.DeadlineError, match=r"^days must not be negative$"):
        d.period_end(dt.date(2026, 3, 2), days=-1)


@given(served, st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=40))
def test_period_end_is_the_first_working_day_on_or_after_the_last_day(
    start: dt.date, months: int, days: int
) -> None:
    last = d.add_months(start, months) + dt.timedelta(days=days)
    end = d.period_end(start, months=months, days=days)
    assert end == first_working_day_from(last)
    assert official_working_day(end)


@given(served)
def test_roll_to_working_day_never_moves_a_working_day(day: dt.date) -> None:
    rolled = d.roll_to_working_day(day)
    assert rolled >= day
    assert (rolled == day) == official_working_day(day)
    assert all(not official_working_day(day + dt.timedelta(days=n)) for n in range((rolled - day).days))


@given(served, st.integers(min_value=0, max_value=30))
def test_add_working_days_counts_official_working_days(start: dt.date, count: int) -> None:
    result = d.add_working_days(start, count)
    assert official_working_day(result)
    if count == 0:
        assert result == first_working_day_from(start)
        return
    assert result > start
    between = [start + dt.timedelta(days=n) for n in range(1, (result - start).days + 1)]
    assert sum(official_working_day(day) for day in between) == count


def test_service_within_seven_working_days_over_national_day() -> None:
    # Decided on Friday 25 September 2026: the seventh working day is Monday 12 October (1–7 October
    # are the holiday, Sunday 27 September and Saturday 10 October are make-up working days).
    assert d.add_working_days(dt.date(2026, 9, 25), 7) == dt.date(2026, 10, 12)
    assert d.add_working_days(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)
    assert d.add_working_days(dt.date(2026, 10, 1), 0) == dt.date(2026, 10, 8)
    assert d.add_working_days(dt.date(2026, 3, 2), 0) == dt.date(2026, 3, 2)
    assert d.add_working_days(dt.date(2026, 3, 2), 1) == dt.date(2026, 3, 3)
    with pytest.raises(d.DeadlineError, match=r"^count must not be negative$"):
        d.add_working_days(dt.date(2026, 3, 2), -1)


def test_working_days_on_and_beyond_the_official_calendar() -> None:
    assert d.calendar_covers(dt.date(2026, 10, 1))
    assert not d.calendar_covers(dt.date(2039, 1, 3))
    assert not d.is_working_day(dt.date(2026, 10, 1))  # National Day, a Thursday
    assert d.is_working_day(dt.date(2026, 9, 20))  # a Sunday worked in exchange
    assert d.is_working_day(dt.date(2026, 3, 6))  # an ordinary Friday
    # 2039 (not covered): Monday to Friday work, Saturday and Sunday rest.
    assert [d.is_working_day(dt.date(2039, 1, day)) for day in range(1, 8)] == [
        False,  # Saturday
        False,  # Sunday
        True,
        True,
        True,
        True,
        True,  # Friday 7th
    ]


def test_an_extension_is_counted_from_the_order_date() -> None:
    # 31 August + 6 + 3 months: 31 May 2026, a Sunday → Monday 1 June; not 28 February + 3 months.
    assert d.rectification_deadline(dt.date(2025, 8, 31), 6, 3) == dt.date(2026, 6, 1)
    assert d.rectification_deadline(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)
    assert d.rectification_deadline(dt.date(2026, 3, 2), 6, 1) == dt.date(2026, 10, 8)
    with pytest.raises(d.DeadlineError, match=r"^an extension may not exceed 3 months$"):
        d.rectification_deadline(dt.date(2026, 3, 2), 6, 4)
    with pytest.raises(d.DeadlineError, match=r"^an extension may not exceed 3 months$"):
        d.rectification_deadline(dt.date(2026, 3, 2), 6, -1)


def test_extension_requests() -> None:
    for months in (1, 2, 3):
        d.check_extension(months_requested=months, extensions_so_far=0)  # allowed
    with pytest.raises(d.DeadlineError, match=r"^only one extension is allowed$"):
        d.check_extension(months_requested=2, extensions_so_far=1)
    with pytest.raises(d.DeadlineError, match=r"^only one extension is allowed$"):
        d.check_extension(months_requested=2, extensions_so_far=2)
    with pytest.raises(d.DeadlineError, match=r"^an extension may not exceed 3 months$"):
        d.check_extension(months_requested=4, extensions_so_far=0)
    with pytest.raises(d.DeadlineError, match=r"^an extension must be at least one month$"):
        d.check_extension(months_requested=0, extensions_so_far=0)
    assert (d.ENERGY_RECTIFICATION_MONTHS, d.MAX_EXTENSION_MONTHS, d.MAX_EXTENSIONS) == (6, 3, 1)
