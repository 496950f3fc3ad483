"""`phaseout doctor`: checks a running installation and says, in the platform's language, what is wrong.

Each check returns a Finding: ok, or what is wrong and what to look at. Nothing here writes to the
database; the media check writes and removes one small file. Limits are settings (DOCTOR_*).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core import checks as django_checks
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.jobs import HEARTBEAT_KEY

# The embedded demo's audit key (phaseout/settings.py): public, so it protects nothing in production.
DEVELOPMENT_AUDIT_KEY = b"phaseout-development-audit-key!!".hex()


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    message: str
    warning: bool = False  # not a failure: something that cannot be checked here


def _ok(name: str, message: str) -> Finding:
    return Finding(name, True, message)


def _bad(name: str, message: str) -> Finding:
    return Finding(name, False, message)


def database(using: str = "default") -> Finding:
    name = _("database")
    try:
        connection = connections[using]
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return _bad(name, _("The database cannot be reached: %(error)s") % {"error": str(exc).strip()[:300]})
    if plan:
        return _bad(
            name,
            _("%(count)d migrations are not applied (the first: %(first)s): run `phaseout migrate`.")
            % {"count": len(plan), "first": f"{plan[0][0].app_label}.{plan[0][0].name}"},
        )
    return _ok(name, _("reachable, every migration applied (%(vendor)s)") % {"vendor": connection.vendor})


def replica() -> Finding | None:
    """The streaming replica, when REPLICA_DATABASE_URL names one: reachable, in recovery, and its lag."""
    url = settings.REPLICA_DATABASE_URL
    if not url:
        return None
    name = _("replica")
    limit = settings.REPLICA_MAX_LAG_SECONDS
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            recovering, lag = conn.execute(
                "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
                " THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
            ).fetchone()  # type: ignore[misc]
    except Exception as exc:
        return _bad(
            name,
            _("The replica cannot be reached (reads go to the primary): %(error)s")
            % {"error": str(exc).strip()[:300]},
        )
    if not recovering:
        return _bad(
            name,
            _(
                "The replica is not in recovery: it is not a streaming replica (promoted?); reads go to "
                "the primary."
            ),
        )
    if float(lag) > limit:
        return _bad(
            name,
            _("The replica lags %(lag)d s behind the primary (limit %(limit)d s); reads go to the primary.")
            % {"lag": int(lag), "limit": limit},
        )
    return _ok(name, _("streaming, %(lag)d s behind the primary") % {"lag": int(lag)})


def broker() -> Finding:
    name = _("broker (Redis)")
    if not settings.CELERY_BROKER_URL:
        return Finding(
            name, True, _("none configured: tasks run in the app servers' processes"), warning=True
        )
    from phaseout.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
    except Exception as exc:
        return _bad(
            name,
            _("The broker %(url)s cannot be reached: %(error)s")
            % {"url": _redacted(settings.CELERY_BROKER_URL), "error": str(exc).strip()[:300]},
        )
    return _ok(name, _("reachable"))


def worker(timeout: float = 3.0) -> Finding | None:
    if not settings.CELERY_BROKER_URL:
        return None
    name = _("Celery worker")
    from phaseout.celery import app

    try:
        replies = app.control.ping(timeout=timeout)
    except Exception as exc:
        return _bad(name, _("No worker could be asked: %(error)s") % {"error": str(exc).strip()[:300]})
    if not replies:
        return _bad(
            name,
            _(
                "No Celery worker answered within %(seconds)s s: start phaseout-worker "
                "(systemctl status phaseout-worker)."
            )
            % {"seconds": timeout},
        )
    return _ok(name, _("%(count)d answered") % {"count": len(replies)})


def beat(now: dt.datetime) -> Finding:
    name = _("periodic jobs (beat)")
    limit = settings.DOCTOR_SWEEP_MAX_AGE_MINUTES
    last = cache.get(HEARTBEAT_KEY)
    if last is None:
        if "locmem" in settings.CACHES["default"]["BACKEND"].lower():
            return Finding(
                name,
                True,
                _("cannot be told here: the cache is not shared (set REDIS_CACHE_URL)"),
                warning=True,
            )
        return _bad(name, _("The periodic jobs have not run yet: check phaseout-beat and phaseout-worker."))
    at = dt.datetime.fromisoformat(str(last))
    minutes = int((now - at).total_seconds() // 60)
    if minutes > limit:
        return _bad(
            name,
            _(
                "The periodic jobs last ran %(minutes)d minutes ago (limit %(limit)d): check "
                "phaseout-beat and phaseout-worker."
            )
            % {"minutes": minutes, "limit": limit},
        )
    return _ok(name, _("last run %(minutes)d minutes ago") % {"minutes": minutes})


def audit_chain(now: dt.datetime) -> Finding | None:
    """Audit entries waiting to be linked into the chain longer than AUDIT_CHAIN_MAX_DELAY_SECONDS: the
    sequencer is not running (ADR 27). Nothing said when the database cannot be read (said above)."""
    from phaseout.audit import sequencer

    name = _("audit chain")
    try:
        oldest = sequencer.oldest_waiting()
    except DatabaseError:
        return None
    limit = settings.AUDIT_CHAIN_MAX_DELAY_SECONDS
    if oldest is not None and (now - oldest).total_seconds() > limit:
        return _bad(
            name,
            _(
                "Audit entries have waited more than %(seconds)d seconds to be linked into the chain "
                "(the oldest since %(at)s): check phaseout-beat and phaseout-worker."
            )
            % {"seconds": limit, "at": timezone.localtime(oldest).strftime("%Y-%m-%d %H:%M:%S")},
        )
    return _ok(name, _("every entry linked in time"))


def disk() -> list[Finding]:
    name = _("disk space")
    minimum = settings.DOCTOR_MIN_FREE_BYTES
    found = []
    for label, path in (("VAR_DIR", Path(settings.VAR_DIR)), ("MEDIA_ROOT", Path(settings.MEDIA_ROOT))):
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        gib = usage.free / 1024**3
        if usage.free < minimum:
            found.append(
                _bad(
                    name,
                    _("%(label)s (%(path)s): only %(free).1f GiB free (at least %(min).1f GiB wanted).")
                    % {"label": label, "path": path, "free": gib, "min": minimum / 1024**3},
                )
            )
        else:
            found.append(_ok(name, _("%(label)s: %(free).1f GiB free") % {"label": label, "free": gib}))
    return found


def media() -> Finding:
    name = _("media storage")
    root = Path(settings.MEDIA_ROOT)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-", delete=True) as handle:
            handle.write(uuid.uuid4().bytes)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return _bad(
            name, _("MEDIA_ROOT (%(path)s) is not writable: %(error)s") % {"path": root, "error": exc}
        )
    return _ok(name, _("writable (%(path)s)") % {"path": root})


def deploy_checks() -> Finding:
    name = _("check --deploy")
    messages = [
        m
        for m in django_checks.run_checks(include_deployment_checks=True)
        if m.level >= django_checks.WARNING and not m.is_silenced()
    ]
    if messages:
        return _bad(
            name,
            _("%(count)d warnings or errors: %(ids)s (run `phaseout check --deploy`).")
            % {"count": len(messages), "ids": ", ".join(sorted({m.id or "?" for m in messages}))},
        )
    return _ok(name, _("no warning"))


def keys() -> Finding:
    name = _("keys")
    from phaseout import crypto
    from phaseout.audit import chain

    try:
        crypto.backend().versions()
        chain.source(chain.current_version())
    except Exception as exc:
        return _bad(name, _("The keys are not usable: %(error)s") % {"error": str(exc)[:300]})
    if not settings.DEBUG and settings.AUDIT_MAC_KEY == DEVELOPMENT_AUDIT_KEY:
        return _bad(name, _("AUDIT_MAC_KEY is the public development key: generate one of your own."))
    if settings.PHASEOUT_KEYS_FILE:
        mode = Path(settings.PHASEOUT_KEYS_FILE).stat().st_mode
        if mode & 0o077:
            return _bad(
                name,
                _("The keyring file %(path)s can be read by others (mode %(mode)s): chmod 600 it.")
                % {"path": settings.PHASEOUT_KEYS_FILE, "mode": oct(mode & 0o777)},
            )
    return _ok(name, _("keyring and audit key configured"))


def run(*, now: dt.datetime | None = None, worker_timeout: float = 3.0) -> list[Finding]:
    now = now or timezone.now()
    steps: list[Callable[[], Finding | list[Finding] | None]] = [
        database,
        replica,
        broker,
        lambda: worker(worker_timeout),
        lambda: beat(now),
        lambda: audit_chain(now),
        disk,
        media,
        deploy_checks,
        keys,
    ]
    findings: list[Finding] = []
    for step in steps:
        result = step()
        if result is None:
            continue
        findings.extend(result if isinstance(result, list) else [result])
    return findings


def _redacted(url: str) -> str:
    """A URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
    return url
