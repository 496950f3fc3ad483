from django.db import migrations, models


class Migration(migrations.Migration):
    """The submissions list's own order (due date, then id), read from an index."""

    dependencies = [
        ("plans", "0005_submission_versions_and_review"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["due_date", "id"], name="submission_due_order_idx"),
        ),
    ]
