"""Read replicas (issue 18, part 2; phaseout/dbrouter.py): which reads go to the replica, and, on a real
streaming pair started by the test (a primary on port 8135 and a replica made by pg_basebackup on 5442,
both clusters of the test's own), that they do, that a read inside a write's transaction does not, and
that with the replica stopped reads fall back to the primary and doctor says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from phaseout import dbrouter
from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case
from phaseout.disclosure.models import Snapshot
from phaseout.orgs.models import Person
from phaseout.registry.models import Enterprise
from phaseout.web.middleware import WROTE_COOKIE, ReplicaReadsMiddleware

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PRIMARY_PORT, REPLICA_PORT = 8135, 5442


@pytest.fixture
def replica_up(monkeypatch: pytest.MonkeyPatch) -> Any:
    state = {"up": True}
    monkeypatch.setattr(dbrouter.health, "usable", lambda: state["up"])
    return state


def test_only_stale_reads_of_business_records_go_to_the_replica(replica_up: Any) -> None:
    router = dbrouter.ReplicaRouter()
    assert router.db_for_read(Case) == "default"  # no page asked for stale reads
    with dbrouter.stale_reads():
        for model in (Case, Enterprise, Snapshot):
            assert router.db_for_read(model) == "replica", model
        for model in (User, Session, Person, AuditEvent):  # who may do what, and the trail: always current
            assert router.db_for_read(model) == "default", model
        replica_up["up"] = False
        assert router.db_for_read(Case) == "default"  # down or lagging: the primary
    with dbrouter.stale_reads(False):
        assert router.db_for_read(Case) == "default"
    assert router.db_for_write(Case) == "default"
    assert router.allow_migrate("replica", "cases") is False
    assert router.allow_migrate("default", "cases") is True


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the router sees the real state
def test_a_read_inside_a_write_transaction_goes_to_the_primary(replica_up: Any) -> None:
    router = dbrouter.ReplicaRouter()
    with dbrouter.stale_reads():
        assert router.db_for_read(Case) == "replica"
        with transaction.atomic():
            assert router.db_for_read(Case) == "default"


def _through(request: HttpRequest) -> tuple[bool, HttpResponse]:
    seen: dict[str, bool] = {}

    def view(req: HttpRequest) -> HttpResponse:
        seen["stale"] = dbrouter._stale_reads.get()
        return HttpResponse("ok")

    response = ReplicaReadsMiddleware(view)(request)
    return seen["stale"], response


def test_the_listed_pages_read_stale_and_a_person_who_wrote_reads_the_primary(settings: Any) -> None:
    settings.REPLICA_DATABASE_URL = "postgres://replica.example/phaseout"
    settings.REPLICA_READ_YOUR_WRITES_SECONDS = 10
    factory = RequestFactory()
    for path in ("/reports/ledger/", "/reports/charts/", "/public/", "/credit/export.xlsx"):
        stale, response = _through(factory.get(path))
        assert stale, path
        assert WROTE_COOKIE not in response.cookies
    stale, _ = _through(factory.get("/cases/"))  # a working list: current
    assert not stale
    stale, response = _through(factory.post("/reports/ledger/"))
    assert not stale
    cookie = response.cookies[WROTE_COOKIE]
    assert cookie["max-age"] == 10 and cookie["httponly"]
    wrote = factory.get("/reports/ledger/")
    wrote.COOKIES[WROTE_COOKIE] = "1"
    stale, _ = _through(wrote)
    assert not stale  # reads its own write
    stale, _ = _through(factory.get("/no/such/page/"))
    assert not stale


def test_without_a_replica_nothing_changes(settings: Any) -> None:
    settings.REPLICA_DATABASE_URL = ""
    stale, response = _through(RequestFactory().post("/reports/ledger/"))
    assert not stale and WROTE_COOKIE not in response.cookies


# --- a real streaming replica --------------------------------------------------------------------------


def _as_postgres(*args: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def streaming_pair() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
        pytest.skip("needs root (to run the clusters as postgres) and PostgreSQL 15's server binaries")
    base = Path(tempfile.mkdtemp(prefix="dp_pg_"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    primary, replica = base / "primary", base / "replica"
    started: list[Path] = []
    try:
        _as_postgres(PG_BIN / "initdb", "-D", primary, "-A", "trust", "-U", "postgres", "--no-sync")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {PRIMARY_PORT}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nfsync = off\nshared_buffers = 32MB\n"
            )
        _as_postgres(PG_BIN / "pg_ctl", "-D", primary, "-l", base / "primary.log", "-w", "start")
        started.append(primary)
        _as_postgres(
            PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", PRIMARY_PORT, "-U", "postgres", "-D", replica,
            "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast",
        )  # fmt: skip
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {REPLICA_PORT}\nhot_standby = on\n")
        _as_postgres(PG_BIN / "pg_ctl", "-D", replica, "-l", base / "replica.log", "-w", "start")
        started.append(replica)
        _as_postgres(
            PG_BIN / "psql", "-h", "127.0.0.1", "-p", PRIMARY_PORT, "-c", "CREATE DATABASE dp_primary"
        )
        yield {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PRIMARY_PORT}/dp_primary",
            "REPLICA_DATABASE_URL": f"postgres://postgres@127.0.0.1:{REPLICA_PORT}/dp_primary",
            "replica_dir": str(replica),
        }
    finally:
        for cluster in reversed(started):
            subprocess.run(
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(cluster),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


PROBE = """
import json, time, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from phaseout import dbrouter
from phaseout.operations import doctor
from django.contrib.contenttypes.models import ContentType
call_command("migrate", "contenttypes", verbosity=0)
settings.REPLICA_READ_APPS = {"contenttypes"}   # the one app this probe migrates
out = {}
ContentType.objects.get_or_create(app_label="dp", model="written")      # a write: the primary
with dbrouter.stale_reads():
    rows = ContentType.objects.filter(app_label="dp")
    out["routed"] = rows.db
    deadline = time.monotonic() + 15
    while not rows.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    out["read"] = rows.exists()
    with connections[rows.db].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        out["in_recovery"] = cursor.fetchone()[0]
    with transaction.atomic():
        out["in_transaction"] = ContentType.objects.filter(app_label="dp").db
out["outside"] = ContentType.objects.filter(app_label="dp").db
finding = doctor.replica()
out["doctor"] = [finding.ok, finding.message]
print(json.dumps(out, ensure_ascii=False))
"""


def _probe(pair: dict[str, str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": pair["DATABASE_URL"],
        "REPLICA_DATABASE_URL": pair["REPLICA_DATABASE_URL"],
        "REPLICA_CHECK_SECONDS": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_reads_go_to_a_real_replica_and_fall_back_to_the_primary_when_it_stops(
    streaming_pair: dict[str, str],
) -> None:
    live = _probe(streaming_pair)
    assert live["routed"] == "replica"
    assert live["read"] is True  # the write on the primary, read back from the replica
    assert live["in_recovery"] is True  # it really was the standby that answered
    assert live["in_transaction"] == "default"
    assert live["outside"] == "default"
    assert live["doctor"][0] is True and live["doctor"][1].startswith("流复制正常，落后主库")
    _as_postgres(PG_BIN / "pg_ctl", "-D", streaming_pair["replica_dir"], "-m", "fast", "-w", "stop")
    try:
        down = _probe(streaming_pair)
    finally:
        _as_postgres(
            PG_BIN / "pg_ctl", "-D", streaming_pair["replica_dir"], "-l",
            Path(streaming_pair["replica_dir"]).parent / "replica.log", "-w", "start",
        )  # fmt: skip
    assert down["routed"] == "default"
    assert down["read"] is True and down["in_recovery"] is False  # served by the primary
    assert down["doctor"][0] is False
    assert down["doctor"][1].startswith("无法连接备库（读取已改由主库承担）：")
