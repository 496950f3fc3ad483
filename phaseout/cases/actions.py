"""Every write to inspections and cases goes through these actions.

Each takes keyword-only arguments and an explicit actor, runs in one transaction, changes the
case by compare-and-set on its version (so two officers acting at once cannot both win), appends
a case event and an audit row, and returns the changed object. Time is a parameter (`today`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout.audit.record import record
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.evidence import check_evidence_file
from phaseout.cases.models import (
    Case,
    CaseEvent,
    CaseState,
    Escalation,
    Evidence,
    ExitMeasure,
    ExtensionRequest,
    Finding,
    Inspection,
    ReInspection,
)
from phaseout.orgs.models import Department
from phaseout.registry.facts import line_facts
from phaseout.registry.models import Enterprise, LineStatus, ProductionLine
from phaseout.rules import deadlines, engine, exit_plans, rulebook
from phaseout.rules.case_flow import Action, State, TransitionRefused, target_of
from phaseout.rules.engine import LineFacts, Quantity

ACTION_LABELS = {
    Action.ORDER_RECTIFICATION: gettext_lazy("order rectification"),
    Action.GRANT_EXTENSION: gettext_lazy("grant an extension"),
    Action.VERIFY_RECTIFIED: gettext_lazy("verify the rectification"),
    Action.VERIFY_STILL_FAILING: gettext_lazy("record that it still fails"),
    Action.MARK_OVERDUE: gettext_lazy("mark overdue"),
    Action.CLOSE_COMPLIANT: gettext_lazy("close as compliant"),
    Action.ORDER_EXIT: gettext_lazy("order exit"),
    Action.CONFIRM_EXIT: gettext_lazy("confirm the exit"),
    Action.ACCEPT: gettext_lazy("record the acceptance"),
    Action.ARCHIVE: gettext_lazy("archive"),
    Action.RECORD_REINSPECTION: gettext_lazy("record a re-inspection"),
}

EVENT_LABELS: dict[str, Any] = {
    **{action.value: label for action, label in ACTION_LABELS.items()},
    "open": gettext_lazy("case opened"),
    "measure_done": gettext_lazy("exit measure done"),
    "measure_overdue": gettext_lazy("exit measure overdue"),
    "evidence_added": gettext_lazy("documents added"),
    "extension_requested": gettext_lazy("extension requested"),
    "extension_refused": gettext_lazy("extension refused"),
}


def _today() -> dt.date:
    return timezone.localdate()


def _lock(case: Case, expected_version: int | None) -> Case:
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleCase(_("Someone else has just acted on this case. Reload the page to see what changed."))
    return locked


def _move(
    case: Case,
    action: Action,
    *,
    by: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> Case:
    """Apply one transition by compare-and-set on the version; append its event and audit row."""
    source = State(case.state)
    try:
        target = target_of(action, source)
    except TransitionRefused:
        raise CaseActionError(
            _("Cannot %(action)s: the case is “%(state)s”.")
            % {"action": str(ACTION_LABELS[action]), "state": CaseState(source).label}
        ) from None
    updated = Case.objects.filter(pk=case.pk, version=case.version).update(
        state=target.value, version=F("version") + 1, **changes
    )
    if updated != 1:
        raise StaleCase(_("Someone else has just acted on this case. Reload the page to see what changed."))
    append_event(case, action.value, source.value, target.value, by=by, reason=reason, data=data)
    case.refresh_from_db()
    return case


def append_event(
    case: Case,
    action: str,
    from_state: str,
    to_state: str,
    *,
    by: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """The case's history row and its audit row, together (`by` None: the system)."""
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=by,
        at=timezone.now(),
        reason=reason,
        data=data or {},
    )
    record(actor=by, action=f"case.{action}", obj=case, reason=reason, data=data)
    return event


def _note(
    case: Case, action: str, *, by: User | None, reason: str = "", data: dict[str, Any] | None = None
) -> None:
    """An event that does not change the state (a measure done, evidence added)."""
    Case.objects.filter(pk=case.pk).update(version=F("version") + 1)
    append_event(case, action, case.state, case.state, by=by, reason=reason, data=data)


def _resolve(case: Case, kind: str, measure: ExitMeasure | None = None) -> None:
    Escalation.objects.filter(case=case, kind=kind, measure=measure, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


CheckedFile = tuple[UploadedFile, str, str]  # the upload, its content type, its sha256


def _check_files(files: Iterable[UploadedFile]) -> list[CheckedFile]:
    """Check every file by content and size before anything is written; read each once."""
    return [(upload, *check_evidence_file(upload)) for upload in files]


def _attach(files: list[CheckedFile], *, by: User, description: str = "", **owner: Any) -> list[Evidence]:
    saved = []
    for upload, content_type, sha256 in files:
        saved.append(
            Evidence.objects.create(
                file=upload,
                original_name=upload.name or "",
                content_type=content_type,
                size=upload.size or 0,
                sha256=sha256,
                description=description,
                uploaded_by=by,
                **owner,
            )
        )
    return saved


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise CaseActionError(_("Please give a reason."))
    return reason


# ── inspections and findings ────────────────────────────────────────────────────────────


def record_inspection(
    *,
    department: Department,
    enterprise: Enterprise,
    line: ProductionLine | None,
    dimension: str,
    inspected_on: dt.date,
    inspectors: str,
    notes: str = "",
    files: Iterable[UploadedFile] = (),
    by: User,
    today: dt.date | None = None,
) -> Inspection:
    today = today or _today()
    if dimension not in department.dimensions:
        raise CaseActionError(
            _("%(department)s does not inspect this dimension.") % {"department": department.name}
        )
    if line is not None and line.enterprise_id != enterprise.pk:
        raise CaseActionError(_("This production line does not belong to the enterprise."))
    if inspected_on > today:
        raise CaseActionError(_("The inspection date cannot be in the future."))
    checked = _check_files(files)  # refuse before anything is written
    with transaction.atomic():
        inspection = Inspection.objects.create(
            department=department,
            enterprise=enterprise,
            line=line,
            dimension=dimension,
            inspected_on=inspected_on,
            inspectors=inspectors,
            notes=notes,
            recorded_by=by,
        )
        _attach(checked, by=by, inspection=inspection)
        record(actor=by, action="inspection.record", obj=inspection)
    return inspection


def record_finding(
    *,
    inspection: Inspection,
    rule_id: str,
    line: ProductionLine | None,
    measured_value: Decimal | None,
    by: User,
    basis: str = "",
) -> Finding:
    """Record a finding judged by the rule version in force on the inspection date; a breach opens a
    case, an elimination-class one orders exit at once."""
    rule = rulebook.library().rule(rule_id, inspection.inspected_on)
    if rule is None:
        if rule_id in rulebook.library().versions:
            raise CaseActionError(_("This rule was not in force on the inspection date."))
        raise CaseActionError(_("Unknown rule."))
    if rule.dimension != inspection.dimension:
        raise CaseActionError(_("This rule belongs to another dimension than the inspection."))
    line = line or inspection.line
    if line is not None and line.enterprise_id != inspection.enterprise_id:
        raise CaseActionError(_("This production line does not belong to the enterprise."))
    if rule.equipment_types and line is None:
        raise CaseActionError(_("This rule applies to a production line; please choose one."))
    enforced = rule.limits[rule.grade - 1]
    if measured_value is not None and measured_value < 0 and not (enforced is not None and enforced < 0):
        # Only indicators with negative limits (a converter's net energy) can be measured below zero.
        raise CaseActionError(_("A measured value cannot be negative."))
    extra = {}
    if rule.indicator and measured_value is not None:
        extra[rule.indicator] = Quantity(measured_value, rule.unit)
    industry = inspection.enterprise.industry_id
    facts = (
        line_facts(line, extra=extra, industry=industry)
        if line is not None
        else LineFacts(industry=industry, measurements=extra)
    )
    outcome = engine.evaluate_rule(rule, facts)
    if outcome is None and engine.matches(rule, facts) and rule.comparison is rulebook.Comparison.ELIMINATED:
        # The right kind of equipment, but outside the size range: checked and not elimination class.
        outcome = engine.Outcome(rule, engine.Status.COMPLIANT, measured=facts.size)
    if outcome is None:
        raise CaseActionError(_("This rule does not apply to this line."))
    if outcome.status is engine.Status.NOT_ASSESSED:
        if "size" in outcome.missing:
            raise CaseActionError(_("The size of this equipment is not registered; please enter it first."))
        raise CaseActionError(_("Please enter the measured value."))
    if outcome.status is engine.Status.COMPLIANT:
        conclusion = Finding.Conclusion.COMPLIANT
    elif rule.comparison is rulebook.Comparison.ELIMINATED:
        conclusion = Finding.Conclusion.ELIMINATION
    else:
        conclusion = Finding.Conclusion.NON_COMPLIANT
    with transaction.atomic():
        finding = Finding.objects.create(
            inspection=inspection,
            line=line,
            rule_id=rule.id,
            rule_version=rule.version,
            rule_title=rule.title,
            rule_source=rule.source[:300],
            verification=rule.verification.value,
            corrections=list(outcome.applied),
            measured_value=outcome.measured,
            limit_value=outcome.limit.quantize(Decimal("0.0001")) if outcome.limit is not None else None,
            unit=rule.unit or (rule.size.unit if rule.size else ""),
            conclusion=conclusion,
            basis=basis,
        )
        record(
            actor=by,
            action="finding.record",
            obj=finding,
            data={"conclusion": conclusion, "rule": rule.key, "corrections": list(outcome.applied)},
        )
        if conclusion != Finding.Conclusion.COMPLIANT:
            case = open_case(finding=finding, by=by)
            if rule.consequence is rulebook.Consequence.EXIT_AT_ONCE:
                plan = exit_plans.ExitPlan.SEAL_THEN_DISMANTLE
                order_exit(
                    case=case,
                    plan=plan,
                    by=by,
                    today=inspection.inspected_on,
                    reason=_(
                        "Elimination-class equipment is eliminated at once, without a rectification period."
                    ),
                )
    return Finding.objects.select_related("case").get(pk=finding.pk)


def rule_of(case: Case) -> rulebook.Rule | None:
    """The rule version a case was opened under."""
    lib = rulebook.library()
    if case.finding is not None and case.finding.rule_version:
        try:
            return lib.version(case.rule_id, case.finding.rule_version)
        except KeyError:
            return None
    try:
        return lib.latest(case.rule_id)
    except KeyError:
        return None


def open_case(*, finding: Finding, by: User | None, parent: Case | None = None) -> Case:
    inspection = finding.inspection
    enterprise = inspection.enterprise
    rule = rulebook.library().version(finding.rule_id, finding.rule_version)
    with transaction.atomic():
        case = Case.objects.create(
            enterprise=enterprise,
            line=finding.line,
            territory_id=enterprise.territory_id,
            industry_id=enterprise.industry_id,
            dimension=inspection.dimension,
            finding=finding,
            rule_id=rule.id,
            consequence=rule.consequence.value,
            parent=parent,
        )
        append_event(
            case,
            "open",
            "",
            case.state,
            by=by,
            reason=finding.rule_title,
            data={
                "finding": finding.pk,
                "measured": str(finding.measured_value),
                "limit": str(finding.limit_value),
            },
        )
    return case


# ── rectification ───────────────────────────────────────────────────────────────────────


@transaction.atomic
def order_rectification(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    if case.consequence == rulebook.Consequence.EXIT_AT_ONCE:
        raise CaseActionError(
            _("Elimination-class equipment is eliminated at once; it gets no rectification period.")
        )
    rule = rule_of(case)
    months = (rule.rectification_months if rule else None) or deadlines.ENERGY_RECTIFICATION_MONTHS
    deadline = deadlines.rectification_deadline(today, months)
    if case.line_id:
        ProductionLine.objects.filter(pk=case.line_id, status=LineStatus.OPERATING).update(
            status=LineStatus.RECTIFYING
        )
    return _move(
        case,
        Action.ORDER_RECTIFICATION,
        by=by,
        reason=reason,
        data={"order_date": today.isoformat(), "months": months, "deadline": deadline.isoformat()},
        order_date=today,
        rectification_months=months,
        deadline=deadline,
    )


@transaction.atomic
def grant_extension(
    *,
    case: Case,
    months: int,
    by: User,
    reason: str,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    reason = _require_reason(reason)
    _check_extension_allowed(case, months, today)
    assert case.deadline is not None and case.order_date is not None and case.rectification_months is not None
    new_deadline = deadlines.rectification_deadline(case.order_date, case.rectification_months, months)
    return _move(
        case,
        Action.GRANT_EXTENSION,
        by=by,
        reason=reason,
        data={
            "months": months,
            "old_deadline": case.deadline.isoformat(),
            "deadline": new_deadline.isoformat(),
        },
        extension_months=months,
        deadline=new_deadline,
    )


def _check_extension_allowed(case: Case, months: int, today: dt.date) -> None:
    if case.state != State.RECTIFYING:
        raise CaseActionError(
            _("Cannot %(action)s: the case is “%(state)s”.")
            % {"action": str(ACTION_LABELS[Action.GRANT_EXTENSION]), "state": CaseState(case.state).label}
        )
    try:
        deadlines.check_extension(
            months_requested=months, extensions_so_far=1 if case.extension_months else 0
        )
    except deadlines.DeadlineError:
        if case.extension_months:
            raise CaseActionError(_("An extension has already been granted; only one is allowed.")) from None
        raise CaseActionError(
            _("An extension must be between 1 and %(max)d months.") % {"max": deadlines.MAX_EXTENSION_MONTHS}
        ) from None
    assert case.deadline is not None
    if today > case.deadline:
        raise CaseActionError(_("The deadline has passed; an extension can no longer be granted."))


@transaction.atomic
def request_extension(
    *,
    case: Case,
    months: int,
    reason: str,
    by: User,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> ExtensionRequest:
    """The enterprise applies, once, for at most 3 more months; the department decides."""
    case = _lock(case, expected_version)
    today = today or _today()
    reason = _require_reason(reason)
    _check_extension_allowed(case, months, today)
    if case.extension_requests.filter(status=ExtensionRequest.Status.PENDING).exists():
        raise CaseActionError(_("An extension request is already awaiting a decision."))
    request = ExtensionRequest.objects.create(case=case, months=months, reason=reason, requested_by=by)
    _note(case, "extension_requested", by=by, reason=reason, data={"months": months})
    return request


@transaction.atomic
def decide_extension(
    *,
    request: ExtensionRequest,
    grant: bool,
    note: str,
    by: User,
    today: dt.date | None = None,
) -> ExtensionRequest:
    today = today or _today()
    claimed = ExtensionRequest.objects.filter(pk=request.pk, status=ExtensionRequest.Status.PENDING).update(
        status=ExtensionRequest.Status.GRANTED if grant else ExtensionRequest.Status.REFUSED,
        decided_by=by,
        decided_at=timezone.now(),
        decision_note=note.strip(),
    )
    if not claimed:
        raise StaleCase(_("This extension request has already been decided."))
    request.refresh_from_db()
    if grant:
        reason = request.reason + (f"\n{note.strip()}" if note.strip() else "")
        grant_extension(case=request.case, months=request.months, by=by, reason=reason, today=today)
    else:
        _note(
            request.case,
            "extension_refused",
            by=by,
            reason=_require_reason(note),
            data={"request": request.pk},
        )
    return request


@transaction.atomic
def verify_rectification(
    *, case: Case, passed: bool, by: User, reason: str, expected_version: int | None = None
) -> Case:
    case = _lock(case, expected_version)
    reason = _require_reason(reason)
    action = Action.VERIFY_RECTIFIED if passed else Action.VERIFY_STILL_FAILING
    changes: dict[str, Any] = {} if passed else {"overdue_at": timezone.now()}
    return _move(case, action, by=by, reason=reason, **changes)


@transaction.atomic
def close_compliant(*, case: Case, by: User, reason: str = "", expected_version: int | None = None) -> Case:
    case = _lock(case, expected_version)
    if case.line_id:
        ProductionLine.objects.filter(pk=case.line_id, status=LineStatus.RECTIFYING).update(
            status=LineStatus.OPERATING
        )
    return _move(case, Action.CLOSE_COMPLIANT, by=by, reason=reason)


# ── exit ────────────────────────────────────────────────────────────────────────────────


@transaction.atomic
def order_exit(
    *,
    case: Case,
    plan: exit_plans.ExitPlan,
    by: User,
    reason: str,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    reason = _require_reason(reason)
    if case.state == State.FINDING and case.consequence == rulebook.Consequence.RECTIFY:
        raise CaseActionError(
            _("This finding must first be given a rectification period; exit follows only if it is not met.")
        )
    case = _move(
        case,
        Action.ORDER_EXIT,
        by=by,
        reason=reason,
        data={"plan": plan.value},
        exit_plan=plan.value,
        exit_ordered_on=today,
    )
    _resolve(case, Escalation.Kind.ORDER_OVERDUE)
    for kind in exit_plans.PLANS[plan]:
        norm = exit_plans.norm_for(plan, kind)
        ExitMeasure.objects.create(
            case=case,
            kind=kind.value,
            unit=norm.unit,
            deadline=deadlines.period_end(today, months=norm.months, days=norm.days),
        )
    return case


def complete_measure(
    *,
    measure: ExitMeasure,
    by: User,
    done_on: dt.date,
    note: str = "",
    files: Iterable[UploadedFile] = (),
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> ExitMeasure:
    today = today or _today()
    checked = _check_files(files)
    if done_on > today:
        raise CaseActionError(_("The date a measure was carried out cannot be in the future."))
    with transaction.atomic():
        case = _lock(measure.case, expected_version)
        if case.state not in (State.EXIT_ORDERED, State.EXITED, State.ACCEPTED):
            raise CaseActionError(_("Exit measures can be recorded only after an exit order."))
        if case.exit_ordered_on and done_on < case.exit_ordered_on:
            raise CaseActionError(_("A measure cannot be carried out before the exit order."))
        if not checked and not measure.evidence.exists():
            raise CaseActionError(_("Please attach evidence (photos, a certificate or a receipt)."))
        updated = ExitMeasure.objects.filter(pk=measure.pk, done_on__isnull=True).update(
            done_on=done_on, done_by=by, note=note
        )
        if updated != 1:
            raise StaleCase(_("This measure has already been recorded as done."))
        measure.refresh_from_db()
        _attach(checked, by=by, measure=measure)
        _resolve(case, Escalation.Kind.MEASURE_OVERDUE, measure)
        _note(
            case,
            "measure_done",
            by=by,
            reason=note,
            data={"measure": measure.kind, "done_on": done_on.isoformat()},
        )
        if measure.kind == exit_plans.MeasureKind.DISMANTLING and case.line_id:
            ProductionLine.objects.filter(pk=case.line_id).exclude(status=LineStatus.EXITED).update(
                status=LineStatus.DISMANTLED
            )
    return measure


@transaction.atomic
def confirm_exit(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    plan = exit_plans.ExitPlan(case.exit_plan) if case.exit_plan else None
    may_follow = (
        exit_plans.MAY_FOLLOW_EXIT if plan is exit_plans.ExitPlan.SEAL_THEN_DISMANTLE else frozenset()
    )
    missing = [
        m.get_kind_display() for m in case.measures.filter(done_on__isnull=True) if m.kind not in may_follow
    ]
    if missing and case.state == State.EXIT_ORDERED:
        raise CaseActionError(
            _("These exit measures are not done yet: %(measures)s.")
            % {"measures": "、".join(map(str, missing))}
        )
    case = _move(case, Action.CONFIRM_EXIT, by=by, reason=reason, exited_on=today)
    if case.line_id:
        ProductionLine.objects.filter(pk=case.line_id).update(status=LineStatus.EXITED, exited_on=today)
    elif plan is exit_plans.ExitPlan.CLOSE_ENTERPRISE:
        ProductionLine.objects.filter(enterprise_id=case.enterprise_id).exclude(
            status=LineStatus.EXITED
        ).update(status=LineStatus.EXITED, exited_on=today)
    return case


@transaction.atomic
def accept_exit(
    *,
    case: Case,
    by: User,
    accepted_on: dt.date,
    team: str,
    record_text: str,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    if not record_text.strip() or not team.strip():
        raise CaseActionError(_("The acceptance needs its team and its record."))
    if accepted_on > today or (case.exited_on and accepted_on < case.exited_on):
        raise CaseActionError(_("The acceptance date must lie between the exit and today."))
    return _move(
        case,
        Action.ACCEPT,
        by=by,
        reason=record_text,
        accepted_on=accepted_on,
        acceptance_team=team.strip(),
        acceptance_record=record_text.strip(),
    )


@transaction.atomic
def archive_case(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    case = _lock(case, expected_version)
    today = today or _today()
    due = deadlines.period_end(today, months=exit_plans.REINSPECTION_MONTHS)
    return _move(
        case,
        Action.ARCHIVE,
        by=by,
        reason=reason,
        data={"reinspection_due": due.isoformat()},
        archived_at=timezone.now(),
        reinspection_due=due,
    )


@transaction.atomic
def record_reinspection(
    *,
    case: Case,
    by: User,
    inspected_on: dt.date,
    resumed: bool,
    notes: str,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> ReInspection:
    case = _lock(case, expected_version)
    today = today or _today()
    if inspected_on > today:
        raise CaseActionError(_("The re-inspection date cannot be in the future."))
    if resumed and not notes.strip():
        raise CaseActionError(_("Please describe what was found."))
    new_case = None
    if resumed:
        assert case.finding is not None
        new_case = open_case(finding=_copy_finding(case.finding, by=by), by=by, parent=case)
    visit = ReInspection.objects.create(
        case=case, inspected_on=inspected_on, resumed=resumed, notes=notes, recorded_by=by, new_case=new_case
    )
    _resolve(case, Escalation.Kind.REINSPECTION_DUE)
    next_due = deadlines.period_end(inspected_on, months=exit_plans.REINSPECTION_MONTHS)
    _move(
        case,
        Action.RECORD_REINSPECTION,
        by=by,
        reason=notes,
        data={"resumed": resumed, "new_case": new_case.pk if new_case else None},
        reinspection_due=None if resumed else next_due,
    )
    return visit


def _copy_finding(finding: Finding, *, by: User) -> Finding:
    """A resumed exit is a new finding of the same rule on the same equipment."""
    return Finding.objects.create(
        inspection=finding.inspection,
        line=finding.line,
        rule_id=finding.rule_id,
        rule_title=finding.rule_title,
        rule_source=finding.rule_source,
        rule_version=finding.rule_version,
        verification=finding.verification,
        corrections=finding.corrections,
        measured_value=finding.measured_value,
        limit_value=finding.limit_value,
        unit=finding.unit,
        conclusion=finding.conclusion,
    )


@transaction.atomic
def add_case_evidence(
    *, case: Case, files: Iterable[UploadedFile], by: User, description: str = ""
) -> list[Evidence]:
    checked = _check_files(files)
    if not checked:
        raise CaseActionError(_("Please choose a file."))
    case = _lock(case, None)
    saved = _attach(checked, by=by, description=description, case=case)
    _note(case, "evidence_added", by=by, reason=description, data={"files": [e.original_name for e in saved]})
    return saved
