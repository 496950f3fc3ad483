"""Contacts' names encrypted at rest (SM4, phaseout.crypto), like their phone numbers (0006): the column
becomes text, then every plaintext name is encrypted, by primary-key batches."""

import phaseout.crypto.fields
from django.db import migrations

from phaseout.crypto.rotation import migration


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_import_batch_checking_status"),
    ]

    operations = [
        migrations.AlterField(
            model_name="enterprise",
            name="contact_name",
            field=phaseout.crypto.fields.EncryptedTextField(
                blank=True,
                legacy="plaintext",
                max_length=40,
                purpose="registry.contact_name",
                verbose_name="contact person",
            ),
        ),
        migrations.RunPython(
            *migration("registry_enterprise", "contact_name", "registry.contact_name", "plaintext")
        ),
    ]
