"""Lists that work like officials' lists: a total, filters kept in the address, sorting by a column, and
the filtered rows exported to .xlsx — all of them, not a page.

A list states its columns once (`Column`: heading, the value in the spreadsheet, and the database field it
sorts by, if any); the page, the sort links and the export read the same columns.

- Sorting: `?sort=name` or `?sort=-name`, only by a column that declares a field (an unknown key keeps the
  list's own order); the primary key breaks ties, so pages do not overlap.
- The total is counted in the database up to COUNT_CAP and shown as "more than …" beyond, so that a list
  over a province's million records costs the same as over a thousand.
- The export reads the rows in chunks from the database and writes them to a temporary file with
  rust_xlsxwriter (rustpy-xlsxwriter) in its constant-memory mode, memory flat whatever the count, every
  text cell formula-safe (phaseout.exports), and is streamed from the file. openpyxl's write-only mode
  wrote ~10,000 rows/s; this writer several times that (ADR 25, benchmarks/bench_exports.py). An export
  of no row (a header only) is still written by openpyxl. A list whose every column says how to read it
  from a plain row (`Column.path` / `Column.row`) is exported from `values()` rows, no model instance
  made per row.
"""

from __future__ import annotations

import itertools
import operator
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.functional import Promise

from phaseout.exports import row as safe_row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COUNT_CAP = 10_000
EXPORT_CHUNK = 2000


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    value: Callable[[Any], Any]
    sort: str = ""  # the field it sorts by; none: not sortable
    on_page: bool = True  # False: in the export only (e.g. an address too long for the list)
    # The export's value from a row of `values()` (a dict): the field `path` as read, or `row(dict)`.
    # When every column of a list says one, its export reads plain rows, not model instances.
    path: str = ""
    row: Callable[[dict[str, Any]], Any] | None = None

    def from_row(self) -> Callable[[dict[str, Any]], Any]:
        return self.row if self.row is not None else operator.itemgetter(self.path)


@dataclass(frozen=True)
class ListSpec:
    columns: Sequence[Column]
    default_order: tuple[str, ...] = ("-id",)
    reads: tuple[str, ...] = ()  # the further fields the columns' `row` read

    def values(self) -> tuple[str, ...] | None:
        """The fields the export reads as plain rows; None if a column reads only a model instance."""
        if not all(c.path or c.row is not None for c in self.columns):
            return None
        return tuple(dict.fromkeys([*(c.path for c in self.columns if c.path), *self.reads]))

    def ordering(self, request: HttpRequest) -> tuple[tuple[str, ...], str]:
        """The order asked for (`?sort=key` / `-key`) if a column sorts by it, else the list's own."""
        asked = (request.GET.get("sort") or "")[:40]
        key = asked.removeprefix("-")
        column = next((c for c in self.columns if c.key == key and c.sort), None)
        if column is None:
            return self.default_order, ""
        descending = asked.startswith("-")
        return ((f"-{column.sort}" if descending else column.sort), "-pk" if descending else "pk"), asked

    def headings(self, request: HttpRequest, current: str) -> list[dict[str, Any]]:
        """Each column's heading with its sort link (keeping the filters), and the direction it is sorted."""
        query = request.GET.copy()
        query.pop("page", None)
        shown = []
        for column in self.columns:
            if not column.on_page:
                continue
            link = ""
            direction = ""
            if column.sort:
                if current == column.key:
                    direction, next_sort = "asc", f"-{column.key}"
                elif current == f"-{column.key}":
                    direction, next_sort = "desc", column.key
                else:
                    next_sort = column.key
                query["sort"] = next_sort
                link = "?" + query.urlencode()
            shown.append({"label": column.label, "link": link, "direction": direction})
        return shown


def label_of(model: Any, field: str) -> Callable[[Any], Any]:
    """A column's value: the label of the field's choice (as `get_<field>_display`), looked up in a table
    made once — Django's own method hashes every choice on each call, a quarter of a millisecond a row
    in an export of a hundred thousand."""
    labels = dict(model._meta.get_field(field).flatchoices)

    def label(obj: Any) -> Any:
        value = getattr(obj, field)
        return labels.get(value, value)

    return label


def choice_of(model: Any, field: str, path: str = "") -> Callable[[dict[str, Any]], Any]:
    """A column's `row`: the label of the choice in the row's `path` (default: the field's name)."""
    labels = dict(model._meta.get_field(field).flatchoices)
    key = path or field

    def label(row: dict[str, Any]) -> Any:
        value = row[key]
        return labels.get(value, value)

    return label


def capped_count(qs: QuerySet[Any]) -> tuple[int, bool]:
    """How many rows, counted up to COUNT_CAP (True when there are more)."""
    n = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP


def estimated_count(qs: QuerySet[Any]) -> int | None:
    """The planner's estimate of how many rows (PostgreSQL: EXPLAIN, nothing is read), for a list whose
    exact count would scan millions; None where the database gives none."""
    import json

    from django.db import connections

    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = qs.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def _beyond(estimate: int | None, counted: int) -> int | None:
    """The estimate, when it says more than was counted (else it says nothing worth showing)."""
    return estimate if estimate is not None and estimate > counted else None


def listing(request: HttpRequest, qs: QuerySet[Any], spec: ListSpec) -> dict[str, Any]:
    """What a list page needs besides its rows: the ordered query set, headings, total (counted up to
    COUNT_CAP, beyond it the database's estimate, said so), export link."""
    order, current = spec.ordering(request)
    total, more = capped_count(qs)
    query = request.GET.copy()
    query.pop("page", None)
    query["format"] = "xlsx"
    return {
        "ordered": qs.order_by(*order),
        "headings": spec.headings(request, current),
        "total": total,
        "more": more,
        "estimate": _beyond(estimated_count(qs), total) if more else None,
        "export_query": query.urlencode(),
    }


def xlsx_file(rows: Any, spec: ListSpec, title: str) -> tuple[IO[bytes], int]:
    """Every row of `rows` (a query set, read in chunks) as .xlsx in a temporary file, and how many."""
    import os

    from rustpy_xlsxwriter import FastExcel

    headings = [str(c.label) for c in spec.columns]
    fields = spec.values() if isinstance(rows, QuerySet) else None
    if fields is not None:  # plain rows from the server-side cursor: no model instance is made
        getters = [column.from_row() for column in spec.columns]
        source = rows.values(*fields).iterator(chunk_size=EXPORT_CHUNK)
    else:
        getters = [column.value for column in spec.columns]
        source = rows.iterator(chunk_size=EXPORT_CHUNK) if isinstance(rows, QuerySet) else rows
    values = (safe_row([_plain(get(obj)) for get in getters]) for obj in source)
    head = list(itertools.islice(values, EXPORT_CHUNK))  # a bounded look ahead: each column's kind
    if not head or len(set(headings)) != len(headings):  # a header alone; headings a record cannot key
        return _openpyxl_file(headings, head, values, title)
    count = 0

    def records() -> Any:
        nonlocal count
        for row in itertools.chain(head, values):
            count += 1
            yield dict(zip(headings, row, strict=True))

    descriptor, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(descriptor)
    try:
        # Written to the path by the library (its own temporary files per sheet: constant memory), then
        # opened and unlinked: the response streams it and the file is gone when the response is closed.
        book = FastExcel(path).format(datetime_format=DATETIME_FORMAT)
        book.sheet(title[:31], records(), column_formats=_date_columns(headings, head)).save()
        handle = open(path, "rb")  # noqa: SIM115 (handed to the response, which closes it)
    finally:
        os.unlink(path)
    return handle, count


DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"  # openpyxl's for a date and time, as these exports had them
DATE_FORMAT = "yyyy-mm-dd"  # and for a day


def _date_columns(headings: list[str], head: list[list[Any]]) -> dict[str, Any]:
    """The columns whose first value (in the rows looked ahead) is a day, not a moment: shown as a day."""
    import datetime as dt

    from rustpy_xlsxwriter import Format

    formats = {}
    for index, heading in enumerate(headings):
        first = next((row[index] for row in head if row[index] not in ("", None)), None)
        if isinstance(first, dt.date) and not isinstance(first, dt.datetime):
            formats[heading] = Format().set_num_format(DATE_FORMAT)
    return formats


def _openpyxl_file(
    headings: list[str], head: list[list[Any]], rest: Any, title: str
) -> tuple[IO[bytes], int]:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(headings)
    count = 0
    for row in itertools.chain(head, rest):
        sheet.append(row)
        count += 1
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    book.save(handle)
    handle.seek(0)
    return handle, count


def xlsx_response(rows: Any, spec: ListSpec, *, filename: str, title: str) -> tuple[FileResponse, int]:
    handle, count = xlsx_file(rows, spec, title)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX), count


def _plain(value: Any) -> Any:
    if isinstance(value, Promise):
        return str(value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return timezone.localtime(value).replace(tzinfo=None)
    if value is None:
        return ""
    return value


def filters_of(request: HttpRequest) -> dict[str, str]:
    """The filters of a list as the audit entry of its export keeps them (bounded)."""
    return {k: str(v)[:60] for k, v in request.GET.items() if k not in ("page", "format")}


def list_response(
    request: HttpRequest,
    qs: QuerySet[Any],
    spec: ListSpec,
    *,
    template: str,
    context: dict[str, Any],
    filename: str,
    title: str,
    rows: Callable[[list[Any]], list[Any]] | None = None,
    form: Any = None,
) -> HttpResponseBase:
    """A list page, or with `?format=xlsx` every filtered row as .xlsx (the view is an
    `@audited_export`: the export is recorded before it is sent). `rows` adds what a page shows beside
    each row of the page. `form`: the list's filters, already applied by the view when valid."""
    from django.shortcuts import render

    from phaseout.audit.exports import exported
    from phaseout.web import form_errors, paginate

    if form is not None and form.is_bound and not form.is_valid():  # bad filters: said, and nothing shown
        form_errors(request, form)
        qs = qs.none()
    shown = listing(request, qs, spec)
    if request.GET.get("format") == "xlsx":
        response, count = xlsx_response(shown["ordered"], spec, filename=filename, title=title)
        return exported(response, format="xlsx", filter=filters_of(request), rows=count)
    page = paginate(request, shown["ordered"])
    if rows is not None:
        page["rows"] = rows(page["rows"])
    return render(request, template, {**context, **shown, **page})
