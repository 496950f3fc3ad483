"""The complaints app's sweep job (phaseout.jobs): tip-offs past a time limit are escalated."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from phaseout.complaints.actions import escalate_overdue

SUMMARY = gettext_lazy("Tip-offs escalated: %(escalated)d.")


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    return {"escalated": escalate_overdue(now=now, today=today)}
