from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("disclosure", "0005_move_rows_into_entries")]

    operations = [
        migrations.RemoveField(
            model_name="snapshot",
            name="rows",
        ),
    ]
