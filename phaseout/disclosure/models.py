from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.crypto.fields import EncryptedTextField


class ListKind(models.TextChoices):
    YELLOW = "yellow", _("Yellow-card list: enterprises under a rectification order")
    RED = "red", _("Red-card list: closed after failing rectification")
    EXITED = "exited", _("Enterprises, equipment and capacity exited this year")
    OVER_EMISSION = "over_emission", _("Enterprises over emission standards")
    SEALED = "sealed", _("Elimination-class equipment sealed, awaiting dismantling")
    ENERGY = "energy", _("Energy-conservation inspections: violators named")
    QUALITY = "quality", _("Unqualified products and their producers (quality sampling)")
    LICENCES = "licences", _("Enterprises holding production licences")


class Snapshot(models.Model):
    """A dated copy of a list: drafted from the records, approved by the office, then published;
    withdrawn with a reason. Every snapshot is kept: that is the list's history."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Replaced by a later publication")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("list"), max_length=20, choices=ListKind.choices)
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    rows = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "-id"]
        verbose_name = _("list snapshot")
        verbose_name_plural = _("list snapshots")
        constraints = [
            models.CheckConstraint(
                name="snapshot_approved_with_who",
                condition=models.Q(status="draft")
                | models.Q(approved_by__isnull=False, approved_at__isnull=False),
            ),
            models.CheckConstraint(
                name="snapshot_withdrawn_with_reason",
                condition=~models.Q(status="withdrawn")
                | (models.Q(withdrawn_at__isnull=False) & ~models.Q(withdrawal_reason="")),
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status="published"),
                name="snapshot_one_published_per_list",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status", "-id"], name="snapshot_public_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.as_of:%Y-%m-%d}"


class ErrorReport(models.Model):
    """Someone says an entry in a published list is wrong; routed to the department that owns it."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="error_reports")
    uscc = models.CharField(_("USCC of the entry"), max_length=18, blank=True)
    text = models.TextField(_("what is wrong"))
    # A member of the public's contact: encrypted at rest (SM4, phaseout.crypto).
    contact = EncryptedTextField(
        _("contact (optional)"),
        purpose="disclosure.error_contact",
        legacy="plaintext",
        max_length=100,
        blank=True,
    )
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("error report")
        verbose_name_plural = _("error reports")

    def __str__(self) -> str:
        return f"{self.snapshot_id}: {self.uscc}"
