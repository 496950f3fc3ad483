"""The outbox drain: each due delivery is claimed, sent, and marked sent — or failed and retried with a
growing delay, and given up after MESSAGING_MAX_ATTEMPTS. SMS is not sent in the quiet hours: it waits
for their end.

Nothing is sent twice, however many drains run at once (two Celery workers, the periodic job beside the
task): a delivery is claimed by a compare-and-set update on its attempt count, so of two drains that saw
the same row only one claims it; the claim moves its next attempt a lease ahead, so a worker that died
mid-send leaves the row to be retried, not lost. The send itself runs outside any claim's transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.messaging.channels import SendError, send_mail, sms_gateway
from phaseout.messaging.models import Channel, Delivery

logger = logging.getLogger("phaseout.messaging")

LEASE = dt.timedelta(minutes=10)
ERROR_MAX = Delivery._meta.get_field("last_error").max_length or 500


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    given_up: int = 0
    postponed: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "given_up": self.given_up,
            "postponed": self.postponed,
        }


def _hm(text: str) -> dt.time:
    hours, minutes = text.strip().split(":")
    return dt.time(int(hours), int(minutes))


def quiet_until(now: dt.datetime) -> dt.datetime | None:
    """The end of the SMS quiet hours (MESSAGING_QUIET_HOURS, "22:00-07:00" in the platform's time zone)
    when `now` lies in them, else None. An empty setting means no quiet hours."""
    window = settings.MESSAGING_QUIET_HOURS.strip()
    if not window:
        return None
    start, end = (_hm(part) for part in window.split("-"))
    local = timezone.localtime(now)
    clock = local.time()
    inside = (start <= clock < end) if start <= end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the n-th failed attempt: MESSAGING_RETRY_SECONDS, doubled each time."""
    return dt.timedelta(seconds=settings.MESSAGING_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def _subject(delivery: Delivery) -> str:
    message = delivery.message
    return f"【{message.get_kind_display()}】{message.title}"


def _text(delivery: Delivery) -> str:
    message = delivery.message
    link = f"{settings.MESSAGING_SITE_URL.rstrip('/')}{message.url}" if message.url else ""
    parts = [message.title, message.body, _("Open: %(link)s") % {"link": link} if link else ""]
    return "\n\n".join(p for p in parts if p)


def _send(delivery: Delivery) -> None:
    person = delivery.message.recipient
    if delivery.channel == Channel.MAIL:
        if not person.user.email:
            raise SendError("the account has no mail address")
        send_mail(to=person.user.email, subject=_subject(delivery), body=_text(delivery))
        return
    preference = getattr(person, "message_preference", None)
    phone = preference.phone if preference is not None else ""
    if not phone:
        raise SendError("no mobile phone number")
    message = delivery.message
    text = f"【{message.get_kind_display()}】{message.title}"
    if message.url and settings.MESSAGING_SITE_URL:
        text += f" {settings.MESSAGING_SITE_URL.rstrip('/')}{message.url}"
    sms_gateway().send(phone=phone, text=text)


def _claim(pk: int, attempts: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        return bool(
            Delivery.objects.filter(
                pk=pk, attempts=attempts, status__in=[Delivery.Status.QUEUED, Delivery.Status.FAILED]
            ).update(attempts=attempts + 1, next_attempt_at=now + LEASE)
        )


def _finish(delivery: Delivery, attempt: int, error: str, now: dt.datetime, result: DrainResult) -> None:
    with transaction.atomic():
        if not error:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=Delivery.Status.SENT, sent_at=now, next_attempt_at=None, last_error=""
            )
            record(
                actor=None,
                action="message.sent",
                obj=delivery,
                data={"channel": delivery.channel, "attempt": attempt},
            )
            result.sent += 1
            return
        error = error[:ERROR_MAX]
        if attempt >= settings.MESSAGING_MAX_ATTEMPTS:
            status, next_at, action = Delivery.Status.GIVEN_UP, None, "message.given_up"
            result.given_up += 1
        else:
            status, next_at, action = Delivery.Status.FAILED, now + backoff(attempt), "message.send_failed"
            result.failed += 1
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, next_attempt_at=next_at, last_error=error
        )
        record(
            actor=None,
            action=action,
            obj=delivery,
            reason=error,
            outcome=Outcome.FAILURE,
            data={"channel": delivery.channel, "attempt": attempt},
        )


def drain(*, now: dt.datetime | None = None, limit: int = 200) -> DrainResult:
    """Send what is due (at most `limit` deliveries); safe to run twice and at once."""
    now = now or timezone.now()
    result = DrainResult()
    due = Delivery.objects.filter(
        status__in=[Delivery.Status.QUEUED, Delivery.Status.FAILED], next_attempt_at__lte=now
    )
    quiet_end = quiet_until(now)
    if quiet_end is not None:
        with transaction.atomic():
            result.postponed = due.filter(channel=Channel.SMS).update(next_attempt_at=quiet_end)
    rows = list(due.order_by("next_attempt_at", "id").values_list("pk", "attempts")[:limit])
    for pk, attempts in rows:
        if not _claim(pk, attempts, now):
            continue  # another drain took it
        delivery = Delivery.objects.select_related(
            "message__recipient__user", "message__recipient__message_preference"
        ).get(pk=pk)
        try:
            _send(delivery)
        except SendError as exc:
            logger.warning("delivery %s (%s) failed: %s", pk, delivery.channel, exc)
            _finish(delivery, attempts + 1, str(exc) or type(exc).__name__, now, result)
        else:
            _finish(delivery, attempts + 1, "", now, result)
    return result
