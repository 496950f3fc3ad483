from celery import shared_task

from phaseout.messaging.outbox import drain


@shared_task(name="phaseout.messaging.tasks.drain_outbox")
def drain_outbox() -> dict[str, int]:
    """Send what the outbox holds that is due (queued after each commit that made messages, and by beat)."""
    return drain().counts()
