import datetime as dt

from celery import shared_task
from django.contrib.auth.models import User

from phaseout.orgs.models import Territory
from phaseout.standards.actions import run_evaluation


@shared_task(name="phaseout.standards.tasks.evaluate_registry")
def evaluate_registry(on: str, user_id: int, territory: str | None = None) -> int:
    run = run_evaluation(
        on=dt.date.fromisoformat(on),
        by=User.objects.get(pk=user_id),
        territory=Territory.objects.get(pk=territory) if territory else None,
    )
    return run.pk
