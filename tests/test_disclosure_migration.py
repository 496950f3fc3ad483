"""Migration 0005: the JSON rows of every snapshot become entries, in order, nothing lost; a snapshot
already approved has its entries approved by its approver, a draft's stay undecided; the reverse puts the
rows back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("disclosure", "0004_entries_trigram_index")]
AFTER = [("disclosure", "0006_remove_snapshot_rows")]
APPROVED_AT = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
ROW = {
    "enterprise": "江门市某水泥有限公司",
    "uscc": "91440700MA0000001X",
    "territory": "蓬江区",
    "industry": "水泥",
    "equipment": "1号熟料生产线",
    "capacity": "2500 t/d",
    "basis": "熟料单位产品综合能耗限额",
    "legal_basis": "GB 16780",
    "since": "2026-03-02",
    "case": "2026-000001",
    "department": "jm-fgj",
}


@pytest.mark.django_db(transaction=True)
def test_the_json_rows_become_entries_and_come_back() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="office")
        Snapshot = old.get_model("disclosure", "Snapshot")
        rows = [
            ROW,
            {**ROW, "enterprise": "ＡＢＣ陶瓷", "uscc": "91440700MA0000002X", "measured": "130 kgce/t"},
            {"enterprise": "旧格式企业", "uscc": None},  # an older row: keys missing, a null
        ]
        published = Snapshot.objects.create(
            kind="yellow", as_of=dt.date(2026, 3, 2), status="published", rows=rows, created_by=user,
            approved_by=user, approved_at=APPROVED_AT, published_at=APPROVED_AT,
        )  # fmt: skip
        draft = Snapshot.objects.create(kind="yellow", as_of=dt.date(2026, 3, 3), rows=[ROW], created_by=user)
        empty = Snapshot.objects.create(kind="red", as_of=dt.date(2026, 3, 3), rows=[], created_by=user)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        Entry = new.get_model("disclosure", "Entry")
        got = list(
            Entry.objects.filter(snapshot_id=published.pk)
            .order_by("position")
            .values_list("position", "enterprise", "uscc", "search", "measured", "case", "department",
                         "decision", "decided_by_id", "decided_at")
        )  # fmt: skip
        assert got == [
            (1, "江门市某水泥有限公司", ROW["uscc"], "江门市某水泥有限公司", "", "2026-000001", "jm-fgj",
             "approved", user.pk, APPROVED_AT),
            (2, "ＡＢＣ陶瓷", "91440700MA0000002X", "abc陶瓷", "130 kgce/t", "2026-000001", "jm-fgj",
             "approved", user.pk, APPROVED_AT),
            (3, "旧格式企业", "", "旧格式企业", "", "", "", "approved", user.pk, APPROVED_AT),
        ]  # fmt: skip
        assert list(
            Entry.objects.filter(snapshot_id=draft.pk).values_list("position", "decision", "decided_by_id")
        ) == [(1, "undecided", None)]
        assert not Entry.objects.filter(snapshot_id=empty.pk).exists()
        counts = new.get_model("disclosure", "Snapshot").objects.values_list(
            "pk", "entry_count", "public_entries"
        )
        assert sorted(counts) == [(published.pk, 3, 3), (draft.pk, 1, 0), (empty.pk, 0, 0)]

        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        back = executor.loader.project_state(BEFORE).apps.get_model("disclosure", "Snapshot")
        assert back.objects.get(pk=draft.pk).rows == [ROW]
        restored = back.objects.get(pk=published.pk).rows
        assert restored[0] == ROW and restored[1]["measured"] == "130 kgce/t"
        assert restored[2] == {key: "" for key in ROW} | {"enterprise": "旧格式企业"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
