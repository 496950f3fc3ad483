"""A broken rulebook stops the platform at start-up (and `manage.py check`), naming file and line."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from phaseout.rules.rulebook import RULEBOOK_DIR, RulebookError, load_library


@register()
def rulebooks_load(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        load_library(RULEBOOK_DIR)
    except RulebookError as exc:
        return [Error(f"rulebook does not load: {exc}", id="phaseout.E001")]
    return []
