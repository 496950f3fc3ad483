"""Masked display of personal values where the full value is not needed (lists, audit entries,
people who need to know that a number exists but not what it is)."""

from __future__ import annotations


def mask_phone(value: str) -> str:
    """139****1234 for a mobile number; the middle of anything else hidden the same way."""
    value = value.strip()
    if not value:
        return ""
    if len(value) >= 11:
        head, tail = 3, 4
    elif len(value) >= 7:
        head, tail = 2, 2
    else:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_name(value: str) -> str:
    """陈* for 陈工, 欧** for 欧阳明: the first character kept, the rest hidden."""
    value = value.strip()
    return value[:1] + "*" * (len(value) - 1) if value else ""
