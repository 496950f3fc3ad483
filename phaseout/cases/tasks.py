from celery import shared_task

from phaseout.jobs import run_jobs


@shared_task(name="phaseout.cases.tasks.sweep_deadlines")
def sweep_deadlines() -> str:
    """Every app's sweep job (phaseout.jobs), each in its own transaction; their counts as a sentence each."""
    return str(run_jobs())
