"""Several HJ 212 receiver processes on one port (`phaseout hj212 serve ADDR:PORT --processes N`):
the parent (phaseout.monitoring.processes) with stand-in children, the command's arguments, and two real
receiver processes on one port writing into the test database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from phaseout.monitoring import hj212
from phaseout.monitoring.management.commands.hj212 import child_argv
from phaseout.monitoring.models import Reading, RejectedPackets
from phaseout.monitoring.processes import Supervisor, add_stats, parse_stats
from tests.factories import MonitoringPointFactory

ROOT = Path(__file__).resolve().parent.parent
PORT = 18151  # this helper's range; the command refuses a port already taken, so a clash shows

# A stand-in receiver process: says it is serving, reports its counters, and on SIGTERM prints its last
# ones and exits; with DIE set it reports and then dies with status 3 instead.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    index, die = int(sys.argv[1]), sys.argv[2] == "die"
    stats = {"connections": 1 + index, "packets": 10 * (index + 1), "stored": 9 * (index + 1),
             "refused": {"password": 1, "crc": index}, "pending": 7}
    def stop(*_):
        final = dict(stats, stored=stats["stored"] + 7, pending=0)
        print(json.dumps(final), flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("HJ 212 receiver on test", flush=True)
    print("STATS " + json.dumps(stats), flush=True)
    if die:
        time.sleep(0.2)
        os._exit(3)
    while True:
        time.sleep(0.05)
    """
)


def _stand_ins(tmp_path: Path, dying: set[int]) -> Any:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    starts: list[int] = []

    def argv(index: int) -> list[str]:
        # The first start of a child in `dying` dies; its restart lives.
        die = index in dying and index not in starts
        starts.append(index)
        return [sys.executable, str(script), str(index), "die" if die else "live"]

    return argv, starts


def test_counters_of_several_processes_add_up(tmp_path: Path) -> None:
    argv, starts = _stand_ins(tmp_path, dying=set())

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        supervisor = Supervisor(argv, 3)
        await supervisor.start()
        while any(not c.last for c in supervisor.children):
            await asyncio.sleep(0.02)
        running = supervisor.totals()
        return running, await supervisor.stop()

    running, final = asyncio.run(main())
    assert starts == [0, 1, 2]
    assert running["connections"] == 1 + 2 + 3
    assert running["packets"] == 10 + 20 + 30
    assert running["pending"] == 21
    assert running["refused"] == {"password": 3, "crc": 0 + 1 + 2}
    # SIGTERM reached every child: each printed its last counters (everything written, nothing pending).
    assert final["stored"] == 9 + 18 + 27 + 3 * 7
    assert final["pending"] == 0
    assert final["deaths"] == 0 and final["lost"] == 0 and final["processes"] == 3
    assert final["connections_by_process"] == [1, 2, 3]


def test_a_child_that_dies_is_noticed_its_loss_counted_and_it_is_started_again(tmp_path: Path) -> None:
    argv, starts = _stand_ins(tmp_path, dying={1})

    async def main() -> dict[str, Any]:
        supervisor = Supervisor(argv, 2, restart_seconds=0.05)
        await supervisor.start()
        await asyncio.wait_for(supervisor.died.wait(), 10)
        while len(starts) < 3 or not supervisor.children[1].last:
            await asyncio.sleep(0.02)
        return await supervisor.stop()

    final = asyncio.run(main())
    assert starts == [0, 1, 1]  # child 1 started again
    assert final["deaths"] == 1
    assert final["lost"] == 7  # what it held unstored at its last report
    # The dead one's counters (but its pending) stay in the sum, beside its restart's and child 0's.
    assert final["packets"] == 10 + 20 + 20
    assert final["stored"] == (9 + 7) + 18 + (18 + 7)
    assert final["refused"] == {"password": 3, "crc": 0 + 1 + 1}
    assert final["pending"] == 0


def test_add_stats_and_parse_stats() -> None:
    total = add_stats({}, {"stored": 2, "refused": {"crc": 1}, "flag": True, "name": "x"})
    add_stats(total, {"stored": 3, "refused": {"crc": 2, "password": 1}})
    assert total == {"stored": 5, "refused": {"crc": 3, "password": 1}}
    assert parse_stats('STATS {"stored": 1}\n') == {"stored": 1}
    assert parse_stats('{"stored": 2}') == {"stored": 2}
    assert parse_stats("HJ 212 receiver on x") is None
    assert parse_stats("STATS {broken") is None


def test_serve_processes_arguments_refused_with_their_reason(db: None) -> None:
    with pytest.raises(CommandError) as error:
        call_command("hj212", "serve", f"127.0.0.1:{PORT}", "--processes", "0")
    assert str(error.value) == "--processes 须在 1 到 64 之间，不能是 0。"
    with pytest.raises(CommandError) as error:
        call_command("hj212", "serve", f"127.0.0.1:{PORT}", "--processes", "65")
    assert str(error.value) == "--processes 须在 1 到 64 之间，不能是 65。"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError) as error:
            call_command("hj212", "serve", f"127.0.0.1:{port}", "--processes", "2")
    assert str(error.value) == f"127.0.0.1:{port} 已有程序在监听，请先停止它。"


def test_each_child_gets_the_receiver_options_and_shares_the_port() -> None:
    options = {
        "max_connections": 300, "idle_seconds": 60.0, "max_segment": 1024, "batch_size": 100,
        "flush_seconds": 0.5, "buffer_limit": 1000, "writers": 3, "past_days": 30, "future_minutes": 5,
    }  # fmt: skip
    argv = child_argv("127.0.0.1", 9212, options)
    assert argv[:6] == [sys.executable, "-m", "phaseout.cli", "hj212", "serve", "127.0.0.1:9212"]
    assert argv[6:] == [
        "--max-connections", "300", "--idle-seconds", "60.0", "--max-segment", "1024", "--batch-size", "100",
        "--flush-seconds", "0.5", "--buffer-limit", "1000", "--writers", "3", "--past-days", "30",
        "--future-minutes", "5", "--reuse-port", "--report-seconds", "1", "--supervised",
    ]  # fmt: skip
    assert "--processes" not in argv  # a child is one receiver, not a parent again


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    return f"sqlite:///{settings['NAME']}"


def _packet(mn: str, n: int, pw: str = "123456") -> bytes:
    moment = dt.datetime(2026, 3, 1, 8, 0) + dt.timedelta(minutes=n)  # noqa: DTZ001 (logger's local clock)
    values = {"a21026": {"Avg": 10.0 + n, "Flag": "N"}}
    return hj212.data_packet(mn=mn, pw=pw, cn="2051", data_time=moment, values=values, sent_at=moment)


@pytest.mark.django_db(transaction=True)
def test_two_receiver_processes_on_one_port_store_every_packet_once(reference: None) -> None:
    points = [MonitoringPointFactory(mn=f"MNPROC{i:04d}", password="123456") for i in range(40)]
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_NAME", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "phaseout.cli", "hj212", "serve", f"127.0.0.1:{PORT}", "--processes", "2",
         "--flush-seconds", "0.05", "--past-days", "100000"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    try:
        assert server.stdout.readline().startswith(f"HJ 212 receiver on 127.0.0.1:{PORT}, 2 processes")

        async def logger(mn: str) -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
            # Five readings, and one packet with a wrong password (refused, counted, no acknowledgement).
            writer.write(b"".join(_packet(mn, n) for n in range(5)) + _packet(mn, 99, pw="wrong"))
            await writer.drain()
            decoder, got = hj212.StreamDecoder(), 0
            while got < 5:
                chunk = await asyncio.wait_for(reader.read(4096), 30)
                assert chunk, "connection closed before every acknowledgement came"
                got += sum(1 for p in decoder.feed(chunk) if isinstance(p, hj212.Packet))
            writer.close()
            return got

        async def loggers() -> list[int]:
            return await asyncio.gather(*(logger(p.mn) for p in points))

        acks = asyncio.run(loggers())
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0
    totals = json.loads(out.strip().splitlines()[-1])
    assert acks == [5] * 40  # every reading acknowledged, and only after it was stored
    assert Reading.objects.count() == 200
    assert Reading.objects.values("point", "cn", "data_time").distinct().count() == 200
    # The two processes' counters add up to what was sent; both took connections.
    assert totals["processes"] == 2 and totals["deaths"] == 0 and totals["lost"] == 0
    assert totals["connections"] == 40 and all(n > 0 for n in totals["connections_by_process"])
    assert sum(totals["connections_by_process"]) == 40
    assert totals["packets"] == 240 and totals["stored"] == 200 and totals["acked"] == 200
    assert totals["duplicates"] == 0 and totals["pending"] == 0
    assert totals["refused"] == {"password": 40}
    assert sum(RejectedPackets.objects.values_list("count", flat=True)) == 40
    assert set(RejectedPackets.objects.values_list("reason", flat=True)) == {"password"}


@pytest.mark.django_db(transaction=True)
def test_a_child_reports_its_counters_and_stops_when_its_parent_is_gone() -> None:
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_NAME", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "phaseout.cli", "hj212", "serve", f"127.0.0.1:{PORT + 1}", "--reuse-port",
         "--report-seconds", "0.1", "--supervised"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline().startswith(f"HJ 212 receiver on 127.0.0.1:{PORT + 1}")
        report = parse_stats(child.stdout.readline())
        assert report is not None and report["packets"] == 0 and report["pending"] == 0
        child.stdin.close()  # what the child sees when its parent dies
        child.wait(timeout=60)
        out = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0
    final = json.loads(out.strip().splitlines()[-1])  # it stopped as a lone receiver stops
    assert final["connections"] == 0 and final["pending"] == 0
