"""The exit ledger's .xlsx export of 100,000 rows (target: at most 5 s), printed beside a plain
openpyxl write of the same rows (a normal, not write-only, workbook)."""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phaseout.settings")

import django

django.setup()

from openpyxl import Workbook  # noqa: E402

from phaseout.reports.documents import COLUMNS, xlsx_bytes  # noqa: E402
from phaseout.reports.ledger import Row  # noqa: E402

N = int(os.environ.get("BENCH_ROWS", "100000"))


def rows() -> list[Row]:
    day = dt.date(2026, 3, 2)
    return [
        Row(
            line_id=i,
            enterprise_id=i,
            enterprise=f"江门市第{i}钢铁有限公司",
            uscc=f"91440700MA{i:07d}X",
            territory_code="440703",
            territory="蓬江区",
            industry_code="steel",
            industry="钢铁",
            line=f"{i}号高炉",
            capacity=Decimal(45 + i % 10),
            unit="10kt/a",
            unit_label="万吨/年",
            exited_on=day,
            case_id=i,
            case_number=f"2026-{i:06d}",
            method="seal_then_dismantle",
            method_label="断水断电、拆除动力装置、封存后拆除",
            dimension="technology",
            department_code="jm-gxj",
            department="江门市工业和信息化局",
            measures=[("断电", day), ("断水", day), ("封存主体设备", day), ("拆除", None)],
            accepted_on=day,
            announced_on=day,
        )
        for i in range(N)
    ]


def plain(data: list[Row]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for index, row in enumerate(data, start=1):
        first = [index, row.enterprise, row.uscc, row.territory, row.industry]
        sheet.append([*first, row.line, row.capacity, row.unit_label, row.method_label, row.exited_on])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def main() -> None:
    data = rows()
    started = time.perf_counter()
    ours = xlsx_bytes(data)
    mine = time.perf_counter() - started
    started = time.perf_counter()
    theirs = plain(data)
    baseline = time.perf_counter() - started
    print(f"ledger export, {N:,} rows, 14 columns with measures: {mine:.2f} s ({len(ours) / 1e6:.1f} MB)")
    print(f"plain openpyxl workbook, same rows, 10 columns: {baseline:.2f} s ({len(theirs) / 1e6:.1f} MB)")
    print(f"target 5 s: {'met' if mine <= 5 else 'NOT met'}")
    print(f"ratio plain / ours: {baseline / mine:.2f}x")


if __name__ == "__main__":
    main()
