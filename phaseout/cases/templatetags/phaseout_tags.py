from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from phaseout.cases.actions import EVENT_LABELS

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, key)


@register.filter
def plain(value: Decimal | None) -> str:
    """A measured value or a limit as officials write it: 123.5, not 123.5000."""
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    return text


@register.simple_tag
def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action))


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


@register.simple_tag
def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
