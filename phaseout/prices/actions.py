from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from phaseout.audit.record import record
from phaseout.prices.models import PriceRate


@transaction.atomic
def enter_rate(*, rate: PriceRate, by: User) -> PriceRate:
    """The office enters a rate the reference does not confirm, citing its source."""
    rate.entered_by = by
    rate.full_clean()
    rate.save()
    record(actor=by, action="price_rate.enter", obj=rate, data={"kind": rate.kind, "source": rate.source})
    return rate
