"""The exchange file: a city running its own deployment sends its approved year summary up as one JSON
file, and the province's deployment takes it in.

    {"format": "phaseout.year-summary", "version": 1,
     "payload": {"city": {"code", "name"}, "year", "figures", "approval": {"body", "doc_number",
                 "approved_on"}, "documents": [{"name", "sha256", "size", "content"}], "made_at"},
     "checksum": {"algorithm": "SHA-256", "value"},
     "signature": {"algorithm": "SM2-SM3", "key_id", "public_key", "value"}}

The checksum is the SHA-256 of the payload in canonical JSON (sorted keys, no spaces, UTF-8); the
signature is the city platform's SM2 signature of the same bytes (phaseout.crypto, key "city.<code>"),
with the public key it verifies under. Each document's content is base64 with its own SHA-256. The
province verifies everything before anything is written, and records the file's checksum and the SM3
fingerprint of the signing key. The key must be the city's registered, current key
(phaseout.province.keys, ADR 0026): the register is the trust the signature rests on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout import crypto
from phaseout.audit.record import record
from phaseout.cases.models import CaseState
from phaseout.crypto.backends import sm3
from phaseout.crypto.sm2 import verify as sm2_verify
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Territory
from phaseout.orgs.scope import office_people
from phaseout.plans.actions import PlanError, approval_fields
from phaseout.plans.handin import HandInRefused, check
from phaseout.plans.models import Submission
from phaseout.province.actions import FIRST_YEAR, SummaryError, check_province, roll_up
from phaseout.province.keys import check_file_key
from phaseout.province.models import SummaryEvent, YearSummary
from phaseout.reports.summary import FIGURES
from phaseout.web.middleware import has_control

# Invisible format characters (zero-width space and joiners, the bidi marks, word joiner, BOM): not in
# an approving body's name or a document number.
INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff]")
FORMAT = "phaseout.year-summary"
VERSION = 1
MAX_BYTES = 20 * 1024 * 1024  # the whole file: the figures and the summary's documents
MAX_DOCUMENTS = 10
EXPORTABLE = (YearSummary.State.APPROVED, YearSummary.State.HANDED_UP, YearSummary.State.ACCEPTED)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signer(city: str) -> str:
    return crypto.signer_id("city", city)


def own_key(city: str) -> tuple[str, str] | None:
    """The city platform's current public signing key (hex x || y) and its SM3 fingerprint: what the
    city's office sends the province by letter to be registered. None when the keyring holds no signing
    key."""
    try:
        version = crypto.backend().signing_version()
        if not version:
            return None
        public = crypto.public_key(f"{signer(city)}:v{version}")
    except crypto.MissingKey:
        return None
    return public.hex(), sm3(public).hex()


def export_file(summary: YearSummary, *, now: dt.datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The exchange file of an approved summary (its figures, approval and document), signed; and what
    its audit entry records (its SHA-256 and the key it is signed with). The view that gives it out is an
    audited export (phaseout.audit.exports)."""
    now = now or timezone.now()
    if summary.state not in EXPORTABLE:
        raise SummaryError(
            _("Only a year summary the city government approved can be exported for the province.")
        )
    documents = []
    if summary.document:
        try:
            with summary.document.open("rb") as fh:
                content = fh.read()
        except crypto.DecryptionError:
            raise SummaryError(_("This file was altered in storage and cannot be opened.")) from None
        documents.append(
            {
                "name": summary.document_name,
                "sha256": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "content": base64.b64encode(content).decode("ascii"),
            }
        )
    assert summary.approved_on is not None
    payload = {
        "city": {"code": summary.city_id, "name": summary.city.name},
        "year": summary.year,
        "figures": summary.figures,
        "approval": {
            "body": summary.approval_body,
            "doc_number": summary.approval_doc_number,
            "approved_on": summary.approved_on.isoformat(),
        },
        "documents": documents,
        "made_at": now.isoformat(),
    }
    message = canonical(payload)
    seal = crypto.sign(signer(summary.city_id), message)
    body = {
        "format": FORMAT,
        "version": VERSION,
        "payload": payload,
        "checksum": {"algorithm": "SHA-256", "value": hashlib.sha256(message).hexdigest()},
        "signature": {
            "algorithm": "SM2-SM3",
            "key_id": seal.key_id,
            "public_key": crypto.public_key(seal.key_id).hex(),
            "value": seal.signature.hex(),
        },
    }
    data = json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")
    return data, {"sha256": hashlib.sha256(data).hexdigest(), "key": seal.key_id}


def too_large() -> SummaryError:
    return SummaryError(
        _("The exchange file is too large: at most %(limit)s.") % {"limit": filesizeformat(MAX_BYTES)}
    )


def _refuse_shape() -> SummaryError:
    return SummaryError(_("This is not a year summary exchange file."))


def _refuse_figures() -> SummaryError:
    return SummaryError(_("The figures in the exchange file are not in the form the platform draws them up."))


def _not_allowed() -> SummaryError:
    return SummaryError(_("The text contains a character that is not allowed."))


def _str(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _refuse_shape()
    if has_control(value):
        raise _not_allowed()
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity, -Infinity: not JSON, not a figure


def _clean_strings(value: Any) -> None:
    """Refuse a control character, a bidirectional override, an invisible character or a lone surrogate
    (a JSON escape such as \\ud800) anywhere in the file, keys included: the rule of the web forms
    (phaseout.web.middleware), with its own message."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                raise _not_allowed()
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


FIGURE_MAX = 10**9
ROWS_MAX = 5000
NAME_MAX = 200
ROW_KEYS = {"by_territory": "territory__name", "by_industry": "industry__name", "by_dimension": "dimension"}
CAPACITY_KEYS = {"enterprise__industry__name", "capacity_unit", "lines", "total"}
FIGURES_KEYS = {
    "year", "city", "city_total", "by_state", *ROW_KEYS, "capacity", "exited_lines", "exited_enterprises"
}  # fmt: skip


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= FIGURE_MAX:
        raise _refuse_figures()
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > NAME_MAX:
        raise _refuse_figures()
    return value


def _rows(value: Any) -> list[Any]:
    if not isinstance(value, list) or len(value) > ROWS_MAX or not all(isinstance(r, dict) for r in value):
        raise _refuse_figures()
    return value


def check_figures(figures: Any, *, city: str, year: int) -> dict[str, Any]:
    """The figures as the city's own draw-up produces them (actions.city_figures): exactly its keys, counts
    from 0 to 10⁹, names as text, capacities as decimal text; refused otherwise."""
    if not isinstance(figures, dict) or set(figures) != FIGURES_KEYS:
        raise _refuse_figures()
    if not isinstance(figures["year"], int) or isinstance(figures["year"], bool) or figures["year"] != year:
        raise _refuse_figures()
    town = figures["city"]
    if not isinstance(town, dict) or set(town) != {"code", "name"} or town["code"] != city:
        raise _refuse_figures()
    _name(town["name"])
    total = figures["city_total"]
    if not isinstance(total, dict) or set(total) != set(FIGURES):
        raise _refuse_figures()
    for value in total.values():
        _count(value)
    by_state = figures["by_state"]
    if not isinstance(by_state, dict) or not set(by_state) <= set(CaseState.values):
        raise _refuse_figures()
    for value in by_state.values():
        _count(value)
    for key, label in ROW_KEYS.items():
        for row in _rows(figures[key]):
            if set(row) != {label, *FIGURES}:
                raise _refuse_figures()
            _name(row[label])
            for figure in FIGURES:
                _count(row[figure])
    for row in _rows(figures["capacity"]):
        if set(row) != CAPACITY_KEYS:
            raise _refuse_figures()
        _name(row["enterprise__industry__name"])
        _name(row["capacity_unit"])
        _count(row["lines"])
        total_text = row["total"]
        if not isinstance(total_text, str) or len(total_text) > 40:
            raise _refuse_figures()
        try:
            amount = Decimal(total_text)
        except InvalidOperation:
            raise _refuse_figures() from None
        if not amount.is_finite() or not 0 <= amount <= FIGURE_MAX:
            raise _refuse_figures()
    _count(figures["exited_lines"])
    _count(figures["exited_enterprises"])
    return figures


def _document(name: Any, content: bytes) -> tuple[str, bytes]:
    """A document of the file checked as the draw-up form checks an upload (plans.handin: its content a
    PDF, .docx, .xlsx or OFD), named by its base name with the extension its content has."""
    text = _str(name, NAME_MAX)
    if INVISIBLE.search(text):
        raise _not_allowed()
    base = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base.strip(" .")
    try:
        checked = check(
            io.BytesIO(content), name=base or "summary", size=len(content), kind=Submission.Kind.SUMMARY
        )
    except HandInRefused as exc:
        raise SummaryError(str(exc)) from None
    return f"{(stem or 'summary')[:150]}.{checked.extension}", content


def _hex(value: Any, size: int) -> bytes:
    text = _str(value, size * 2)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise _refuse_shape() from None
    if len(raw) != size:
        raise _refuse_shape()
    return raw


def read_file(data: bytes) -> dict[str, Any]:
    """The checked content of an exchange file: refused, with the reason, when it is too large, not an
    exchange file, changed after it was made, or not signed by the key it names."""
    if len(data) > MAX_BYTES:
        raise too_large()
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse_shape() from None
    _clean_strings(body)
    if not isinstance(body, dict) or body.get("format") != FORMAT or body.get("version") != VERSION:
        raise _refuse_shape()
    payload, checksum, signature = body.get("payload"), body.get("checksum"), body.get("signature")
    if not isinstance(payload, dict) or not isinstance(checksum, dict) or not isinstance(signature, dict):
        raise _refuse_shape()
    message = canonical(payload)
    if hashlib.sha256(message).hexdigest() != _str(checksum.get("value"), 64):
        raise SummaryError(_("The exchange file was changed after it was made: its checksum does not match."))
    public = _hex(signature.get("public_key"), 64)
    value = _hex(signature.get("value"), 64)
    if not sm2_verify(public, message, value):
        raise SummaryError(
            _("The exchange file's signature does not verify: it was not signed with the key it names.")
        )
    city, year, approval = payload.get("city"), payload.get("year"), payload.get("approval")
    figures, documents = payload.get("figures"), payload.get("documents")
    if not (isinstance(city, dict) and isinstance(approval, dict) and isinstance(figures, dict)):
        raise _refuse_shape()
    if not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= 2100:
        raise _refuse_shape()
    code = _str(city.get("code"), 6)
    figures = check_figures(figures, city=code, year=year)
    if not isinstance(documents, list) or len(documents) > MAX_DOCUMENTS:
        raise _refuse_shape()
    try:
        approved_on = dt.date.fromisoformat(_str(approval.get("approved_on"), 10))
    except ValueError:
        raise _refuse_shape() from None
    checked_documents = []
    for document in documents:
        if not isinstance(document, dict):
            raise _refuse_shape()
        try:
            content = base64.b64decode(_str(document.get("content"), MAX_BYTES), validate=True)
        except (binascii.Error, ValueError):
            raise _refuse_shape() from None
        if hashlib.sha256(content).hexdigest() != document.get("sha256"):
            raise SummaryError(_("A document in the exchange file does not match its checksum."))
        checked_documents.append(_document(document.get("name"), content))
    return {
        "city": code,
        "year": year,
        "figures": figures,
        "body": _str(approval.get("body"), 1000),
        "doc_number": _str(approval.get("doc_number"), 1000),
        "approved_on": approved_on,
        "documents": checked_documents,
        "sha256": hashlib.sha256(data).hexdigest(),
        "key": sm3(public).hex(),
    }


@transaction.atomic
def import_file(*, data: bytes, by: User, now: dt.datetime | None = None) -> YearSummary:
    """The provincial office takes in a city's exchange file: verified first, then recorded as that city's
    summary for the year, handed up and awaiting review. Nothing is written when it is refused."""
    now = now or timezone.now()
    read = read_file(data)
    city = Territory.objects.filter(code=read["city"], level=Territory.Level.CITY).first()
    if city is None:
        raise SummaryError(
            _("The exchange file names a city this platform does not know: %(code)s.")
            % {"code": read["city"]}
        )
    check_province(by, city.code)
    registered = check_file_key(city, read["key"])
    today = timezone.localdate(now)
    if read["year"] > today.year:
        raise SummaryError(
            _("The exchange file is for %(year)d, a year that has not begun.") % {"year": read["year"]}
        )
    try:
        body, doc_number, approved_on = approval_fields(
            body=read["body"], doc_number=read["doc_number"], approved_on=read["approved_on"], today=today
        )
    except PlanError as exc:
        raise SummaryError(str(exc)) from None
    if INVISIBLE.search(body) or INVISIBLE.search(doc_number):
        raise _not_allowed()
    if approved_on < dt.date(read["year"], 1, 1):
        raise SummaryError(
            _("The date of approval cannot be before the year %(year)d the summary is for began.")
            % {"year": read["year"]}
        )
    government = _("%(city)s People's Government") % {"city": city.name}
    if body != government:
        raise SummaryError(
            _("The year summary of %(city)s is approved by %(government)s; the file names %(body)s.")
            % {"city": city.name, "government": government, "body": body}
        )
    figures = dict(read["figures"])
    figures["city_total"] = roll_up(figures["by_territory"])
    summary = YearSummary.objects.select_for_update().filter(city=city, year=read["year"]).first()
    before = summary.state if summary is not None else ""
    if summary is not None and summary.source != YearSummary.Source.EXCHANGE:
        raise SummaryError(
            _(
                "The year summary of %(city)s for %(year)d is drawn up by the city on this platform; an "
                "exchange file does not replace it."
            )
            % {"city": city.name, "year": read["year"]}
        )
    if summary is not None and summary.state in (YearSummary.State.ACCEPTED, YearSummary.State.HANDED_UP):
        raise SummaryError(
            _(
                "The year summary of %(city)s for %(year)d is already with the province; "
                "a new file is not taken."
            )
            % {"city": city.name, "year": read["year"]}
        )
    fields = {
        "state": YearSummary.State.HANDED_UP,
        "source": YearSummary.Source.EXCHANGE,
        "figures": figures,
        "approval_body": body,
        "approval_doc_number": doc_number,
        "approved_on": approved_on,
        "approval_recorded_by": None,
        "approval_recorded_at": now,
        "handed_up_by": by,
        "handed_up_at": now,
        "reviewed_by": None,
        "reviewed_at": None,
        "return_reason": "",
        "exchange_sha256": read["sha256"],
        "exchange_key": read["key"],
        "drawn_up_by": by,
        "drawn_up_at": now,
    }
    if summary is None:
        summary = YearSummary.objects.create(city=city, year=read["year"], **fields)
    else:
        for key, value in fields.items():
            setattr(summary, key, value)
        summary.save()
    if read["documents"]:
        name, content = read["documents"][0]
        summary.document_name = name
        summary.document_sha256 = hashlib.sha256(content).hexdigest()
        summary.document.save(name, ContentFile(content), save=False)
        summary.save(update_fields=["document", "document_name", "document_sha256"])
    SummaryEvent.objects.create(
        summary=summary,
        step=SummaryEvent.Step.IMPORT,
        before=before,
        after=summary.state,
        note=_("File SHA-256 %(sha256)s; signing key fingerprint (SM3) %(key)s")
        % {"sha256": read["sha256"], "key": read["key"]},
        by=by,
        at=now,
    )
    record(
        actor=by,
        action="summary.import",
        obj=summary,
        data={
            "city": city.code,
            "year": read["year"],
            "sha256": read["sha256"],
            "key": read["key"],
            "city_key": registered.pk,
        },
    )
    if before == YearSummary.State.RETURNED:
        notify(
            office_people(city.code),
            MessageKind.NOTICE,
            _("The province took in a new exchange file for the year summary %(year)d it had returned")
            % {"year": summary.year},
            obj=summary,
            url=reverse("summary-detail", args=[summary.pk]),
            key=f"summary.import:{summary.pk}:{now:%Y%m%d%H%M%S}",
            by=by,
            now=now,
        )
    return summary
