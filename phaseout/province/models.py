"""The city's year summary on its way up: drawn up by the office from the records, approved by the city
government (recorded by the office), handed up to the province, accepted or returned there
(phaseout.rules.approvals). A summary that came as an exchange file from a city running its own
deployment is the same record, marked with the file's checksum and signing key."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.crypto.storage import SealedFileStorage
from phaseout.rules.approvals import SummaryState, SummaryStep


class YearSummary(models.Model):
    class State(models.TextChoices):
        DRAFT = SummaryState.DRAFT.value, _("Draft, to be approved by the city government")
        APPROVED = SummaryState.APPROVED.value, _("Approved by the city government")
        HANDED_UP = SummaryState.HANDED_UP.value, _("Handed up, awaiting the province")
        ACCEPTED = SummaryState.ACCEPTED.value, _("Accepted by the province")
        RETURNED = SummaryState.RETURNED.value, _("Returned by the province")

    class Source(models.TextChoices):
        PLATFORM = "platform", _("Drawn up on this platform")
        EXCHANGE = "exchange", _("Received as an exchange file")

    city = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    state = models.CharField(_("status"), max_length=10, choices=State.choices, default=State.DRAFT)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.PLATFORM)
    # The figures from the records (phaseout.reports.summary), with the district → city roll-up.
    figures = models.JSONField(_("figures"), default=dict)
    document = models.FileField(
        _("document"),
        upload_to="summaries/%Y/",
        blank=True,
        storage=SealedFileStorage(purpose="summary"),
    )
    document_name = models.CharField(_("file name"), max_length=200, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    drawn_up_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    drawn_up_at = models.DateTimeField(_("drawn up at"))
    approval_body = models.CharField(_("approving body"), max_length=100, blank=True)
    approval_doc_number = models.CharField(_("approval document number"), max_length=60, blank=True)
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    approval_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval_recorded_at = models.DateTimeField(_("approval recorded at"), null=True, blank=True)
    handed_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handed_up_at = models.DateTimeField(_("handed up at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    return_reason = models.TextField(_("reason for returning"), blank=True)
    # An exchange file's SHA-256 and the SM3 fingerprint of the public key that signed it.
    exchange_sha256 = models.CharField(max_length=64, blank=True)
    exchange_key = models.CharField(_("signing key fingerprint"), max_length=64, blank=True)

    class Meta:
        ordering = ["-year", "city"]
        verbose_name = _("year summary")
        verbose_name_plural = _("year summaries")
        constraints = [
            models.UniqueConstraint(fields=["city", "year"], name="year_summary_once_per_city_and_year"),
            models.CheckConstraint(
                name="year_summary_approved_with_body_document_date",
                condition=models.Q(state__in=["draft"])
                | (
                    models.Q(approved_on__isnull=False, approval_recorded_at__isnull=False)
                    & ~models.Q(approval_body="")
                    & ~models.Q(approval_doc_number="")
                ),
            ),
            models.CheckConstraint(
                name="year_summary_handed_up_with_who_and_when",
                condition=~models.Q(state__in=["handed_up", "accepted", "returned"])
                | models.Q(handed_up_at__isnull=False),
            ),
            models.CheckConstraint(
                name="year_summary_reviewed_with_who_and_when",
                condition=~models.Q(state__in=["accepted", "returned"])
                | models.Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="year_summary_returned_with_reason",
                condition=~models.Q(state="returned") | ~models.Q(return_reason=""),
            ),
        ]
        indexes = [models.Index(fields=["year", "state"], name="year_summary_year_state_idx")]

    def __str__(self) -> str:
        return f"{self.city_id} {self.year}"


class SummaryEvent(models.Model):
    """The history of a year summary: every step, who took it, when, from what to what, and why."""

    class Step(models.TextChoices):
        DRAW_UP = "draw_up", _("Drawn up")
        APPROVE = SummaryStep.APPROVE.value, _("Approved by the city government")
        HAND_UP = SummaryStep.HAND_UP.value, _("Handed up to the province")
        ACCEPT = SummaryStep.ACCEPT.value, _("Accepted by the province")
        RETURN = SummaryStep.RETURN.value, _("Returned by the province")
        REVISE = SummaryStep.REVISE.value, _("Revised after return")
        IMPORT = "import", _("Received as an exchange file")

    summary = models.ForeignKey(YearSummary, on_delete=models.CASCADE, related_name="events")
    step = models.CharField(_("step"), max_length=10, choices=Step.choices)
    before = models.CharField(max_length=10, blank=True)
    after = models.CharField(max_length=10)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["summary", "at", "id"]

    def __str__(self) -> str:
        return f"{self.summary_id} {self.step}"


class CityKey(models.Model):
    """A city's public SM2 signing key as the provincial office registered it: the key (x || y), its SM3
    fingerprint, the letter or document it came with, who registered it and when; retired with who, when
    and why, never deleted. A city has at most one current key; its exchange files are verified against
    it (phaseout.province.exchange)."""

    city = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    public_key = models.CharField(_("public key"), max_length=128)  # 64 bytes x || y, lower-case hex
    fingerprint = models.CharField(_("fingerprint (SM3)"), max_length=64, unique=True)
    letter = models.CharField(_("received with (letter or document)"), max_length=100)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(_("registered at"))
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    retire_reason = models.TextField(_("reason for retiring"), blank=True)

    class Meta:
        ordering = ["city", "-registered_at", "-id"]
        verbose_name = _("city signing key")
        verbose_name_plural = _("city signing keys")
        constraints = [
            models.UniqueConstraint(
                fields=["city"],
                condition=models.Q(retired_at__isnull=True),
                name="city_key_one_current_per_city",
            ),
            models.CheckConstraint(name="city_key_with_letter", condition=~models.Q(letter="")),
            models.CheckConstraint(
                name="city_key_retired_with_who_when_why",
                condition=models.Q(retired_at__isnull=True, retired_by__isnull=True, retire_reason="")
                | (
                    models.Q(retired_at__isnull=False, retired_by__isnull=False) & ~models.Q(retire_reason="")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.city_id} {self.fingerprint[:16]}"

    @property
    def current(self) -> bool:
        return self.retired_at is None


class CityKeyEvent(models.Model):
    """The history of the register of city keys: each registration and retirement."""

    class Step(models.TextChoices):
        REGISTER = "register", _("Registered")
        RETIRE = "retire", _("Retired")

    key = models.ForeignKey(CityKey, on_delete=models.CASCADE, related_name="events")
    step = models.CharField(_("step"), max_length=10, choices=Step.choices)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["key", "at", "id"]

    def __str__(self) -> str:
        return f"{self.key_id} {self.step}"


class SummaryOverdue(models.Model):
    """A city whose year summary was not with the province by the date its plan states (not handed up, or
    returned and not handed up again, by then): marked once by the deadline sweep, kept after as the
    record that it was late."""

    city = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    due_on = models.DateField(_("due"))
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    marked_at = models.DateTimeField(_("marked overdue at"))

    class Meta:
        ordering = ["-year", "city"]
        constraints = [
            models.UniqueConstraint(fields=["city", "year"], name="summary_overdue_once_per_city_and_year")
        ]

    def __str__(self) -> str:
        return f"{self.city_id} {self.year} overdue"
