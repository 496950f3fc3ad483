"""Exports at a province's scale (issue 15: every export streams at >= 50,000 rows/s with constant memory).

On the page walk's database (benchmarks/bench_pages.py seeds it; BENCH_DB, default the 1 M-scale one),
each export is run in a process of its own at two sizes, so that its peak resident memory can be told
apart from the size (constant memory: the same peak at both sizes):

- xlsx: a list's .xlsx (phaseout.web.lists.xlsx_file: the production lines list, its columns and its
  query with the enterprise and territory joined), rows read from a server-side cursor;
  peer: the same rows and columns through openpyxl's write-only mode (what xlsx_file did before).
- csv: the public open-data CSV of a published list (phaseout.disclosure.views, streamed), over that many
  entries copied into the exited list's snapshot inside a transaction that is rolled back.
- ledger: the exit ledger's .xlsx as it is downloaded (the whole response read): the office's (a city)
  at the smaller size, the provincial office's (every city) at the larger.
- enterprises, lines, cases: the office's list exports downloaded through their views, filtered to tens
  of thousands of rows (the sizes pick a smaller or a larger filter; the rows are what the filter holds).
- audit: the auditor's export of that many entries, each about a different case (named by its number and
  enterprise), inserted for the run in a transaction that is rolled back.

Prints rows/s, seconds, peak RSS and bytes per export, and the load average beside them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import use_database

DATABASE = os.environ.get("BENCH_DB", "phaseout_pages_1000")
SIZES = [int(n) for n in os.environ.get("BENCH_EXPORT_SIZES", "25000,100000").split(",")]
TARGET = 50_000  # rows/s


def _lines(n: int) -> Any:
    from phaseout.registry.models import ProductionLine

    ids = ProductionLine.objects.filter(territory="440705").order_by("id").values("id")[:n]
    lines = ProductionLine.objects.filter(id__in=ids).select_related("enterprise__territory").order_by("id")
    return lines.defer(
        "enterprise__contact_name", "enterprise__contact_phone"
    )  # as the list's view reads them


def _xlsx(n: int) -> tuple[int, int]:
    from phaseout.registry.views import LINES
    from phaseout.web.lists import xlsx_file

    handle, count = xlsx_file(_lines(n), LINES, "生产线")
    size = len(handle.read())
    handle.close()
    return count, size


def _xlsx_openpyxl(n: int) -> tuple[int, int]:
    import tempfile

    from openpyxl import Workbook

    from phaseout.exports import row as safe_row
    from phaseout.registry.views import LINES
    from phaseout.web.lists import _plain

    book = Workbook(write_only=True)
    sheet = book.create_sheet("生产线")
    sheet.append([str(c.label) for c in LINES.columns])
    count = 0
    for obj in _lines(n).iterator(chunk_size=2000):
        sheet.append(safe_row([_plain(c.value(obj)) for c in LINES.columns]))
        count += 1
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        return count, handle.tell()


def _csv(n: int) -> tuple[int, int]:
    from django.db import connection, transaction

    from phaseout.disclosure import views
    from phaseout.disclosure.models import Snapshot

    with transaction.atomic():
        snapshot = Snapshot.objects.filter(kind="exited", status="published").order_by("-id").first()
        assert snapshot is not None, "the demo's published list of exited lines"
        columns = [
            f.column
            for f in snapshot.entries.model._meta.concrete_fields
            if f.column not in ("id", "position")
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(position) FROM disclosure_entry WHERE snapshot_id = %s", [snapshot.pk])
            top = cursor.fetchone()[0] or 0
            cursor.execute(
                f"INSERT INTO disclosure_entry ({listed}, position) SELECT {listed}, %s + g"
                " FROM (SELECT * FROM disclosure_entry WHERE snapshot_id = %s AND decision = 'approved'"
                " ORDER BY position LIMIT 1) e, generate_series(1, %s) g",
                [top, snapshot.pk, n],
            )
        started = time.perf_counter()
        count, size = -1, 0  # the heading line is not a row
        for line in views._csv_lines(views._open_rows(snapshot)):
            count += 1
            size += len(line.encode())
        _ELAPSED.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    return count, size


def _ledger(n: int) -> tuple[int, int]:
    """The whole ledger the office sees (a city: ~54,000 rows at full scale) for n <= 60,000, else the
    province's (every city)."""
    from io import BytesIO

    from django.contrib.auth import get_user_model
    from openpyxl import load_workbook

    from benchmarks.common import signed_in

    client = signed_in(get_user_model().objects.get(username="office" if n <= 60_000 else "province"))
    started = time.perf_counter()
    response = client.get("/reports/ledger/", {"format": "xlsx"})
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content) if response.streaming else response.content
    _ELAPSED.append(time.perf_counter() - started)
    rows = load_workbook(BytesIO(body), read_only=True).worksheets[0].max_row - 1
    return rows, len(body)


def _download(username: str, url: str, query: dict[str, str]) -> tuple[int, int]:
    """A list's .xlsx as it is downloaded through its view (the whole response read): rows and bytes."""
    from io import BytesIO

    from django.contrib.auth import get_user_model
    from openpyxl import load_workbook

    from benchmarks.common import signed_in

    client = signed_in(get_user_model().objects.get(username=username))
    started = time.perf_counter()
    response = client.get(url, {**query, "format": "xlsx"} if "format" not in query else query)
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content) if response.streaming else response.content
    _ELAPSED.append(time.perf_counter() - started)
    sheet = load_workbook(BytesIO(body), read_only=True).worksheets[0]
    # (openpyxl's write-only files state no dimension: their rows are counted)
    rows = (sheet.max_row or sum(1 for _ in sheet.iter_rows(values_only=True))) - 1
    return rows, len(body)


# The office's lists (Jiangmen, 7 of the 13 counties), filtered to tens of thousands of rows; n <= 30,000
# takes the smaller filter.
def _enterprises_list(n: int) -> tuple[int, int]:
    small = {"territory": "440705", "industry": "steel"}
    return _download("office", "/enterprises/", small if n <= 30_000 else {"territory": "440705"})


def _lines_list(n: int) -> tuple[int, int]:
    return _download("office", "/lines/", {"status": "exited"})  # one filter: the exited lines


def _cases_list(n: int) -> tuple[int, int]:
    small = {"state": "overdue", "territory": "440705"}
    return _download("office", "/cases/", small if n <= 30_000 else {"state": "overdue"})


def _audit(n: int) -> tuple[int, int]:
    """The auditor's export of n entries about n different cases (each named by its number and its
    enterprise): the entries inserted in a transaction that is rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditevent (action, object_type, object_id, at, ip, reason, data,"
                " actor_id, outcome, seq, actor_name, unit, key_version, prev_mac, mac)"
                " SELECT 'case.evidence_added', 'cases.case', c.id::text, now(), '10.0.0.1', '抽查', '{}',"
                " (SELECT id FROM auth_user WHERE username = 'office'), 'success',"
                " 1000000000000 + row_number() OVER (ORDER BY c.id),"  # above the sequence (sign-ins)
                " 'office', '江门市工业和信息化局', 1, '', ''"
                " FROM (SELECT id FROM cases_case ORDER BY id DESC LIMIT %s) c",
                [n],
            )
        rows, size = _download("auditor", "/audit/export.xlsx", {"action": "case.evidence_added"})
        transaction.set_rollback(True)
    return rows, size


_ELAPSED: list[float] = []
KINDS = {
    "xlsx": _xlsx,
    "xlsx-openpyxl": _xlsx_openpyxl,
    "csv": _csv,
    "ledger": _ledger,
    "enterprises": _enterprises_list,
    "lines": _lines_list,
    "cases": _cases_list,
    "audit": _audit,
}
MEASURED = ("xlsx", "csv", "ledger", "enterprises", "lines", "cases", "audit")  # against the target


def one(kind: str, n: int) -> dict[str, Any]:
    use_database(DATABASE)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    rows, size = KINDS[kind](n)
    took = _ELAPSED[0] if _ELAPSED else time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind,
        "asked": n,
        "rows": rows,
        "seconds": took,
        "rows_per_s": rows / took,
        "peak_mib": peak / 1024,
        "grew_mib": (peak - baseline) / 1024,
        "bytes": size,
    }


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
        return 0
    kinds = [k for k in os.environ.get("BENCH_EXPORTS", ",".join(KINDS)).split(",") if k]
    print(f"database {DATABASE}; load average before: {os.getloadavg()}", flush=True)
    results = []
    for kind in kinds:
        for n in SIZES:
            out = subprocess.run(
                [sys.executable, __file__, "one", kind, str(n)], capture_output=True, text=True, check=False
            )
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(
                f"{kind:<14}{r['rows']:>9,} rows {r['seconds']:>7.2f} s {r['rows_per_s']:>9,.0f} rows/s"
                f"  peak RSS {r['peak_mib']:>6.0f} MiB (grew {r['grew_mib']:>5.0f})"
                f"  {r['bytes'] / 1e6:>6.1f} MB"
                f"  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}")
    slow = [r for r in results if r["kind"] in MEASURED and r["rows_per_s"] < TARGET]
    measured = sum(r["kind"] != "xlsx-openpyxl" for r in results)
    print(f"exports under {TARGET:,} rows/s: {len(slow)} of {measured}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
