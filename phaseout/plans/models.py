from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.storage import SealedFileStorage
from phaseout.rules.approvals import PLAN_IN_FORCE, PlanState


class Plan(models.Model):
    """The year's plan, as data: imported from its official document, reviewed and confirmed by the
    office, approved by the city government (recorded by the office) and then in force
    (phaseout.rules.approvals)."""

    class Status(models.TextChoices):
        DRAFT = PlanState.DRAFT.value, _("Draft, to be reviewed")
        CONFIRMED = PlanState.CONFIRMED.value, _("Confirmed by the office, awaiting the city government")
        APPROVED = PlanState.APPROVED.value, _("Approved by the city government, in force")

    # Confirmed by the office (its tasks and what units owe are fixed), whether approved yet or not.
    CONFIRMED_STATES = (PlanState.CONFIRMED.value, PlanState.APPROVED.value)
    # In force: what units owe under it is owed, reminded and swept.
    IN_FORCE = tuple(s.value for s in PLAN_IN_FORCE)

    year = models.PositiveSmallIntegerField(_("year"))
    title = models.CharField(_("title"), max_length=200)
    issuer = models.CharField(_("issuing body"), max_length=100, blank=True)
    doc_number = models.CharField(_("document number"), max_length=60, blank=True)
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    territory = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("territory")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    source_name = models.CharField(_("source file"), max_length=200)
    source_text = models.TextField()
    problems = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The city government's approval (报市政府审定), recorded by the office: the body, its document and
    # the date it approved (never in the future); who recorded it and when, beside it.
    approval_body = models.CharField(_("approving body"), max_length=100, blank=True)
    approval_doc_number = models.CharField(_("approval document number"), max_length=60, blank=True)
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    approval_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval_recorded_at = models.DateTimeField(_("approval recorded at"), null=True, blank=True)
    # The date the year's summary is due at the province, as the plan states it (the task that hands it
    # up: phaseout.rules.approvals.summary_due), read at confirmation; the summaries' deadline sweep.
    summary_due = models.DateField(_("year summary due at the province"), null=True, blank=True)
    # The provincial plan a city's plan implements (a plan whose territory is the province), linked by
    # the city's office.
    provincial_plan = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="city_plans",
        verbose_name=_("provincial plan"),
    )

    class Meta:
        ordering = ["-year", "-id"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(
                name="plan_confirmed_with_who_and_when",
                condition=~models.Q(status__in=["confirmed", "approved"])
                | models.Q(confirmed_by__isnull=False, confirmed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="plan_approved_with_body_document_date",
                condition=~models.Q(status="approved")
                | (
                    models.Q(
                        approved_on__isnull=False,
                        approval_recorded_by__isnull=False,
                        approval_recorded_at__isnull=False,
                    )
                    & ~models.Q(approval_body="")
                    & ~models.Q(approval_doc_number="")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.doc_number} {self.title}".strip()


class Section(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="sections")
    path = models.CharField(max_length=30)
    level = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    stage = models.CharField(max_length=12, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    period_text = models.CharField(max_length=60, blank=True)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["plan", "order"]

    def __str__(self) -> str:
        return f"{self.path} {self.title}"


class Task(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tasks")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, null=True, related_name="tasks")
    number = models.CharField(_("number"), max_length=30, blank=True)
    text = models.TextField(_("task"))
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    inherited_deadline = models.BooleanField(default=False)
    order = models.PositiveIntegerField()
    # The office may record that a task failed (beyond a missed submission), with the reason.
    failed_on = models.DateField(_("failed on"), null=True, blank=True)
    failure_reason = models.TextField(_("why it failed"), blank=True)
    failed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["plan", "order"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [
            models.CheckConstraint(
                name="task_failed_with_reason_and_who",
                condition=models.Q(failed_on__isnull=True, failed_by__isnull=True, failure_reason="")
                | (models.Q(failed_on__isnull=False, failed_by__isnull=False) & ~models.Q(failure_reason="")),
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.text[:30]}"


class TaskUnit(models.Model):
    """A unit named in a task, as written, and what it was matched to in the organisation."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Lead")
        SUPPORTING = "supporting", _("Supporting")
        RESPONSIBLE = "responsible", _("Responsible")
        RECEIVER = "receiver", _("Receives the report")

    class Match(models.TextChoices):
        DEPARTMENT = "department", _("Department")
        ALL_DISTRICTS = "all_districts", _("Every district government")
        # One district of a city's plan, one city of a provincial plan, named: "蓬江区人民政府", "江门市".
        TERRITORY = "territory", _("One named district or city")
        GOVERNMENT = "government", _("The city government")
        EXTERNAL = "external", _("Outside the city (province, others)")
        COLLECTIVE = "collective", _("The units concerned, as a group (有关部门, 各单位)")
        UNMAPPED = "unmapped", _("Not yet matched")

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="units")
    name = models.CharField(_("as written"), max_length=100)
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    source = models.CharField(max_length=10)
    match = models.CharField(_("matched to"), max_length=14, choices=Match.choices)
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True, blank=True)
    territory = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["task", "id"]
        constraints = [
            models.CheckConstraint(
                name="task_unit_department_when_matched",
                condition=~models.Q(match="department") | models.Q(department__isnull=False),
            ),
            models.CheckConstraint(
                name="task_unit_territory_when_matched",
                condition=~models.Q(match="territory") | models.Q(territory__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TimeExpression(models.Model):
    """A time expression found in the plan, with the date it was resolved to or why it was not."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="times")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, null=True, blank=True, related_name="times")
    text = models.CharField(_("expression"), max_length=60)
    sentence = models.TextField(_("sentence"))
    kind = models.CharField(_("kind"), max_length=10)
    date = models.DateField(_("resolved date"), null=True, blank=True)
    start = models.DateField(null=True, blank=True)
    months = models.PositiveSmallIntegerField(null=True, blank=True)
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(_("note"), max_length=200, blank=True)
    needs_review = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["plan", "id"]

    def __str__(self) -> str:
        return self.text


class Submission(QuickDisplay, models.Model):
    """What a unit owes by a date under the plan. Each hand-in is a version (SubmissionVersion) the office
    accepts or returns with comments; `state`, `submitted_on` and `submitted_by` are kept by the actions
    from the versions, so that lists read one row: `submitted_on` is the date of the version handed in that
    stands (awaiting review or accepted), and is empty while nothing stands (never handed in, or returned)."""

    class Kind(models.TextChoices):
        SUB_PLAN = "sub_plan", _("Sub-plan filed for the record (备案)")
        REPORT = "report", _("Report")
        CLOSED_LIST = "closed_list", _("List of closed capacity")
        SUMMARY = "summary", _("Year summary")

    class State(models.TextChoices):
        OPEN = "open", _("Not handed in")
        PENDING = "pending", _("Awaiting review")
        RETURNED = "returned", _("Returned for revision")
        ACCEPTED = "accepted", _("Accepted by the office")

    class Status(models.TextChoices):
        DUE = "due", _("Due")
        PENDING = "pending", _("Handed in, awaiting review")
        RETURNED = "returned", _("Returned for revision")
        ON_TIME = "on_time", _("Submitted on time")
        LATE = "late", _("Submitted late")
        MISSING = "missing", _("Missing")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="submissions")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="submissions")
    department = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    territory = models.ForeignKey(
        "orgs.Territory", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("territory")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    due_date = models.DateField(_("due"))
    state = models.CharField(_("review"), max_length=10, choices=State.choices, default=State.OPEN)
    submitted_on = models.DateField(_("submitted on"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        constraints = [
            models.CheckConstraint(
                name="submission_owed_by_one_unit",
                condition=models.Q(department__isnull=False, territory__isnull=True)
                | models.Q(department__isnull=True, territory__isnull=False),
            ),
            models.CheckConstraint(
                name="submission_submitted_with_who",
                condition=models.Q(submitted_on__isnull=True) | models.Q(submitted_by__isnull=False),
            ),
            models.CheckConstraint(
                name="submission_standing_version_dated",
                condition=models.Q(state__in=["open", "returned"], submitted_on__isnull=True)
                | models.Q(state__in=["pending", "accepted"], submitted_on__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_date"], name="submission_open_idx", condition=models.Q(submitted_on=None)
            ),
            # the submissions list's own order (due date, then id): a page is read from the index
            models.Index(fields=["due_date", "id"], name="submission_due_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_name} {self.get_kind_display()} {self.due_date:%Y-%m-%d}"

    @property
    def unit_name(self) -> str:
        if self.department_id:
            return self.department.name  # type: ignore[union-attr]
        return self.territory.name if self.territory_id else ""  # type: ignore[union-attr]

    def status_on(self, today: dt.date) -> str:
        """The rule, stated once: on time only if the version the office accepted was handed in by the
        due date; a version awaiting review counts by its own date (handed in late is late whatever the
        review says); nothing standing — never handed in, or returned and not handed in again — is due
        (or returned) until the due date and missing after it."""
        if self.submitted_on is not None:
            if self.submitted_on > self.due_date:
                return self.Status.LATE
            return self.Status.ON_TIME if self.state == self.State.ACCEPTED else self.Status.PENDING
        if today > self.due_date:
            return self.Status.MISSING
        return self.Status.RETURNED if self.state == self.State.RETURNED else self.Status.DUE

    @classmethod
    def status_filter(cls, status: str, today: dt.date) -> models.Q:
        """`status_on` as a database condition: the rows whose `status_on(today)` is `status`, clause by
        clause the same rule (tests compare the two over every combination of state and dates)."""
        standing = models.Q(submitted_on__isnull=False)
        nothing = models.Q(submitted_on__isnull=True)
        in_time = models.Q(submitted_on__lte=models.F("due_date"))
        accepted = models.Q(state=cls.State.ACCEPTED)
        returned = models.Q(state=cls.State.RETURNED)
        past = models.Q(due_date__lt=today)
        conditions = {
            cls.Status.LATE: standing & models.Q(submitted_on__gt=models.F("due_date")),
            cls.Status.ON_TIME: standing & in_time & accepted,
            cls.Status.PENDING: standing & in_time & ~accepted,
            cls.Status.MISSING: nothing & past,
            cls.Status.RETURNED: nothing & ~past & returned,
            cls.Status.DUE: nothing & ~past & ~returned,
        }
        return conditions[cls.Status(status)]


class SubmissionVersion(models.Model):
    """One hand-in of a submission: the file as received (its digest, size and type read from its
    content), the figures and note, who handed it in and when; and the office's review of it."""

    class Review(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        ACCEPTED = "accepted", _("Accepted by the office")
        RETURNED = "returned", _("Returned for revision")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(_("version"))
    document = models.FileField(
        _("document"),
        upload_to="submissions/%Y/",
        blank=True,
        storage=SealedFileStorage(purpose="submission"),
    )
    name = models.CharField(_("file name"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("file size"), default=0)
    content_type = models.CharField(_("file type"), max_length=100, blank=True)
    numbers = models.JSONField(_("figures reported"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    handed_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    handed_in_at = models.DateTimeField(_("handed in at"))
    handed_in_on = models.DateField(_("handed in on"))
    review = models.CharField(_("review"), max_length=10, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    comments = models.TextField(_("comments"), blank=True)

    class Meta:
        ordering = ["submission", "number"]
        verbose_name = _("version of a submission")
        verbose_name_plural = _("versions of submissions")
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="submission_version_numbered_once"),
            models.CheckConstraint(
                name="submission_version_reviewed_with_who",
                condition=models.Q(review="pending", reviewed_by__isnull=True, reviewed_at__isnull=True)
                | (
                    ~models.Q(review="pending")
                    & models.Q(reviewed_by__isnull=False, reviewed_at__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="submission_version_returned_with_comments",
                condition=~models.Q(review="returned") | ~models.Q(comments=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id} v{self.number}"


class PlanChange(models.Model):
    """One change to a plan after it was confirmed: who, when, what it was and what it became."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="changes")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    field = models.CharField(max_length=40)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.before} → {self.after}"


class Supervision(QuickDisplay, models.Model):
    """A circulated notice (通报) or a summons for talks (约谈) the office issues against one target: a
    unit responsible for a task that failed, or an enterprise that fell behind (Heyuan 三(三)). The
    target sees it on their home page and acknowledges it."""

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Circulated notice (通报)")
        TALKS = "talks", _("Summons for talks (约谈)")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="supervisions")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # The target: exactly one of a department, a district (territory) or an enterprise.
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, null=True, blank=True)
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, null=True, blank=True)
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, null=True, blank=True, related_name="supervisions"
    )
    issued_on = models.DateField(_("issued on"))
    text = models.TextField(_("text"))
    # A summons gives the time and place of the talk (required by the action; rows recorded before
    # this field existed have none, so it is not a database constraint).
    talk_at = models.DateTimeField(_("time of the talk"), null=True, blank=True)
    talk_place = models.CharField(_("place of the talk"), max_length=200, blank=True)
    submissions = models.ManyToManyField(Submission, blank=True, related_name="supervisions")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("read on"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="supervision_names_one_target",
                condition=models.Q(department__isnull=False, territory__isnull=True, enterprise__isnull=True)
                | models.Q(department__isnull=True, territory__isnull=False, enterprise__isnull=True)
                | models.Q(department__isnull=True, territory__isnull=True, enterprise__isnull=False),
            ),
            models.CheckConstraint(
                name="supervision_unit_for_a_task",
                condition=models.Q(enterprise__isnull=False) | models.Q(task__isnull=False),
            ),
            models.CheckConstraint(
                name="supervision_acknowledged_with_who",
                condition=models.Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | models.Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.issued_on}"

    @property
    def target_name(self) -> str:
        target = self.department or self.territory or self.enterprise
        return target.name if target is not None else ""


class Programme(models.Model):
    """A department's inspection programme for the year (年度节能监察任务, 抽查计划, 淘汰类设备排查):
    which enterprises to inspect, who inspects them and by when."""

    class Method(models.TextChoices):
        RULE = "rule", _("Enterprises a rule applies to")
        RANDOM = "random", _("Drawn at random (双随机)")

    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, verbose_name=_("department"))
    plan = models.ForeignKey(
        Plan, on_delete=models.SET_NULL, null=True, blank=True, related_name="programmes"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    title = models.CharField(_("title"), max_length=120)
    dimension = models.CharField(_("dimension"), max_length=20)
    due_date = models.DateField(_("to be done by"))
    method = models.CharField(_("targets"), max_length=10, choices=Method.choices)
    rule_id = models.CharField(_("rule"), max_length=80, blank=True)
    # A random draw is reproducible: the seed, the pool drawn from and the inspectors drawn from are kept.
    seed = models.BigIntegerField(null=True, blank=True)
    pool = models.JSONField(default=list, blank=True)
    inspector_pool = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "-id"]
        verbose_name = _("inspection programme")
        verbose_name_plural = _("inspection programmes")
        constraints = [
            models.CheckConstraint(
                name="programme_random_has_seed",
                condition=~models.Q(method="random") | models.Q(seed__isnull=False),
            ),
            models.CheckConstraint(
                name="programme_rule_has_rule", condition=~models.Q(method="rule") | ~models.Q(rule_id="")
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Target(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="targets")
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    inspectors = models.ManyToManyField("orgs.Person", blank=True, related_name="+")

    class Meta:
        ordering = ["programme", "id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "enterprise"], name="target_once_per_programme")
        ]

    def __str__(self) -> str:
        return str(self.enterprise_id)
