"""The plans app's sweep job (phaseout.jobs): reminders and escalations of submissions."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from phaseout.plans.actions import sweep_submissions

SUMMARY = gettext_lazy("Submissions reminded: %(reminded)d; submissions overdue: %(overdue)d.")


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    reminded, overdue = sweep_submissions(now=now, today=today)
    return {"reminded": reminded, "overdue": overdue}
