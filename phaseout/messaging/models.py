"""The message centre (站内信) and its outbox.

A Message is one notice to one person, linked to its record by address (`url`) and by name
(`object_type`, `object_id`, as the audit trail names records). Each message that goes out by mail or SMS
has one Delivery row per channel — unique, so that nothing is sent twice — which the outbox drain
(phaseout.messaging.outbox) claims, sends, and retries with backoff until it is sent or given up.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.fields import EncryptedTextField


class Kind(models.TextChoices):
    NOTICE = "notice", _("Notice")
    SUMMONS = "summons", _("Summons for talks")
    REMINDER = "reminder", _("Reminder")
    ESCALATION = "escalation", _("Escalation")
    TIPOFF = "tipoff", _("Tip-off assigned")
    PROPOSAL = "proposal", _("Proposal waiting")
    RETURNED = "returned", _("Submission returned")


class Message(QuickDisplay, models.Model):
    recipient = models.ForeignKey(
        "orgs.Person", on_delete=models.CASCADE, related_name="messages", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Given by the producer for an event that must reach a person once however often it is seen (the
    # same escalation on every sweep run): a second message with the same key to the same person is not made.
    key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(_("sent at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "key"], condition=~models.Q(key=""), name="message_once_per_key"
            )
        ]
        indexes = [
            # The header's unread count: one COUNT on this index per page.
            models.Index(
                fields=["recipient"], condition=models.Q(read_at__isnull=True), name="message_unread_idx"
            ),
            models.Index(fields=["recipient", "-created_at"], name="message_recipient_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Channel(models.TextChoices):
    MAIL = "mail", _("Mail")
    SMS = "sms", _("SMS")


class Delivery(models.Model):
    """One message on one channel, in the outbox."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, will retry")
        GIVEN_UP = "given_up", _("Given up")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["message", "channel"], name="delivery_once_per_channel")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.channel} {self.status}"


class Preference(models.Model):
    """How a person wants messages beyond the message centre: by mail (to the account's address), by SMS
    (to this phone), and which kinds not at all outside the centre."""

    person = models.OneToOneField(
        "orgs.Person", on_delete=models.CASCADE, related_name="message_preference", primary_key=True
    )
    mail = models.BooleanField(_("by mail"), default=True)
    sms = models.BooleanField(_("by SMS"), default=True)
    phone = EncryptedTextField(
        _("mobile phone for SMS"), purpose="messaging.phone", max_length=20, blank=True
    )
    muted_kinds = models.JSONField(_("kinds kept in the message centre only"), default=list, blank=True)

    class Meta:
        verbose_name = _("message preference")
        verbose_name_plural = _("message preferences")

    def __str__(self) -> str:
        return str(self.person_id)
