"""Choice labels by a dictionary lookup (phaseout.choices.QuickDisplay): the same label Django's own
`get_FOO_display` gives, for every choice, in the language active at the call; an unknown value shown as
itself; and the models listed on the large list pages use it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.utils import translation

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, Escalation, ExitMeasure, Inspection
from phaseout.choices import QuickDisplay
from phaseout.registry.models import ProductionLine

LISTED = [Case, Inspection, ExitMeasure, Escalation, ProductionLine, AuditEvent]


def _fields(model: type[models.Model]) -> list[Any]:
    return [f for f in model._meta.concrete_fields if f.choices]


@pytest.mark.parametrize("model", LISTED, ids=lambda m: m.__name__)
def test_the_large_lists_models_label_choices_by_lookup(model: type[models.Model]) -> None:
    assert issubclass(model, QuickDisplay)
    assert model._get_FIELD_display is QuickDisplay._get_FIELD_display  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("model", LISTED, ids=lambda m: m.__name__)
def test_every_choice_has_djangos_label_in_the_active_language(
    model: type[models.Model], language: str
) -> None:
    fields = _fields(model)
    assert fields
    with translation.override(language):
        for field in fields:
            for value, _label in field.flatchoices:
                obj = model(**{field.attname: value})
                ours = getattr(obj, f"get_{field.name}_display")()
                assert ours == models.Model._get_FIELD_display(obj, field)  # type: ignore[attr-defined]
                assert isinstance(ours, str)


def test_a_label_follows_the_language_and_an_unknown_value_shows_as_itself() -> None:
    case = Case(state="overdue")
    with translation.override("zh-hans"):
        assert case.get_state_display() == "逾期或整改后仍不达标"
    with translation.override("en"):
        assert case.get_state_display() == "Overdue or still non-compliant"
    assert Case(state="no-such-state").get_state_display() == "no-such-state"
    assert Case(dimension="").get_dimension_display() == ""
