"""Form widgets shared by every app."""

from __future__ import annotations

from typing import Any

from django import forms


class DatePicker(forms.DateInput):
    """The browser's date picker. Its value must be ISO 8601 (2021-06-16) whatever the language's
    date format: a date written the Chinese way (2021/06/16) leaves the picker empty."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimePicker(forms.DateTimeInput):
    """The browser's date-and-time picker (ISO 8601 without seconds: 2021-06-16T09:30)."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")
