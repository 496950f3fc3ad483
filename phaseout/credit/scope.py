"""The credit referrals and licences a person sees: those of the enterprises of the person's city (the
rule by role: phaseout.orgs.scope; the enterprises: phaseout.registry.scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.credit.models import Referral
from phaseout.orgs.models import Person
from phaseout.registry.models import Licence
from phaseout.registry.scope import enterprises


def referrals(person: Person) -> QuerySet[Referral]:
    return Referral.objects.filter(enterprise__in=enterprises(person))


def licences(person: Person) -> QuerySet[Licence]:
    return Licence.objects.filter(enterprise__in=enterprises(person))
