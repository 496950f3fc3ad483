"""Every snapshot's JSON rows become entries, in their order, set-based (bulk inserts in batches).

A snapshot drafted before entries had decisions was approved as a whole: its entries are approved, by the
person and at the moment the snapshot was approved; a draft's entries are undecided. Nothing is lost:
the reverse puts the rows back as they were.
"""

import unicodedata

from django.db import migrations

FIELDS = (
    "enterprise", "uscc", "territory", "industry", "equipment", "capacity", "basis", "legal_basis",
    "measured", "limit", "since", "case", "department",
)  # fmt: skip
BATCH = 5000


def _text(value):
    return "" if value is None else str(value)


def move_rows(apps, schema_editor):
    Snapshot = apps.get_model("disclosure", "Snapshot")
    Entry = apps.get_model("disclosure", "Entry")
    for snapshot in Snapshot.objects.order_by("pk").iterator(chunk_size=1):
        decided = snapshot.status != "draft"
        batch = []
        for position, row in enumerate(snapshot.rows or [], start=1):
            values = {name: _text(row.get(name)) for name in FIELDS}
            search = unicodedata.normalize("NFKC", values["enterprise"]).strip().lower()
            batch.append(
                Entry(
                    snapshot_id=snapshot.pk,
                    position=position,
                    search=search,
                    bigrams=" " + " ".join(search[i : i + 2] for i in range(len(search) - 1)) + " ",
                    decision="approved" if decided else "undecided",
                    decided_by_id=snapshot.approved_by_id if decided else None,
                    decided_at=snapshot.approved_at if decided else None,
                    **values,
                )
            )
            if len(batch) >= BATCH:
                Entry.objects.bulk_create(batch)
                batch = []
        Entry.objects.bulk_create(batch)
        count = len(snapshot.rows or [])
        Snapshot.objects.filter(pk=snapshot.pk).update(
            entry_count=count,
            public_entries=count if snapshot.status in ("published", "withdrawn", "superseded") else 0,
        )


def put_rows_back(apps, schema_editor):
    Snapshot = apps.get_model("disclosure", "Snapshot")
    Entry = apps.get_model("disclosure", "Entry")
    EntryEvent = apps.get_model("disclosure", "EntryEvent")
    for snapshot in Snapshot.objects.order_by("pk").iterator(chunk_size=1):
        entries = Entry.objects.filter(snapshot_id=snapshot.pk).order_by("position").values(*FIELDS)
        snapshot.rows = [
            {name: value for name, value in row.items() if value or name not in ("measured", "limit")}
            for row in entries.iterator(chunk_size=BATCH)
        ]
        snapshot.save(update_fields=["rows"])
    EntryEvent.objects.all().delete()
    Entry.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("disclosure", "0004_entries_trigram_index")]

    operations = [migrations.RunPython(move_rows, put_rows_back)]
