"""The case actions as the web offers them, in one table: label, form, handler and the document the
step produces. Who may take each, from which state and on which dimension's path, is the flow's
(phaseout/rules/case_flow.py, read through phaseout/cases/permissions.py); the confirmation an
irreversible step asks for is its form's `confirm` field. The case page, the view that runs a step,
the proposals queue and the tests all read this table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib.auth.models import User

from phaseout.cases import actions
from phaseout.cases import forms as f
from phaseout.cases.models import Case
from phaseout.rules.case_flow import Action
from phaseout.rules.exit_plans import ExitPlan

Handler = Callable[[Case, User, dict[str, Any], int | None], Any]


@dataclass(frozen=True)
class CaseStep:
    action: Action
    form: type[django_forms.Form]
    handler: Handler
    initial: Callable[[Case, dt.date], dict[str, Any]] = lambda case, today: {}

    @property
    def label(self) -> Any:
        return actions.ACTION_LABELS[self.action]


def _dates(case: Case, today: dt.date) -> dict[str, Any]:
    return {"issued_on": today, "served_on": today}


def _closure(case: Case, by: User, d: dict[str, Any], version: int | None) -> Any:
    if not d["approved"]:
        return actions.reject_closure(case=case, by=by, reason=d["reason"], expected_version=version)
    return actions.approve_closure(
        case=case,
        by=by,
        plan=ExitPlan(d["plan"]),
        approval_body=d["approval_body"],
        approval_number=d["approval_number"],
        approval_date=d["approval_date"],
        served_on=d["served_on"],
        reason=d["reason"],
        expected_version=version,
    )


def _decision(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "issued_on": d["issued_on"],
        "served_on": d["served_on"],
        "reason": d["reason"],
        "paper_number": d["paper_number"],
    }


STEPS: dict[str, CaseStep] = {
    s.action.value: s
    for s in (
        CaseStep(
            Action.DISMISS,
            f.DismissForm,
            lambda c, u, d, v: actions.dismiss(case=c, by=u, reason=d["reason"], expected_version=v),
        ),
        CaseStep(
            Action.ORDER_RECTIFICATION,
            f.OrderRectificationForm,
            lambda c, u, d, v: actions.order_rectification(case=c, by=u, expected_version=v, **_decision(d)),
            _dates,
        ),
        CaseStep(
            Action.ORDER_RESTRICTION,
            f.RestrictionForm,
            lambda c, u, d, v: actions.order_restriction(
                case=c, by=u, months=d["months"], expected_version=v, **_decision(d)
            ),
            _dates,
        ),
        CaseStep(
            Action.ORDER_SUSPENSION,
            f.DecisionForm,
            lambda c, u, d, v: actions.order_suspension(case=c, by=u, expected_version=v, **_decision(d)),
            _dates,
        ),
        CaseStep(
            Action.GRANT_EXTENSION,
            f.ExtensionForm,
            lambda c, u, d, v: actions.grant_extension(
                case=c, by=u, months=d["months"], expected_version=v, **_decision(d)
            ),
            _dates,
        ),
        CaseStep(
            Action.VERIFY_RECTIFIED,
            f.VerifyForm,
            lambda c, u, d, v: actions.verify_rectification(
                case=c, by=u, passed=d["passed"], reason=d["reason"], expected_version=v
            ),
        ),
        CaseStep(
            Action.CLOSE_COMPLIANT,
            f.ReasonForm,
            lambda c, u, d, v: actions.close_compliant(case=c, by=u, reason=d["reason"], expected_version=v),
        ),
        CaseStep(
            Action.PROPOSE_CLOSURE,
            f.ProposeClosureForm,
            lambda c, u, d, v: actions.propose_closure(
                case=c,
                by=u,
                reason=d["reason"],
                issued_on=d["issued_on"],
                paper_number=d["paper_number"],
                expected_version=v,
            ),
            lambda case, today: {"issued_on": today},
        ),
        CaseStep(
            Action.APPROVE_CLOSURE,
            f.ClosureDecisionForm,
            _closure,
            lambda case, today: {
                "plan": ExitPlan.CLOSE_ENTERPRISE.value,
                "approved": "yes",
                "approval_date": today,
                "served_on": today,
            },
        ),
        CaseStep(
            Action.REVOKE_LICENCE,
            f.RevokeForm,
            lambda c, u, d, v: actions.revoke_licence(
                case=c, by=u, plan=ExitPlan(d["plan"]), expected_version=v, **_decision(d)
            ),
            lambda case, today: {**_dates(case, today), "plan": ExitPlan.CLOSE_ENTERPRISE.value},
        ),
        CaseStep(
            Action.ORDER_EXIT,
            f.ExitOrderForm,
            lambda c, u, d, v: actions.order_exit(
                case=c, by=u, plan=ExitPlan(d["plan"]), expected_version=v, **_decision(d)
            ),
            lambda case, today: {**_dates(case, today), "plan": ExitPlan.SEAL_THEN_DISMANTLE.value},
        ),
        CaseStep(
            Action.CONFIRM_EXIT,
            f.ReasonForm,
            lambda c, u, d, v: actions.confirm_exit(case=c, by=u, reason=d["reason"], expected_version=v),
        ),
        CaseStep(
            Action.ACCEPT,
            f.AcceptanceForm,
            lambda c, u, d, v: actions.accept_exit(
                case=c,
                by=u,
                accepted_on=d["accepted_on"],
                team=d["team"],
                record_text=d["record_text"],
                expected_version=v,
            ),
            lambda case, today: {"accepted_on": today},
        ),
        CaseStep(
            Action.ARCHIVE,
            f.ArchiveForm,
            lambda c, u, d, v: actions.archive_case(case=c, by=u, reason=d["reason"], expected_version=v),
        ),
        CaseStep(
            Action.RECORD_REINSPECTION,
            f.ReInspectionForm,
            lambda c, u, d, v: actions.record_reinspection(
                case=c,
                by=u,
                inspected_on=d["inspected_on"],
                resumed=d["resumed"],
                notes=d["notes"],
                expected_version=v,
            ),
            lambda case, today: {"inspected_on": today},
        ),
    )
}


def forms_for(case: Case, names: list[str], today: dt.date) -> dict[str, django_forms.Form]:
    return {
        name: STEPS[name].form(initial={"version": case.version, **STEPS[name].initial(case, today)})
        for name in names
        if name in STEPS
    }
