import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phaseout.settings")

app = Celery("phaseout")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _close_worker_connections(sender: Any = None, **kwargs: Any) -> None:
    """A worker thread gives its database connections back after each task (eager tasks keep the caller's)."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        from django.db import connections

        connections.close_all()
