"""The HJ 212 receiver over real loopback TCP, writing into the test database; and `phaseout hj212 parse`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from phaseout.monitoring import hj212, simulator
from phaseout.monitoring.models import MonitoringPoint, Reading, RejectedPackets
from phaseout.monitoring.receiver import Receiver, Settings, platform_receiver
from tests.factories import MonitoringPointFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)  # 20:30 in Jiangmen
CLOCK = lambda: NOW  # noqa: E731


def packet(mn: str, n: int, *, pw: str = "123456", cn: str = "2051", ack: bool = True) -> bytes:
    moment = dt.datetime(2026, 3, 1, 20, 0) + dt.timedelta(minutes=n)  # noqa: DTZ001 (logger's local clock)
    values = {"a21026": {"Avg": 10.0 + n, "ZsAvg": 11.0, "Flag": "N"}, "a34013": {"Avg": 3.0, "Flag": "C"}}
    return hj212.data_packet(mn=mn, pw=pw, cn=cn, data_time=moment, values=values, sent_at=moment, ack=ack)


async def _read_acks(
    reader: asyncio.StreamReader, expected: int, timeout: float = 10.0
) -> list[hj212.Packet]:
    decoder = hj212.StreamDecoder()
    got: list[hj212.Packet] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < expected and loop.time() < deadline:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), deadline - loop.time())
        except TimeoutError:
            break
        if not chunk:
            break
        got += [p for p in decoder.feed(chunk) if isinstance(p, hj212.Packet)]
    return got


def run(scenario: Callable[[Receiver, int], Awaitable[Any]], settings: Settings | None = None) -> Receiver:
    async def main() -> Receiver:
        receiver = platform_receiver(settings or Settings(flush_seconds=0.05, retry_seconds=0.1), clock=CLOCK)
        server = await receiver.start("127.0.0.1", 0)  # an ephemeral port: never one another run uses
        port = server.sockets[0].getsockname()[1]
        try:
            await scenario(receiver, port)
        finally:
            await receiver.stop()
        return receiver

    return asyncio.run(main())


@pytest.fixture
def point(reference: None) -> MonitoringPoint:
    return MonitoringPointFactory(mn="MN0001", password="123456")


def test_packets_acknowledged_stored_and_bad_ones_counted_on_an_open_connection(
    point: MonitoringPoint,
) -> None:
    async def scenario(receiver: Receiver, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        good = [packet("MN0001", n) for n in range(3)]
        bad_crc = packet("MN0001", 9)[:-6] + b"0000\r\n"
        writer.write(
            good[0] + b"garbage!" + bad_crc + good[1][:20]  # one packet cut over two writes
        )
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(good[1][20:] + packet("NOSUCHMN", 1) + packet("MN0001", 5, pw="wrong") + good[2])
        writer.write(b"##9999" + b"x" * 50 + b"\r\n")
        await writer.drain()
        acks = await _read_acks(reader, 3)
        assert [a.cn for a in acks] == ["9014"] * 3
        assert sorted(a.qn for a in acks) == sorted(hj212.decode(p).qn for p in good)
        # After all that, the same connection still works.
        writer.write(packet("MN0001", 7))
        await writer.drain()
        assert len(await _read_acks(reader, 1)) == 1
        writer.close()

    receiver = run(scenario)
    assert Reading.objects.filter(point=point).count() == 4
    reading = Reading.objects.get(point=point, data_time=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    assert reading.cn == "2051"
    assert reading.values == {
        "a21026": {"Avg": 10.0, "ZsAvg": 11.0, "Flag": "N"},
        "a34013": {"Avg": 3.0, "Flag": "C"},
    }
    assert receiver.stats.refused == {"garbage": 2, "crc": 1, "unknown_mn": 1, "password": 1, "too_long": 1}
    assert (receiver.stats.stored, receiver.stats.acked, receiver.pending) == (4, 4, 0)
    logged: dict[tuple[str, str], int] = {}
    for r in RejectedPackets.objects.all():  # counted per flush: summed over them
        logged[r.mn, r.reason] = logged.get((r.mn, r.reason), 0) + r.count
    assert logged == {("", "garbage"): 2, ("", "crc"): 1, ("NOSUCHMN", "unknown_mn"): 1,
                      ("MN0001", "password"): 1, ("", "too_long"): 1}  # fmt: skip
    point.refresh_from_db()
    assert point.last_seen_at == NOW


def test_a_replayed_packet_is_one_reading(point: MonitoringPoint) -> None:
    data = [packet("MN0001", n) for n in range(5)]

    async def scenario(receiver: Receiver, port: int) -> None:
        assert await simulator.send("127.0.0.1", port, data) == 5
        assert await simulator.send("127.0.0.1", port, data + data, chunk=7) == 10  # acknowledged again

    receiver = run(scenario)
    assert Reading.objects.count() == 5
    assert (receiver.stats.stored, receiver.stats.duplicates) == (5, 10)


def test_inactive_point_and_bad_data_time_refused(point: MonitoringPoint) -> None:
    MonitoringPointFactory(mn="MN0002", password="abc", active=False, enterprise=point.enterprise)
    far = hj212.data_packet(
        mn="MN0001", pw="123456", cn="2061", data_time=dt.datetime(2030, 1, 1), values={},  # noqa: DTZ001
        sent_at=dt.datetime(2030, 1, 1),  # noqa: DTZ001
    )  # fmt: skip

    async def scenario(receiver: Receiver, port: int) -> None:
        await simulator.send("127.0.0.1", port, [packet("MN0002", 1, pw="abc"), far], timeout=0.5)

    receiver = run(scenario)
    assert receiver.stats.refused == {"inactive": 1, "data_time": 1}
    assert Reading.objects.count() == 0


def test_split_message_over_the_wire_is_one_reading(point: MonitoringPoint) -> None:
    values = {f"a2100{i}": {"Avg": float(i), "Max": 2.0, "Flag": "N"} for i in range(8)}
    cp = hj212.cp_of(dt.datetime(2026, 3, 1, 19), values).split(";")  # noqa: DTZ001
    head = {"qn": "20260301200000000", "st": "31", "cn": "2061", "pw": "123456", "mn": "MN0001", "flag": "5"}
    parts = hj212.split(head, cp, max_segment=300)

    async def scenario(receiver: Receiver, port: int) -> None:
        assert await simulator.send("127.0.0.1", port, parts[:1], timeout=0.3) == 0  # not whole yet
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(parts))
        await writer.drain()
        assert len(await _read_acks(reader, 1)) == 1
        writer.close()

    run(scenario, Settings(flush_seconds=0.05, max_segment=300))
    (reading,) = Reading.objects.all()
    assert reading.cn == "2061" and reading.values == values


def test_idle_connection_closed_and_connections_capped(point: MonitoringPoint) -> None:
    async def scenario(receiver: Receiver, port: int) -> None:
        first = await asyncio.open_connection("127.0.0.1", port)
        second = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)
        third_reader, _ = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(third_reader.read(10), 2) == b""  # refused: closed at once
        # The first two send nothing: closed when idle.
        assert await asyncio.wait_for(first[0].read(10), 3) == b""
        assert await asyncio.wait_for(second[0].read(10), 3) == b""

    receiver = run(scenario, Settings(max_connections=2, idle_seconds=0.3, flush_seconds=0.05))
    assert receiver.stats.connections_refused == 1
    assert receiver.stats.connections == 2


def _lock_database() -> Callable[[], None]:
    """Another session holds the readings table: the receiver's writes wait their lock timeout and fail."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        import psycopg

        other = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
            dbname=settings["NAME"], password=settings["PASSWORD"] or None,
        )  # fmt: skip
        other.execute("LOCK TABLE monitoring_reading IN ACCESS EXCLUSIVE MODE")
        return other.rollback
    lite = sqlite3.connect(settings["NAME"], timeout=5, isolation_level=None)
    lite.execute("BEGIN EXCLUSIVE")
    return lambda: (lite.execute("ROLLBACK"), lite.close())  # type: ignore[func-returns-value]


def test_database_outage_buffers_then_refuses_and_loses_nothing(point: MonitoringPoint) -> None:
    sent = [packet("MN0001", n) for n in range(12)]
    counts: dict[str, int] = {}

    async def scenario(receiver: Receiver, port: int) -> None:
        release = await asyncio.to_thread(_lock_database)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(sent))
            await writer.drain()
            for _ in range(100):
                if receiver.stats.write_failures >= 2 and receiver.stats.refused.get("overload"):
                    break
                await asyncio.sleep(0.05)
            counts["failures"] = receiver.stats.write_failures
            counts["pending_during"] = receiver.pending
            counts["acked_during"] = receiver.stats.acked
        finally:
            await asyncio.to_thread(release)
        acks = await _read_acks(reader, 8)
        counts["acks"] = len(acks)
        writer.close()

    receiver = run(
        scenario, Settings(flush_seconds=0.05, retry_seconds=0.1, buffer_limit=8, lock_timeout_ms=100)
    )
    assert counts["failures"] >= 2
    assert counts["pending_during"] == 8 and counts["acked_during"] == 0  # nothing acknowledged unwritten
    assert counts["acks"] == 8
    assert receiver.stats.refused == {"overload": 4}  # refused: not acknowledged, so the logger sends again
    assert receiver.stats.stored == 8 == Reading.objects.count()
    assert receiver.stats.stored + sum(receiver.stats.refused.values()) == len(sent)
    assert sum(RejectedPackets.objects.filter(reason="overload").values_list("count", flat=True)) == 4


@pytest.mark.postgres
def test_readings_land_in_monthly_partitions(point: MonitoringPoint) -> None:
    from phaseout.monitoring import partitions, store

    partitions.forget()
    rows = [
        store.Row(
            point.pk, "2061", dt.datetime(2026, m, 28, 20, tzinfo=dt.UTC), {"a21026": {"Avg": 1.0}}, "q", NOW
        )
        for m in (1, 2, 3)
    ]
    assert store.write(rows) == 3
    assert store.write(rows + rows) == 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM monitoring_reading GROUP BY 1 ORDER BY 1"
        )
        # 28 Feb 20:00 UTC is 1 March 04:00 in Jiangmen: partitions are local months.
        assert cursor.fetchall() == [
            ("monitoring_reading_p202601", 1),
            ("monitoring_reading_p202603", 2),
        ]


def test_storage_is_idempotent(point: MonitoringPoint) -> None:
    from phaseout.monitoring import store

    rows = [
        store.Row(point.pk, "2051", NOW - dt.timedelta(minutes=n), {"a21026": {"Avg": 1.5}}, "q", NOW)
        for n in range(4)
    ]
    assert store.write(rows) == 4
    assert store.write(rows[:2] + rows) == 0
    assert Reading.objects.count() == 4


def test_parse_command_prints_each_lines_fields_or_error(tmp_path: Any, capsys: Any) -> None:
    example = (
        b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
        b"CP=&&RtdInterval=30&&1C80"
    )
    path = tmp_path / "capture.txt"
    path.write_bytes(
        example + b"\r\n\r\n" + example.replace(b"1C80", b"1C08") + b"\n" + packet("M", 1) + b"\n"
    )
    with pytest.raises(SystemExit) as exited:
        call_command("hj212", "parse", str(path), "--json")
    assert exited.value.code == 1  # a line was bad
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["MN"] == "010000A8900016F000169DC0" and lines[0]["CP"] == {"RtdInterval": "30"}
    assert lines[0]["version"] == "HJ 212-2017" and lines[0]["ack"] is True
    assert lines[1] == {"line": 2, "error": "crc", "detail": "given 1C08, computed 1C80"}
    assert lines[2]["values"]["a21026"] == {"Avg": 11.0, "ZsAvg": 11.0, "Flag": "N"}


def test_values_as_json_text_and_characters_copy_must_escape(point: MonitoringPoint) -> None:
    from phaseout.monitoring import store

    odd = {"a21026": {"Avg": 1.0, "Info": "a\\b\tc\nd"}}
    text = '{"a21026":{"Avg":2.5,"Flag":"N"}}'
    rows = [
        store.Row(point.pk, "2061", NOW - dt.timedelta(hours=2), odd, "q\\1", NOW),
        store.Row(point.pk, "2061", NOW - dt.timedelta(hours=1), text, "q", NOW),
    ]
    assert store.write(rows) == 2
    stored = {r.data_time: (r.values, r.qn) for r in Reading.objects.all()}
    assert stored == {
        NOW - dt.timedelta(hours=2): ({"a21026": {"Avg": 1.0, "Info": "a\\b\tc\nd"}}, "q\\1"),
        NOW - dt.timedelta(hours=1): ({"a21026": {"Avg": 2.5, "Flag": "N"}}, "q"),
    }


@pytest.mark.postgres
def test_a_writer_with_an_older_batch_does_not_move_last_seen_back(point: MonitoringPoint) -> None:
    from phaseout.monitoring import store

    newer = store.Row(point.pk, "2051", NOW - dt.timedelta(minutes=2), "{}", "q", NOW)
    older = store.Row(
        point.pk, "2051", NOW - dt.timedelta(minutes=3), "{}", "q", NOW - dt.timedelta(seconds=5)
    )
    store.write([newer])
    store.write([older])
    point.refresh_from_db()
    assert point.last_seen_at == NOW and Reading.objects.count() == 2


def _receiver_writing_with(write: Callable[..., int], **settings: Any) -> Receiver:
    """A receiver (no server, no database) whose writes go to `write`, with one known point."""
    from phaseout.monitoring.receiver import Entry

    return Receiver(
        settings=Settings(writers=2, **settings),
        load_directory=lambda: {"88888880000009": Entry(point_id=1, password="123456", active=True)},
        write=write,
        clock=CLOCK,
        zone=dt.timezone(dt.timedelta(hours=8)),
    )


def test_two_writers_take_separate_batches_and_a_failed_one_goes_back_in_front() -> None:
    written: list[list[str]] = []
    lock = threading.Lock()

    def write(rows: Any, rejections: Any, timeout: int) -> int:
        with lock:
            first = not written
            written.append([r.qn for r in rows])
        if first:
            raise RuntimeError("the database is down")
        time.sleep(0.02)  # the two writers overlap
        return len(rows)

    async def scenario() -> Receiver:
        receiver = _receiver_writing_with(write, batch_size=3)
        await receiver.refresh_directory()
        for n in range(7):
            decoded = hj212.decode(packet("88888880000009", n, ack=False))
            decoded.qn = f"q{n}"
            receiver._accept(decoded, None, "peer", NOW)  # type: ignore[arg-type]
        assert receiver.pending == 7
        outcomes = await asyncio.gather(receiver.flush(), receiver.flush())
        assert sorted(outcomes) == [False, True] and receiver.stats.write_failures == 1
        assert await receiver.flush() is True
        receiver._db.shutdown(wait=True)
        return receiver

    receiver = asyncio.run(scenario())
    assert written[0] == ["q0", "q1", "q2"]  # failed: back in front, written again
    stored = [qn for batch in written[1:] for qn in batch]
    assert sorted(stored) == [f"q{n}" for n in range(7)]  # each once, none lost
    assert (receiver.stats.stored, receiver.pending) == (7, 0)


def test_a_write_in_flight_when_the_receiver_stops_is_settled_not_written_again() -> None:
    calls: list[int] = []
    started = threading.Event()

    def write(rows: Any, rejections: Any, timeout: int) -> int:
        calls.append(len(rows))
        started.set()
        time.sleep(0.1)  # still writing when the receiver is told to stop
        return len(rows)

    async def scenario() -> Receiver:
        receiver = _receiver_writing_with(write, batch_size=10)
        await receiver.refresh_directory()
        for n in range(4):
            receiver._accept(hj212.decode(packet("88888880000009", n, ack=False)), None, "peer", NOW)  # type: ignore[arg-type]
        receiver._tasks = [asyncio.create_task(receiver.flush())]
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        await receiver.stop()
        return receiver

    receiver = asyncio.run(scenario())
    assert calls == [4]  # written once: the last flush found it settled
    assert (receiver.stats.stored, receiver.stats.duplicates, receiver.pending) == (4, 0, 0)


@pytest.mark.postgres
def test_two_writers_needing_the_same_new_month_make_its_partition_once() -> None:
    """Two receiver processes whose batches both open a month nobody has written yet: the second waits for
    the first instead of failing on PostgreSQL's catalog (CREATE TABLE IF NOT EXISTS is not safe against
    a concurrent creator), and finds the partition made."""
    from django.db import connections, transaction

    from phaseout.monitoring import partitions

    month = (2031, 7)
    name = partitions.partition_name(month)
    partitions.forget()
    first_made = threading.Event()
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def writer(label: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                outcome[label] = partitions.ensure([month])
                if hold:
                    first_made.set()
                    release.wait(10)
        except Exception as error:  # the test reports what the second writer met
            outcome[label] = error
        finally:
            connections.close_all()

    first = threading.Thread(target=writer, args=("first", True))
    first.start()
    assert first_made.wait(10)
    partitions.forget()  # the second is another process: it knows nothing of the first's table
    second = threading.Thread(target=writer, args=("second", False))
    second.start()
    # The second writer is waiting on a lock held by the first's open transaction.
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    release.set()
    first.join(10)
    second.join(10)
    assert outcome == {"first": 1, "second": 0}
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        assert cursor.fetchone() == (True,)
        cursor.execute(f'DROP TABLE "{name}"')
    partitions.forget()


def test_a_batch_acknowledgements_go_out_in_one_write_per_connection_after_the_commit() -> None:
    from phaseout.monitoring.receiver import _Pending
    from phaseout.monitoring.store import Row

    class Writer:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            self.writes.append(data)

    receiver = Receiver(load_directory=dict, write=lambda rows, rejections, ms: len(rows))
    first, second = Writer(), Writer()
    packets = [hj212.decode(packet(f"MN{i % 2}", i, ack=i != 4)) for i in range(5)]
    row = Row(1, "2051", NOW, "{}", "", NOW)
    batch = [
        _Pending(row, (first if i % 2 == 0 else second) if p.wants_ack else None, p if p.wants_ack else None)  # type: ignore[arg-type]
        for i, p in enumerate(packets)
    ]
    assert first.writes == second.writes == []  # nothing acknowledged before the batch is settled
    receiver._settle(batch, 4)
    assert first.writes == [hj212.ack(packets[0]) + hj212.ack(packets[2])]  # packet 4 asked for none
    assert second.writes == [hj212.ack(packets[1]) + hj212.ack(packets[3])]
    assert (receiver.stats.acked, receiver.stats.stored, receiver.stats.duplicates) == (4, 4, 1)
