"""The case pages' tags: the shared ones of phaseout.web (`web_tags`) and the case event labels."""

from __future__ import annotations

from django import template

from phaseout.cases.actions import EVENT_LABELS
from phaseout.web.templatetags import web_tags

register = template.Library()
register.filters.update(web_tags.register.filters)
register.tags.update(web_tags.register.tags)


@register.simple_tag
def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action))
