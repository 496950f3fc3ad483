from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.storage import SealedFileStorage
from phaseout.orgs.models import Dimension
from phaseout.rules.case_flow import TERMINAL, State
from phaseout.rules.exit_plans import ExitPlan
from phaseout.rules.exit_plans import MeasureKind as Measure


class Inspection(QuickDisplay, models.Model):
    """An inspection (执法检查 / 监察 / 抽查) by a department, in its dimension."""

    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, verbose_name=_("department"))
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("enterprise"),
    )
    line = models.ForeignKey(
        "registry.ProductionLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        verbose_name=_("production line"),
    )

    class Method(models.TextChoices):
        ON_SITE = "on_site", _("On-site inspection")
        EVALUATION = "evaluation", _("Registry evaluation against the standards")
        MONITORING = "monitoring", _("Check of online monitoring data")

    dimension = models.CharField(_("dimension"), max_length=20, choices=Dimension.choices)
    method = models.CharField(_("method"), max_length=12, choices=Method.choices, default=Method.ON_SITE)
    inspected_on = models.DateField(_("inspection date"))
    inspectors = models.CharField(_("inspectors"), max_length=120)
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-inspected_on", "-id"]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")

    def __str__(self) -> str:
        return f"{self.enterprise.name} {self.inspected_on:%Y-%m-%d}"


class Finding(models.Model):
    """What an inspection found against one rule: measured value, limit, conclusion."""

    class Conclusion(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        NON_COMPLIANT = "non_compliant", _("Non-compliant")
        ELIMINATION = "elimination", _("Elimination class")

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="findings")
    line = models.ForeignKey("registry.ProductionLine", on_delete=models.PROTECT, null=True, blank=True)
    rule_id = models.CharField(_("rule"), max_length=80)
    rule_title = models.CharField(_("rule"), max_length=200)
    rule_source = models.CharField(_("legal basis"), max_length=300)
    rule_version = models.CharField(_("rule version"), max_length=60, blank=True)
    verification = models.CharField(_("verification"), max_length=12, blank=True)
    corrections = models.JSONField(_("corrections applied"), default=list, blank=True)
    # What an automatic finding was based on (a measurement, or the equipment's size); a re-run of the
    # evaluation finds the same basis and opens nothing new.
    basis = models.CharField(max_length=80, blank=True)
    measured_value = models.DecimalField(
        _("measured value"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    limit_value = models.DecimalField(_("limit"), max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    conclusion = models.CharField(_("conclusion"), max_length=20, choices=Conclusion.choices)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "rule_id", "basis"],
                condition=~models.Q(basis=""),
                name="finding_once_per_basis",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_title}: {self.get_conclusion_display()}"


class CaseState(models.TextChoices):
    FINDING = State.FINDING.value, _("Proposal awaiting decision")
    DISMISSED = State.DISMISSED.value, _("Proposal dismissed")
    RECTIFYING = State.RECTIFYING.value, _("Rectification ordered")
    RESTRICTED = State.RESTRICTED.value, _("Production restricted")
    SUSPENDED = State.SUSPENDED.value, _("Suspended for rectification")
    OVERDUE = State.OVERDUE.value, _("Overdue or still non-compliant")
    VERIFIED = State.VERIFIED.value, _("Rectified and verified")
    CLOSURE_PROPOSED = State.CLOSURE_PROPOSED.value, _("Closure proposed to the government")
    CLOSED = State.CLOSED.value, _("Closed (compliant)")
    EXIT_ORDERED = State.EXIT_ORDERED.value, _("Exit ordered")
    EXITED = State.EXITED.value, _("Exited")
    ACCEPTED = State.ACCEPTED.value, _("Accepted")
    ARCHIVED = State.ARCHIVED.value, _("Archived")


OPEN_STATES = [s.value for s in State if s not in TERMINAL]


def case_number(year: int, pk: int) -> str:
    """A case's number: the year it was opened and its serial, e.g. 2026-000123."""
    return f"{year}-{pk:06d}"


class Case(QuickDisplay, models.Model):
    """One enterprise's (or line's) path from a finding to its end."""

    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="cases", verbose_name=_("enterprise")
    )
    line = models.ForeignKey(
        "registry.ProductionLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("production line"),
    )
    # Copied from the enterprise when the case opens, so that scope and dashboards need no join.
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, verbose_name=_("territory"))
    industry = models.ForeignKey("registry.Industry", on_delete=models.PROTECT, verbose_name=_("industry"))
    dimension = models.CharField(_("dimension"), max_length=20, choices=Dimension.choices)
    finding = models.OneToOneField(
        Finding, on_delete=models.PROTECT, null=True, blank=True, related_name="case"
    )
    rule_id = models.CharField(_("rule"), max_length=80)
    consequence = models.CharField(_("consequence"), max_length=20)
    state = models.CharField(_("state"), max_length=20, choices=CaseState.choices, default=CaseState.FINDING)
    version = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    # The day the order with a clock (rectification, restriction, suspension) was served: its clock
    # runs from there.
    order_date = models.DateField(_("order served on"), null=True, blank=True)
    rectification_months = models.PositiveSmallIntegerField(null=True, blank=True)
    extension_months = models.PositiveSmallIntegerField(_("extension (months)"), default=0)
    deadline = models.DateField(_("rectification deadline"), null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    closure_proposed_on = models.DateField(_("closure proposed on"), null=True, blank=True)
    # A case opened because exited capacity resumed production: it goes to closure at once.
    resumed = models.BooleanField(_("resumed after exit"), default=False)
    exit_plan = models.CharField(_("exit plan"), max_length=30, blank=True)
    exit_ordered_on = models.DateField(_("exit order date"), null=True, blank=True)
    exited_on = models.DateField(_("exited on"), null=True, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    acceptance_team = models.CharField(_("acceptance team"), max_length=200, blank=True)
    acceptance_record = models.TextField(_("acceptance record"), blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    reinspection_due = models.DateField(_("re-inspection due"), null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resumed_cases",
        verbose_name=_("previous case"),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        constraints = [
            models.CheckConstraint(name="case_extension_capped", condition=models.Q(extension_months__lte=3)),
            models.CheckConstraint(
                name="case_rectifying_has_deadline",
                condition=~models.Q(state__in=["rectifying", "restricted"])
                | models.Q(deadline__isnull=False, order_date__isnull=False),
            ),
            models.CheckConstraint(
                name="case_exit_ordered_has_date",
                condition=~models.Q(state__in=["exit_ordered", "exited", "accepted", "archived"])
                | models.Q(exit_ordered_on__isnull=False),
            ),
            models.CheckConstraint(
                name="case_accepted_has_record",
                condition=~models.Q(state__in=["accepted", "archived"])
                | (models.Q(accepted_on__isnull=False) & ~models.Q(acceptance_record="")),
            ),
        ]
        indexes = [
            # The sweep's and the reminders' predicates, in the keyset order they walk (cases.sweep).
            models.Index(
                fields=["deadline", "id"],
                name="case_clocked_deadline_id_idx",
                condition=models.Q(state__in=["rectifying", "restricted"]),
            ),
            models.Index(
                fields=["reinspection_due", "id"],
                name="case_reinspection_due_idx",
                condition=models.Q(state="archived"),
            ),
            models.Index(fields=["territory", "state", "-id"], name="case_territory_state_idx"),
            models.Index(fields=["dimension", "state", "-id"], name="case_dimension_state_idx"),
            # The case list filtered by territory and dimension, newest first (a department's filter that
            # selects nothing of its dimensions then reads nothing, not the whole table backwards).
            models.Index(fields=["territory", "dimension", "-id"], name="case_territory_dimension_idx"),
            models.Index(fields=["state", "-id"], name="case_state_idx"),
            # A list filtered by state counted within a person's scope (territories, and a department's
            # dimensions): read from the index alone, not by visiting every case of the state.
            models.Index(fields=["state", "territory", "dimension"], name="case_state_scope_idx"),
            models.Index(fields=["industry", "-id"], name="case_industry_idx"),
            # The home page's overdue list: the longest overdue first, read from the index's start.
            models.Index(fields=["overdue_at"], name="case_overdue_idx", condition=models.Q(state="overdue")),
            # The charts' ages of the open cases opened in the last 180 days (the older: from the tally).
            models.Index(
                fields=["opened_at"], name="case_open_opened_idx", condition=models.Q(state__in=OPEN_STATES)
            ),
            # The exit ledger: each line's latest exit case (the highest id in an exited state).
            # (Newest first, with what the ledger filters and groups by: read without the table.)
            models.Index(
                fields=["line", "-id"],
                name="case_line_latest_exit_idx",
                include=["dimension", "exit_plan", "finding"],
                condition=models.Q(state__in=["exited", "accepted", "archived"]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.enterprise.name}"

    @property
    def number(self) -> str:
        return case_number(self.opened_at.year, self.pk) if self.opened_at and self.pk else ""


class CaseTally(models.Model):
    """The cases counted by (territory, industry, dimension, state, local year opened): the roll-up the
    dashboard, the year summary and the charts read instead of a pass over every case (ADR 23).

    Written by the database only: triggers on the case table append a row of +n for each group a
    statement put cases into and -n for each it took them out of, in the same transaction as the change
    (phaseout.cases.tally). A group's count is the sum of its rows, exact at every moment; the periodic
    job folds the rows into one per group. Codes, not foreign keys: a tally row refers to nothing."""

    territory = models.CharField(max_length=6)
    industry = models.CharField(max_length=30)
    dimension = models.CharField(max_length=20)
    state = models.CharField(max_length=20)
    year = models.IntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["territory", "dimension"], name="case_tally_scope_idx")]

    def __str__(self) -> str:
        return f"{self.territory} {self.industry} {self.dimension} {self.state} {self.year}: {self.n:+d}"


class ExitCell(models.Model):
    """A cell of the exit tally (ADR 25): the exited lines' territory, industry, capacity unit and exit
    year, and their latest exit case's dimension, exit plan and department; with its lines and capacity.
    Codes, not foreign keys: written by triggers, a row refers to nothing."""

    territory = models.CharField(max_length=6)
    industry = models.CharField(max_length=30)
    unit = models.CharField(max_length=10)
    year = models.IntegerField()
    dimension = models.CharField(max_length=20)
    method = models.CharField(max_length=30)
    department = models.IntegerField()  # the department's id; 0: none
    lines = models.IntegerField()
    centi = models.BigIntegerField()  # capacity in hundredths: exact on SQLite too

    class Meta:
        abstract = True


class ExitTally(ExitCell):
    """The exited lines rolled up by cell: the roll-up the exit ledger, the aggregates and the charts read
    instead of a pass over every exited line (ADR 25, phaseout.cases.exit_tally).

    Written by the database only, as the case tally: triggers append +/- rows in the same transaction as
    the change; a cell's figures are the sums of its rows. `solo`: the enterprises whose only cell of that
    unit this is (the others are counted from `ExitEnterprise.multi`)."""

    solo = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["territory", "year"], name="exit_tally_scope_idx")]

    def __str__(self) -> str:
        return f"{self.territory} {self.industry} {self.unit} {self.year} {self.dimension}: {self.lines:+d}"


class ExitEnterprise(ExitCell):
    """One enterprise's exited lines in one cell of the exit tally (ADR 25): recomputed by the database for
    the enterprises a statement touched. `multi`: the enterprise has exited lines in more than one cell of
    this capacity unit (its enterprise count is then taken from these rows, not the tally's `solo`)."""

    enterprise_id = models.BigIntegerField()  # not a foreign key: written by triggers, refers to nothing
    multi = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["enterprise_id"], name="exit_enterprise_idx"),
            models.Index(
                fields=["territory", "year"], name="exit_enterprise_multi_idx", condition=models.Q(multi=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.territory} {self.unit} {self.year}: {self.lines}"


class CaseEvent(models.Model):
    """Append-only history of a case: every transition, who did it, when and why."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, choices=CaseState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=CaseState.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    at = models.DateTimeField()  # when it was entered
    # The day of the record: decided or issued, or done — not the moment of data entry.
    dated = models.DateField(null=True, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise RuntimeError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("case events are append-only")


# How the capacity exits (the exit order's plan), as officials name it; the form and the ledger use it.
EXIT_PLAN_CHOICES = [
    (ExitPlan.DISMANTLE_AT_ONCE.value, _("Dismantle the main equipment at once")),
    (
        ExitPlan.SEAL_THEN_DISMANTLE.value,
        _("Cut water and power, remove power equipment, seal, then dismantle"),
    ),
    (ExitPlan.CLOSE_ENTERPRISE.value, _("Close the whole enterprise")),
]


class MeasureKind(models.TextChoices):
    CLOSE_ENTERPRISE = Measure.CLOSE_ENTERPRISE.value, _("Close the enterprise")
    POWER_CUT = Measure.POWER_CUT.value, _("Power cut")
    WATER_CUT = Measure.WATER_CUT.value, _("Water cut")
    POWER_EQUIPMENT_REMOVAL = Measure.POWER_EQUIPMENT_REMOVAL.value, _("Power equipment removal")
    EQUIPMENT_SEALING = Measure.EQUIPMENT_SEALING.value, _("Sealing of main equipment")
    DISMANTLING = Measure.DISMANTLING.value, _("Dismantling")
    PUBLIC_PLEDGE = Measure.PUBLIC_PLEDGE.value, _("Public pledge not to resume")
    WEBSITE_ANNOUNCEMENT = Measure.WEBSITE_ANNOUNCEMENT.value, _("Announcement on the city website")
    LICENCE_REVOCATION = Measure.LICENCE_REVOCATION.value, _("Licences revoked by their issuing departments")


class ExitMeasure(QuickDisplay, models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="measures")
    kind = models.CharField(_("measure"), max_length=30, choices=MeasureKind.choices)
    unit = models.CharField(_("carried out by"), max_length=60)
    deadline = models.DateField(_("deadline"))
    done_on = models.DateField(_("done on"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    # An enforcement measure needs a statute behind it (行政强制法 arts. 12–13): the basis it was taken
    # under, and the notice given to the enterprise.
    basis = models.CharField(_("legal basis"), max_length=300, blank=True)
    notice = models.CharField(_("notice given"), max_length=300, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case_id", "id"]
        verbose_name = _("exit measure")
        verbose_name_plural = _("exit measures")
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="measure_once_per_case"),
            models.CheckConstraint(
                name="measure_done_paired",
                condition=models.Q(done_on__isnull=True, done_by__isnull=True)
                | models.Q(done_on__isnull=False, done_by__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["deadline"],
                name="measure_open_deadline_idx",
                condition=models.Q(done_on__isnull=True),
            ),
            # The sweep's predicate (not done, not yet marked overdue), in its keyset order.
            models.Index(
                fields=["deadline", "id"],
                name="measure_sweep_due_idx",
                condition=models.Q(done_on__isnull=True, overdue_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class Evidence(models.Model):
    """An evidence file (photo or PDF) attached to an inspection, an exit measure or a case."""

    # Photos and scans can show people, places and papers: sealed at rest (SM4-GCM).
    file = models.FileField(upload_to="evidence/%Y/%m/", storage=SealedFileStorage(purpose="evidence"))
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(_("description"), max_length=200, blank=True)
    inspection = models.ForeignKey(
        Inspection, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence"
    )
    measure = models.ForeignKey(
        ExitMeasure, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence"
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            models.CheckConstraint(
                name="evidence_has_one_owner",
                condition=models.Q(inspection__isnull=False, measure__isnull=True, case__isnull=True)
                | models.Q(inspection__isnull=True, measure__isnull=False, case__isnull=True)
                | models.Q(inspection__isnull=True, measure__isnull=True, case__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.original_name


class Escalation(QuickDisplay, models.Model):
    """Raised once by the deadline sweep when an order or a measure passes its deadline."""

    class Kind(models.TextChoices):
        ORDER_OVERDUE = "order_overdue", _("Rectification deadline passed")
        MEASURE_OVERDUE = "measure_overdue", _("Exit measure overdue")
        REINSPECTION_DUE = "reinspection_due", _("Re-inspection due")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="escalations")
    measure = models.ForeignKey(ExitMeasure, on_delete=models.PROTECT, null=True, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    raised_at = models.DateTimeField()
    due_date = models.DateField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=models.Q(measure__isnull=True, resolved_at__isnull=True),
                name="escalation_open_once_per_case",
            ),
            models.UniqueConstraint(
                fields=["measure", "kind"],
                condition=models.Q(measure__isnull=False, resolved_at__isnull=True),
                name="escalation_open_once_per_measure",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.case_id}"


class ReInspection(models.Model):
    """回头看: a visit after exit to make sure the capacity has not resumed and cannot resume."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reinspections")
    inspected_on = models.DateField(_("re-inspection date"))
    resumed = models.BooleanField(_("production resumed"))
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    new_case = models.OneToOneField(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["inspected_on", "id"]
        verbose_name = _("re-inspection")
        verbose_name_plural = _("re-inspections")
        constraints = [
            models.CheckConstraint(
                name="reinspection_resumed_opens_case",
                condition=models.Q(resumed=False, new_case__isnull=True)
                | models.Q(resumed=True, new_case__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.inspected_on}"


class ExtensionRequest(models.Model):
    """An enterprise's application for its one extension of the rectification period (延期申请)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting decision")
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Refused")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="extension_requests")
    months = models.PositiveSmallIntegerField(_("extension (months)"))
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("decision"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        constraints = [
            models.CheckConstraint(
                name="extension_request_months_capped", condition=models.Q(months__gte=1, months__lte=3)
            ),
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="pending"), name="extension_request_one_pending"
            ),
            models.CheckConstraint(
                name="extension_request_decision_paired",
                condition=models.Q(status="pending", decided_by__isnull=True, decided_at__isnull=True)
                | (
                    ~models.Q(status="pending") & models.Q(decided_by__isnull=False, decided_at__isnull=False)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.case_id} +{self.months}"


class DocumentKind(models.TextChoices):
    RECTIFICATION_NOTICE = "rectification_notice", _("Notice of rectification within a time limit")
    EXTENSION_REPLY = "extension_reply", _("Reply to the extension request")
    RESTRICTION_DECISION = "restriction_decision", _("Decision to restrict production")
    SUSPENSION_DECISION = "suspension_decision", _("Decision to suspend production for rectification")
    SAFETY_SUSPENSION_DECISION = (
        "safety_suspension_decision",
        _("Decision to suspend production and business"),
    )
    CLOSURE_PROPOSAL = "closure_proposal", _("Proposal to the people's government for closure")
    CLOSURE_DECISION = "closure_decision", _("Decision to shut down (close)")
    REVOCATION_NOTICE = "revocation_notice", _("Notice of revocation of the business licence")
    ACCEPTANCE_OPINION = "acceptance_opinion", _("Acceptance opinion")
    ANNOUNCEMENT = "announcement", _("Website announcement")


class DocumentSequence(models.Model):
    """An issuing body's own sequence of document numbers, per year."""

    issuer = models.CharField(max_length=60)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "year"], name="document_sequence_once")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.year}: {self.last}"


class Decision(models.Model):
    """A decision taken by a person for a body, with the dates on its record, and its formal document.

    Clocks run from `served_on`; `entered_at` keeps when it was typed in beside the real dates."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(_("decision"), max_length=40)
    kind = models.CharField(_("document"), max_length=40, choices=DocumentKind.choices)
    issuer = models.CharField(_("issued by"), max_length=100)
    number = models.CharField(_("document number"), max_length=80)
    year = models.PositiveSmallIntegerField()
    serial = models.PositiveIntegerField(null=True, blank=True)
    department = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_on = models.DateField(_("issued on"))
    served_on = models.DateField(_("served on"), null=True, blank=True)
    entered_at = models.DateTimeField(_("entered at"))
    approval_body = models.CharField(_("approved by"), max_length=100, blank=True)
    approval_number = models.CharField(_("approval document number"), max_length=80, blank=True)
    approval_date = models.DateField(_("approval date"), null=True, blank=True)
    basis = models.TextField(_("legal basis"), blank=True)
    # The document as issued (title, recipient, paragraphs, signature): it never changes afterwards.
    content = models.JSONField(default=dict)
    # 数据原发证据 (GB/T 39786-2021, non-repudiation): the SM3 digest of the document as issued
    # (phaseout.cases.signatures.document_bytes) and the SM2 signature of those bytes by the issuing
    # body's key, named by its key id ("dept.<code>:v<version>", or "platform:v<version>" for a
    # document the platform records for a body whose key it does not hold). Blank only on a decision
    # issued before signatures, until `phaseout documents sign-unsigned`.
    digest = models.CharField(_("SM3 digest"), max_length=64, blank=True)
    signature = models.CharField(_("SM2 signature"), max_length=128, blank=True)
    signing_key = models.CharField(_("signing key"), max_length=80, blank=True)

    class Meta:
        ordering = ["issued_on", "id"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "year", "serial"],
                condition=models.Q(serial__isnull=False),
                name="decision_number_once",
            ),
            models.CheckConstraint(
                name="decision_served_after_issue",
                condition=models.Q(served_on__isnull=True) | models.Q(served_on__gte=models.F("issued_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise RuntimeError("decisions are kept as issued")
        super().save(*args, **kwargs)


class DecisionReceipt(models.Model):
    """数据接收证据: the enterprise's account opened a served decision's document. Who, when, and the
    digest of the document it received, signed by the platform's SM2 key (the signature covers
    phaseout.cases.signatures.receipt_bytes). One per decision and account: the first opening."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="receipts")
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(_("received at"))
    digest = models.CharField(_("SM3 digest"), max_length=64)
    signature = models.CharField(_("SM2 signature"), max_length=128)
    signing_key = models.CharField(_("signing key"), max_length=80)

    class Meta:
        ordering = ["received_at", "id"]
        verbose_name = _("decision receipt")
        verbose_name_plural = _("decision receipts")
        constraints = [
            models.UniqueConstraint(fields=["decision", "received_by"], name="decision_receipt_once"),
        ]

    def __str__(self) -> str:
        return f"{self.decision_id} {self.received_by_id} {self.received_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise RuntimeError("receipts are kept as recorded")
        super().save(*args, **kwargs)
