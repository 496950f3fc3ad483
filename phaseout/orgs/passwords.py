"""The password policy (等保 L3-CES1-01 身份鉴别: complexity and periodic change), as Django password
validators listed in AUTH_PASSWORD_VALIDATORS, and the password's age.

Every place that sets a password (the security administrator's new account and reset, the person's own
change, createsuperuser) runs these validators; Django calls `password_changed` after a new password is
saved, which keeps the history and the date the password was set.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from phaseout.orgs.models import Credentials, PasswordHistory

CHARACTER_CLASSES = (
    ("lower", set(string.ascii_lowercase)),
    ("upper", set(string.ascii_uppercase)),
    ("digit", set(string.digits)),
)


def character_classes(password: str) -> int:
    """How many of the four classes (lower case, upper case, digits, other characters) a password uses."""
    used = {name for name, chars in CHARACTER_CLASSES if any(c in chars for c in password)}
    other = any(not any(c in chars for _name, chars in CHARACTER_CLASSES) for c in password)
    return len(used) + (1 if other else 0)


class LengthValidator:
    def __init__(self, min_length: int = 10) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) < self.min_length:
            raise ValidationError(
                ngettext(
                    "The password must have at least %(min)d character.",
                    "The password must have at least %(min)d characters.",
                    self.min_length,
                )
                % {"min": self.min_length},
                code="password_too_short",
            )

    def get_help_text(self) -> str:
        return _("At least %(min)d characters.") % {"min": self.min_length}


class CharacterClassesValidator:
    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if character_classes(password) < self.min_classes:
            raise ValidationError(
                _(
                    "The password must use at least %(n)d of the four kinds of character: lower-case "
                    "letters, upper-case letters, digits and other characters."
                )
                % {"n": self.min_classes},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("At least %(n)d of: lower-case letters, upper-case letters, digits, other characters.") % {
            "n": self.min_classes
        }


class UsernameValidator:
    def validate(self, password: str, user: Any = None) -> None:
        username = (getattr(user, "username", "") or "").strip()
        if username and username.casefold() in password.casefold():
            raise ValidationError(
                _("The password must not contain the username."), code="password_has_username"
            )

    def get_help_text(self) -> str:
        return _("Not containing the username.")


class HistoryValidator:
    """Not one of the last `count` passwords (the current one included)."""

    def __init__(self, count: int = 5) -> None:
        self.count = count

    def _recent(self, user: Any) -> list[str]:
        if user is None or getattr(user, "pk", None) is None:
            return []
        hashes = list(
            PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[: self.count]
        )
        return [*hashes, user.password] if user.password else hashes

    def validate(self, password: str, user: Any = None) -> None:
        if any(check_password(password, encoded) for encoded in self._recent(user)):
            raise ValidationError(
                ngettext(
                    "The password must not be the same as your last password.",
                    "The password must not be one of your last %(n)d passwords.",
                    self.count,
                )
                % {"n": self.count},
                code="password_reused",
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        """Called by Django once a new password is saved: keep its hash and the day it was set."""
        if user is None or getattr(user, "pk", None) is None:
            return
        now = timezone.now()
        PasswordHistory.objects.create(user=user, password=user.password, set_at=now)
        keep = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[: self.count]
        PasswordHistory.objects.filter(user=user).exclude(pk__in=list(keep)).delete()
        Credentials.objects.update_or_create(user=user, defaults={"password_changed_at": now})

    def get_help_text(self) -> str:
        return _("Not one of your last %(n)d passwords.") % {"n": self.count}


def password_changed_at(user: Any) -> dt.datetime:
    try:
        return user.credentials.password_changed_at
    except Credentials.DoesNotExist:
        return user.date_joined


def must_change_password(user: Any) -> bool:
    try:
        return bool(user.credentials.must_change_password)
    except Credentials.DoesNotExist:
        return False


def password_expired(user: Any, now: dt.datetime) -> bool:
    """Whether the password is older than PASSWORD_MAX_AGE_DAYS (0: passwords do not expire)."""
    days = settings.PASSWORD_MAX_AGE_DAYS
    return bool(days) and now - password_changed_at(user) > dt.timedelta(days=days)
