"""The template tags every app's pages share: `{% load web_tags %}`. The case pages load
`phaseout_tags` (phaseout/cases/templatetags), which is these and the case event labels; the
reports' capacity units are in phaseout/reports/templatetags/report_tags.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from phaseout.orgs.models import Dimension
from phaseout.rules.rulebook import library

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, key)


@register.filter
def plain(value: Decimal | None) -> str:
    """A measured value or a limit as officials write it: 123.5, not 123.5000."""
    if value is None:
        return "—"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        value = value.quantize(Decimal("0.0001"))  # a corrected limit: four places are plenty
    text = f"{value.normalize():f}"
    return text


@register.simple_tag
def days_left(deadline: dt.date | None, today: dt.date) -> str:
    if deadline is None:
        return ""
    days = (deadline - today).days
    if days < 0:
        return ngettext("%(n)d day overdue", "%(n)d days overdue", -days) % {"n": -days}
    if days == 0:
        return _("due today")
    return ngettext("%(n)d day left", "%(n)d days left", days) % {"n": days}


CONSEQUENCES = {
    "exit_at_once": gettext_lazy("Exit at once (elimination class)"),
    "rectify": gettext_lazy("Rectify within the period"),
    "restrict": gettext_lazy("Restrict production or suspend for rectification"),
    "suspend": gettext_lazy("Suspend for rectification"),
}


@register.filter
def consequence_label(code: str) -> str:
    return str(CONSEQUENCES.get(code, code))


@register.filter
def rule_indicator(code: str) -> str:
    """An indicator or attribute code as its Chinese name."""
    if code == "size":
        return str(_("size"))
    vocabulary = library().vocabulary
    found = vocabulary.measurements.get(code) or vocabulary.attributes.get(code)
    return found.name if found else code


@register.filter
def grades(limits: tuple[Decimal | None, ...]) -> str:
    return " / ".join("—" if v is None else plain(v) for v in limits)


@register.filter
def split(value: str) -> list[str]:
    return value.split()


SUBMISSION_STATUS = {
    "due": gettext_lazy("Due"),
    "pending": gettext_lazy("Handed in, awaiting review"),
    "returned": gettext_lazy("Returned for revision"),
    "on_time": gettext_lazy("Submitted on time"),
    "late": gettext_lazy("Submitted late"),
    "missing": gettext_lazy("Missing"),
}


@register.filter
def submission_status(code: str) -> str:
    return str(SUBMISSION_STATUS.get(code, code))


SUBMISSION_FIGURES = {
    "enterprises": gettext_lazy("Enterprises closed"),
    "lines": gettext_lazy("Lines and main equipment closed"),
    "capacity": gettext_lazy("Capacity closed"),
}


@register.filter
def submission_figure(key: str) -> str:
    return str(SUBMISSION_FIGURES.get(key, key))


CHANGE_FIELDS = {
    "deadline": gettext_lazy("deadline"),
    "text": gettext_lazy("text"),
    "unit": gettext_lazy("responsible unit"),
}


@register.filter
def change_field(code: str) -> str:
    return str(CHANGE_FIELDS.get(code, code))


@register.filter
def get_value(mapping: dict[str, Any], key: str) -> Any:
    """A value of a row, or nothing (unlike get_item, never the key itself)."""
    return mapping.get(key, "")


# The plan parser is pure Python and speaks English in its JSON; officials read these in Chinese.
TIME_REASONS = {
    "the plan's year is not known": gettext_lazy("the plan's year is not known"),
    "every year; this year's date given": gettext_lazy("every year; this year's date given"),
    "every quarter": gettext_lazy("every quarter"),
    "every month": gettext_lazy("every month"),
    "上旬, 中旬 or 下旬 taken as the 10th, the 20th or the last day of the month": gettext_lazy(
        "上旬, 中旬 or 下旬 taken as the 10th, the 20th or the last day of the month"
    ),
    "at most": gettext_lazy("at most"),
    "within": gettext_lazy("within"),
    "working days": gettext_lazy("working days"),
    "calendar days": gettext_lazy("calendar days"),
    "no date or period is given in the text": gettext_lazy("no date or period is given in the text"),
    "not a real date": gettext_lazy("not a real date"),
    "the stage runs over the months named": gettext_lazy("the stage runs over the months named"),
    "the stage's period could not be resolved": gettext_lazy("the stage's period could not be resolved"),
    "in force from the issue date, which the document does not give": gettext_lazy(
        "in force from the issue date, which the document does not give"
    ),
    # Set by the task table import (phaseout/plans/tasktable.py).
    "the task table gives another date than the plan's text": gettext_lazy(
        "the task table gives another date than the plan's text"
    ),
}


@register.filter
def time_reason(reason: str) -> str:
    return str(TIME_REASONS.get(reason, reason))


@register.filter
def dimension_label(code: str) -> str:
    return str(dict(Dimension.choices).get(code, code))
