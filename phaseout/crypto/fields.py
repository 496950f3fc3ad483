"""A model field whose column holds only SM4 tokens: Python sees the plaintext, the database never."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression
from django.db.models.lookups import Exact

from phaseout import crypto

# Lookups that compare the stored value with a plaintext cannot work on random-nonce tokens; only
# emptiness can be asked.
_ALLOWED_LOOKUPS = {"exact", "isnull"}


class _EmptyOnlyExact(Exact):
    """`field=""` works (blank is stored blank); `field="13800138000"` would silently match nothing."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise NotImplementedError("an encrypted field can only be compared with the empty string")
        return super().get_prep_lookup()


class SealedTextField(models.TextField):
    """A column holding `crypto.encrypt(purpose, …)` tokens that code opens explicitly (a reporter's
    identity is decrypted only by the recorded reveal, never on load). `phaseout keys` finds every
    sealed column by this class. `legacy`: what a non-token value found in the column is — "plaintext"
    (written before encryption) or "fernet" (the reporters' old tokens); the rotation migrates it."""

    def __init__(self, *args: Any, purpose: str, legacy: str = "", **kwargs: Any) -> None:
        self.purpose = purpose
        self.legacy = legacy
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if self.legacy:
            kwargs["legacy"] = self.legacy
        return name, f"phaseout.crypto.fields.{type(self).__name__}", args, kwargs


class EncryptedTextField(SealedTextField):
    """Text encrypted with `crypto.encrypt(purpose, …)` on its way to the database and decrypted on
    its way back. A blank value is stored blank. `max_length` limits the plaintext (forms and
    validation); the column is unbounded text, as tokens are longer than what they hold.

    Only `field=""` / `isnull` filters are meaningful; equality with a value needs a blind index."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            from django.core.validators import MaxLengthValidator

            self.validators.append(MaxLengthValidator(self.max_length))

    def formfield(  # type: ignore[override]
        self, form_class: type[forms.Field] | None = None, **kwargs: Any
    ) -> forms.Field | None:
        # A one-line input bounded like the CharField it replaces, not TextField's textarea.
        return models.Field.formfield(
            self, form_class=form_class, **{"max_length": self.max_length, **kwargs}
        )

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        if not value:
            return value
        return crypto.decrypt(value, self.purpose)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(self.purpose, value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in _ALLOWED_LOOKUPS:
            raise NotImplementedError(f"{self.name} is encrypted: no {lookup_name} lookup")
        return _EmptyOnlyExact if lookup_name == "exact" else super().get_lookup(lookup_name)
