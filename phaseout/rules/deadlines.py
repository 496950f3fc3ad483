"""Deadline arithmetic.

Periods are counted in calendar months from the order date. A month that has no such day
ends on its last day (an order of 31 August with 6 months is due on 28 or 29 February).
When the last day of a period is a statutory rest day, the period ends on the next working
day (民法典 第二百零三条); the official calendar of rest days and make-up working days comes
from `chinese_calendar`, and for years it does not yet cover only Saturdays and Sundays count
as rest days (`calendar_covers` tells which).
"""

from __future__ import annotations

import calendar
import datetime as dt

import chinese_calendar

# 工信部联产业〔2017〕30号; Heyuan 2021 plan 二(二)1.
ENERGY_RECTIFICATION_MONTHS = 6
MAX_EXTENSION_MONTHS = 3
MAX_EXTENSIONS = 1


class DeadlineError(ValueError):
    """A deadline request the rules do not allow."""


def add_months(start: dt.date, months: int) -> dt.date:
    """`start` plus whole calendar months, clamped to the last day of the target month."""
    if months < 0:
        raise DeadlineError("months must not be negative")
    index = start.month - 1 + months
    year = start.year + index // 12
    month = index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


def calendar_covers(day: dt.date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def roll_to_working_day(day: dt.date) -> dt.date:
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(start: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `start`, on the official calendar (statutory holidays and
    make-up working days); `count` 0 is `start` itself if it is a working day, else the next one."""
    if count < 0:
        raise DeadlineError("count must not be negative")
    day = start
    if count == 0:
        return roll_to_working_day(day)
    while count:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def period_end(start: dt.date, *, months: int = 0, days: int = 0) -> dt.date:
    """Last day of a period of `months` and `days` that starts on `start`."""
    if days < 0:
        raise DeadlineError("days must not be negative")
    return roll_to_working_day(add_months(start, months) + dt.timedelta(days=days))


def rectification_deadline(order_date: dt.date, months: int, extension_months: int = 0) -> dt.date:
    """Deadline of a rectification order, with an extension counted from the order date,
    so that base period plus extension never drift apart through month-end clamping."""
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise DeadlineError(f"an extension may not exceed {MAX_EXTENSION_MONTHS} months")
    return period_end(order_date, months=months + extension_months)


def check_extension(*, months_requested: int, extensions_so_far: int) -> None:
    if extensions_so_far >= MAX_EXTENSIONS:
        raise DeadlineError("only one extension is allowed")
    if months_requested > MAX_EXTENSION_MONTHS:
        raise DeadlineError(f"an extension may not exceed {MAX_EXTENSION_MONTHS} months")
    if months_requested < 1:
        raise DeadlineError("an extension must be at least one month")
