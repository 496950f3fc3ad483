"""One rule for every spreadsheet and CSV the platform writes: a text cell that a spreadsheet would
run as a formula (=, +, -, @, or a leading tab or return) is written with a leading apostrophe."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value as a safe spreadsheet cell; numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: list[Any]) -> list[Any]:
    return [cell(value) for value in values]
