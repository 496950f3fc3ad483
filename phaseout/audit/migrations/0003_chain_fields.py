import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """The fields of a chained entry (sequence number, the person's name and unit at the time, the key
    version, the MACs) and the chain head. The sequence number is filled in by 0004 and made required by
    0005 (apart, so that PostgreSQL alters no table with pending trigger events)."""

    dependencies = [
        ("audit", "0002_outcome"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="time"),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(null=True, verbose_name="sequence number"),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="actor_name",
            field=models.CharField(blank=True, default="", max_length=150, verbose_name="user name"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="unit",
            field=models.CharField(blank=True, default="", max_length=200, verbose_name="unit"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_version",
            field=models.PositiveSmallIntegerField(default=1, verbose_name="key version"),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_mac",
            field=models.CharField(default="", max_length=64, verbose_name="previous MAC"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(default="", max_length=64, verbose_name="MAC"),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="ChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("mac", models.CharField(max_length=64)),
            ],
            options={
                "verbose_name": "audit chain head",
                "verbose_name_plural": "audit chain head",
            },
        ),
    ]
