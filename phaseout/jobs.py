"""Periodic work as a registry: each app registers its own sweep job in its AppConfig.ready(); one
runner calls them all.

A job takes `now` and `today` and returns its counts; it is registered with a sentence that reports
them (a gettext format string over those counts). The runner runs each job in its own transaction
(a savepoint inside an outer one), so a job that fails writes nothing and the others still run; the
failure is logged and reported. The `phaseout sweep` command, the Celery task
phaseout.cases.tasks.sweep_deadlines and the embedded server's in-process sweep all use `run_jobs`.

This module imports no app: the apps depend on it, not the other way round.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

logger = logging.getLogger("phaseout.sweep")

JobFunction = Callable[..., Mapping[str, int]]  # (*, now, today) -> counts


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFunction
    summary: str | Promise  # e.g. gettext_lazy("Tip-offs escalated: %(escalated)d.")
    label: str | Promise  # who the job belongs to, for a failure: e.g. gettext_lazy("Complaints")


@dataclass
class JobOutcome:
    job: Job
    counts: dict[str, int] = field(default_factory=dict)
    failed: bool = False

    def __str__(self) -> str:
        if self.failed:
            return _("%(job)s: the job failed and wrote nothing (see the log).") % {"job": self.job.label}
        return str(self.job.summary) % self.counts


@dataclass
class SweepReport:
    outcomes: list[JobOutcome]

    def __getitem__(self, name: str) -> JobOutcome:
        for outcome in self.outcomes:
            if outcome.job.name == name:
                return outcome
        raise KeyError(name)

    @property
    def failed(self) -> list[str]:
        return [o.job.name for o in self.outcomes if o.failed]

    def __str__(self) -> str:
        return " ".join(str(o) for o in self.outcomes)


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, name: str, run: JobFunction, *, summary: str | Promise, label: str | Promise) -> None:
        """Add a job (again under the same name: replace it), run after those registered before."""
        self._jobs[name] = Job(name=name, run=run, summary=summary, label=label)

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def run(self, *, today: dt.date | None = None, now: dt.datetime | None = None) -> SweepReport:
        now = now or timezone.now()
        today = today or timezone.localdate(now)
        outcomes = []
        for job in self.jobs:
            try:
                with transaction.atomic():
                    counts = dict(job.run(now=now, today=today))
            except Exception:
                logger.exception("sweep job %s failed", job.name)
                outcomes.append(JobOutcome(job=job, failed=True))
            else:
                outcomes.append(JobOutcome(job=job, counts=counts))
        _heartbeat(now)
        return SweepReport(outcomes)


# When the jobs last ran, for `phaseout doctor` (in the shared cache: Redis in production).
HEARTBEAT_KEY = "phaseout:jobs:last-run"


def _heartbeat(now: dt.datetime) -> None:
    from django.core.cache import cache

    try:
        cache.set(HEARTBEAT_KEY, now.isoformat(), timeout=None)
    except Exception:  # the sweep has run; a cache that is down must not fail it (doctor says so)
        logger.warning("the sweep's heartbeat could not be written to the cache", exc_info=True)


registry = JobRegistry()
register = registry.register


def run_jobs(*, today: dt.date | None = None, now: dt.datetime | None = None) -> SweepReport:
    """Run every registered job once; safe to run twice (every job is)."""
    return registry.run(today=today, now=now)
