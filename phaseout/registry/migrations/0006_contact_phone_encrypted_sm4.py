"""Contacts' phone numbers encrypted at rest (SM4, phaseout.crypto): the column becomes text (tokens are
longer than the numbers), then every plaintext number is encrypted, by primary-key batches."""

import phaseout.crypto.fields
from django.db import migrations

from phaseout.crypto.rotation import migration


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_alter_productionline_status"),
    ]

    operations = [
        migrations.AlterField(
            model_name="enterprise",
            name="contact_phone",
            field=phaseout.crypto.fields.EncryptedTextField(
                blank=True,
                legacy="plaintext",
                max_length=30,
                purpose="registry.contact_phone",
                verbose_name="contact phone",
            ),
        ),
        migrations.RunPython(
            *migration("registry_enterprise", "contact_phone", "registry.contact_phone", "plaintext")
        ),
    ]
