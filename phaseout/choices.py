"""Choice labels read as a dictionary lookup.

Django's `get_FOO_display()` builds a dictionary of every choice of the field on each call (and hashes
each choice to do it): tens of microseconds a call, paid for every row and every labelled column of a list
page. A model that lists `QuickDisplay` before `models.Model` in its bases gets the same method (the same
label, in the language active at the call) from a table made once per field.

Django binds `get_FOO_display` to the class's `_get_FIELD_display` when the field is added, so overriding
that one method is enough; a `get_FOO_display` defined on the model itself still wins.
"""

from __future__ import annotations

from typing import Any

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable

_LABELS: dict[Any, dict[Any, Any]] = {}


def labels(field: Any) -> dict[Any, Any]:
    """The field's choices as {value: label} (labels lazy: translated when shown), made once."""
    table = _LABELS.get(field)
    if table is None:
        table = _LABELS[field] = {make_hashable(value): label for value, label in field.flatchoices}
    return table


class QuickDisplay:
    """Mixin for models: `get_FOO_display()` by a dictionary lookup (see the module's docstring)."""

    def _get_FIELD_display(self, field: Any) -> Any:
        value = getattr(self, field.attname)
        key = value if isinstance(value, str | int) or value is None else make_hashable(value)
        return force_str(labels(field).get(key, value), strings_only=True)
