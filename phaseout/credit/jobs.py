"""The credit app's sweep job (phaseout.jobs): propose referrals for late exits, lift them after exit."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from phaseout.credit.actions import lift_after_exit, propose

SUMMARY = gettext_lazy("Referrals proposed: %(proposed)d; sanctions lifted: %(lifted)d.")


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    proposed = propose(today=today)
    return {"proposed": proposed, "lifted": lift_after_exit(today=today)}
