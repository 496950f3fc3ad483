"""What a unit hands in is checked by its content, not its name: a sub-plan, report or summary is a
document (PDF, Word .docx, a workbook .xlsx or an OFD); a list of closed capacity is a workbook or a PDF.
Empty and tiny files are refused, the size is capped, and a zip-based file (.docx, .xlsx, .ofd) is
bounded before anything reads it (phaseout.web.zipguard)."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from typing import IO

import filetype
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from phaseout.plans.models import Submission
from phaseout.web import zipguard

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFD = "application/ofd"
EXTENSIONS = {PDF: "pdf", DOCX: "docx", XLSX: "xlsx", OFD: "ofd"}

# Smaller than this, a file holds no real document (the smallest one-page PDF is about 400 bytes).
MIN_BYTES = 200
DOCUMENTS = frozenset({PDF, DOCX, XLSX, OFD})
ACCEPTED: dict[str, frozenset[str]] = {
    Submission.Kind.SUB_PLAN: DOCUMENTS,
    Submission.Kind.REPORT: DOCUMENTS,
    Submission.Kind.SUMMARY: DOCUMENTS,
    Submission.Kind.CLOSED_LIST: frozenset({XLSX, PDF}),
}


class HandInRefused(ValueError):
    """The file is not what the submission asks for; the message says why, for the unit."""


@dataclass(frozen=True)
class CheckedFile:
    content_type: str
    sha256: str
    size: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def _zip_kind(source: IO[bytes]) -> str | None:
    """Which document a zip holds, from its members: a Word file, a workbook or an OFD."""
    with zipfile.ZipFile(source) as archive:
        names = set(archive.namelist())
    source.seek(0)
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    if "OFD.xml" in names:
        return OFD
    return None


def _type_of(source: IO[bytes], head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return PDF
    if not head.startswith(b"PK\x03\x04"):
        return None
    facts = zipguard.inspect(source)
    return _zip_kind(source) if facts is not None else None


def check(upload: IO[bytes], *, name: str, size: int, kind: str) -> CheckedFile:
    """Check a file handed in for a submission of `kind`; raise HandInRefused with the reason."""
    if size > settings.PLAN_DOCUMENT_MAX_BYTES:
        raise HandInRefused(
            _("%(name)s is larger than %(limit)s.")
            % {"name": name, "limit": filesizeformat(settings.PLAN_DOCUMENT_MAX_BYTES)}
        )
    if size < MIN_BYTES:
        raise HandInRefused(_("%(name)s is empty or too small to hold a document.") % {"name": name})
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    try:
        content_type = _type_of(upload, head)
    except zipguard.ZipRefused as exc:
        raise HandInRefused(str(exc)) from None
    if content_type is None or content_type not in ACCEPTED[kind]:
        if kind == Submission.Kind.CLOSED_LIST:
            message = _(
                "%(name)s is not a workbook (.xlsx) or a PDF: a list of closed capacity is one of those."
            )
        else:
            message = _(
                "%(name)s is not a document: please hand in a PDF, a Word file (.docx), a workbook "
                "(.xlsx) or an OFD file."
            )
        detected = filetype.guess(head)
        if detected is not None and content_type is None:
            message += " " + _("(Its content is %(type)s.)") % {"type": detected.mime}
        raise HandInRefused(message % {"name": name})
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in iter(lambda: upload.read(1 << 16), b""):
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(content_type=content_type, sha256=digest.hexdigest(), size=size)
