"""Tasks are acknowledged when they finish (ADR 24): a worker killed mid-task leaves the task with the
broker, which hands it out again — so a task may run twice, even at once. The register's tasks are safe
so: the background check records its preview once, the import holds a lease on its batch and finds the
rows a dead run wrote unchanged. (tests/test_topology.py kills a real worker mid-import.)"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from phaseout.audit.models import AuditEvent
from phaseout.celery import app
from phaseout.orgs.models import Person
from phaseout.registry import actions, importer
from phaseout.registry.models import Enterprise, ImportBatch
from tests.factories import valid_uscc

ROWS = [[valid_uscc(n), f"江门市重投{n}钢铁有限公司", "蓬江区", "钢铁", "", "", ""] for n in range(1, 7)]


def _batch(office: Person, content: bytes, status: str) -> ImportBatch:
    return ImportBatch.objects.create(
        file=SimpleUploadedFile("名录.xlsx", content),
        original_name="名录.xlsx",
        sha256="0" * 64,
        uploaded_by=office.user,
        status=status,
    )


def _audit(batch: ImportBatch, action: str) -> int:
    return AuditEvent.objects.filter(
        object_type="registry.importbatch", object_id=str(batch.pk), action=action
    ).count()


def test_tasks_are_acknowledged_when_done_and_handed_out_again_after_the_visibility_timeout(
    settings: Any,
) -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    # Longer than any task by default (a task still running is handed out again after it).
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS == {"visibility_timeout": 3600}


def test_a_second_check_of_a_batch_the_first_has_checked_records_nothing(
    office: Person, xlsx_bytes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _batch(office, xlsx_bytes(ROWS), ImportBatch.Status.CHECKING)
    assert actions.check_import_batch(batch.pk).status == ImportBatch.Status.PREVIEW
    assert _audit(batch, "import.preview") == 1
    # The same task delivered again while the first ran: it passed the status check before the first
    # moved the batch, and reads the file after.
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.CHECKING)
    read = importer.read_register

    def first_finishes_meanwhile(*args: Any, **kwargs: Any) -> Any:
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.PREVIEW)
        return read(*args, **kwargs)

    monkeypatch.setattr(importer, "read_register", first_finishes_meanwhile)
    assert actions.check_import_batch(batch.pk).status == ImportBatch.Status.PREVIEW
    assert _audit(batch, "import.preview") == 1


def test_an_import_run_again_after_a_run_died_half_way_writes_each_enterprise_once(
    office: Person, xlsx_bytes: Any
) -> None:
    content = xlsx_bytes(ROWS)
    # The dead run committed the first half before its worker was killed; the batch stayed running.
    importer.apply_register(importer.read_register(xlsx_bytes(ROWS[:3])).rows)
    batch = _batch(office, content, ImportBatch.Status.RUNNING)
    done = actions.run_import_batch(batch.pk)
    assert (done.status, done.created_count, done.unchanged_count, done.processed_rows) == ("done", 3, 3, 6)
    assert Enterprise.objects.filter(uscc__in=[r[0] for r in ROWS]).count() == 6
    assert actions.run_import_batch(batch.pk).status == ImportBatch.Status.DONE  # a third delivery
    assert _audit(batch, "import.done") == 1
    assert AuditEvent.objects.get(object_id=str(batch.pk), action="import.done").data == {
        "created": 3,
        "updated": 0,
        "unchanged": 3,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_delivered_again_while_the_first_runs_leaves_the_batch_alone(
    office: Person, xlsx_bytes: Any
) -> None:
    import psycopg

    batch = _batch(office, xlsx_bytes(ROWS), ImportBatch.Status.RUNNING)
    db = connection.settings_dict
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as first:  # the first delivery, running
        first.execute("SELECT pg_advisory_lock(hashtext('phaseout.import_batch'), %s)", [batch.pk])
        second = actions.run_import_batch(batch.pk)
        assert second.status == ImportBatch.Status.RUNNING
        assert not Enterprise.objects.filter(uscc__in=[r[0] for r in ROWS]).exists()
        assert _audit(batch, "import.done") == 0
        pid = first.info.backend_pid
    # The first's worker died: its connection, and the lease with it, are gone; the next delivery runs.
    # (The server ends the backend, releasing its locks, a moment after the client hangs up: wait for it.)
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first delivery's backend did not end within 10 s")
    assert actions.run_import_batch(batch.pk).status == ImportBatch.Status.DONE
    assert Enterprise.objects.filter(uscc__in=[r[0] for r in ROWS]).count() == 6
    assert _audit(batch, "import.done") == 1
