"""Every write of the message centre: messages made for the people concerned, read, preferences set.

Other apps call `notify` — the one public way in — with the people they know are concerned (the producer
resolves recipients; this app imports no domain app). Each message is queued in the outbox on the channels
its recipient takes, and the outbox is drained after the transaction commits (the Celery task, in-process
in the demo) and by the periodic job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout import bulk
from phaseout.audit.record import Entry, record, record_many
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
    return _channels(person, kind, preference or preference_of(person))


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


# Messages inserted at once by notify_many.
BULK_BATCH = bulk.BATCH


@dataclass(frozen=True)
class Notice:
    """One message for notify_many, to each of its recipients; the record it is about named as the audit
    trail names records (a model's label_lower and the primary key)."""

    recipients: Sequence[Person]
    kind: str
    title: str
    key: str
    body: str = ""
    object_type: str = ""
    object_id: str = ""
    url: str = ""


def notify_many(notices: Iterable[Notice], *, by: User | None = None, now: dt.datetime) -> int:
    """`notify` for many records at once (the periodic sweep): the same messages, deliveries and audit
    rows, written in batches by a few statements each. Every notice has a key, and a person who already
    has a message with that key gets no second one — decided by the database (INSERT ... ON CONFLICT DO
    NOTHING), so two runs at once still make each message once. Returns how many messages were made."""
    made = 0
    queued = False
    gateway = sms_gateway().enabled
    kinds = set(Kind.values)
    with transaction.atomic():
        pending: list[tuple[Person, Notice]] = []
        seen: set[tuple[int, str]] = set()
        for notice in notices:
            if notice.kind not in kinds:
                raise ValueError(f"unknown message kind {notice.kind!r}")
            if not notice.key:
                raise ValueError("notify_many needs a key for every notice")
            for person in notice.recipients:
                if (person.pk, notice.key) in seen:
                    continue
                seen.add((person.pk, notice.key))
                pending.append((person, notice))
                if len(pending) >= BULK_BATCH:
                    count, channels = _insert_messages(pending, by=by, now=now, gateway=gateway)
                    made, queued, pending = made + count, queued or channels, []
        if pending:
            count, channels = _insert_messages(pending, by=by, now=now, gateway=gateway)
            made, queued = made + count, queued or channels
        if queued:
            from phaseout.messaging.tasks import drain_outbox

            transaction.on_commit(drain_outbox.delay, robust=True)
    return made


MESSAGE_COLUMNS = (
    "recipient_id",
    "kind",
    "title",
    "body",
    "url",
    "object_type",
    "object_id",
    "key",
    "created_at",
)


def _insert_messages(
    batch: list[tuple[Person, Notice]], *, by: User | None, now: dt.datetime, gateway: bool
) -> tuple[int, bool]:
    """Insert one batch of messages, skipping those a person has already (by key); queue the new ones'
    deliveries and write their audit rows. Returns (messages made, whether any delivery was queued)."""
    rows = [
        (
            person.pk,
            notice.kind,
            notice.title[:TITLE_MAX],
            notice.body,
            notice.url[:URL_MAX],
            notice.object_type,
            notice.object_id,
            notice.key,
            now,
        )
        for person, notice in batch
    ]
    inserted = sorted(
        bulk.insert_new(Message, MESSAGE_COLUMNS, rows, returning=("id", "recipient_id", "key"))
    )
    if not inserted:
        return 0, False
    wanted = {(person.pk, notice.key): (person, notice) for person, notice in batch}
    preferences = {
        p.person_id: p for p in Preference.objects.filter(person__in=[pk for _, pk, _ in inserted])
    }
    default = Preference()  # the defaults, for everyone who never set theirs
    deliveries: list[tuple[object, ...]] = []
    entries: list[Entry] = []
    for pk, recipient_id, key in inserted:
        person, notice = wanted[(recipient_id, key)]
        preference = preferences.get(person.pk) or default
        channels = _channels(person, notice.kind, preference, gateway)
        deliveries += [(pk, c, now, Delivery.Status.QUEUED.value, 0, "") for c in channels]
        about = f"{notice.object_type} #{notice.object_id}" if notice.object_type else ""
        data = {"recipient": person.pk, "kind": notice.kind, "about": about, "channels": channels}
        entries.append(("message.notify", Message._meta.label_lower, str(pk), "", data))
    bulk.insert(
        Delivery, ("message_id", "channel", "next_attempt_at", "status", "attempts", "last_error"), deliveries
    )
    record_many(entries, actor=by)
    return len(inserted), bool(deliveries)


def _channels(person: Person, kind: str, preference: Preference, gateway: bool | None = None) -> list[str]:
    """channels_for; notify_many gives the gateway's state, looked up once for all its messages."""
    if kind in preference.muted_kinds:
        return []
    channels = []
    if preference.mail and person.user.email:
        channels.append(Channel.MAIL.value)
    if preference.sms and preference.phone and (sms_gateway().enabled if gateway is None else gateway):
        channels.append(Channel.SMS.value)
    return channels


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
