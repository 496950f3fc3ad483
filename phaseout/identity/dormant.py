"""Accounts unused for a long time are turned off (等保 L3-CES1-07: 及时删除或停用多余的、过期的账户).

An account is dormant when neither a sign-in, nor its creation, nor its last password change, nor its
re-activation by the security administrator falls within ACCOUNT_DORMANT_DAYS (90 by default; 0 turns the
rule off). The periodic job turns dormant accounts off, each with its audit entry, at most
DORMANT_BATCH a run (a first run on a large registry spreads over a few sweeps). A dormant security
administrator is turned off only while another, active and not dormant, remains — else no one could turn
accounts on again. Turning an account on again is the security administrator's (phaseout.accounts),
which sets `Credentials.reactivated_at` so that the next sweep does not turn it off at once.

No session needs ending: a session lives at most SESSION_MAX_HOURS, far less than the dormant period,
and Django refuses any session of an inactive account in any case.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext_lazy

from phaseout.audit.record import record
from phaseout.orgs.models import Role

SUMMARY = gettext_lazy("Dormant accounts turned off: %(disabled)d.")
DORMANT_BATCH = 500


def last_active() -> Greatest:
    """The latest of sign-in, creation, password change and re-activation (each NULL read as creation)."""
    return Greatest(
        Coalesce("last_login", "date_joined"),
        Coalesce("credentials__password_changed_at", "date_joined"),
        Coalesce("credentials__reactivated_at", "date_joined"),
    )


def dormant(now: dt.datetime) -> QuerySet[Any]:
    """Active accounts idle for ACCOUNT_DORMANT_DAYS, the longest idle first."""
    days = settings.ACCOUNT_DORMANT_DAYS
    if days <= 0:
        return get_user_model().objects.none()
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .annotate(last_active=last_active())
        .filter(last_active__lt=now - dt.timedelta(days=days))
        .order_by("last_active", "pk")
    )


def disable_dormant(*, now: dt.datetime) -> int:
    days = settings.ACCOUNT_DORMANT_DAYS
    disabled = 0
    with transaction.atomic():
        candidates = list(dormant(now).select_related("person")[:DORMANT_BATCH])
        admins_left = (
            get_user_model()
            .objects.filter(is_active=True, person__role=Role.SECURITY_ADMIN)
            .exclude(pk__in=[u.pk for u in candidates])
            .exists()
        )
        for user in candidates:
            person = getattr(user, "person", None)
            if person is not None and person.role == Role.SECURITY_ADMIN and not admins_left:
                continue
            updated = get_user_model().objects.filter(pk=user.pk, is_active=True).update(is_active=False)
            if not updated:
                continue
            record(
                actor=None,
                action="account.dormant_disabled",
                obj=person if person is not None else user,
                data={
                    "username": user.username,
                    "last_active": user.last_active.isoformat(),
                    "days": days,
                },
            )
            disabled += 1
    return disabled


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    return {"disabled": disable_dormant(now=now)}
