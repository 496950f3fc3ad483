"""Every write of the message centre: messages made for the people concerned, read, preferences set.

Other apps call `notify` — the one public way in — with the people they know are concerned (the producer
resolves recipients; this app imports no domain app). Each message is queued in the outbox on the channels
its recipient takes, and the outbox is drained after the transaction commits (the Celery task, in-process
in the demo) and by the periodic job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.messaging.channels import sms_gateway
from phaseout.messaging.models import Channel, Delivery, Kind, Message, Preference
from phaseout.orgs.models import Person

TITLE_MAX = Message._meta.get_field("title").max_length or 200
URL_MAX = Message._meta.get_field("url").max_length or 300
PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number, 11 digits


class MessageError(ValueError):
    """A refused write; the message says why, in the platform's language."""


def preference_of(person: Person) -> Preference:
    """The person's preferences; the defaults (mail on, SMS on once a phone is given) when never set."""
    return Preference.objects.filter(person=person).first() or Preference(person=person)


def channels_for(person: Person, kind: str, preference: Preference | None = None) -> list[str]:
    """The channels a message of this kind goes out on to this person, besides the message centre."""
    preference = preference or preference_of(person)
    if kind in preference.muted_kinds:
        return []
    channels = []
    if preference.mail and person.user.email:
        channels.append(Channel.MAIL.value)
    if preference.sms and preference.phone and sms_gateway().enabled:
        channels.append(Channel.SMS.value)
    return channels


def notify(
    recipients: Iterable[Person],
    kind: str,
    title: str,
    body: str = "",
    *,
    obj: models.Model | None = None,
    url: str = "",
    key: str = "",
    by: User | None = None,
    now: dt.datetime | None = None,
) -> list[Message]:
    """One message to each person (each once), queued for mail and SMS by their preferences. With a `key`,
    a person who already has a message with that key gets no second one (the same escalation seen by every
    sweep run). Returns the messages made."""
    if kind not in Kind.values:
        raise ValueError(f"unknown message kind {kind!r}")
    now = now or timezone.now()
    made: list[Message] = []
    seen: set[int] = set()
    queued = False
    with transaction.atomic():
        for person in recipients:
            if person.pk in seen:
                continue
            seen.add(person.pk)
            try:
                with transaction.atomic():
                    message = Message.objects.create(
                        recipient=person,
                        kind=kind,
                        title=title[:TITLE_MAX],
                        body=body,
                        url=url[:URL_MAX],
                        object_type=obj._meta.label_lower if obj is not None else "",
                        object_id=str(obj.pk) if obj is not None else "",
                        key=key,
                        created_at=now,
                    )
            except IntegrityError:
                if key and Message.objects.filter(recipient=person, key=key).exists():
                    continue  # this person was told already
                raise
            channels = channels_for(person, kind)
            Delivery.objects.bulk_create(
                [Delivery(message=message, channel=c, next_attempt_at=now) for c in channels]
            )
            record(
                actor=by,
                action="message.notify",
                obj=message,
                data={
                    "recipient": person.pk,
                    "kind": kind,
                    "about": f"{message.object_type} #{message.object_id}" if obj is not None else "",
                    "channels": channels,
                },
            )
            made.append(message)
            queued = queued or bool(channels)
        if queued:
            from phaseout.messaging.tasks import drain_outbox

            transaction.on_commit(drain_outbox.delay, robust=True)
    return made


@transaction.atomic
def mark_read(*, message: Message, person: Person, now: dt.datetime | None = None) -> bool:
    """The recipient opened the message: it is read from now on. False (and nothing written) when it
    was read before."""
    if message.recipient_id != person.pk:
        raise MessageError(_("This message is not addressed to you."))
    now = now or timezone.now()
    if not Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now):
        return False
    message.read_at = now
    record(actor=person.user, action="message.read", obj=message)
    return True


@transaction.atomic
def mark_all_read(*, person: Person, now: dt.datetime | None = None) -> int:
    """Every unread message of the person read at once; refused when there is none."""
    now = now or timezone.now()
    count = Message.objects.filter(recipient=person, read_at__isnull=True).update(read_at=now)
    if not count:
        raise MessageError(_("There is no unread message."))
    record(actor=person.user, action="message.read_all", obj=person, data={"count": count})
    return count


@transaction.atomic
def set_preferences(
    *, person: Person, mail: bool, sms: bool, phone: str, muted_kinds: Iterable[str]
) -> Preference:
    """The person chooses how messages reach them beyond the message centre."""
    phone = "".join(phone.split()).removeprefix("+86")
    if phone and not PHONE.match(phone):
        raise MessageError(_("Please give an 11-digit mobile phone number, such as 13800138000."))
    if sms and not phone:
        raise MessageError(_("Please give a mobile phone number to receive messages by SMS."))
    if mail and not person.user.email:
        raise MessageError(_("Your account has no mail address: turn mail off, or ask for one to be added."))
    muted = sorted(set(muted_kinds))
    if any(kind not in Kind.values for kind in muted):
        raise MessageError(_("Unknown kind of message."))
    preference = preference_of(person)
    preference.mail, preference.sms, preference.phone, preference.muted_kinds = mail, sms, phone, muted
    preference.save()
    record(
        actor=person.user,
        action="message.preferences",
        obj=preference,
        data={"mail": mail, "sms": sms, "phone_given": bool(phone), "muted": muted},
    )
    return preference
