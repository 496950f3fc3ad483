"""Non-repudiation of decisions (GB/T 39786-2021 不可否认性): SM2 signatures through phaseout.crypto.

数据原发证据: a decision's document is signed when it is issued. What is signed is the document as issued
— its kind, issuer, number, date, case and content (the title, recipient, paragraphs and issuing body
from which the .docx and the PDF are drawn) — serialised canonically (`document_bytes`); the .docx and
PDF files themselves carry their render time and are not the same bytes twice, so they are not what is
signed. The record keeps the SM3 digest of those bytes, the SM2 signature and the key id. A department's
decision is signed with that department's key ("dept.<code>"); a document the platform records for a
body whose key it does not hold (a people's government's closure approved on paper, a county's
announcement) with the platform's key ("platform"), which attests the record, not the body's act.

数据接收证据: when the enterprise's account opens a served decision, a receipt records who, when and the
digest received, signed with the platform's key (`receipt_bytes`).

`check(decision)` says what is wrong with a decision's signature, or None; downloads are refused on any
problem, and `phaseout documents verify` checks every decision and receipt.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.utils.translation import gettext as _

from phaseout import crypto
from phaseout.cases.models import Decision, DecisionReceipt
from phaseout.orgs.models import Department

PLATFORM = "platform"
FORMAT = 1  # the version of the canonical form below: a new form gets a new number, old ones stay readable


def _sm3(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def document_bytes(*, kind: str, issuer: str, number: str, issued_on: dt.date, case_number: str,
                   content: dict[str, Any]) -> bytes:  # fmt: skip
    """The bytes a decision's signature covers: the document as issued, canonical JSON in UTF-8."""
    return _canonical(
        {
            "format": FORMAT,
            "kind": kind,
            "issuer": issuer,
            "number": number,
            "issued_on": issued_on.isoformat(),
            "case": case_number,
            "content": content,
        }
    )


def decision_bytes(decision: Decision) -> bytes:
    return document_bytes(
        kind=decision.kind,
        issuer=decision.issuer,
        number=decision.number,
        issued_on=decision.issued_on,
        case_number=decision.case.number,
        content=decision.content,
    )


def signer_of(department_id: int | None) -> str:
    """The key a decision is signed with: its department's (by id, which never changes), or the platform's."""
    return crypto.signer_id("dept", str(department_id)) if department_id is not None else PLATFORM


def signed(fields: dict[str, Any], *, case_number: str) -> dict[str, Any]:
    """A new decision's fields with its digest, signature and key id (the issuing body's key)."""
    message = document_bytes(
        kind=fields["kind"],
        issuer=fields["issuer"],
        number=fields["number"],
        issued_on=fields["issued_on"],
        case_number=case_number,
        content=fields["content"],
    )
    department: Department | None = fields.get("department")
    seal = crypto.sign(signer_of(department.pk if department is not None else None), message)
    return {**fields, "digest": _sm3(message), "signature": seal.signature.hex(), "signing_key": seal.key_id}


def check(decision: Decision) -> str | None:
    """What is wrong with the decision's signature (a sentence for a person), or None if it holds."""
    if not decision.signature:
        return _("The document %(number)s carries no signature.") % {"number": decision.number}
    message = decision_bytes(decision)
    if _sm3(message) != decision.digest:
        return _("The document %(number)s was changed after it was issued: its digest does not match.") % {
            "number": decision.number
        }
    parsed = crypto.parse_key_id(decision.signing_key)
    if parsed is None or parsed[0] != signer_of(decision.department_id):
        return _("The document %(number)s is signed with a key that is not its issuer's.") % {
            "number": decision.number
        }
    try:
        signature = bytes.fromhex(decision.signature)
    except ValueError:
        signature = b""
    if not crypto.verify_signature(decision.signing_key, message, signature):
        return _("The signature of the document %(number)s does not verify.") % {"number": decision.number}
    return None


def receipt_bytes(*, decision_id: int, digest: str, user_id: int, at: dt.datetime) -> bytes:
    """The bytes a receipt's signature covers: which document (and its digest), who (the account's id,
    which a rename does not change), when (UTC)."""
    return _canonical(
        {
            "format": FORMAT,
            "decision": decision_id,
            "digest": digest,
            "user": user_id,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        }
    )


def sign_receipt(*, decision: Decision, user_id: int, at: dt.datetime) -> dict[str, str]:
    message = receipt_bytes(decision_id=decision.pk, digest=decision.digest, user_id=user_id, at=at)
    seal = crypto.sign(PLATFORM, message)
    return {"digest": decision.digest, "signature": seal.signature.hex(), "signing_key": seal.key_id}


def check_receipt(receipt: DecisionReceipt) -> str | None:
    message = receipt_bytes(
        decision_id=receipt.decision_id,
        digest=receipt.digest,
        user_id=receipt.received_by_id,
        at=receipt.received_at,
    )
    parsed = crypto.parse_key_id(receipt.signing_key)
    try:
        signature = bytes.fromhex(receipt.signature)
    except ValueError:
        signature = b""
    if (
        parsed is None
        or parsed[0] != PLATFORM
        or not crypto.verify_signature(receipt.signing_key, message, signature)
    ):
        return _("The receipt %(receipt)s of decision %(decision)s does not verify.") % {
            "receipt": receipt.pk,
            "decision": receipt.decision_id,
        }
    return None
