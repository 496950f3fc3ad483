from typing import Any

from django.db import migrations


def install(apps: Any, schema_editor: Any) -> None:
    """The append-only triggers, for the engine at hand (phaseout.audit.maintenance says what they
    refuse and the one way past them). On SQLite a later migration that rebuilds audit_auditevent drops
    them: it must install them again (a test checks they are there)."""
    from phaseout.audit import maintenance

    maintenance.install(schema_editor.connection)


def uninstall(apps: Any, schema_editor: Any) -> None:
    from phaseout.audit import maintenance

    maintenance.uninstall(schema_editor.connection, drop_function=True)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_seq_required_and_filter_indexes"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
