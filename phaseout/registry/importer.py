"""Import of an enterprise register from .xlsx.

`read_register` parses and checks the whole file and writes nothing (the preview): it returns the
valid rows and every bad row with its reason. `import_register` (the accepted import) reads, checks
and writes in one pass, a background thread checking the next chunk while the database writes this
one; `apply_register` writes rows already read. Rows are keyed by USCC, so a re-run of the same
file creates no duplicates (unchanged rows are left alone).

Rows are checked a block at a time, column-wise; a block with any bad row is checked row by row,
which names every problem (the two agree: tests/test_import.py). On PostgreSQL a large file into a
small registry is a bulk load: the table's secondary indexes and foreign keys are built again after
the rows are in, as PostgreSQL's manual advises, in the same transaction.
"""

from __future__ import annotations

import io
import itertools
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from operator import itemgetter, mul
from typing import IO, Any, TypeVar

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as uscc_module

from phaseout import crypto
from phaseout.orgs.models import Territory
from phaseout.registry.models import Enterprise, Industry, ProductionLine
from phaseout.web import zipguard

# Column headings of the register, as officials write them, with the field each fills.
COLUMNS: dict[str, str] = {
    "统一社会信用代码": "uscc",
    "企业名称": "name",
    "所属区县": "territory",
    "行业": "industry",
    "地址": "address",
    "联系人": "contact_name",
    "联系电话": "contact_phone",
}
REQUIRED = ("uscc", "name", "territory", "industry")
MAX_LENGTH = {"name": 120, "address": 200, "contact_name": 40, "contact_phone": 30}
FIELDS = ("name", "territory_id", "industry_id", "address", "contact_name", "contact_phone")
COLUMN_ORDER = ("uscc", *FIELDS)
CHUNK = 20000
# Columns encrypted at rest (phaseout.crypto, the model's EncryptedTextField): rows carry plaintext,
# so that a re-run compares what the official wrote; the COPY text carries tokens.
SEALED = {
    "contact_name": Enterprise._meta.get_field("contact_name").purpose,
    "contact_phone": Enterprise._meta.get_field("contact_phone").purpose,
}
_SEALED_AT = {FIELDS.index(f): purpose for f, purpose in SEALED.items()}
FIRST_CHUNK = 5000
BLOCK = 1000

# GB 32100-2015 check of an already-canonical code (18 ASCII characters from the code's alphabet),
# table-driven for bulk import: python-stdnum's `validate` costs ~60 µs a code, most of it Unicode
# normalisation a canonical code does not need. Anything else goes to python-stdnum, which stays the
# authority: tests check that the two agree on every code they generate.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CANONICAL = re.compile(r"[0-9]{8}[0-9ABCDEFGHJKLMNPQRTUWXY]{10}")


def fast_uscc_check(code: str) -> bool | None:
    """True or False for a canonical code; None when python-stdnum has to decide."""
    if not _CANONICAL.fullmatch(code):
        return None
    total = sum(map(mul, map(_VALUE.__getitem__, code[:17]), _WEIGHTS))
    return _ALPHABET[(31 - total) % 31] == code[17]


class RegisterFileError(ValueError):
    """The file is not a readable enterprise register; nothing was read from it."""


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Register:
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0
    sheet_rows: int = 0  # the sheet's height, heading included, known once it is parsed


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet_rows(source: IO[bytes]) -> tuple[int, Iterator[list[Any]]]:
    """The first sheet's height and its rows, converted to Python lazily (calamine parses the sheet
    at once). Before calamine sees the file, its unpacked size, compression ratio and row count are
    checked as a stream (phaseout.web.zipguard): a zip bomb or an over-long register is refused
    without being parsed."""
    limit = settings.REGISTER_IMPORT_MAX_ROWS
    try:
        zipguard.inspect(source, workbook=True, max_rows=limit)
    except zipguard.ZipRefused as exc:
        raise RegisterFileError(str(exc)) from None
    try:
        book = CalamineWorkbook.from_filelike(source)
        if not book.sheet_names:
            raise RegisterFileError(_("The workbook has no sheet."))
        sheet = book.get_sheet_by_index(0)
        if sheet.height - 1 > limit:  # rows the stream count did not see (a sheet it could not find)
            raise RegisterFileError(str(zipguard.too_many_rows(limit)))
        return sheet.height, sheet.iter_rows()
    except CalamineError as exc:
        raise RegisterFileError(
            _("The file cannot be read as an .xlsx workbook (%(error)s).") % {"error": exc}
        ) from None
    except (ValueError, OSError) as exc:
        if isinstance(exc, RegisterFileError):
            raise
        raise RegisterFileError(
            _("The file cannot be read as an .xlsx workbook (%(error)s).") % {"error": exc}
        ) from None


def _check_uscc(raw: str) -> tuple[str, str | None]:
    """The canonical code and, if it is not a valid USCC, the reason."""
    fast = fast_uscc_check(raw)
    if fast is True:
        return raw, None
    if fast is False:
        return raw, _("The check character of this USCC is wrong.")
    code = uscc_module.compact(raw)
    if not code:
        return code, None  # reported as an empty required column
    try:
        uscc_module.validate(code)
    except stdnum_errors.InvalidChecksum:
        return code, _("The check character of this USCC is wrong.")
    except stdnum_errors.ValidationError:
        return code, _("This is not a valid 18-character USCC.")
    return code, None


def _lookups() -> tuple[dict[str, str], dict[str, str]]:
    territories: dict[str, str] = {}
    for code, name in Territory.objects.values_list("code", "name"):
        territories[code] = code
        territories[name] = code
    industries: dict[str, str] = {}
    for code, name in Industry.objects.values_list("code", "name"):
        industries[code] = code
        industries[name] = code
    return territories, industries


def _row_errors(
    number: int,
    values: dict[str, str],
    seen: dict[str, int],
    territories: dict[str, str],
    industries: dict[str, str],
    territories_allowed: set[str] | None,
    heading: dict[str, str],
) -> list[RowError]:
    """Every problem of one row; canonicalises its USCC in `values` and remembers it in `seen`."""
    errors: list[RowError] = []
    for f in REQUIRED:
        if not values[f]:
            errors.append(RowError(number, heading[f], _("This column must not be empty.")))
    code, problem = _check_uscc(values["uscc"])
    values["uscc"] = code
    if problem:
        errors.append(RowError(number, heading["uscc"], problem))
    elif code:
        if code in seen:
            errors.append(
                RowError(
                    number,
                    heading["uscc"],
                    _("The same USCC is already in row %(row)d.") % {"row": seen[code]},
                )
            )
        else:
            seen[code] = number
    territory = values["territory"]
    if territory and territory not in territories:
        errors.append(
            RowError(
                number,
                heading["territory"],
                _("Unknown county or district: %(value)s.") % {"value": territory},
            )
        )
    elif territory and territories_allowed is not None and territories[territory] not in territories_allowed:
        errors.append(
            RowError(
                number, heading["territory"], _("%(value)s is outside your territory.") % {"value": territory}
            )
        )
    industry = values["industry"]
    if industry and industry not in industries:
        errors.append(
            RowError(number, heading["industry"], _("Unknown industry: %(value)s.") % {"value": industry})
        )
    for f, limit in MAX_LENGTH.items():
        if len(values[f]) > limit:
            errors.append(
                RowError(number, heading[f], _("Longer than %(limit)d characters.") % {"limit": limit})
            )
    return errors


def _uscc_block_valid(codes: list[str]) -> bool:
    """True when every code is canonical with a right check character (the check of
    `fast_uscc_check`, for a whole block at once in numpy); False sends the block to the row-by-row
    check, which names each problem."""
    if not codes:
        return True
    joined = "".join(codes)
    if len(joined) != 18 * len(codes) or not joined.isascii():
        return False
    values = _USCC_VALUES[np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(codes), 18)]
    if (values[:, :8] > 9).any() or (values[:, 8:] > 30).any():
        return False
    expected = (31 - (values[:, :17].astype(np.int64) @ _USCC_WEIGHTS) % 31) % 31
    return bool((expected == values[:, 17]).all())


# Character -> value in the code's alphabet; 255 for anything else.
_USCC_VALUES = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(_ALPHABET):
    _USCC_VALUES[ord(_c)] = _i
_USCC_WEIGHTS = np.array(_WEIGHTS, dtype=np.int64)


class _Checker:
    """Checks a register's rows in order, remembering the USCCs already seen."""

    def __init__(
        self,
        positions: dict[str, int],
        lookups: tuple[dict[str, str], dict[str, str]],
        territories_allowed: set[str] | None,
        register: Register,
    ) -> None:
        self.territories, self.industries = lookups
        self.allowed = territories_allowed
        self.register = register
        self.seen: dict[str, int] = {}
        self.heading = {f: h for h, f in COLUMNS.items()}
        self.order = [(f, positions.get(f, -1)) for f in COLUMNS.values()]
        self.width = max(i for _, i in self.order) + 1

    def block(self, raws: list[list[Any]], first_number: int) -> list[dict[str, str]]:
        """The valid rows of consecutive sheet rows, the first being row `first_number`."""
        return self._fast(raws, first_number) or self._row_by_row(raws, first_number)

    def _fast(self, raws: list[list[Any]], first_number: int) -> list[dict[str, str]] | None:
        """Column-wise, when every row of the block is complete text and passes every check;
        None when any does not (an empty row included), and the block is checked row by row."""
        if not raws or min(map(len, raws)) < self.width:
            return None
        columns = list(zip(*raws, strict=False))
        picked: list[list[str]] = []
        for f, i in self.order:
            column = columns[i] if i >= 0 else ("",) * len(raws)
            if not all(c.__class__ is str for c in column):
                return None
            stripped = [c.strip() for c in column]
            limit = MAX_LENGTH.get(f)
            if limit is not None and max(map(len, stripped)) > limit:
                return None
            picked.append(stripped)
        codes, names, territory_names, industry_names, addresses, contacts, phones = picked
        territory_ids = list(map(self.territories.get, territory_names))
        industry_ids = list(map(self.industries.get, industry_names))
        if (
            not all(names)
            or None in territory_ids
            or None in industry_ids
            or (self.allowed is not None and not self.allowed.issuperset(territory_ids))
            or len(set(codes)) != len(codes)
            or not self.seen.keys().isdisjoint(codes)
            or not _uscc_block_valid(codes)
        ):
            return None
        self.seen.update(zip(codes, range(first_number, first_number + len(codes)), strict=True))
        self.register.total += len(codes)
        return [
            {
                "uscc": code,
                "name": name,
                "territory_id": territory_id,
                "industry_id": industry_id,
                "address": address,
                "contact_name": contact,
                "contact_phone": phone,
            }
            for code, name, territory_id, industry_id, address, contact, phone in zip(
                codes, names, territory_ids, industry_ids, addresses, contacts, phones, strict=True
            )
        ]

    def _row_by_row(self, raws: list[list[Any]], first_number: int) -> list[dict[str, str]]:
        """Every row on its own: each problem of each row is named in the register's errors."""
        valid: list[dict[str, str]] = []
        for number, raw in enumerate(raws, start=first_number):
            width = len(raw)
            values: dict[str, str] = {}
            for f, i in self.order:
                value = raw[i] if 0 <= i < width else None
                values[f] = value.strip() if value.__class__ is str else _cell(value)  # type: ignore[union-attr]
            if not any(values.values()):
                continue
            self.register.total += 1
            errors = _row_errors(
                number, values, self.seen, self.territories, self.industries, self.allowed, self.heading
            )
            if errors:
                self.register.errors.extend(errors)
                continue
            valid.append(
                {
                    "uscc": values["uscc"],
                    "name": values["name"],
                    "territory_id": self.territories[values["territory"]],
                    "industry_id": self.industries[values["industry"]],
                    "address": values["address"],
                    "contact_name": values["contact_name"],
                    "contact_phone": values["contact_phone"],
                }
            )
        return valid


def _checked_chunks(
    source: IO[bytes] | bytes,
    register: Register,
    *,
    lookups: tuple[dict[str, str], dict[str, str]],
    territories_allowed: set[str] | None,
) -> Iterator[list[dict[str, str]]]:
    """The valid rows of a register, chunk by chunk; every bad row goes to `register.errors`.

    Rows are checked in blocks of BLOCK; the first chunk is small so that a writer waiting for it
    starts early."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    register.sheet_rows, rows = _sheet_rows(source)
    first = next(rows, None)
    if first is None:
        raise RegisterFileError(_("The workbook is empty."))
    names = [_cell(h) for h in first]
    positions = {COLUMNS[h]: i for i, h in enumerate(names) if h in COLUMNS}
    missing = [h for h, f in COLUMNS.items() if f in REQUIRED and f not in positions]
    if missing:
        raise RegisterFileError(
            _("This is not an enterprise register: the first row lacks the columns %(columns)s.")
            % {"columns": "、".join(missing)}
        )
    checker = _Checker(positions, lookups, territories_allowed, register)
    number = 2
    size = FIRST_CHUNK
    chunk: list[dict[str, str]] = []
    while block := list(itertools.islice(rows, BLOCK)):
        chunk.extend(checker.block(block, number))
        number += len(block)
        if len(chunk) >= size:
            yield chunk
            chunk, size = [], CHUNK
    if chunk:
        yield chunk


def read_register(source: IO[bytes] | bytes, *, territories_allowed: set[str] | None = None) -> Register:
    """Read and check a register, writing nothing; `territories_allowed` limits a district to its own
    territory."""
    register = Register()
    for chunk in _checked_chunks(
        source, register, lookups=_lookups(), territories_allowed=territories_allowed
    ):
        register.rows.extend(chunk)
    return register


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.created + self.updated + self.unchanged


def apply_register(
    rows: list[dict[str, str]], *, progress: Callable[[int], None] | None = None
) -> ApplyResult:
    """Create new enterprises and update changed ones, chunk by chunk, keyed by USCC."""
    now = timezone.now().isoformat()
    chunks = ((rows[i : i + CHUNK], None) for i in range(0, len(rows), CHUNK))
    return _apply_chunks(chunks, progress, expected=lambda: len(rows), now=now)


def import_register(
    source: IO[bytes] | bytes,
    *,
    territories_allowed: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Register, ApplyResult]:
    """Read, check and write an accepted register in one pass, keyed by USCC: a background thread
    reads and checks the next chunk while the database writes this one (on two cores the reading
    and the writing overlap). Bad rows are skipped and returned with their reasons, as the preview
    listed them; the returned register keeps no rows."""
    register = Register()
    now = timezone.now().isoformat()
    chunks = _checked_chunks(source, register, lookups=_lookups(), territories_allowed=territories_allowed)
    # The reader also writes each chunk out as new rows in COPY text (contacts' phones encrypted),
    # the usual case, so the writer only sends it — unless the last chunk written held no new row
    # (a re-run of a file already imported), when encrypting in advance would be wasted.
    last_had_new = [True]

    def written(created: int) -> None:
        last_had_new[0] = created > 0

    prepared = ((chunk, _new_rows_text(chunk, now) if last_had_new[0] else None) for chunk in chunks)
    reader = _read_ahead(prepared)
    try:
        result = _apply_chunks(
            reader, progress, expected=lambda: register.sheet_rows - 1, now=now, written=written
        )
    finally:
        reader.close()  # stops the reading thread at once if the writing failed
    return register, result


_DONE = object()
_T = TypeVar("_T")
Chunk = tuple[list[dict[str, str]], str | None]  # rows, and the same rows in COPY text if prepared
Known = dict[str, tuple[str, ...]]


def _read_ahead(chunks: Iterator[_T]) -> Generator[_T, None, None]:
    """The chunks, produced by a background thread up to two ahead of the consumer. The thread
    touches no database; it reads in the caller's language, and stops when the consumer does: the
    consumer sets `stop` and empties the handoff, which frees the thread if it is waiting to hand a
    chunk over. After that the thread puts at most two items (the chunk in hand, then the end or an
    error), which the emptied handoff holds. No wait has a timeout: under libfaketime (`make
    test-clock`) a timed wait of a thread measures its timeout against the real clock and never ends."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    language = translation.get_language()

    def produce() -> None:
        with translation.override(language):
            try:
                for chunk in chunks:
                    if stop.is_set():
                        return
                    handoff.put(chunk)
                handoff.put(_DONE)
            except BaseException as exc:  # handed to the consumer, which raises it
                handoff.put(exc)

    reader = threading.Thread(target=produce, name="register-reader", daemon=True)
    reader.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with suppress(queue.Empty):
            while True:
                handoff.get_nowait()
        reader.join()


def _apply_chunks(
    chunks: Iterable[Chunk],
    progress: Callable[[int], None] | None,
    *,
    expected: Callable[[], int],
    now: str,
    written: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Each chunk in its own transaction, so progress is visible and a re-run completes an import
    that stopped half-way (rows are keyed by USCC); or, for a bulk load on PostgreSQL, all of them
    in one transaction around which the table's secondary indexes are built again."""
    result = ApplyResult()
    remaining = iter(chunks)
    first = next(remaining, None)
    if first is None:
        return result

    def write(chunk: Chunk, known: Known | None = None) -> None:
        created, updated = upsert(chunk, known, now)
        result.created += created
        result.updated += updated
        result.unchanged += len(chunk[0]) - created - updated
        if written:
            written(created)

    upsert: Callable[[Chunk, Known | None, str], tuple[int, int]]
    if connection.vendor != "postgresql":
        upsert = _upsert_orm
    else:
        upsert = _upsert_postgresql
        if _is_bulk_load(expected()):
            with transaction.atomic(), _secondary_indexes_rebuilt() as known:
                for chunk in itertools.chain([first], remaining):
                    write(chunk, known)
                    if progress:
                        progress(result.written)  # seen by others when the load commits
            return result
    for chunk in itertools.chain([first], remaining):
        with transaction.atomic():
            write(chunk)
        if progress:
            progress(result.written)
    return result


def _is_bulk_load(expected: int) -> bool:
    """A file of at least REGISTER_BULK_LOAD_MIN_ROWS rows into a registry holding at most half as
    many: building the indexes again over the whole table then costs less than inserting each row
    into them (at 100,000 rows into an empty registry, half a second against over a second)."""
    if expected < settings.REGISTER_BULK_LOAD_MIN_ROWS:
        return False
    # Counted before the load takes its locks: an import that then waits for another may build the
    # indexes over a larger table than counted — still right, only slower.
    table = Enterprise._meta.db_table
    limit = expected // 2 + 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %s) AS existing", [limit])  # noqa: S608
        (existing,) = cursor.fetchone()
    return bool(existing < limit)


@contextmanager
def _secondary_indexes_rebuilt() -> Iterator[Known]:
    """PostgreSQL's own advice for populating a table ("Populating a Database" in its manual):
    remove the indexes and foreign keys, load, and create them again — one sorted build per index
    and one join per foreign key instead of an index insertion and a trigger per row. The primary
    key and the unique USCC stay, so a duplicate is still refused as it arrives. Runs inside the
    caller's transaction, so a failure leaves every index and constraint as it was; the table is
    locked meanwhile, and pages that read the registry wait for the load (seconds). Yields the
    table's rows by USCC, read once under the lock: no one else can change them until the end."""
    table = Enterprise._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('phaseout.register_import'))")
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        # PostgreSQL alters no table with trigger events pending in the transaction (foreign keys
        # checked at commit, when the caller wrote before): check them now, and defer again after.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            """
            SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = %(table)s::regclass AND NOT i.indisprimary AND NOT i.indisunique
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            UNION ALL
            SELECT 'constraint', conname, pg_get_constraintdef(oid)
              FROM pg_constraint WHERE conrelid = %(table)s::regclass AND contype = 'f'
            """,
            {"table": table},
        )
        removed = cursor.fetchall()
        quote = connection.ops.quote_name
        for kind, name, _definition in removed:
            if kind == "index":
                cursor.execute(f"DROP INDEX {quote(name)}")
            else:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        cursor.execute(f"SELECT {', '.join(('uscc', *FIELDS))} FROM {table}")  # noqa: S608
        known = {row[0]: opened(row[1:]) for row in cursor.fetchall()}
    yield known
    with connection.cursor() as cursor:
        for kind, name, definition in removed:
            if kind == "index":
                cursor.execute(definition)
            else:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django declares every foreign key


def _upsert_orm(chunk_and_text: Chunk, known: Known | None, now: str) -> tuple[int, int]:
    chunk = chunk_and_text[0]
    existing = {
        e["uscc"]: e
        for e in Enterprise.objects.filter(uscc__in=[r["uscc"] for r in chunk]).values("id", "uscc", *FIELDS)
    }
    new = [Enterprise(**r) for r in chunk if r["uscc"] not in existing]
    changed = [
        Enterprise(id=old["id"], uscc=r["uscc"], **{f: r[f] for f in FIELDS})
        for r in chunk
        if (old := existing.get(r["uscc"])) is not None and any(old[f] != r[f] for f in FIELDS)
    ]
    Enterprise.objects.bulk_create(new, batch_size=500)
    Enterprise.objects.bulk_update(changed, FIELDS, batch_size=500)
    if changed:  # the lines of a changed enterprise follow it (ProductionLine.territory, .industry)
        of_enterprise = Enterprise.objects.filter(pk=OuterRef("enterprise_id"))
        ProductionLine.objects.filter(enterprise_id__in=[e.id for e in changed]).update(
            territory_id=Subquery(of_enterprise.values("territory_id")[:1]),
            industry_id=Subquery(of_enterprise.values("industry_id")[:1]),
        )
    return len(new), len(changed)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[dict[str, str]], columns: tuple[str, ...], suffix: str = "") -> str:
    """The rows' `columns`, each line ending in `suffix` (further columns of our own, led by a
    tab), in PostgreSQL's COPY text format. Joined as they are and then checked as a whole: only
    if some value holds a tab, a line break or a backslash are the values escaped one by one."""
    if not rows:
        return ""
    get: Callable[[dict[str, str]], tuple[str, ...]] = (
        itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
    )
    end = suffix + "\n"
    text = end.join(map("\t".join, map(get, rows))) + end
    tabs = len(columns) - 1 + suffix.count("\t")
    if text.count("\t") != len(rows) * tabs or text.count("\n") != len(rows) or "\\" in text or "\r" in text:
        text = "".join("\t".join(v.translate(_COPY_ESCAPES) for v in get(r)) + end for r in rows)
    return text


def sealed(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows as stored: the SEALED columns encrypted (each value its own nonce)."""
    for f, purpose in SEALED.items():
        tokens = crypto.encrypt_many(purpose, [r[f] for r in rows])
        rows = [{**r, f: token} for r, token in zip(rows, tokens, strict=True)]
    return rows


def opened(stored: tuple[str, ...]) -> tuple[str, ...]:
    """A row of FIELDS as read from the table, its SEALED columns decrypted."""
    values = list(stored)
    for i, purpose in _SEALED_AT.items():
        if values[i]:
            values[i] = crypto.decrypt(values[i], purpose)
    return tuple(values)


def _new_rows_text(rows: list[dict[str, str]], now: str) -> str:
    """Rows as new enterprises in COPY text: the columns of COLUMN_ORDER, created_at, updated_at."""
    return copy_text(sealed(rows), COLUMN_ORDER, f"\t{now}\t{now}")


def _upsert_postgresql(chunk_and_text: Chunk, known: Known | None, now: str) -> tuple[int, int]:
    """New rows go straight in by COPY (PostgreSQL's bulk path, several times faster than INSERT);
    changed rows are COPYed into a temporary table and updated from it in one statement. `known`:
    the table's rows by USCC when the caller holds the table (a bulk load), else they are looked up."""
    chunk, text = chunk_and_text
    table = Enterprise._meta.db_table
    column_list = ", ".join(COLUMN_ORDER)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if known is None:
            # Imports take turns, so no other import creates one of these rows between the look-up
            # and the COPY. Only names from the model's own metadata are formatted into SQL.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('phaseout.register_import'))")
            cursor.execute(
                f"SELECT {column_list} FROM {table} WHERE uscc = ANY(%s)",  # noqa: S608
                [[r["uscc"] for r in chunk]],
            )
            existing = {row[0]: opened(row[1:]) for row in cursor.fetchall()}
        else:
            existing = known
        new = [r for r in chunk if r["uscc"] not in existing]
        changed = [
            r
            for r in chunk
            if (old := existing.get(r["uscc"])) is not None and old != tuple(r[f] for f in FIELDS)
        ]
        if known is not None:
            for r in new:
                known[r["uscc"]] = tuple(r[f] for f in FIELDS)
        if new:
            if text is None or len(new) != len(chunk):
                text = _new_rows_text(new, now)
            with raw.copy(f"COPY {table} ({column_list}, created_at, updated_at) FROM STDIN") as copy:
                copy.write(text)
        if changed:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS register_import (uscc varchar(18), name varchar(120),"
                " territory_id varchar(6), industry_id varchar(50), address varchar(200),"
                " contact_name text, contact_phone text) ON COMMIT DELETE ROWS"
            )
            with raw.copy(f"COPY register_import ({column_list}) FROM STDIN") as copy:
                copy.write(copy_text(sealed(changed), COLUMN_ORDER))
            assignments = ", ".join(f"{f} = r.{f}" for f in FIELDS)
            cursor.execute(
                f"UPDATE {table} AS e SET {assignments}, updated_at = %s FROM register_import AS r"  # noqa: S608
                " WHERE e.uscc = r.uscc",
                [now],
            )
            # The lines of a changed enterprise follow it (ProductionLine.territory, .industry).
            cursor.execute(
                "UPDATE registry_productionline AS l SET territory_id = e.territory_id,"
                " industry_id = e.industry_id FROM registry_enterprise AS e, register_import AS r"
                " WHERE e.uscc = r.uscc AND l.enterprise_id = e.id"
                " AND (l.territory_id IS DISTINCT FROM e.territory_id"
                " OR l.industry_id IS DISTINCT FROM e.industry_id)"
            )
    return len(new), len(changed)
