"""Each person's role and unit sealed with HMAC-SM3 (phaseout.orgs.integrity): the column, then every
existing row sealed."""

from django.db import migrations, models


def seal_all(apps, schema_editor):
    from phaseout.orgs.integrity import seal

    Person = apps.get_model("orgs", "Person")
    for person in Person.objects.using(schema_editor.connection.alias).iterator(chunk_size=2000):
        Person.objects.using(schema_editor.connection.alias).filter(pk=person.pk).update(acl_mac=seal(person))


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0007_credentials_reactivated_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="acl_mac",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="access-control MAC"),
        ),
        migrations.RunPython(seal_all, migrations.RunPython.noop),
    ]
