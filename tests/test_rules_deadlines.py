"""Deadline arithmetic, as properties: month ends, leap years, the extension cap."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phaseout.rules import deadlines as d

dates = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2040, 12, 31))


@given(dates, st.integers(min_value=0, max_value=120))
def test_add_months_lands_in_the_right_month(start: dt.date, months: int) -> None:
    result = d.add_months(start, months)
    assert (result.year - start.year) * 12 + result.month - start.month == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)


@given(dates, st.integers(min_value=0, max_value=24), st.integers(min_value=0, max_value=24))
def test_add_months_is_monotonic(start: dt.date, a: int, b: int) -> None:
    assert (d.add_months(start, a) <= d.add_months(start, b)) == (a <= b) or a == b


def test_month_ends_and_leap_years() -> None:
    assert d.add_months(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)
    assert d.add_months(dt.date(2027, 8, 31), 6) == dt.date(2028, 2, 29)  # leap year
    assert d.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert d.add_months(dt.date(2021, 5, 19), 6) == dt.date(2021, 11, 19)


def test_period_end_rolls_past_statutory_holidays() -> None:
    # 2026-04-01 + 6 months = 2026-10-01, National Day: the period ends on the next working day.
    end = d.period_end(dt.date(2026, 4, 1), months=6)
    assert end == dt.date(2026, 10, 8)
    assert d.is_working_day(end)
    # Sunday 2026-09-20 is a make-up working day in the official calendar: a period may end on it.
    assert d.period_end(dt.date(2026, 9, 20)) == dt.date(2026, 9, 20)
    # An ordinary Saturday is not: the period ends on Monday.
    assert d.period_end(dt.date(2026, 3, 7)) == dt.date(2026, 3, 9)


def test_years_the_calendar_does_not_cover_fall_back_to_weekends() -> None:
    saturday = dt.date(2039, 1, 1)
    assert saturday.weekday() == 5
    assert not d.calendar_covers(saturday)
    assert d.roll_to_working_day(saturday) == dt.date(2039, 1, 3)


@given(dates, st.integers(min_value=0, max_value=3))
def test_extended_deadline_never_exceeds_nine_months(order: dt.date, ext: int) -> None:
    base = d.rectification_deadline(order, 6)
    extended = d.rectification_deadline(order, 6, ext)
    assert base <= extended
    assert extended <= d.roll_to_working_day(d.add_months(order, 9))
    assert extended >= d.add_months(order, 6 + ext)


@given(st.integers(min_value=4, max_value=36))
def test_extension_beyond_the_cap_is_refused(months: int) -> None:
    with pytest.raises(d.DeadlineError):
        d.check_extension(months_requested=months, extensions_so_far=0)
    with pytest.raises(d.DeadlineError):
        d.rectification_deadline(dt.date(2026, 1, 1), 6, months)


@given(st.integers(min_value=1, max_value=3))
def test_second_extension_is_refused(months: int) -> None:
    d.check_extension(months_requested=months, extensions_so_far=0)
    with pytest.raises(d.DeadlineError):
        d.check_extension(months_requested=months, extensions_so_far=1)


def test_zero_month_extension_is_refused() -> None:
    with pytest.raises(d.DeadlineError):
        d.check_extension(months_requested=0, extensions_so_far=0)


def test_rules_package_imports_nothing_from_django() -> None:
    import ast
    from pathlib import Path

    import phaseout.rules

    for path in Path(phaseout.rules.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "django" for n in names), path
