"""Migration audit 0004 (chain the entries written before the chain existed), run through the migration
executor: back to 0003, entries written as they were then (no number, no MAC, some without an actor, in
Chinese), forward again; each entry is numbered in the order written and chained from the genesis, the
chain head holds the last, and after the later migrations (0005-0009) `phaseout audit verify` passes and
reports an entry changed afterwards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from phaseout.audit import chain, maintenance

BEFORE = [("audit", "0003_chain_fields")]
CHAINED = [("audit", "0004_chain_existing_entries")]
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]


@pytest.mark.django_db(transaction=True)
def test_the_chain_migration_numbers_and_chains_the_existing_entries_in_order() -> None:
    latest = _latest()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="老用户")
        Event = old.get_model("audit", "AuditEvent")
        written = [
            # (at, actor, action, outcome): written out of id order (the third before the second)
            (T0, user, "case.open", "success"),
            (T0 + dt.timedelta(minutes=5), None, "auth.login_failed", "failure"),
            (T0 + dt.timedelta(minutes=1), user, "tipoff.identity_read", "refused"),
            (T0 + dt.timedelta(minutes=1), None, "auth.lockout", "refused"),  # same time: by id
        ]
        ids = []
        for at, actor, action, outcome in written:
            event = Event.objects.create(
                actor=actor, action=action, outcome=outcome, object_type="cases.case", object_id="7",
                data={"说明": "迁移前的记录"}, reason="原因", ip="10.0.0.1",
            )  # fmt: skip
            Event.objects.filter(pk=event.pk).update(at=at)  # auto_now_add: the time set afterwards
            ids.append(event.pk)

        executor = MigrationExecutor(connection)
        executor.migrate(CHAINED)
        new = executor.loader.project_state(CHAINED).apps
        Event = new.get_model("audit", "AuditEvent")
        entries = list(Event.objects.select_related("actor").order_by("seq"))
        assert [e.pk for e in entries] == [ids[0], ids[2], ids[3], ids[1]]  # by time, then id
        assert [e.seq for e in entries] == [1, 2, 3, 4]
        assert [e.actor_name for e in entries] == ["老用户", "老用户", "", ""]
        prev = chain.GENESIS
        for e in entries:
            assert e.prev_mac == prev
            assert e.key_version == chain.current_version()
            assert e.mac == chain.mac(e.key_version, prev, chain.canonical(chain.fields(e)))
            prev = e.mac
        head = new.get_model("audit", "ChainHead").objects.get(pk=1)
        assert (head.seq, head.mac) == (4, prev)

        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        from phaseout.audit import verify

        report = verify.verify()
        assert report.ok, str(report)
        assert (report.checked, report.last_seq) == (4, 4)
        # an entry changed in SQL afterwards (the triggers lifted, as someone owning the database would)
        for table in maintenance.TABLES:
            maintenance.uninstall(connection, table)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET reason = %s WHERE id = %s", ["改过的原因", ids[2]])
        for table in maintenance.TABLES:
            maintenance.install(connection, table)
        report = verify.verify()
        assert report.problems[0] == (f"第 2 条（ID {ids[2]}）的内容与其校验码不符：该条记录已被篡改。"), (
            report.problems
        )
    finally:
        MigrationExecutor(connection).migrate(latest)
