"""On PostgreSQL, trigram indexes for the portal's name search (substring, LIKE '%...%'): on `search` for
three characters and more, on `bigrams` for two.

pg_trgm is created here, only when the database is PostgreSQL (creating an extension needs the right to
do so; a DBA may create it beforehand, IF NOT EXISTS then does nothing). SQLite keeps a plain filter.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS entry_search_trgm_idx ON disclosure_entry USING gin (search gin_trgm_ops)"
    )
    # Two-character queries: each two-character window is a word of `bigrams` (models.bigrams_of).
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS entry_bigrams_trgm_idx ON disclosure_entry USING gin (bigrams gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS entry_search_trgm_idx")
    schema_editor.execute("DROP INDEX IF EXISTS entry_bigrams_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("disclosure", "0003_entries_as_rows")]

    operations = [migrations.RunPython(create, drop)]
