from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Outcome(models.TextChoices):
    SUCCESS = "success", pgettext_lazy("audit outcome", "Success")
    FAILURE = "failure", pgettext_lazy("audit outcome", "Failure")
    REFUSED = "refused", pgettext_lazy("audit outcome", "Refused")


class AuditEvent(models.Model):
    """Who did what, when, from where, to which record, with what outcome, and why.

    Append-only in the database (triggers refuse UPDATE and DELETE, see migration 0004 and
    phaseout.audit.maintenance) and tamper-evident: `mac` is HMAC-SM3 over `prev_mac` (the MAC of entry
    seq - 1) and every other field (phaseout.audit.chain). Written by phaseout.audit.record.record() only.
    """

    seq = models.PositiveBigIntegerField(_("sequence number"), unique=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    # The person's login name and unit (department, territory or enterprise) at the time: a later rename or
    # move does not rewrite the trail.
    actor_name = models.CharField(_("user name"), max_length=150, blank=True)
    unit = models.CharField(_("unit"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=60)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    key_version = models.PositiveSmallIntegerField(_("key version"), default=1)
    prev_mac = models.CharField(_("previous MAC"), max_length=64)
    mac = models.CharField(_("MAC"), max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            # The auditor's filters, each with the page's order.
            models.Index(fields=["action", "-seq"], name="audit_action_seq_idx"),
            # The sign-in limits count one event's entries within a window of minutes (identity.limits).
            models.Index(fields=["action", "at"], name="audit_action_at_idx"),
            models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq_idx"),
            models.Index(fields=["actor", "-seq"], name="audit_actor_seq_idx"),
            models.Index(fields=["actor_name", "-seq"], name="audit_actor_name_seq_idx"),
            models.Index(fields=["unit", "-seq"], name="audit_unit_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("audit events are append-only")


class ChainHead(models.Model):
    """The last link of the chain: one row (pk 1), locked by every append so that two writers cannot both
    extend the same entry (a fork). Kept apart from the entries so that archiving them all still leaves
    the link the next entry continues from."""

    seq = models.PositiveBigIntegerField(default=0)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.seq} {self.mac[:12]}"
