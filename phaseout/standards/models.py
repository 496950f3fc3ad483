from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EvaluationRun(models.Model):
    """One evaluation of the registry against the rulebooks on a day."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("evaluation run", "Queued")
        RUNNING = "running", pgettext_lazy("evaluation run", "Running")
        DONE = "done", pgettext_lazy("evaluation run", "Done")
        FAILED = "failed", pgettext_lazy("evaluation run", "Failed")

    on = models.DateField(_("evaluation date"))
    territory = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("territory")
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    lines_evaluated = models.PositiveIntegerField(default=0)
    lines_refused = models.PositiveIntegerField(default=0)
    breaches = models.PositiveIntegerField(default=0)
    findings_opened = models.PositiveIntegerField(default=0)
    already_known = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    # Progress while it runs: the lines to read (counted when it starts) and those read so far.
    lines_total = models.PositiveIntegerField(default=0)
    lines_done = models.PositiveIntegerField(default=0)
    # The worker's last sign of life while the run is running: set when it claims the run and with each
    # block it writes. A run silent for longer than EVALUATION_LEASE_SECONDS lost its worker (killed,
    # machine down) and is marked failed by the sweep (phaseout.standards.actions.give_up_lost_runs).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")
        constraints = [
            models.CheckConstraint(
                name="run_finished_when_not_running",
                condition=models.Q(status__in=["queued", "running"]) | models.Q(finished_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.on:%Y-%m-%d}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.lines_total:
            return 0
        return min(100, self.lines_done * 100 // self.lines_total)


class EvaluationResult(models.Model):
    """A line that breaks a rule in an evaluation run: the exit-candidate list is made of these."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="results")
    line = models.ForeignKey("registry.ProductionLine", on_delete=models.PROTECT, related_name="+")
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, related_name="+")
    rule_id = models.CharField(_("rule"), max_length=80)
    rule_version = models.CharField(_("rule version"), max_length=60)
    rule_title = models.CharField(_("rule"), max_length=200)
    dimension = models.CharField(_("dimension"), max_length=20)
    consequence = models.CharField(_("consequence"), max_length=20)
    verification = models.CharField(_("verification"), max_length=12)
    measured = models.DecimalField(_("measured value"), max_digits=14, decimal_places=4, null=True)
    limit = models.DecimalField(_("limit"), max_digits=14, decimal_places=4, null=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    finding = models.ForeignKey("cases.Finding", on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name = _("evaluation result")
        verbose_name_plural = _("evaluation results")
        indexes = [models.Index(fields=["run", "consequence"], name="result_run_consequence_idx")]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.rule_version} line {self.line_id}"
