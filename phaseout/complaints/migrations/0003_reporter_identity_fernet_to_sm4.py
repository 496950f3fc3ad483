"""Reporters' identities from Fernet (keyed by REPORTER_KEY or derived from SECRET_KEY) to SM4 under the
keyring's current version: each token is opened with the old key and encrypted again."""

import phaseout.crypto.fields
from django.db import migrations

from phaseout.crypto.rotation import migration


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0002_petitions_and_escalation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tipoff",
            name="reporter_name",
            field=phaseout.crypto.fields.SealedTextField(
                blank=True, legacy="fernet", purpose="complaints.reporter_name"
            ),
        ),
        migrations.AlterField(
            model_name="tipoff",
            name="reporter_phone",
            field=phaseout.crypto.fields.SealedTextField(
                blank=True, legacy="fernet", purpose="complaints.reporter_phone"
            ),
        ),
        migrations.RunPython(
            *migration("complaints_tipoff", "reporter_name", "complaints.reporter_name", "fernet")
        ),
        migrations.RunPython(
            *migration("complaints_tipoff", "reporter_phone", "complaints.reporter_phone", "fernet")
        ),
    ]
