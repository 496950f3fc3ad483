from celery import shared_task


@shared_task(name="phaseout.audit.tasks.chain_entries")
def chain_entries() -> int:
    """Link the audit entries waiting in the queue into the chain (phaseout.audit.sequencer); safe to run
    twice or at once (one run at a time holds the lock, the other waits and finds nothing left)."""
    from phaseout.audit import sequencer

    return sequencer.run(wait=True) or 0
