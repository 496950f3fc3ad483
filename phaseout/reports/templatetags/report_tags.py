"""Tags of the report pages."""

from __future__ import annotations

from django import template

from phaseout.registry.models import CapacityUnit

register = template.Library()


@register.filter
def capacity_unit(code: str) -> str:
    return str(dict(CapacityUnit.choices).get(code, code))
