"""`phaseout doctor` (issue 18, part 3): each check passing and failing, with its message in Chinese; the
broker and worker against a Redis server of the test's own (port 8134: no other suite's worker can answer
its ping), the replica against the PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from phaseout.celery import app
from phaseout.jobs import HEARTBEAT_KEY, run_jobs
from phaseout.operations import doctor

ROOT = Path(__file__).resolve().parent.parent
PHASEOUT = str(Path(sys.executable).parent / "phaseout")
REDIS_PORT = 8134
NOTHING = "127.0.0.1:8139"  # no server listens there


def _forget_connections() -> None:
    app._local.__dict__.pop("backend", None)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(settings: Any) -> Iterator[Any]:
    """Point the platform's Celery app (and the setting doctor reads) at a broker URL given later."""
    keys = ("broker_url", "result_backend", "task_always_eager", "broker_connection_retry")
    old = {k: app.conf[k] for k in keys}

    def use(url: str) -> None:
        _forget_connections()
        settings.CELERY_BROKER_URL = url
        app.conf.update(
            broker_url=url,
            result_backend=url,
            task_always_eager=False,
            broker_connection_retry=False,
            broker_connection_retry_on_startup=False,
            broker_connection_max_retries=0,
        )

    try:
        yield use
    finally:
        app.conf.update(old)
        _forget_connections()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed by the tests marked redis"
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", REDIS_PORT)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{REDIS_PORT}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the broker and the worker --------------------------------------------------------------------------


def test_a_broker_that_cannot_be_reached_is_named_without_its_password(broker: Any) -> None:
    broker(f"redis://:s3cret@{NOTHING}/0")
    finding = doctor.broker()
    assert not finding.ok
    assert finding.message.startswith(f"无法连接消息队列 redis://:***@{NOTHING}/0：")
    assert "s3cret" not in finding.message
    worker = doctor.worker(timeout=0.5)
    assert worker is not None and not worker.ok
    assert worker.message.startswith("无法询问 worker：")


def test_without_a_broker_there_is_no_worker_to_ask(settings: Any) -> None:
    settings.CELERY_BROKER_URL = ""
    finding = doctor.broker()
    assert finding.ok and finding.warning
    assert finding.message == "未配置：任务在应用服务器进程内执行"
    assert doctor.worker() is None


@pytest.mark.redis
def test_a_reachable_broker_with_no_worker_says_to_start_one(broker: Any, redis_server: str) -> None:
    broker(redis_server)
    assert doctor.broker() == doctor.Finding("消息队列（Redis）", True, "可以连接")
    finding = doctor.worker(timeout=1.0)
    assert finding is not None and not finding.ok
    assert (
        finding.message
        == "1.0 秒内没有 Celery worker 响应：请启动 phaseout-worker（systemctl status phaseout-worker）。"
    )


@pytest.mark.redis
def test_a_running_worker_answers(broker: Any, redis_server: str) -> None:
    from celery.contrib.testing.worker import start_worker

    broker(redis_server)
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, loglevel="WARNING"):
        # The worker's control channel may come up a moment after it starts consuming (a loaded machine).
        deadline = time.monotonic() + 30
        finding = doctor.worker(timeout=3.0)
        while finding is not None and not finding.ok and time.monotonic() < deadline:
            finding = doctor.worker(timeout=3.0)
    assert finding is not None and finding.ok, finding
    assert finding.message == "1 个响应"


# --- the periodic jobs' heartbeat -----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db
def test_the_periodic_jobs_heartbeat_in_the_shared_cache(settings: Any, redis_server: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server[:-1] + "1",
        }
    }
    cache.delete(HEARTBEAT_KEY)
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert doctor.beat(now).message == "定时任务尚未运行过：请检查 phaseout-beat 和 phaseout-worker。"
    run_jobs(now=now)
    assert doctor.beat(now + dt.timedelta(minutes=16)) == doctor.Finding(
        "定时任务（beat）", True, "最近一次运行在 16 分钟前"
    )
    late = doctor.beat(now + dt.timedelta(minutes=41))
    assert not late.ok
    assert (
        late.message
        == "定时任务最近一次运行在 41 分钟前（上限 40 分钟）：请检查 phaseout-beat 和 phaseout-worker。"
    )
    cache.delete(HEARTBEAT_KEY)


def test_with_a_cache_of_its_own_the_heartbeat_cannot_be_told(settings: Any) -> None:
    finding = doctor.beat(dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    assert finding.ok and finding.warning
    assert "REDIS_CACHE_URL" in finding.message


# --- database, replica, disk, media, settings, keys ----------------------------------------------------


@pytest.mark.django_db
def test_the_database_reachable_and_migrated() -> None:
    finding = doctor.database()
    assert finding.ok and finding.message.startswith("可以连接，全部迁移已执行")


@pytest.mark.django_db
def test_audit_entries_left_unlinked_too_long_are_named() -> None:
    from phaseout.audit import sequencer
    from phaseout.audit.record import record

    written = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    assert doctor.audit_chain(written) == doctor.Finding("审计链", True, "各条记录均已及时链入")
    with time_machine.travel(written, tick=False):
        record(actor=None, action="test.event")  # not linked: no commit here, no sequencer run
    assert doctor.audit_chain(written + dt.timedelta(seconds=300)).ok
    late = doctor.audit_chain(written + dt.timedelta(seconds=301))
    assert late == doctor.Finding(
        "审计链",
        False,
        "有审计记录等待链入审计链已超过 300 秒（最早一条自 2026-03-02 10:00:00 起）："
        "请检查 phaseout-beat 和 phaseout-worker。",
    )
    sequencer.run()
    assert doctor.audit_chain(written + dt.timedelta(days=1)).ok


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PHASEOUT, "doctor", "--worker-timeout", "0.5"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unmigrated_database_is_named_and_the_exit_status_is_not_zero(tmp_path: Path) -> None:
    done = _doctor({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "MEDIA_ROOT": str(tmp_path)})
    assert done.returncode == 1
    assert "✗ 数据库：有 " in done.stdout and "个迁移未执行" in done.stdout, done.stdout
    assert "发现" in done.stderr and "个问题" in done.stderr


def test_an_unreachable_database_is_named(tmp_path: Path) -> None:
    done = _doctor({"DATABASE_URL": f"postgres://postgres@{NOTHING}/dp_none", "MEDIA_ROOT": str(tmp_path)})
    assert done.returncode == 1
    assert "✗ 数据库：无法连接数据库：" in done.stdout, done.stdout


def test_an_unreachable_replica_is_named(settings: Any) -> None:
    settings.REPLICA_DATABASE_URL = f"postgres://postgres@{NOTHING}/dp_replica"
    finding = doctor.replica()
    assert finding is not None and not finding.ok
    assert finding.message.startswith("无法连接备库（读取已改由主库承担）：")
    settings.REPLICA_DATABASE_URL = ""
    assert doctor.replica() is None


@pytest.mark.postgres
def test_a_replica_that_is_not_in_recovery_is_named(settings: Any) -> None:
    settings.REPLICA_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"  # the primary itself
    finding = doctor.replica()
    assert finding is not None and not finding.ok
    assert (
        finding.message == "备库不处于恢复状态：不是流复制备库（是否已被提升为主库？）；读取已改由主库承担。"
    )


def test_too_little_disk_space_is_named(settings: Any) -> None:
    settings.DOCTOR_MIN_FREE_BYTES = 10**18
    findings = doctor.disk()
    assert [f.ok for f in findings] == [False, False]
    assert "仅剩" in findings[0].message and "至少需要" in findings[0].message
    settings.DOCTOR_MIN_FREE_BYTES = 1
    assert all(f.ok for f in doctor.disk())


def test_media_storage_that_cannot_be_written_is_named(settings: Any, tmp_path: Path) -> None:
    assert doctor.media().ok
    assert not any(p.name.startswith(".doctor-") for p in Path(settings.MEDIA_ROOT).iterdir())
    (tmp_path / "a-file").write_text("x")
    settings.MEDIA_ROOT = tmp_path / "a-file" / "media"
    finding = doctor.media()
    assert not finding.ok and finding.message.startswith("MEDIA_ROOT（")


def test_deployment_warnings_are_listed_by_id(settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 0
    finding = doctor.deploy_checks()
    assert not finding.ok
    assert "security.W004" in finding.message and "phaseout check --deploy" in finding.message


def test_the_public_development_audit_key_in_production_is_named(settings: Any) -> None:
    settings.DEBUG = False  # as the suite runs; the settings were loaded with the demo's key
    finding = doctor.keys()
    assert not finding.ok
    assert finding.message == "AUDIT_MAC_KEY 是公开的开发用密钥：请生成自己的密钥。"
    settings.AUDIT_MAC_KEY = "ab" * 32
    assert doctor.keys().ok


def test_a_keyring_file_others_can_read_is_named(settings: Any, tmp_path: Path) -> None:
    from phaseout.crypto import keyring

    settings.AUDIT_MAC_KEY = "ab" * 32
    path = tmp_path / "keys.json"
    keyring.write_file(path, keyring.generate())
    settings.PHASEOUT_KEYS_FILE = str(path)
    assert doctor.keys().ok
    path.chmod(0o644)
    finding = doctor.keys()
    assert not finding.ok
    assert finding.message == f"密钥文件 {path} 可被其他用户读取（权限 0o644）：请执行 chmod 600。"


def test_an_audit_key_that_is_missing_is_named(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither the keyring (a fresh development keyring holds one) nor the setting has the audit key.
    from phaseout import crypto

    monkeypatch.setattr(type(crypto.backend()), "audit_versions", lambda self: [])
    settings.AUDIT_MAC_KEY = ""
    finding = doctor.keys()
    assert not finding.ok and finding.message.startswith("密钥不可用：")


@pytest.mark.django_db
def test_the_command_prints_every_finding_and_fails_on_a_problem(settings: Any) -> None:
    settings.CELERY_BROKER_URL = ""
    out = StringIO()
    with pytest.raises(CommandError, match=r"发现 \d+ 个问题"):
        call_command("doctor", stdout=out)  # the suite's settings are not deployment settings
    assert "✓ 数据库：" in out.getvalue() and "✗ 部署检查" in out.getvalue()
    with pytest.raises(CommandError, match="worker 等待时间须在 0 到 60 秒之间"):
        call_command("doctor", "--worker-timeout", "0")
