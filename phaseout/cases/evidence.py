from __future__ import annotations

import hashlib

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

ALLOWED_TYPES = {"image/jpeg", "image/png", "application/pdf"}


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
