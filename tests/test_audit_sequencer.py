"""ADR 27: audit entries sealed by their writers without a shared lock, linked into the chain by one
sequencer after they commit. Tampering with entries not yet linked is found (but for the one window the
ADR states), concurrent writers and sequencers lose and duplicate nothing, and the chain stays one."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction

from phaseout.audit import chain, maintenance, sequencer, verify
from phaseout.audit.models import AuditEvent, ChainHead, ChainLink, Unchained
from phaseout.audit.record import record
from phaseout.audit.tasks import chain_entries


def _entries(n: int, action: str = "test.event") -> list[AuditEvent]:
    return [record(actor=None, action=action, reason=f"第{i}条", data={"i": i}) for i in range(n)]


def _tamper(sql: str, params: list[object] | None = None) -> None:
    """What a database owner can do: take the triggers off, change the tables, put them back."""
    for table in maintenance.TABLES:
        maintenance.uninstall(connection, table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
    for table in maintenance.TABLES:
        maintenance.install(connection, table)


# ── Entries not yet linked ──


def test_an_entry_is_readable_and_waiting_as_soon_as_it_is_written(db: None) -> None:
    entry = record(actor=None, action="test.event")
    assert AuditEvent.objects.get(seq=entry.seq).mac == entry.mac
    assert list(Unchained.objects.values_list("seq", flat=True)) == [entry.seq]
    assert not ChainLink.objects.exists() and not ChainHead.objects.exists()


def test_an_entry_altered_before_it_was_linked_is_reported(db: None) -> None:
    entries = _entries(3)
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = 2", ["改过的理由"])
    assert ChainLink.objects.count() == 0  # nothing linked yet: the seal alone finds it
    assert verify.verify().problems == [
        f"第 2 条（ID {entries[1].pk}）的内容与其校验码不符：该条记录已被篡改。"
    ]


def test_an_entry_inserted_before_the_sequencer_ran_is_reported(db: None) -> None:
    _entries(2)
    forged = AuditEvent(seq=3, action="test.forged", prev_mac=chain.GENESIS, mac="ab" * 32)
    with connection.cursor() as cursor:  # inserting is allowed; forging the seal needs the key
        cursor.execute(
            "INSERT INTO audit_auditevent (seq, at, actor_name, unit, action, object_type, object_id,"
            " outcome, reason, data, key_version, prev_mac, mac)"
            " VALUES (%s, %s, '', '', %s, '', '', 'success', '', '{}', 1, %s, %s)",
            [forged.seq, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), forged.action, forged.prev_mac, forged.mac],
        )
        cursor.execute("INSERT INTO audit_unchained (seq) VALUES (3)")
    ident = AuditEvent.objects.get(seq=3).pk
    assert verify.verify().problems == [f"第 3 条（ID {ident}）的内容与其校验码不符：该条记录已被篡改。"]


def test_an_entry_deleted_before_it_was_linked_is_reported_by_its_queue_row(db: None) -> None:
    _entries(3)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    assert verify.verify().problems == ["第 2 条已写入，但在链入审计链之前已不存在：该条记录已被删除。"]
    # The sequencer linked the other two and leaves the orphan queue row for verify to report again.
    assert list(ChainLink.objects.order_by("pos").values_list("seq", flat=True)) == [1, 3]
    assert list(Unchained.objects.values_list("seq", flat=True)) == [2]


def test_an_entry_whose_queue_row_was_removed_is_reported(db: None) -> None:
    entries = _entries(2)
    with connection.cursor() as cursor:  # the queue is an ordinary table
        cursor.execute("DELETE FROM audit_unchained WHERE seq = 1")
    assert verify.verify().problems == [
        f"第 1 条（ID {entries[0].pk}）既未链入审计链，也不在待入链队列中：其队列记录已被删除。"
    ]


def test_the_window_an_entry_and_its_queue_row_deleted_before_linking_go_unnoticed(db: None) -> None:
    """The one thing the chain cannot see (ADR 27): a database owner deleting an entry together with its
    queue row between its commit and the sequencer's next run (right after the commit; at the latest
    AUDIT_CHAIN_SECONDS later). A rolled-back write leaves the same gap in the numbers."""
    _entries(3)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_unchained WHERE seq = 2")
    assert verify.verify().ok
    # Once linked, the same deletion is found.
    _tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    assert verify.verify().problems == ["第 3 条已链入审计链第 2 环，但已不存在：该条记录已被删除。"]


# ── The sequencer ──


def test_the_sequencer_links_in_number_order_once_and_is_idempotent(db: None) -> None:
    entries = _entries(4)
    assert sequencer.run(limit=3) == 3
    assert sequencer.run() == 1
    assert sequencer.run() == 0
    assert chain_entries() == 0  # the periodic task, the same run
    links = list(ChainLink.objects.order_by("pos").values_list("pos", "seq", "entry_mac"))
    assert links == [(i + 1, e.seq, e.mac) for i, e in enumerate(entries)]
    assert not Unchained.objects.exists()
    head = ChainHead.objects.get(pk=1)
    assert (head.seq, head.mac) == (4, ChainLink.objects.get(pos=4).mac)
    report = verify.verify()
    assert report.ok and (report.checked, report.last_seq, report.waiting) == (4, 4, 0)


def test_the_chain_follows_commit_order_not_numbers(db: None) -> None:
    """An entry numbered before another but committed after it is linked after it."""
    first, second = _entries(2)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_unchained WHERE seq = %s", [first.seq])  # as if not yet committed
    assert sequencer.run() == 1
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_unchained (seq) VALUES (%s)", [first.seq])  # now it commits
    assert sequencer.run() == 1
    assert list(ChainLink.objects.order_by("pos").values_list("seq", flat=True)) == [second.seq, first.seq]
    assert verify.verify().ok


def test_the_writers_commit_links_its_entries_at_once(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        record(actor=None, action="test.a")
        record(actor=None, action="test.b")
    assert len(callbacks) == 1  # one nudge per transaction, however many entries
    assert ChainLink.objects.count() == 2 and not Unchained.objects.exists()


def test_a_failing_sequencer_does_not_fail_the_committed_write(
    db: None, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def broken(**kwargs: Any) -> int:
        raise RuntimeError("sequencer down")

    monkeypatch.setattr(sequencer, "run", broken)
    with django_capture_on_commit_callbacks(execute=True):
        entry = record(actor=None, action="test.a")
    assert AuditEvent.objects.filter(seq=entry.seq).exists() and Unchained.objects.count() == 1
    assert "the periodic job will link the entries" in caplog.text


@pytest.mark.postgres  # advisory locks are PostgreSQL's
@pytest.mark.django_db(transaction=True)
def test_a_nudge_does_not_wait_for_a_running_sequencer() -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                sequencer.lock()
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:
        entry = record(actor=None, action="test.a")  # committed (autocommit); its nudge returns at once
        assert sequencer.run(wait=False) is None
        assert Unchained.objects.filter(seq=entry.seq).exists()
    finally:
        release.set()
        thread.join()
    assert sequencer.run(wait=False) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sequencers_lose_nothing_and_make_one_chain() -> None:
    """Writers in threads of their own (each commit nudges the sequencer), and sequencers running at the
    same time: every entry linked exactly once, positions without a gap, one valid chain."""
    writers, each, sequencers = 6, 8, 3
    barrier = threading.Barrier(writers + sequencers)
    failures: list[BaseException] = []
    done = threading.Event()

    def write(i: int) -> None:
        try:
            barrier.wait()
            for j in range(each):
                with transaction.atomic():
                    record(actor=None, action="test.concurrent", data={"thread": i, "n": j})
                    if j % 3 == 0:
                        record(actor=None, action="test.concurrent", data={"thread": i, "n": j, "second": 1})
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    def sequence() -> None:
        try:
            barrier.wait()
            while not done.is_set():
                sequencer.run(wait=True)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    runners = [threading.Thread(target=sequence) for _ in range(sequencers)]
    for t in threads + runners:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in runners:
        t.join()
    assert failures == []
    total = writers * (each + len(range(0, each, 3)))
    assert AuditEvent.objects.count() == total
    report = verify.verify()
    assert report.ok, report.problems
    assert (report.checked, report.last_seq) == (total, total)
    links = list(ChainLink.objects.order_by("pos").values_list("pos", "seq"))
    assert [pos for pos, _seq in links] == list(range(1, total + 1))
    assert sorted(seq for _pos, seq in links) == sorted(AuditEvent.objects.values_list("seq", flat=True))
    assert not Unchained.objects.exists()


def test_the_links_are_append_only_too(db: None) -> None:
    from django.db import DatabaseError

    _entries(2)
    sequencer.run()
    for sql in ("UPDATE audit_chainlink SET prev = 'x'", "DELETE FROM audit_chainlink"):
        with (
            pytest.raises(DatabaseError, match="audit_chainlink is append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert ChainLink.objects.count() == 2
    assert maintenance.installed(connection)
    maintenance.uninstall(connection, maintenance.LINK_TABLE)
    assert verify.verify().problems == ["审计表上的只追加触发器缺失。"]
