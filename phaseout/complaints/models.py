from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.fields import SealedTextField


class TipOff(QuickDisplay, models.Model):
    """A tip-off (举报) from the public form or a hotline's work order."""

    class Source(models.TextChoices):
        WEB = "web", _("Public form")
        HOTLINE_12345 = "12345", _("12345 hotline")
        DITIAOGANG = "ditiaogang", _("地条钢 hotline")
        PROVINCE = "province", _("Provincial platform")
        PETITION = "petition", _("Petition (信访)")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        HANDED_OVER = "handed_over", _("Handed over")
        ANSWERED = "answered", _("Answered")

    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    external_id = models.CharField(_("work-order number"), max_length=64, blank=True)
    text = models.TextField(_("what was reported"))
    enterprise_name = models.CharField(_("enterprise named"), max_length=120, blank=True)
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.SET_NULL, null=True, blank=True)
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, null=True, blank=True)
    dimension = models.CharField(_("dimension"), max_length=20, blank=True)
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True, blank=True)
    received_on = models.DateField(_("received on"))
    handover_due = models.DateField(_("hand over by"))
    feedback_due = models.DateField(_("answer by"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("answer to the reporter"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    # The reporter, encrypted (identity.seal, SM4); opened only by the intake role's recorded reveal.
    reporter_name = SealedTextField(blank=True, purpose="complaints.reporter_name", legacy="fernet")
    reporter_phone = SealedTextField(blank=True, purpose="complaints.reporter_phone", legacy="fernet")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("tip-off")
        verbose_name_plural = _("tip-offs")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="tipoff_work_order_once",
            ),
            models.CheckConstraint(
                name="tipoff_answered_with_answer",
                condition=~models.Q(status="answered")
                | (models.Q(answered_at__isnull=False) & ~models.Q(answer="")),
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_code
