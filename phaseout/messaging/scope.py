"""The messages a person reads: their own, and nobody else's (the office sees the outbox's delivery
status, phaseout.messaging.views.outbox, not other people's message centres)."""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.messaging.models import Message
from phaseout.orgs.models import Person


def messages(person: Person) -> QuerySet[Message]:
    return Message.objects.filter(recipient=person)


def unread_count(person: Person) -> int:
    return Message.objects.filter(recipient=person, read_at__isnull=True).count()
