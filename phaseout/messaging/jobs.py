"""The messaging app's periodic job (phaseout.jobs): the outbox drained, failed sends retried."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from phaseout.messaging.outbox import drain

SUMMARY = gettext_lazy(
    "Messages sent: %(sent)d; failed, to be retried: %(failed)d; given up: %(given_up)d; "
    "SMS held for the quiet hours: %(postponed)d."
)


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    return drain(now=now).counts()
