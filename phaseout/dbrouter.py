"""Reads that may be a few seconds stale go to the streaming replica (issue 18, part 2).

Stated once, in the settings: which pages may read stale data (REPLICA_READ_VIEWS, by URL name: the
reports, the charts, the ledger, the public portal's lists and the exports) and which apps' tables such a
page reads from the replica (REPLICA_READ_APPS: the business records; never the accounts, sessions,
second factors or the audit trail, which decide who may do what and must be current).

A read goes to the replica only when all of these hold; otherwise it goes to the primary:

- REPLICA_DATABASE_URL is set (the `replica` alias exists) and the request is a GET or HEAD of a listed page
  (phaseout.web.middleware.ReplicaReadsMiddleware sets the flag below for that request only);
- the person did not write within REPLICA_READ_YOUR_WRITES_SECONDS (a cookie set on every other method's
  response): a person reads their own writes;
- no transaction is open on the primary (a read inside a write's transaction is the write's);
- the replica was found reachable, in recovery and lagging at most REPLICA_MAX_LAG_SECONDS at its last
  check (every REPLICA_CHECK_SECONDS, per process); else the primary, and `phaseout doctor` says why.

Every write goes to the primary; migrations run on the primary only. This module imports no app.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

REPLICA = "replica"
PRIMARY = "default"

logger = logging.getLogger("phaseout.replica")
_stale_reads = contextvars.ContextVar("phaseout_stale_reads", default=False)


@contextmanager
def stale_reads(allowed: bool = True) -> Iterator[None]:
    """Within this block, reads of REPLICA_READ_APPS may be served by the replica (when it is usable)."""
    token = _stale_reads.set(allowed)
    try:
        yield
    finally:
        _stale_reads.reset(token)


class _Health:
    """The replica's state as last checked in this process, checked again after REPLICA_CHECK_SECONDS."""

    def __init__(self) -> None:
        self.checked_at: float | None = None
        self.ok = False

    def reset(self) -> None:
        self.checked_at = None

    def usable(self) -> bool:
        now = time.monotonic()
        if self.checked_at is None or now - self.checked_at >= settings.REPLICA_CHECK_SECONDS:
            self.ok = self._check()
            self.checked_at = now
        return self.ok

    def _check(self) -> bool:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(),"
                    " COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
                )
                recovering, lag = cursor.fetchone()
        except DatabaseError:
            logger.warning("the replica cannot be reached: reads go to the primary", exc_info=True)
            connections[REPLICA].close()
            return False
        if not recovering:
            logger.warning("the replica is not in recovery: reads go to the primary")
            return False
        # A primary with no write for a while shows a growing replay age with nothing to replay: the lag
        # counts only while the replica has not replayed everything it received.
        if float(lag) > settings.REPLICA_MAX_LAG_SECONDS and not _caught_up():
            logger.warning("the replica lags %.0f s: reads go to the primary", float(lag))
            return False
        return True


def _caught_up() -> bool:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")
        row = cursor.fetchone()
    return bool(row and row[0])


health = _Health()


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if not _stale_reads.get() or model._meta.app_label not in settings.REPLICA_READ_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        return REPLICA if health.usable() else PRIMARY

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, copied

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
