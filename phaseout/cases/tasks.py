from celery import shared_task

from phaseout.cases.sweep import sweep


@shared_task(name="phaseout.cases.tasks.sweep_deadlines")
def sweep_deadlines() -> str:
    return str(sweep())
