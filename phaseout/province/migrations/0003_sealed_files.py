# The city's year summary document is sealed at rest like the other stored files (等保 L3-CES1-28): the
# field's storage seals new files; the data step seals the files already stored.

from django.db import migrations, models

import phaseout.crypto.storage

seal, unseal = phaseout.crypto.storage.migration("province", "YearSummary", "document")


class Migration(migrations.Migration):
    dependencies = [
        ("province", "0002_city_keys_and_overdue_summaries"),
    ]

    operations = [
        migrations.AlterField(
            model_name="yearsummary",
            name="document",
            field=models.FileField(
                blank=True,
                storage=phaseout.crypto.storage.SealedFileStorage(purpose="summary"),
                upload_to="summaries/%Y/",
                verbose_name="document",
            ),
        ),
        migrations.RunPython(seal, unseal),
    ]
