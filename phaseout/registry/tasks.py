from celery import shared_task

from phaseout.registry.actions import check_import_batch, run_import_batch


@shared_task(name="phaseout.registry.tasks.run_import")
def run_import(batch_id: int) -> int:
    return run_import_batch(batch_id).created_count


@shared_task(name="phaseout.registry.tasks.check_import")
def check_import(batch_id: int) -> str:
    return check_import_batch(batch_id).status
