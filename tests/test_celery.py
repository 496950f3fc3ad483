"""Background work runs on Celery with the Redis on 127.0.0.1:6379 — a real broker and a real worker."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from celery.contrib.testing.worker import start_worker

from phaseout.cases.models import Case, CaseEvent
from phaseout.cases.tasks import sweep_deadlines
from phaseout.celery import app
from tests.factories import CaseFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_app():
    keys = ("broker_url", "result_backend", "task_always_eager", "broker_connection_retry")
    old = {k: app.conf[k] for k in keys}
    _forget_connections()
    app.conf.update(
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        task_always_eager=False,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
    )
    try:
        yield app
    finally:
        app.conf.update(old)
        _forget_connections()


def _forget_connections() -> None:
    """The app caches its result backend, broker pool and producer pool on first use; start afresh."""
    app._local.__dict__.pop("backend", None)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_sweep_task_runs_on_a_worker_through_redis(redis_app, reference) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).ping()  # fails here, loudly, when Redis is not running
    overdue = CaseFactory(
        state="rectifying",
        order_date=dt.date(2020, 1, 2),
        deadline=dt.date(2020, 7, 2),
        rectification_months=6,
    )
    with start_worker(redis_app, perform_ping_check=False, pool="solo", concurrency=1, loglevel="WARNING"):
        summary = sweep_deadlines.delay().get(timeout=30)
        again = sweep_deadlines.delay().get(timeout=30)
    assert "整改逾期 1 件" in summary
    assert "整改逾期 0 件" in again
    assert Case.objects.get(pk=overdue.pk).state == "overdue"
    assert CaseEvent.objects.filter(case=overdue, action="mark_overdue").count() == 1


def test_the_sweep_is_on_the_beat_schedule(settings) -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["sweep-deadlines"]["task"] == sweep_deadlines.name
    assert sweep_deadlines.name in app.tasks


def test_the_audit_sequencer_is_on_the_beat_schedule_every_minute(settings) -> None:
    """ADR 27: what a process killed between its commit and its nudge left is linked within a minute."""
    from phaseout.audit.tasks import chain_entries

    entry = settings.CELERY_BEAT_SCHEDULE["audit-chain"]
    assert (entry["task"], entry["schedule"]) == (chain_entries.name, 60.0)
    assert chain_entries.name in app.tasks


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_messages_are_sent_by_a_worker_through_redis(redis_app, reference, settings) -> None:
    """Production: the commit that makes a message queues the outbox drain; a worker sends the mail."""
    import redis
    from django.core import mail

    from phaseout.messaging.actions import notify
    from phaseout.messaging.models import Delivery
    from phaseout.messaging.tasks import drain_outbox
    from phaseout.orgs.models import Department, Role
    from tests.factories import PersonFactory, UserFactory

    redis.Redis.from_url(REDIS_URL).ping()
    person = PersonFactory(
        user=UserFactory(username="fgj-worker", email="fgj@127.0.0.1"),
        role=Role.DEPARTMENT,
        department=Department.objects.get(code="jm-fgj"),
    )
    assert settings.CELERY_BEAT_SCHEDULE["drain-outbox"]["task"] == drain_outbox.name in app.tasks
    with start_worker(redis_app, perform_ping_check=False, pool="solo", concurrency=1, loglevel="WARNING"):
        notify([person], "reminder", "提醒：由后台任务发送")  # commits; the drain is queued on commit
        for _ in range(300):
            if Delivery.objects.filter(status="sent").exists():
                break
            time.sleep(0.1)
    assert Delivery.objects.get().status == "sent"
    assert [m.subject for m in mail.outbox] == ["【提醒】提醒：由后台任务发送"]
