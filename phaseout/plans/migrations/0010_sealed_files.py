# Hand-ins (sub-plans, progress reports, summaries) are sealed at rest like register files and evidence
# (等保 L3-CES1-28): the field's storage seals new files; the data step seals the files already stored.

from django.db import migrations, models

import phaseout.crypto.storage

seal, unseal = phaseout.crypto.storage.migration("plans", "SubmissionVersion", "document")


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0009_plan_summary_due_and_provincial_plan"),
    ]

    operations = [
        migrations.AlterField(
            model_name="submissionversion",
            name="document",
            field=models.FileField(
                blank=True,
                storage=phaseout.crypto.storage.SealedFileStorage(purpose="submission"),
                upload_to="submissions/%Y/",
                verbose_name="document",
            ),
        ),
        migrations.RunPython(seal, unseal),
    ]
