"""Register import: a 100,000-row .xlsx into an empty registry (PostgreSQL), as an accepted import runs:
read, check and write in one pass (phaseout.registry.importer.import_register).

Baseline: django-import-export importing the same file (ModelResource keyed by USCC, foreign keys by
name, bulk mode, skip unchanged). Target: at least 50,000 rows/s.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import OUT, use_database

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
COUNTIES = [
    "蓬江区",
    "江海区",
    "新会区",
    "台山市",
    "开平市",
    "鹤山市",
    "恩平市",
    "源城区",
    "紫金县",
    "龙川县",
]
INDUSTRIES = ["钢铁", "水泥", "平板玻璃", "铸造", "其他"]


def make_file() -> Path:
    path = OUT / f"register-{ROWS}.xlsx"
    if path.exists():
        return path
    from openpyxl import Workbook
    from stdnum.cn import uscc

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["统一社会信用代码", "企业名称", "所属区县", "行业", "地址", "联系人", "联系电话"])
    for i in range(1, ROWS + 1):
        body = f"91440700{i:09d}"
        ws.append(
            [
                body + uscc.calc_check_digit(body),
                f"测试实业有限公司{i}",
                COUNTIES[i % 10],
                INDUSTRIES[i % 5],
                f"工业大道{i}号",
                "李工",
                "0750-3800000",
            ]
        )
    wb.save(path)
    return path


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE registry_enterprise RESTART IDENTITY CASCADE")


def ours(path: Path) -> float:
    """The accepted import as the platform runs it: read, check and write in one pass."""
    from phaseout.registry.importer import import_register, read_register

    started = time.perf_counter()
    with path.open("rb") as fh:
        preview = read_register(fh)
    print(f"phaseout preview (read and check, nothing written): {time.perf_counter() - started:.2f} s")
    assert len(preview.rows) == ROWS and not preview.errors, preview.errors[:3]
    started = time.perf_counter()
    with path.open("rb") as fh:
        register, result = import_register(fh)
    total = time.perf_counter() - started
    assert result.created == ROWS and not register.errors, (result, register.errors[:3])
    print(f"phaseout import (read, check and write): {total:.2f} s, {ROWS / total:,.0f} rows/s")
    started = time.perf_counter()
    with path.open("rb") as fh:
        _, again = import_register(fh)
    rerun = time.perf_counter() - started
    assert again.created == 0 and again.unchanged == ROWS
    print(f"phaseout re-run of the same file (all unchanged): {rerun:.2f} s, {ROWS / rerun:,.0f} rows/s")
    return ROWS / total


def ours_into_live_indexes(path: Path) -> None:
    """The same import written chunk by chunk into live indexes, as into a registry already larger
    than the file (where building the indexes again would cost more)."""
    from django.test import override_settings

    from phaseout.registry.importer import import_register

    started = time.perf_counter()
    with override_settings(REGISTER_BULK_LOAD_MIN_ROWS=10**9), path.open("rb") as fh:
        _, result = import_register(fh)
    took = time.perf_counter() - started
    assert result.created == ROWS
    print(
        f"phaseout import chunk by chunk into live indexes (a registry larger than the file): "
        f"{took:.2f} s, {ROWS / took:,.0f} rows/s"
    )


def theirs(path: Path) -> float:
    import tablib
    from import_export import fields, resources, widgets

    from phaseout.orgs.models import Territory
    from phaseout.registry.models import Enterprise, Industry

    class EnterpriseResource(resources.ModelResource):
        uscc = fields.Field(attribute="uscc", column_name="统一社会信用代码")
        name = fields.Field(attribute="name", column_name="企业名称")
        territory = fields.Field(
            attribute="territory", column_name="所属区县", widget=widgets.ForeignKeyWidget(Territory, "name")
        )
        industry = fields.Field(
            attribute="industry", column_name="行业", widget=widgets.ForeignKeyWidget(Industry, "name")
        )
        address = fields.Field(attribute="address", column_name="地址")
        contact_name = fields.Field(attribute="contact_name", column_name="联系人")
        contact_phone = fields.Field(attribute="contact_phone", column_name="联系电话")

        class Meta:
            model = Enterprise
            import_id_fields = ("uscc",)
            fields = ("uscc", "name", "territory", "industry", "address", "contact_name", "contact_phone")
            use_bulk = True
            batch_size = 5000
            skip_unchanged = True
            skip_diff = True

    started = time.perf_counter()
    dataset = tablib.Dataset().load(path.read_bytes(), format="xlsx")
    result = EnterpriseResource().import_data(dataset, dry_run=False, raise_errors=True)
    total = time.perf_counter() - started
    assert not result.has_errors() and Enterprise.objects.count() == ROWS
    print(f"django-import-export: total {total:.2f} s, {ROWS / total:,.0f} rows/s")
    return ROWS / total


def database_floor(path: Path) -> float:
    """For comparison: the already-checked rows, pre-formatted as COPY text, sent in one COPY into
    the table with its indexes and foreign keys live (what any loader that keeps them pays)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from phaseout.registry.importer import FIELDS, read_register

    with path.open("rb") as fh:
        rows = read_register(fh).rows
    now = timezone.now().isoformat()
    text = "".join("\t".join([r["uscc"], *(r[f] for f in FIELDS), now, now]) + "\n" for r in rows).encode()
    columns = ", ".join(("uscc", *FIELDS))
    started = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY registry_enterprise ({columns}, created_at, updated_at) FROM STDIN"
        ) as copy,
    ):
        copy.write(text)
    took = time.perf_counter() - started
    print(
        f"the database alone, one COPY of the checked rows into live indexes and foreign keys: "
        f"{took:.2f} s, {ROWS / took:,.0f} rows/s"
    )
    return took


def main() -> None:
    use_database("phaseout_bench_import", fresh=True)
    path = make_file()
    print(f"file: {path.name}, {path.stat().st_size / 1e6:.1f} MB, {ROWS} rows")
    truncate()
    mine = ours(path)
    truncate()
    ours_into_live_indexes(path)
    truncate()
    database_floor(path)
    truncate()
    baseline = theirs(path)
    print(f"target >= 50,000 rows/s: {'met' if mine >= 50000 else 'NOT met'} ({mine:,.0f} rows/s)")
    print(f"ratio vs django-import-export (rows/s): {mine / baseline:.1f}x")


if __name__ == "__main__":
    main()
