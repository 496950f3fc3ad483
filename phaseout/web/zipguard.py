"""Uploads that are zip files (.xlsx, .docx) are looked at before any parser sees them.

A small zip can unpack to gigabytes (a "zip bomb"); the parsers (calamine, python-docx) unpack a
member whole. So, before parsing: the central directory's declared sizes are capped (the total
unpacked and each member's compression ratio), then every member is unpacked as a stream, in chunks,
counting the bytes actually produced — a member whose data runs past its declared size fails its CRC
and is refused — and, for a workbook, the rows of its first sheet are counted on the way, so that a
register over the row limit is refused before any row is converted. Memory stays at one chunk.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
# A member smaller than this is not judged by its ratio: a few kilobytes of repeated XML legitimately
# compress a hundredfold, and cannot hurt.
RATIO_FLOOR = 1 << 20
# Workbook parts read whole to find the first sheet: small in any real workbook.
SMALL_PART = 4 << 20
# A row element opens with one of these (openpyxl, Excel, WPS and calamine's writers use no prefix); a
# sheet written with a namespace prefix is counted as 0 here and its height is checked after parsing.
_ROW_OPENINGS = (b"<row ", b"<row>")
_ROW_TAIL = 4  # shorter than an opening: a match is never counted twice across chunks


class ZipRefused(ValueError):
    """The upload is refused before being parsed; the message says why, for the user."""


@dataclass(frozen=True)
class ZipFacts:
    unpacked: int  # bytes actually produced by unpacking every member
    rows: int | None  # rows of the workbook's first sheet (heading included), for an .xlsx


def _limits(max_unpacked: int | None, max_ratio: int | None) -> tuple[int, int]:
    return (
        settings.UPLOAD_MAX_UNPACKED_BYTES if max_unpacked is None else max_unpacked,
        settings.UPLOAD_MAX_COMPRESSION_RATIO if max_ratio is None else max_ratio,
    )


def _too_large(limit: int) -> ZipRefused:
    return ZipRefused(
        _("The file unpacks to more than %(limit)s; it was refused without being read.")
        % {"limit": filesizeformat(limit)}
    )


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    """The member holding the workbook's first sheet, from workbook.xml and its relationships."""
    try:
        workbook = _small(archive, "xl/workbook.xml", names)
        rels = _small(archive, "xl/_rels/workbook.xml.rels", names)
    except KeyError:
        return None
    sheet = re.search(rb'<(?:\w+:)?sheet\b[^>]*?\s[\w.-]+:id="([^"]+)"', workbook)
    if sheet is None:
        return None
    rel_id = re.escape(sheet.group(1))
    for rel in re.finditer(rb"<(?:\w+:)?Relationship\b[^>]*>", rels):
        if re.search(rb'\bId="' + rel_id + rb'"', rel.group(0)):
            target = re.search(rb'\bTarget="([^"]+)"', rel.group(0))
            if target is None:
                return None
            path = target.group(1).decode("utf-8", "replace")
            return path.lstrip("/") if path.startswith("/") else f"xl/{path}"
    return None


def _small(archive: zipfile.ZipFile, name: str, names: set[str]) -> bytes:
    if name not in names:
        raise KeyError(name)
    with archive.open(name) as member:
        return member.read(SMALL_PART)


def inspect(
    source: IO[bytes],
    *,
    workbook: bool = False,
    max_rows: int | None = None,
    max_unpacked: int | None = None,
    max_ratio: int | None = None,
) -> ZipFacts | None:
    """Check a zip upload before parsing; None when it is not a zip at all (the parser then says what
    is wrong). Raises ZipRefused for a file too large unpacked, too compressed, damaged, or (a
    workbook) with more than `max_rows` data rows. The source is left at its start."""
    total_limit, ratio_limit = _limits(max_unpacked, max_ratio)
    source.seek(0)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        source.seek(0)
        return None
    try:
        with archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > total_limit:
                raise _too_large(total_limit)
            for info in infos:
                if info.file_size > RATIO_FLOOR and info.file_size > ratio_limit * max(info.compress_size, 1):
                    raise ZipRefused(
                        _(
                            "A part of the file (%(name)s) is compressed more than %(ratio)s times, as a "
                            "zip bomb is; it was refused without being read."
                        )
                        % {"name": info.filename[:80], "ratio": ratio_limit}
                    )
            names = {info.filename for info in infos}
            sheet = _first_sheet(archive, names) if workbook else None
            unpacked, rows = 0, None
            for info in infos:
                if info.is_dir():
                    continue
                counting = sheet is not None and info.filename == sheet
                found, tail = 0, b""
                with archive.open(info) as member:
                    while chunk := member.read(CHUNK):
                        unpacked += len(chunk)
                        if unpacked > total_limit:
                            raise _too_large(total_limit)
                        if counting:
                            buffer = tail + chunk
                            found += sum(buffer.count(opening) for opening in _ROW_OPENINGS)
                            tail = buffer[-_ROW_TAIL:]
                            if max_rows is not None and found - 1 > max_rows:
                                raise too_many_rows(max_rows)
                if counting:
                    rows = found
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        # A bad CRC, corrupt deflate data, encrypted members, unknown compression methods, truncated
        # data. The library's English detail goes to the log, not to the person who uploaded the file.
        logger.warning("zip upload refused as damaged: %r", exc)
        raise ZipRefused(_("The file is damaged; it was refused without being read.")) from None
    finally:
        source.seek(0)
    return ZipFacts(unpacked=unpacked, rows=rows)


def too_many_rows(limit: int) -> ZipRefused:
    return ZipRefused(
        _(
            "The register has more than %(limit)s rows; it was refused without being read. Please "
            "split it into files of at most %(limit)s rows."
        )
        % {"limit": f"{limit:,}"}
    )
