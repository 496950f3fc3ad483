from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from phaseout.choices import QuickDisplay


class Outcome(models.TextChoices):
    SUCCESS = "success", pgettext_lazy("audit outcome", "Success")
    FAILURE = "failure", pgettext_lazy("audit outcome", "Failure")
    REFUSED = "refused", pgettext_lazy("audit outcome", "Refused")


class AuditEvent(QuickDisplay, models.Model):
    """Who did what, when, from where, to which record, with what outcome, and why.

    Append-only in the database (triggers refuse UPDATE and DELETE, see migration 0006 and
    phaseout.audit.maintenance) and tamper-evident: `mac` is HMAC-SM3 over `prev_mac` and every other
    field (phaseout.audit.chain), computed in the writer's transaction. `seq` is taken from a sequence
    when the entry is written (numbers of writes that rolled back are never used). Since ADR 27 an entry
    is sealed on its own (`prev_mac` is chain.GENESIS) and the sequencer links it into the chain after it
    has committed (ChainLink); entries written before were chained through `prev_mac` directly and were
    given their links by migration 0009. Written by phaseout.audit.record only.
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
    """The last link of the chain (`seq`: its position; `mac`: its MAC): one row (pk 1), moved only by the
    sequencer (phaseout.audit.sequencer) under its advisory lock, never by a writer. Kept apart from the
    links so that archiving them all still leaves the link the next one continues from."""

    seq = models.PositiveBigIntegerField(default=0)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.seq} {self.mac[:12]}"


class ChainLink(models.Model):
    """One link of the hash chain: the entry numbered `seq`, sealed with `entry_mac`, is at position `pos`
    of the chain; `mac` is HMAC-SM3 over the link before (`prev`) and this link's content. Written by the
    sequencer, in the order the entries committed; append-only like the entries (phaseout.audit.maintenance).
    """

    pos = models.PositiveBigIntegerField(_("chain position"), unique=True)
    seq = models.PositiveBigIntegerField(_("sequence number"), unique=True)
    entry_mac = models.CharField(max_length=64)
    key_version = models.PositiveSmallIntegerField(default=1)
    prev = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit chain link")
        verbose_name_plural = _("audit chain links")

    def __str__(self) -> str:
        return f"{self.pos}: {self.seq}"


class Unchained(models.Model):
    """An entry committed but not yet linked into the chain: written with the entry, in its transaction,
    and removed by the sequencer in the transaction that links it. The sequencer's queue."""

    seq = models.PositiveBigIntegerField(primary_key=True)

    class Meta:
        verbose_name = _("audit entry waiting to be chained")
        verbose_name_plural = _("audit entries waiting to be chained")

    def __str__(self) -> str:
        return str(self.seq)


class EntryCounter(models.Model):
    """The last entry number given out, on SQLite only (PostgreSQL takes numbers from the sequence
    audit_entry_seq). SQLite runs one writing transaction at a time anyway, so this row adds no wait."""

    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.last)
