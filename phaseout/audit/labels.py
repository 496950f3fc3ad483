"""The audit trail as an auditor reads it: each event by its Chinese name, each record by its own name.

Events are recorded under stable codes (`case.order_exit`, `auth.login`); the names an auditor reads are
here. An app whose events follow a table of its own registers that table under its prefix in ready()
(`cases` registers its history labels under `case.`), so they are stated once; this module imports no
other app. An event without a name is shown by its code, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import apps
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EVENTS: dict[str, str | Promise] = {
    # signing in and out (phaseout.identity)
    "auth.login": _("signed in"),
    "auth.password_ok": _("password accepted (second factor pending)"),
    "auth.login_failed": _("sign-in failed"),
    "auth.lockout": _("sign-in limited"),
    "auth.unlock": _("sign-in limit lifted"),
    "auth.logout": _("signed out"),
    "auth.session_expired": _("session expired"),
    "auth.password_changed": _("password changed"),
    "auth.password_reset": _("password reset"),
    "auth.otp_enrolled": _("second factor set up"),
    "auth.otp_verified": _("second factor verified"),
    "auth.otp_failed": _("wrong second-factor code"),
    "auth.otp_reset": _("second factor reset"),
    # accounts, access and the platform itself
    "person.create": _("account created"),
    "person.update": _("account changed"),
    "person.reset_password": _("password reset by the security administrator"),
    "person.reset_second_factor": _("second factor reset by the security administrator"),
    "department.dimensions": _("department's dimensions changed"),
    "account.dormant_disabled": _("dormant account turned off"),
    "access.refused": _("page refused"),
    "platform.backup": _("backup written"),
    "platform.restore": _("backup restored"),
    "access.integrity_failed": _("role and unit failed their integrity check"),
    "admin.add": _("reference data added"),
    "admin.change": _("reference data changed"),
    "admin.delete": _("reference data deleted"),
    "audit.archive": _("audit entries archived"),
    "keys.rotate": _("encryption keys rotated"),
    "keys.add_signing_version": _("signing key version added"),
    "keys.add_audit_version": _("audit key version added"),
    "keys.import_audit_key": _("audit key moved into the keyring"),
    # signatures of decisions (non-repudiation)
    "decision.document_refused": _("decision document refused: its signature does not hold"),
    "documents.verify": _("decision signatures verified"),
    "documents.signed_late": _("decision issued before signatures signed"),
    # messages (phaseout.messaging)
    "message.notify": _("message sent to the message centre"),
    "message.read": _("message read"),
    "message.read_all": _("all messages marked read"),
    "message.preferences": _("message preferences changed"),
    "message.sent": _("message delivered by mail or SMS"),
    "message.send_failed": _("message delivery failed"),
    "message.given_up": _("message delivery given up"),
    # exports
    "export.evidence": _("evidence downloaded"),
    "export.case_file_zip": _("case file downloaded (.zip)"),
    "export.case_file_pdf": _("case file downloaded (PDF)"),
    "export.decision_document": _("decision document downloaded"),
    "export.credit_referrals": _("credit sanctions exported"),
    "export.prices": _("price measures exported"),
    "export.exit_ledger": _("exit ledger exported"),
    "export.stage_report": _("stage report exported"),
    "export.audit_trail": _("audit trail exported"),
    "export.enterprises": _("enterprises exported"),
    "export.cases": _("cases exported"),
    "export.tipoffs": _("tip-offs exported"),
    "export.people": _("accounts exported"),
    "export.lines": _("production lines exported"),
    "export.furnaces": _("induction furnace register exported"),
    "export.inspections": _("inspections exported"),
    "export.submission": _("submission file downloaded or viewed"),
    "export.submissions": _("submissions list exported"),
    "export.credit_list": _("credit sanctions list exported"),
    "export.monitoring_units": _("key discharge units exported"),
    "export.monitoring_points": _("monitoring points and their data completeness exported"),
    "export.data_checks": _("data checks exported"),
    # the registry and the standards
    "enterprise.create": _("enterprise added"),
    "enterprise.update": _("enterprise changed"),
    "line.create": _("production line added"),
    "line.update": _("production line changed"),
    "licence.create": _("licence added"),
    "licence.update": _("licence changed"),
    "licence.cancel": _("licence cancelled"),
    "import.upload": _("register uploaded"),
    "import.preview": _("register checked"),
    "import.accept": _("register import accepted"),
    "import.done": _("register imported"),
    "evaluation.start": _("registry evaluation started"),
    "evaluation.finish": _("registry evaluation finished"),
    "evaluation.lost": _("registry evaluation given up: its worker stopped"),
    "inspection.record": _("inspection recorded"),
    "finding.record": _("finding recorded"),
    "measurement.record": _("measurement recorded"),
    # plans and supervision
    "plan.import": _("plan imported"),
    "plan.confirm": _("plan confirmed"),
    "plan.edit_task": _("plan task changed"),
    "plan.change_deadline": _("plan deadline changed"),
    "plan.review_time": _("plan time expression reviewed"),
    "plan.map_unit": _("plan unit matched"),
    "plan.task_failed": _("task recorded as failed"),
    "programme.create": _("inspection programme created"),
    "submission.submit": _("submission handed in"),
    "submission.accept": _("submission accepted"),
    "submission.return": _("submission returned with comments"),
    "supervision.notice": _("notice circulated"),
    "supervision.summons": _("summons issued"),
    "supervision.acknowledge": _("notice acknowledged"),
    # lists, tip-offs, credit, prices
    "list.draft": _("list drafted"),
    "list.approve": _("list approved"),
    "list.publish": _("list published"),
    "list.withdraw": _("list withdrawn"),
    "list.entries_approve": _("list entries approved"),
    "list.entries_exclude": _("list entries excluded"),
    "list.entries_approve_undecided": _("every undecided list entry approved"),
    "list.entry_withdraw": _("list entry withdrawn"),
    "list.error_report": _("list error reported"),
    "list.error_report_handled": _("list error report handled"),
    "tipoff.receive": _("tip-off received"),
    "tipoff.hand_over": _("tip-off handed over"),
    "tipoff.answer": _("tip-off answered"),
    "tipoff.link_case": _("tip-off linked to a case"),
    "tipoff.identity_read": _("reporter's identity read"),
    "credit.propose": _("credit sanction proposed"),
    "credit.approve": _("credit sanction approved"),
    "credit.acknowledge": _("credit sanction acknowledged"),
    "credit.lift": _("credit sanction lifted"),
    "price_rate.enter": _("price rate entered"),
    # online monitoring
    "monitoring.register_point": _("monitoring point registered"),
    "monitoring.set_active": _("monitoring point activated or deactivated"),
    "monitoring.list_key_unit": _("key discharge unit listed"),
    "monitoring.check_raise": _("data check raised from monitoring data"),
    "monitoring.check_extend": _("data check extended by later monitoring data"),
    "monitoring.check_confirm": _("data check confirmed"),
    "monitoring.check_dismiss": _("data check dismissed"),
    # the city government's approval and the province
    "plan.approve": _("plan's approval by the city government recorded"),
    "summary.draw_up": _("year summary drawn up"),
    "summary.approve": _("year summary's approval by the city government recorded"),
    "summary.hand_up": _("year summary handed up to the province"),
    "summary.accept": _("year summary accepted by the province"),
    "summary.return": _("year summary returned by the province"),
    "summary.import": _("year summary imported from an exchange file"),
    "summary.overdue": _("year summary marked overdue at the province"),
    "plan.link_provincial": _("plan linked to the provincial plan it implements"),
    "city_key.register": _("city's signing key registered by the province"),
    "city_key.retire": _("city's signing key retired by the province"),
    "territories.load": _("territories loaded"),
    "export.year_summary": _("year summary exchange file downloaded"),
}

# The kinds of event, for the filter "every event of …" (the first part of the code).
KINDS: dict[str, str | Promise] = {
    "auth.": _("signing in and out"),
    "person.": _("accounts"),
    "department.": _("departments"),
    "account.": _("accounts (automatic)"),
    "access.": _("access refused"),
    "admin.": _("reference data"),
    "audit.": _("the audit trail"),
    "keys.": _("encryption keys"),
    "export.": _("downloads and exports"),
    "enterprise.": _("enterprises"),
    "line.": _("production lines"),
    "licence.": _("licences"),
    "import.": _("register imports"),
    "evaluation.": _("registry evaluations"),
    "inspection.": _("inspections"),
    "finding.": _("findings"),
    "measurement.": _("measurements"),
    "case.": _("cases"),
    "plan.": _("plans"),
    "programme.": _("inspection programmes"),
    "submission.": _("submissions"),
    "supervision.": _("notices and summonses"),
    "list.": _("published lists"),
    "tipoff.": _("tip-offs"),
    "credit.": _("credit sanctions"),
    "price_rate.": _("price measures"),
    "message.": _("messages"),
    "signals.": _("power use, furnaces and signals"),
    "monitoring.": _("online monitoring"),
    "summary.": _("year summaries"),
    "territories.": _("territories"),
    "city_key.": _("cities' signing keys"),
}

_BY_PREFIX: dict[str, Mapping[str, Any]] = {}


def register(prefix: str, labels: Mapping[str, Any]) -> None:
    """Names for the events `prefix + key` (an app's own table, e.g. the case history's)."""
    _BY_PREFIX[prefix] = labels


def label(action: str) -> str:
    if action in EVENTS:
        return str(EVENTS[action])
    for prefix, labels in _BY_PREFIX.items():
        if action.startswith(prefix) and action[len(prefix) :] in labels:
            return str(labels[action[len(prefix) :]])
    return action


def choices() -> list[tuple[str, str]]:
    """Every named event, for the auditor's filter (the codes are the values), case events first by prefix."""
    named = {**EVENTS}
    for prefix, labels in _BY_PREFIX.items():
        named.update({f"{prefix}{key}": value for key, value in labels.items()})
    return sorted(((code, f"{name}（{code}）") for code, name in named.items()), key=lambda c: c[0])


def record_kind(object_type: str) -> str:
    """The record's kind by its model's name (案件, 企业), from the `app_label.model` stored."""
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def record_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each (object_type, object_id) by its record's own name (a case by its number, an enterprise by its
    name), one query per kind of record; a record since deleted is named by its number."""
    wanted: dict[str, set[str]] = {}
    for object_type, object_id in pairs:
        if object_type and object_id:
            wanted.setdefault(object_type, set()).add(object_id)
    names: dict[tuple[str, str], str] = {}
    for object_type, ids in wanted.items():
        try:
            model = apps.get_model(object_type)
        except (LookupError, ValueError):
            continue
        numeric = [int(i) for i in ids if i.isdigit()]
        # The records' own relations read in the same query: a name may use one (a case is named by its
        # enterprise), which would otherwise cost a query per record.
        related = [
            f.name for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)
        ]
        for pk, obj in model._default_manager.select_related(*related).in_bulk(numeric).items():
            names[(object_type, str(pk))] = str(obj)[:80]
    return names


def described(events: list[Any]) -> list[Any]:
    """The entries with what an auditor reads beside each: `event_label`, `record_kind`, `record_name`
    (one query per kind of record on the list)."""
    names = record_names((e.object_type, e.object_id) for e in events)
    for event in events:
        event.event_label = label(event.action)
        event.record_kind = record_kind(event.object_type) if event.object_type else ""
        event.record_name = names.get((event.object_type, event.object_id), "")
    return events
