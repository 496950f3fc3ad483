from typing import Any

from django.db import migrations


def chain_existing(apps: Any, schema_editor: Any) -> None:
    """Number and chain the entries written before the chain existed, in the order they were written.
    Their unit at the time is unknown (left empty); their user name is today's."""
    from phaseout.audit import chain

    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    db = schema_editor.connection.alias
    prev, seq = chain.GENESIS, 0
    for event in AuditEvent.objects.using(db).select_related("actor").order_by("at", "id").iterator(chunk_size=2000):
        seq += 1
        event.seq = seq
        event.actor_name = event.actor.username if event.actor_id else ""
        event.key_version = chain.current_version()
        event.prev_mac = prev
        event.mac = chain.mac(event.key_version, prev, chain.canonical(chain.fields(event)))
        AuditEvent.objects.using(db).filter(pk=event.pk).update(
            seq=seq, actor_name=event.actor_name, key_version=event.key_version, prev_mac=prev, mac=event.mac
        )
        prev = event.mac
    if seq:
        ChainHead.objects.using(db).create(pk=1, seq=seq, mac=prev)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_chain_fields"),
    ]

    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
    ]
