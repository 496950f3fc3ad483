from celery import shared_task

from phaseout.standards.actions import carry_out_evaluation
from phaseout.standards.models import EvaluationRun


@shared_task(name="phaseout.standards.tasks.carry_out_evaluation")
def carry_out(run_id: int) -> int:
    """Carry out a queued evaluation run (started from the page); a run already claimed is left alone."""
    run = carry_out_evaluation(run=EvaluationRun.objects.get(pk=run_id))
    return run.pk
