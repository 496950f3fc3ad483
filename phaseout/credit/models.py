from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay


class Measure(models.Model):
    """A joint-punishment measure (联合惩戒): its domain, legal basis, executing department, duration.
    The catalogue is data (phaseout/data/joint_punishment.json), loaded with the reference data."""

    code = models.SlugField(primary_key=True, max_length=30)
    domain = models.CharField(_("domain"), max_length=40)
    legal_basis = models.CharField(_("legal basis"), max_length=200)
    executing_suffix = models.CharField(max_length=10)  # the department code suffix in each city
    months = models.PositiveSmallIntegerField(_("duration (months)"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("joint-punishment measure")
        verbose_name_plural = _("joint-punishment measures")

    def __str__(self) -> str:
        return self.domain


class Referral(QuickDisplay, models.Model):
    """A credit referral of an enterprise that missed its exit deadline, with the fields the national
    credit information sharing platform exchanges."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        LIFTED = "lifted", _("Lifted after exit")

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="referrals")
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="referrals")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED)
    reason = models.TextField(_("reason"))
    decision_number = models.CharField(_("decision number"), max_length=60, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    content = models.TextField(_("content of the sanction"), blank=True)
    deciding_body = models.CharField(_("deciding body"), max_length=100, blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    proposed_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_on = models.DateField(_("lifted on"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("credit referral")
        verbose_name_plural = _("credit referrals")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=~models.Q(status="lifted"), name="referral_one_open_per_case"
            ),
            models.CheckConstraint(
                name="referral_approved_with_decision",
                condition=models.Q(status="proposed")
                | (
                    models.Q(approved_by__isnull=False, decided_on__isnull=False, valid_from__isnull=False)
                    & ~models.Q(decision_number="")
                ),
            ),
            models.CheckConstraint(
                name="referral_lifted_with_date",
                condition=~models.Q(status="lifted") | models.Q(lifted_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.get_status_display()}"


class Acknowledgement(models.Model):
    """Each executing department acknowledges the measure it carries out."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="acknowledgements")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT)
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["referral", "measure"]
        constraints = [models.UniqueConstraint(fields=["referral", "measure"], name="ack_once_per_measure")]

    def __str__(self) -> str:
        return f"{self.referral_id}/{self.measure_id}"
