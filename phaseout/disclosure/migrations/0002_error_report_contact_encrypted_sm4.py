"""The contact left with an error report encrypted at rest (SM4, phaseout.crypto)."""

import phaseout.crypto.fields
from django.db import migrations

from phaseout.crypto.rotation import migration


class Migration(migrations.Migration):
    dependencies = [
        ("disclosure", "0001_published_lists"),
    ]

    operations = [
        migrations.AlterField(
            model_name="errorreport",
            name="contact",
            field=phaseout.crypto.fields.EncryptedTextField(
                blank=True,
                legacy="plaintext",
                max_length=100,
                purpose="disclosure.error_contact",
                verbose_name="contact (optional)",
            ),
        ),
        migrations.RunPython(
            *migration("disclosure_errorreport", "contact", "disclosure.error_contact", "plaintext")
        ),
    ]
