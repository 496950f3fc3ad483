"""Security labels (等保 L3 安全标记): the important objects carry a label, each subject (a person)
carries a clearance given by their role, and a labelled object is read only by a subject cleared for
its label.

Objects are labelled per model (and, for the reporter's identity, per field) in `LABELS`; a subject's
clearance is its role's row in `CLEARED`. `may_read` is the one check. The reporter's identity is
the strictest label: only the tip-off intake officer is cleared, and `complaints.actions.reveal`
refuses (and records) anyone else, whatever page or command calls it. The administrators' labels keep
three-role separation: the audit trail for the auditor, accounts for the security administrator,
reference data for the system administrator, business records for none of the three.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Person, Role


class Label(models.TextChoices):
    REPORTER_IDENTITY = "reporter_identity", _("Reporter identity (confidential)")
    BUSINESS = "business", _("Business record")
    ACCOUNTS = "accounts", _("Accounts and roles")
    AUDIT_TRAIL = "audit_trail", _("Audit trail")
    REFERENCE = "reference", _("Reference data")


# "app_label.model" or "app_label.model.field" → label. A field's label overrides its model's; a model
# of a business app that is not listed is a business record.
LABELS: dict[str, Label] = {
    "complaints.tipoff.reporter_name": Label.REPORTER_IDENTITY,
    "complaints.tipoff.reporter_phone": Label.REPORTER_IDENTITY,
    "orgs.person": Label.ACCOUNTS,
    "auth.user": Label.ACCOUNTS,
    "orgs.credentials": Label.ACCOUNTS,
    "orgs.passwordhistory": Label.ACCOUNTS,
    "otp_totp.totpdevice": Label.ACCOUNTS,
    "identity.sm2device": Label.ACCOUNTS,
    "auth.group": Label.ACCOUNTS,
    "auth.permission": Label.ACCOUNTS,
    "sessions.session": Label.ACCOUNTS,
    "audit.auditevent": Label.AUDIT_TRAIL,
    "audit.chainhead": Label.AUDIT_TRAIL,
    "audit.chainlink": Label.AUDIT_TRAIL,
    "audit.unchained": Label.AUDIT_TRAIL,
    "audit.entrycounter": Label.AUDIT_TRAIL,
    "orgs.territory": Label.REFERENCE,
    "orgs.department": Label.REFERENCE,
    "registry.industry": Label.REFERENCE,
}
BUSINESS_APPS = frozenset(
    {
        "registry",
        "cases",
        "plans",
        "credit",
        "disclosure",
        "complaints",
        "prices",
        "standards",
        "messaging",
        "signals",
        "monitoring",
        "province",
    }
)

BUSINESS_ROLES = frozenset(
    {Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE, Role.INTAKE, Role.PROVINCE}
)

CLEARED: dict[Label, frozenset[Role]] = {
    Label.REPORTER_IDENTITY: frozenset({Role.INTAKE}),
    Label.BUSINESS: BUSINESS_ROLES,
    Label.ACCOUNTS: frozenset({Role.SECURITY_ADMIN}),
    Label.AUDIT_TRAIL: frozenset({Role.AUDITOR}),
    # Everyone reads the names of territories, departments and industries; only the system
    # administrator changes them (in the admin).
    Label.REFERENCE: frozenset(Role),
}


def label_of(model: type[models.Model] | models.Model, field: str | None = None) -> Label | None:
    key = model._meta.label_lower
    if field is not None and f"{key}.{field}" in LABELS:
        return LABELS[f"{key}.{field}"]
    if key in LABELS:
        return LABELS[key]
    return Label.BUSINESS if model._meta.app_label in BUSINESS_APPS else None


def may_read(person: Person | None, label: Label) -> bool:
    """Whether the person's clearance (their role) covers the label; nobody without a person."""
    return person is not None and person.role in CLEARED[label]
