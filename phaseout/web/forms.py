"""Form pieces every app's pages share."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

CONFIRMATION_REQUIRED = _("Please confirm that you mean to take this step.")


def confirmation(text: Any, *, required: bool = True) -> forms.BooleanField:
    """An irreversible step asks for confirmation on the page, saying what will follow: a checkbox whose
    label is `text`; without it the form is refused with one message, the same everywhere."""
    return forms.BooleanField(
        label=text,
        required=required,
        error_messages={"required": CONFIRMATION_REQUIRED},
    )
