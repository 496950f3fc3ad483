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
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from phaseout import crypto
from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.cases import documents, permissions, signatures
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.evidence import check_evidence_file, safe_name
from phaseout.cases.models import (
    EXIT_PLAN_CHOICES,
    Case,
    CaseEvent,
    CaseState,
    Decision,
    DecisionReceipt,
    DocumentKind,
    DocumentSequence,
    Escalation,
    Evidence,
    ExitMeasure,
    ExtensionRequest,
    Finding,
    Inspection,
    ReInspection,
)
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Department, Role
from phaseout.orgs.scope import competent_people
from phaseout.registry.facts import line_facts
from phaseout.registry.models import Enterprise, LineStatus, ProductionLine
from phaseout.rules import case_flow, deadlines, engine, exit_plans, rulebook
from phaseout.rules.case_flow import Action, State, TransitionRefused, target_of
from phaseout.rules.engine import LineFacts, Quantity

ACTION_LABELS = {
    Action.DISMISS: gettext_lazy("dismiss the proposal"),
    Action.ORDER_RECTIFICATION: gettext_lazy("order rectification"),
    Action.ORDER_RESTRICTION: gettext_lazy("order restricted production"),
    Action.ORDER_SUSPENSION: gettext_lazy("order suspension for rectification"),
    Action.PROPOSE_CLOSURE: gettext_lazy("propose closure to the people's government"),
    Action.APPROVE_CLOSURE: gettext_lazy("record the government's closure decision"),
    Action.REJECT_CLOSURE: gettext_lazy("record that the government did not approve closure"),
    Action.REVOKE_LICENCE: gettext_lazy("revoke the business licence"),
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
    "document_received": gettext_lazy("decision document received by the enterprise"),
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
    dated: dt.date | None = None,
    **changes: Any,
) -> Case:
    """Apply one transition by compare-and-set on the version; append its event and audit row."""
    source = State(case.state)
    try:
        target = target_of(case.dimension, action, source)
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
    append_event(case, action.value, source.value, target.value, by=by, reason=reason, data=data, dated=dated)
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
    dated: dt.date | None = None,
) -> CaseEvent:
    """The case's history row and its audit row, together (`by` None: the system). `dated` is the day
    of the record (decided, served, done); the entry time is kept beside it."""
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=by,
        at=timezone.now(),
        dated=dated,
        reason=reason,
        data=data or {},
    )
    record(actor=by, action=f"case.{action}", obj=case, reason=reason, data=data)
    return event


def _note(
    case: Case,
    action: str,
    *,
    by: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    dated: dt.date | None = None,
) -> None:
    """An event that does not change the state (a measure done, evidence added)."""
    Case.objects.filter(pk=case.pk).update(version=F("version") + 1)
    append_event(case, action, case.state, case.state, by=by, reason=reason, data=data, dated=dated)


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
        # kept, stored and given out under a safe name of its real type (phaseout.cases.evidence.safe_name)
        upload.name = safe_name(upload.name or "", content_type)
        saved.append(
            Evidence.objects.create(
                file=upload,
                original_name=upload.name,
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
    method: str = Inspection.Method.ON_SITE,
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
            method=method,
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
    case as a proposal (拟处理) of the competent department, which decides what follows."""
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
            open_case(finding=finding, by=by)
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


def open_case(
    *, finding: Finding, by: User | None, parent: Case | None = None, resumed: bool = False
) -> Case:
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
            resumed=resumed,
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
                "resumed": resumed,
            },
            dated=inspection.inspected_on,
        )
        notify(
            competent_people(case.dimension, case.territory_id),
            MessageKind.PROPOSAL,
            _("Proposal waiting: %(enterprise)s — %(rule)s")
            % {"enterprise": enterprise.name, "rule": finding.rule_title},
            _("A finding awaits your department's decision."),
            obj=case,
            url=reverse("case-detail", args=[case.pk]),
            key=f"case.proposal:{case.pk}",
            by=by,
        )
    return case


# ── decisions ───────────────────────────────────────────────────────────────────────────


def _check_person(by: User | None, action: str, case: Case) -> None:
    """A person of the competent body takes the step: the path's roles and the rule of competence."""
    person = getattr(by, "person", None) if by is not None else None
    refused = permissions.refusal(person, action, case)
    if refused:
        raise CaseActionError(refused)


def _step(case: Case, action: Action) -> case_flow.Step:
    found = case_flow.step(case.dimension, action)
    if found is None or State(case.state) not in found.sources:
        source = CaseState(case.state).label
        if found is None:
            raise CaseActionError(
                _("Cannot %(action)s: this step is not on the legal path of a %(dimension)s case.")
                % {"action": str(ACTION_LABELS[action]), "dimension": case.get_dimension_display()}
            )
        raise CaseActionError(
            _("Cannot %(action)s: the case is “%(state)s”.")
            % {"action": str(ACTION_LABELS[action]), "state": source}
        )
    refused = permissions.guard_refusal(case, found.guard)
    if refused:
        raise CaseActionError(refused)
    return found


def _check_dates(
    issued_on: dt.date, served_on: dt.date | None, today: dt.date, *, after: dt.date | None = None
) -> None:
    if issued_on > today:
        raise CaseActionError(_("A decision cannot be dated in the future."))
    if served_on is not None and served_on > today:
        raise CaseActionError(_("A decision cannot be served in the future."))
    if served_on is not None and served_on < issued_on:
        raise CaseActionError(_("A decision cannot be served before it is issued."))
    if after is not None and issued_on < after:
        raise CaseActionError(
            _("This decision cannot be dated before %(day)s, the date of the step before it.")
            % {"day": after.isoformat()}
        )


def _found_on(case: Case) -> dt.date | None:
    """The inspection date of the case's finding: no decision on it can be dated before."""
    return case.finding.inspection.inspected_on if case.finding is not None else None


def _issuer(by: User) -> Department:
    person = getattr(by, "person", None)
    if person is None or person.department is None:
        raise CaseActionError(_("Only a person of a department may issue this document."))
    department: Department = person.department
    return department


def _next_number(prefix: str, year: int) -> tuple[int, str]:
    """The next number of the issuer's own sequence for the year, e.g. 江发改〔2026〕12号."""
    DocumentSequence.objects.get_or_create(issuer=prefix, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(issuer=prefix, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return sequence.last, f"{prefix}〔{year}〕{sequence.last}号"


def _issue(
    case: Case,
    step: case_flow.Step,
    *,
    by: User,
    issued_on: dt.date,
    served_on: dt.date | None,
    order: list[str],
    reason: str = "",
    approval: Approval | None = None,
    kind: str = "",
    recipient: str = "",
    paper_number: str = "",
) -> Decision:
    """The decision's record and its numbered document: the department's own sequence, or the
    government's document when the step is the government's (its approval number). A decision issued
    on paper before it was entered keeps the number it was issued under."""
    kind = kind or step.document
    department = None
    serial = None
    if approval is not None:
        issuer_name, number = approval.body, approval.number
        prefix = issuer_name
    else:
        department = _issuer(by)
        issuer_name = department.name
        prefix = department.doc_prefix or department.name
        paper_number = (paper_number or "").strip()
        if paper_number:
            if len(paper_number) > 80 or "\x00" in paper_number:
                raise CaseActionError(_("A document number is at most 80 characters."))
            if Decision.objects.filter(issuer=prefix, number=paper_number).exists():
                raise CaseActionError(
                    _("The document number %(number)s is already on record.") % {"number": paper_number}
                )
            number = paper_number
        else:
            serial, number = _next_number(prefix, issued_on.year)
    content = documents.compose(
        kind=kind,
        case=case,
        number=number,
        issuer=issuer_name,
        issued_on=issued_on,
        basis=step.basis,
        order=order,
        reason=reason,
        recipient=recipient,
        rights=kind not in NOT_APPEALABLE,
    )
    fields = {
        "case": case,
        "action": step.action.value,
        "kind": kind,
        "issuer": prefix,
        "number": number,
        "year": issued_on.year,
        "serial": serial,
        "department": department,
        "decided_by": by,
        "issued_on": issued_on,
        "served_on": served_on,
        "entered_at": timezone.now(),
        "approval_body": approval.body if approval else "",
        "approval_number": approval.number if approval else "",
        "approval_date": approval.date if approval else None,
        "basis": step.basis,
        "content": {**content, "issuer": issuer_name},
    }
    return _create_signed(fields, case)


def _create_signed(fields: dict[str, Any], case: Case) -> Decision:
    """The decision as issued, signed with its issuing body's SM2 key (数据原发证据); without a signing
    key nothing is issued."""
    try:
        return Decision.objects.create(**signatures.signed(fields, case_number=case.number))
    except crypto.SigningError as exc:
        raise CaseActionError(
            _(
                "The document cannot be signed: the platform holds no signing key. "
                "Tell the security administrator."
            )
        ) from exc


# Internal documents and records the enterprise does not appeal against.
NOT_APPEALABLE = frozenset({"closure_proposal", "acceptance_opinion", "announcement", "extension_reply"})


class Approval:
    """The people's government's approval of a closure, as recorded from its document."""

    def __init__(self, *, body: str, number: str, date: dt.date | None) -> None:
        self.body = (body or "").strip()
        self.number = (number or "").strip()
        self.date = date
        if not self.body or not self.number or self.date is None:
            raise CaseActionError(
                _("A closure takes effect only with the people's government's approval: its body, document "
                  "number and date.")
            )  # fmt: skip


def _decided(decision: Decision) -> dict[str, Any]:
    return {
        "decision": decision.pk,
        "number": decision.number,
        "issued_on": decision.issued_on.isoformat(),
        "served_on": decision.served_on.isoformat() if decision.served_on else None,
    }


# ── rectification, restriction, suspension ─────────────────────────────────────────────


def dismiss(
    *, case: Case, by: User, reason: str, today: dt.date | None = None, expected_version: int | None = None
) -> Case:
    """The proposal is not confirmed: no breach, or not this department's to decide."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.DISMISS, case)
        _step(case, Action.DISMISS)
        return _move(case, Action.DISMISS, by=by, reason=_require_reason(reason), dated=today)


def _order_with_clock(
    case: Case,
    action: Action,
    *,
    by: User,
    reason: str,
    today: dt.date,
    issued_on: dt.date | None,
    served_on: dt.date | None,
    months: int | None,
    expected_version: int | None,
    paper_number: str = "",
) -> Case:
    case = _lock(case, expected_version)
    _check_person(by, action, case)
    step = _step(case, action)
    issued_on = issued_on or today
    served_on = served_on or issued_on
    _check_dates(issued_on, served_on, today, after=_found_on(case))
    clock = step.clock
    assert clock is not None
    if clock.months is None:
        months, deadline = None, None
        order = [
            _("suspend production for rectification from the day this decision is served until it is lifted")
        ]
    else:
        rule = rule_of(case)
        default = (
            rule.rectification_months if rule and action is Action.ORDER_RECTIFICATION else None
        ) or clock.months
        months = months or default
        if months < 1 or months > clock.months:
            raise CaseActionError(
                _("The period must be between 1 and %(max)d months.") % {"max": clock.months}
            )
        deadline = deadlines.rectification_deadline(served_on, months)
        order = [
            _("rectify within %(months)d months of service, by %(deadline)s")
            % {"months": months, "deadline": deadline.isoformat()}
            if action is Action.ORDER_RECTIFICATION
            else _("restrict production for %(months)d months from service, until %(deadline)s")
            % {"months": months, "deadline": deadline.isoformat()}
        ]
    late = clock.service_within_working_days is not None and served_on > deadlines.add_working_days(
        issued_on, clock.service_within_working_days
    )
    decision = _issue(
        case,
        step,
        by=by,
        issued_on=issued_on,
        served_on=served_on,
        order=[str(o) for o in order],
        reason=reason,
        paper_number=paper_number,
    )
    if case.line_id:
        ProductionLine.objects.filter(pk=case.line_id, status=LineStatus.OPERATING).update(
            status=LineStatus.RECTIFYING
        )
    return _move(
        case,
        action,
        by=by,
        reason=reason,
        dated=issued_on,
        data={
            **_decided(decision),
            "order_date": served_on.isoformat(),
            "months": months,
            "deadline": deadline.isoformat() if deadline else None,
            "served_late": late,
        },
        order_date=served_on,
        rectification_months=months,
        extension_months=0,
        deadline=deadline,
    )


def order_rectification(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """责令限期整改 (energy, quality): the clock runs from service."""
    with transaction.atomic():
        return _order_with_clock(
            case, Action.ORDER_RECTIFICATION, by=by, reason=reason, today=today or _today(),
            issued_on=issued_on, served_on=served_on, months=None, expected_version=expected_version,
            paper_number=paper_number,
        )  # fmt: skip


def order_restriction(
    *,
    case: Case,
    by: User,
    reason: str = "",
    months: int | None = None,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """责令限制生产 (environment): at most 3 months from service (30号令 art. 15)."""
    with transaction.atomic():
        return _order_with_clock(
            case, Action.ORDER_RESTRICTION, by=by, reason=reason, today=today or _today(),
            issued_on=issued_on, served_on=served_on, months=months, expected_version=expected_version,
            paper_number=paper_number,
        )  # fmt: skip


def order_suspension(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """责令停产整治 (environment) / 停产停业整顿 (safety): from service until lifted."""
    with transaction.atomic():
        return _order_with_clock(
            case, Action.ORDER_SUSPENSION, by=by, reason=reason, today=today or _today(),
            issued_on=issued_on, served_on=served_on, months=None, expected_version=expected_version,
            paper_number=paper_number,
        )  # fmt: skip


def grant_extension(
    *,
    case: Case,
    months: int,
    by: User,
    reason: str,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        _check_person(by, Action.GRANT_EXTENSION, case)
        step = _check_extension_allowed(case, months, today)
        issued_on = issued_on or today
        served_on = served_on or issued_on
        _check_dates(issued_on, served_on, today, after=case.order_date)
        assert (
            case.deadline is not None
            and case.order_date is not None
            and case.rectification_months is not None
        )
        new_deadline = deadlines.rectification_deadline(case.order_date, case.rectification_months, months)
        decision = _issue(
            case,
            step,
            by=by,
            issued_on=issued_on,
            served_on=served_on,
            reason=reason,
            paper_number=paper_number,
            order=[
                _("the period is extended once by %(months)d months, to %(deadline)s")
                % {"months": months, "deadline": new_deadline.isoformat()}
            ],
        )
        return _move(
            case,
            Action.GRANT_EXTENSION,
            by=by,
            reason=reason,
            dated=issued_on,
            data={
                **_decided(decision),
                "months": months,
                "old_deadline": case.deadline.isoformat(),
                "deadline": new_deadline.isoformat(),
            },
            extension_months=months,
            deadline=new_deadline,
        )


def _check_extension_allowed(case: Case, months: int, today: dt.date) -> case_flow.Step:
    step = _step(case, Action.GRANT_EXTENSION)
    assert step.clock is not None
    if case.extension_months:
        raise CaseActionError(_("An extension has already been granted; only one is allowed."))
    if not 1 <= months <= step.clock.extension_months:
        raise CaseActionError(
            _("An extension must be between 1 and %(max)d months.") % {"max": step.clock.extension_months}
        )
    assert case.deadline is not None
    if today > case.deadline:
        raise CaseActionError(_("The deadline has passed; an extension can no longer be granted."))
    return step


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
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        _check_extension_allowed(case, months, today)
        if case.extension_requests.filter(status=ExtensionRequest.Status.PENDING).exists():
            raise CaseActionError(_("An extension request is already awaiting a decision."))
        request = ExtensionRequest.objects.create(case=case, months=months, reason=reason, requested_by=by)
        _note(case, "extension_requested", by=by, reason=reason, data={"months": months}, dated=today)
        return request


def decide_extension(
    *,
    request: ExtensionRequest,
    grant: bool,
    note: str,
    by: User,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
) -> ExtensionRequest:
    with transaction.atomic():
        today = today or _today()
        case = request.case
        _check_person(by, Action.GRANT_EXTENSION, case)
        if not grant:
            _require_reason(note)
        claimed = ExtensionRequest.objects.filter(
            pk=request.pk, status=ExtensionRequest.Status.PENDING
        ).update(
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
            grant_extension(
                case=case, months=request.months, by=by, reason=reason, today=today,
                issued_on=issued_on, served_on=served_on,
            )  # fmt: skip
        else:
            issued_on = issued_on or today
            served_on = served_on or issued_on
            _check_dates(issued_on, served_on, today, after=case.order_date)
            step = case_flow.step(case.dimension, Action.GRANT_EXTENSION)
            assert step is not None
            decision = _issue(
                case, step, by=by, issued_on=issued_on, served_on=served_on, reason=note.strip(),
                order=[_("the extension is refused; the deadline %(deadline)s stands")
                       % {"deadline": case.deadline.isoformat() if case.deadline else ""}],
            )  # fmt: skip
            _note(
                case,
                "extension_refused",
                by=by,
                reason=note.strip(),
                data={"request": request.pk, **_decided(decision)},
                dated=issued_on,
            )
        return request


def verify_rectification(
    *,
    case: Case,
    passed: bool,
    by: User,
    reason: str,
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    """The department checks the rectification (for a suspension: lifts it on the completion report,
    30号令 art. 17), or records that it still fails."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        action = Action.VERIFY_RECTIFIED if passed else Action.VERIFY_STILL_FAILING
        _check_person(by, action, case)
        _step(case, action)
        changes: dict[str, Any] = {} if passed else {"overdue_at": timezone.now()}
        return _move(case, action, by=by, reason=reason, dated=today, **changes)


def close_compliant(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    with transaction.atomic():
        case = _lock(case, expected_version)
        _check_person(by, Action.CLOSE_COMPLIANT, case)
        _step(case, Action.CLOSE_COMPLIANT)
        if case.line_id:
            ProductionLine.objects.filter(pk=case.line_id, status=LineStatus.RECTIFYING).update(
                status=LineStatus.OPERATING
            )
        return _move(case, Action.CLOSE_COMPLIANT, by=by, reason=reason, dated=today or _today())


# ── closure: proposed by the department, decided by the government ─────────────────────


def propose_closure(
    *,
    case: Case,
    by: User,
    reason: str,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """The department proposes closure to the people's government (节约能源法 art. 72; 环保法 art. 60;
    安全生产法 art. 113): a request, not a decision the enterprise is served."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        _check_person(by, Action.PROPOSE_CLOSURE, case)
        step = _step(case, Action.PROPOSE_CLOSURE)
        issued_on = issued_on or today
        _check_dates(issued_on, None, today, after=case.order_date or _found_on(case))
        government = f"{case.territory.name}人民政府"
        decision = _issue(
            case, step, by=by, issued_on=issued_on, served_on=None, reason=reason, paper_number=paper_number,
            recipient=government,
            order=[_("it is proposed that the government order the enterprise to suspend business or close")],
        )  # fmt: skip
        return _move(
            case,
            Action.PROPOSE_CLOSURE,
            by=by,
            reason=reason,
            dated=issued_on,
            data=_decided(decision),
            closure_proposed_on=issued_on,
        )


def approve_closure(
    *,
    case: Case,
    by: User,
    plan: exit_plans.ExitPlan,
    approval_body: str,
    approval_number: str,
    approval_date: dt.date | None,
    served_on: dt.date | None = None,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    """The people's government's closure decision, recorded with its approval (body, number, date)
    before it takes effect; the exit measures run from its service."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.APPROVE_CLOSURE, case)
        step = _step(case, Action.APPROVE_CLOSURE)
        approval = Approval(body=approval_body, number=approval_number, date=approval_date)
        assert approval.date is not None
        served_on = served_on or approval.date
        _check_dates(approval.date, served_on, today, after=case.closure_proposed_on)
        decision = _issue(
            case, step, by=by, issued_on=approval.date, served_on=served_on, reason=reason, approval=approval,
            order=[_("the enterprise is ordered to close; the capacity exits by: %(plan)s")
                   % {"plan": dict(EXIT_PLAN_CHOICES)[plan.value]}],
        )  # fmt: skip
        return _start_exit(case, Action.APPROVE_CLOSURE, plan=plan, by=by, reason=reason, decision=decision)


def reject_closure(
    *, case: Case, by: User, reason: str, today: dt.date | None = None, expected_version: int | None = None
) -> Case:
    """The government did not approve the closure: the case goes back to the department."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        _check_person(by, Action.REJECT_CLOSURE, case)
        _step(case, Action.REJECT_CLOSURE)
        return _move(
            case, Action.REJECT_CLOSURE, by=by, reason=_require_reason(reason), dated=today or _today()
        )


# ── exit ────────────────────────────────────────────────────────────────────────────────


def _start_exit(
    case: Case, action: Action, *, plan: exit_plans.ExitPlan, by: User, reason: str, decision: Decision
) -> Case:
    assert decision.served_on is not None
    start = decision.served_on
    case = _move(
        case,
        action,
        by=by,
        reason=reason,
        dated=decision.issued_on,
        data={**_decided(decision), "plan": plan.value},
        exit_plan=plan.value,
        exit_ordered_on=start,
    )
    _resolve(case, Escalation.Kind.ORDER_OVERDUE)
    for kind in exit_plans.measures_for(plan, case.dimension):
        norm = exit_plans.norm_for(plan, kind)
        ExitMeasure.objects.create(
            case=case,
            kind=kind.value,
            unit=norm.unit,
            basis=exit_plans.measure_basis(kind, case.dimension)[:300],
            deadline=deadlines.period_end(start, months=norm.months, days=norm.days),
        )
    return case


def order_exit(
    *,
    case: Case,
    plan: exit_plans.ExitPlan,
    by: User,
    reason: str,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """The department orders elimination-class equipment (or resumed capacity) out at once — a decision
    a person takes on the record, never a side effect of a finding."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        _check_person(by, Action.ORDER_EXIT, case)
        step = _step(case, Action.ORDER_EXIT)
        issued_on = issued_on or today
        served_on = served_on or issued_on
        _check_dates(issued_on, served_on, today, after=case.order_date or _found_on(case))
        decision = _issue(
            case,
            step,
            by=by,
            issued_on=issued_on,
            served_on=served_on,
            reason=reason,
            paper_number=paper_number,
            order=[
                _("the equipment is eliminated at once; the capacity exits by: %(plan)s")
                % {"plan": dict(EXIT_PLAN_CHOICES)[plan.value]}
            ],
        )
        return _start_exit(case, Action.ORDER_EXIT, plan=plan, by=by, reason=reason, decision=decision)


def revoke_licence(
    *,
    case: Case,
    by: User,
    reason: str,
    plan: exit_plans.ExitPlan = exit_plans.ExitPlan.CLOSE_ENTERPRISE,
    today: dt.date | None = None,
    issued_on: dt.date | None = None,
    served_on: dt.date | None = None,
    paper_number: str = "",
    expected_version: int | None = None,
) -> Case:
    """Market regulation revokes the business licence in a serious quality case (产品质量法 art. 49)."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        reason = _require_reason(reason)
        _check_person(by, Action.REVOKE_LICENCE, case)
        step = _step(case, Action.REVOKE_LICENCE)
        issued_on = issued_on or today
        served_on = served_on or issued_on
        _check_dates(issued_on, served_on, today, after=case.order_date or _found_on(case))
        decision = _issue(
            case,
            step,
            by=by,
            issued_on=issued_on,
            served_on=served_on,
            reason=reason,
            paper_number=paper_number,
            order=[_("the business licence is revoked")],
        )
        return _start_exit(case, Action.REVOKE_LICENCE, plan=plan, by=by, reason=reason, decision=decision)


def complete_measure(
    *,
    measure: ExitMeasure,
    by: User,
    done_on: dt.date,
    note: str = "",
    notice: str = "",
    files: Iterable[UploadedFile] = (),
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> ExitMeasure:
    complete_measures(
        case=measure.case, measures=[measure], by=by, done_on=done_on, note=note, notice=notice,
        files=files, today=today, expected_version=expected_version,
    )  # fmt: skip
    measure.refresh_from_db()
    return measure


def complete_measures(
    *,
    case: Case,
    measures: list[ExitMeasure],
    by: User,
    done_on: dt.date,
    note: str = "",
    notice: str = "",
    files: Iterable[UploadedFile] = (),
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> list[ExitMeasure]:
    """Several exit measures of one case done on one day with one set of evidence (e.g. power and water
    cut and the equipment sealed in one visit): each recorded on its own, with its event and audit row,
    the evidence kept with each; all or none."""
    today = today or _today()
    checked = _check_files(files)
    if not measures:
        raise CaseActionError(_("Choose the measures that were carried out."))
    if any(m.case_id != case.pk for m in measures):
        raise CaseActionError(_("The measures chosen do not all belong to this case."))
    if done_on > today:
        raise CaseActionError(_("The date a measure was carried out cannot be in the future."))
    if any(m.kind in exit_plans.NEEDS_NOTICE for m in measures) and not notice.strip():
        raise CaseActionError(
            _("Cutting power or water is an enforcement measure: record the notice the enterprise was given.")
        )
    with transaction.atomic():
        case = _lock(case, expected_version)
        if case.state not in (State.EXIT_ORDERED, State.EXITED, State.ACCEPTED):
            raise CaseActionError(_("Exit measures can be recorded only after an exit order."))
        if case.exit_ordered_on and done_on < case.exit_ordered_on:
            raise CaseActionError(_("A measure cannot be carried out before the exit order."))
        saved: list[Evidence] = []
        for measure in measures:
            if not checked and not measure.evidence.exists():
                raise CaseActionError(_("Please attach evidence (photos, a certificate or a receipt)."))
            updated = ExitMeasure.objects.filter(pk=measure.pk, done_on__isnull=True).update(
                done_on=done_on, done_by=by, note=note, notice=notice.strip()[:300]
            )
            if updated != 1:
                raise StaleCase(_("This measure has already been recorded as done."))
            measure.refresh_from_db()
            if not saved:
                saved = _attach(checked, by=by, measure=measure)
            else:  # the same files, stored once, kept with each measure
                for item in saved:
                    Evidence.objects.create(
                        file=item.file.name, original_name=item.original_name, content_type=item.content_type,
                        size=item.size, sha256=item.sha256, uploaded_by=by, measure=measure,
                    )  # fmt: skip
            _resolve(case, Escalation.Kind.MEASURE_OVERDUE, measure)
            _note(
                case,
                "measure_done",
                by=by,
                reason=note,
                data={"measure": measure.kind, "done_on": done_on.isoformat(), "notice": notice.strip()},
                dated=done_on,
            )
            if measure.kind == exit_plans.MeasureKind.WEBSITE_ANNOUNCEMENT:
                _announce(case, by=by, day=done_on)
            if measure.kind == exit_plans.MeasureKind.DISMANTLING and case.line_id:
                ProductionLine.objects.filter(pk=case.line_id).exclude(status=LineStatus.EXITED).update(
                    status=LineStatus.DISMANTLED
                )
    return measures


def _announce(case: Case, *, by: User, day: dt.date) -> Decision:
    """The website announcement of the exit, as published: numbered by the department that published it,
    or by the county's government where the district did."""
    person = getattr(by, "person", None)
    department = person.department if person is not None else None
    if department is not None:
        issuer, prefix = department.name, department.doc_prefix or department.name
    else:
        issuer = f"{case.territory.name}人民政府"
        prefix = f"{case.territory.name}公告"
    serial, number = _next_number(prefix, day.year)
    line = f"{case.line.name}（{case.line.capacity_display}）" if case.line is not None else "全部生产线"
    plan = dict(EXIT_PLAN_CHOICES).get(case.exit_plan, "")
    content = {
        "title": documents.TITLES[DocumentKind.ANNOUNCEMENT],
        "number": number,
        "recipient": "社会各界",
        "paragraphs": [
            f"根据推动落后产能退出工作安排，{case.enterprise.name}（统一社会信用代码：{case.enterprise.uscc}）"
            f"的{line}已依法关停退出（{plan}），企业已公开承诺不再恢复生产。",
            "欢迎社会各界监督。发现恢复生产的，请向当地人民政府或有关部门举报。",
        ],
        "issuer": issuer,
        "date": day.isoformat(),
        "case": case.number,
    }
    return _create_signed(dict(
        case=case, action="measure_done", kind=DocumentKind.ANNOUNCEMENT, issuer=prefix, number=number,
        year=day.year, serial=serial, department=department, decided_by=by, issued_on=day, served_on=None,
        entered_at=timezone.now(), content=content,
        basis=exit_plans.MEASURE_BASIS[exit_plans.MeasureKind.WEBSITE_ANNOUNCEMENT],
    ), case)  # fmt: skip


def confirm_exit(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.CONFIRM_EXIT, case)
        _step(case, Action.CONFIRM_EXIT)
        plan = exit_plans.ExitPlan(case.exit_plan) if case.exit_plan else None
        may_follow = (
            exit_plans.MAY_FOLLOW_EXIT if plan is exit_plans.ExitPlan.SEAL_THEN_DISMANTLE else frozenset()
        ) | {exit_plans.MeasureKind.LICENCE_REVOCATION}
        missing = [
            m.get_kind_display()
            for m in case.measures.filter(done_on__isnull=True)
            if m.kind not in may_follow
        ]
        if missing:
            raise CaseActionError(
                _("These exit measures are not done yet: %(measures)s.")
                % {"measures": "、".join(map(str, missing))}
            )
        case = _move(case, Action.CONFIRM_EXIT, by=by, reason=reason, exited_on=today, dated=today)
        if case.line_id:
            ProductionLine.objects.filter(pk=case.line_id).update(status=LineStatus.EXITED, exited_on=today)
        elif plan is exit_plans.ExitPlan.CLOSE_ENTERPRISE:
            ProductionLine.objects.filter(enterprise_id=case.enterprise_id).exclude(
                status=LineStatus.EXITED
            ).update(status=LineStatus.EXITED, exited_on=today)
        return case


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
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.ACCEPT, case)
        step = _step(case, Action.ACCEPT)
        if not record_text.strip() or not team.strip():
            raise CaseActionError(_("The acceptance needs its team and its record."))
        if accepted_on > today or (case.exited_on and accepted_on < case.exited_on):
            raise CaseActionError(_("The acceptance date must lie between the exit and today."))
        decision = _issue(
            case, step, by=by, issued_on=accepted_on, served_on=None, reason=record_text,
            order=[_("acceptance team: %(team)s; the exit is accepted") % {"team": team.strip()}],
        )  # fmt: skip
        return _move(
            case,
            Action.ACCEPT,
            by=by,
            reason=record_text,
            dated=accepted_on,
            data=_decided(decision),
            accepted_on=accepted_on,
            acceptance_team=team.strip(),
            acceptance_record=record_text.strip(),
        )


def archive_case(
    *,
    case: Case,
    by: User,
    reason: str = "",
    today: dt.date | None = None,
    expected_version: int | None = None,
) -> Case:
    """Archived only when every exit measure is done, dismantling included: after archive nothing can
    be recorded on the case."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.ARCHIVE, case)
        _step(case, Action.ARCHIVE)
        due = deadlines.period_end(today, months=exit_plans.REINSPECTION_MONTHS)
        return _move(
            case,
            Action.ARCHIVE,
            by=by,
            reason=reason,
            dated=today,
            data={"reinspection_due": due.isoformat()},
            archived_at=timezone.now(),
            reinspection_due=due,
        )


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
    """回头看. Resumed production opens a new case that goes to closure at once (no new rectification
    period); the line is marked resumed, so it no longer counts as exited."""
    with transaction.atomic():
        case = _lock(case, expected_version)
        today = today or _today()
        _check_person(by, Action.RECORD_REINSPECTION, case)
        _step(case, Action.RECORD_REINSPECTION)
        if inspected_on > today:
            raise CaseActionError(_("The re-inspection date cannot be in the future."))
        if resumed and not notes.strip():
            raise CaseActionError(_("Please describe what was found."))
        new_case = None
        if resumed:
            assert case.finding is not None
            new_case = open_case(finding=_copy_finding(case.finding, by=by), by=by, parent=case, resumed=True)
            if case.line_id:
                ProductionLine.objects.filter(pk=case.line_id).update(status=LineStatus.RESUMED)
        visit = ReInspection.objects.create(
            case=case,
            inspected_on=inspected_on,
            resumed=resumed,
            notes=notes,
            recorded_by=by,
            new_case=new_case,
        )
        _resolve(case, Escalation.Kind.REINSPECTION_DUE)
        next_due = deadlines.period_end(inspected_on, months=exit_plans.REINSPECTION_MONTHS)
        _move(
            case,
            Action.RECORD_REINSPECTION,
            by=by,
            reason=notes,
            dated=inspected_on,
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


def add_case_evidence(
    *, case: Case, files: Iterable[UploadedFile], by: User, description: str = ""
) -> list[Evidence]:
    with transaction.atomic():
        checked = _check_files(files)
        if not checked:
            raise CaseActionError(_("Please choose a file."))
        case = _lock(case, None)
        saved = _attach(checked, by=by, description=description, case=case)
        _note(
            case,
            "evidence_added",
            by=by,
            reason=description,
            data={"files": [e.original_name for e in saved]},
        )
        return saved


# ── non-repudiation: receipts and refused documents ────────────────────────────────────────────────


def acknowledge_receipt(
    *, decision: Decision, by: User, now: dt.datetime | None = None
) -> DecisionReceipt | None:
    """数据接收证据: the enterprise's account opened its served decision. The first opening by each account
    is recorded — who, when, the document's digest — signed with the platform's SM2 key, with a case
    event and an audit row; later openings record nothing more. None when there is nothing to record
    (not the enterprise's own account, or the decision not served yet)."""
    person = getattr(by, "person", None)
    if (
        person is None
        or person.role != Role.ENTERPRISE
        or person.enterprise_id != decision.case.enterprise_id
    ):
        return None
    if decision.served_on is None:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=decision.case_id)
        if DecisionReceipt.objects.filter(decision=decision, received_by=by).exists():
            return None
        try:
            sealed = signatures.sign_receipt(decision=decision, user_id=by.pk, at=now)
        except crypto.SigningError as exc:
            raise CaseActionError(
                _(
                    "The receipt cannot be signed: the platform holds no signing key. "
                    "Tell the security administrator."
                )
            ) from exc
        receipt = DecisionReceipt.objects.create(decision=decision, received_by=by, received_at=now, **sealed)
        append_event(
            case,
            "document_received",
            case.state,
            case.state,
            by=by,
            data={
                "decision": decision.pk,
                "number": decision.number,
                "digest": receipt.digest,
                "receipt": receipt.pk,
                "signing_key": receipt.signing_key,
            },
            dated=timezone.localdate(now),
        )
    return receipt


def refuse_unverified_document(*, decision: Decision, by: User, problem: str) -> None:
    """A decision's document whose signature does not hold is not given out: the refusal is recorded."""
    with transaction.atomic():
        record(
            actor=by,
            action="decision.document_refused",
            obj=decision,
            outcome=Outcome.REFUSED,
            reason=problem,
            data={"number": decision.number, "signing_key": decision.signing_key},
        )
