"""The text of an uploaded plan document: .txt, .docx, or a PDF with a text layer."""

from __future__ import annotations

import io
import zipfile

import docx
import pypdf
from django.utils.translation import gettext as _
from pypdf.errors import PdfReadError

from phaseout.web import zipguard

MIN_PDF_TEXT = 40  # fewer characters than this on every page: a scan without a text layer


class UnreadableDocument(ValueError):
    """A file that cannot be read as a plan document; the message says why, for the user."""


def read_text(name: str, data: bytes) -> str:
    lower = name.lower()
    if not data:
        raise UnreadableDocument(_("The file is empty."))
    if lower.endswith(".txt"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise UnreadableDocument(
            _("The text file is in an encoding that cannot be read (UTF-8 and GB18030 are supported).")
        )
    if lower.endswith(".docx"):
        try:
            zipguard.inspect(io.BytesIO(data))
        except zipguard.ZipRefused as exc:
            raise UnreadableDocument(str(exc)) from None
        try:
            document = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise UnreadableDocument(_("This Word file (.docx) cannot be read; it may be damaged.")) from exc
        lines = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                lines.append("\t".join(cell.text for cell in row.cells))
        return "\n".join(lines)
    if lower.endswith(".pdf"):
        try:
            reader = pypdf.PdfReader(io.BytesIO(data))
            pages = [page.extract_text() or "" for page in reader.pages]
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise UnreadableDocument(_("This PDF file cannot be read; it may be damaged.")) from exc
        text = "\n".join(pages)
        if len("".join(text.split())) < MIN_PDF_TEXT:
            raise UnreadableDocument(
                _(
                    "This PDF has no text layer (it may be a scan); please upload a PDF with text, "
                    "a Word file or a text file."
                )
            )
        return text
    if lower.endswith(".doc"):
        raise UnreadableDocument(
            _("Old Word files (.doc) are not supported; please save it as .docx and upload it again.")
        )
    raise UnreadableDocument(_("Only .txt, .docx and .pdf files with a text layer can be read."))
