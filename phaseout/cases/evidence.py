from __future__ import annotations

import hashlib

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

ALLOWED_TYPES = {"image/jpeg", "image/png", "application/pdf"}
# The extensions of each type, the first the one given to a name that has none of them.
EXTENSIONS = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",), "application/pdf": (".pdf",)}
# Path separators and the characters no file system takes (Windows), besides control characters.
UNSAFE = frozenset('\\/:*?"<>|')
NAME_MAX = 200


def safe_name(original: str, content_type: str) -> str:
    """The name an evidence file keeps and is given out under: the last part of the name the browser sent,
    without control characters or path and reserved characters, ending in an extension of its real type
    (found by its content), so that a PNG sent as x.html or x.svg is downloaded as x.png, not opened as a
    page."""
    name = original.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in UNSAFE).strip(" .")
    extensions = EXTENSIONS.get(content_type, ("",))
    if not name.lower().endswith(extensions):
        name = f"{name or 'file'}{extensions[0]}"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: NAME_MAX - len(ext) - 1]}{dot}{ext}"
    return name


def check_evidence_file(upload: UploadedFile) -> tuple[str, str]:
    """Check type by content and size; return (content type, sha256). Raise ValidationError."""
    size = upload.size or 0
    if size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError(
            _("%(name)s is too large (%(size)s); the limit is %(limit)s.")
            % {
                "name": upload.name,
                "size": filesizeformat(size),
                "limit": filesizeformat(settings.EVIDENCE_MAX_BYTES),
            }
        )
    if size == 0:
        raise ValidationError(_("%(name)s is empty.") % {"name": upload.name})
    upload.seek(0)
    head = upload.read(8192)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise ValidationError(
            _("%(name)s is not a photo (JPEG, PNG) or a PDF document.") % {"name": upload.name}
        )
    digest = hashlib.sha256(head)
    for chunk in iter(lambda: upload.read(1 << 16), b""):
        digest.update(chunk)
    upload.seek(0)
    return kind.mime, digest.hexdigest()
