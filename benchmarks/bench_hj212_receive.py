"""The HJ 212 receiver end to end: many simulated data loggers over loopback into PostgreSQL.

The real receiver (`phaseout hj212 serve`, phaseout.monitoring.receiver) runs in a process of its own on
database hjb_bench; client processes open LOGGERS connections, one per monitoring point, and send
minute data (CN 2051, one packet an hour hourly data, CN 2061) of 10 pollutants for DURATION seconds:

- `ack` mode: each logger keeps at most WINDOW packets unacknowledged (the 9014 comes after the batch
  holding the packet is committed), i.e. as fast as the acknowledgements allow;
- `noack` mode: Flag without the acknowledgement bit, sent as fast as the socket takes them.

Then the stored readings are counted against the packets sent: no loss, no duplicate (the unique key
(point, cn, data_time) and a count(*) of distinct keys), exactly. Sustained rate: packets sent / time
from the first byte to the last packet stored. With PROFILE=1 the receiver's process runs under
cProfile (its event loop: decoding, checks, buffering; the database thread is not in that profile) and
the top functions are printed. Target: >= 20,000 packets/s sustained on this machine.

Environment: BENCH_LOGGERS (default 1000), BENCH_SECONDS (30), BENCH_WINDOW (50), BENCH_MODE (ack|noack|both),
BENCH_BATCH (receiver batch size, 5000), BENCH_PORT (9220; ports 9220-9229 are this benchmark's),
BENCH_DATABASE (hjb_bench), BENCH_PROCESSES (receiver processes on the port, 1), BENCH_CLIENTS (client
processes, 2), PROFILE (with several receiver processes: the parent's profile, not the children's).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing as mp
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, use_database
from phaseout.monitoring import hj212

DATABASE = os.environ.get("BENCH_DATABASE", "hjb_bench")
LOGGERS = int(os.environ.get("BENCH_LOGGERS", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
WINDOW = int(os.environ.get("BENCH_WINDOW", "50"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
PORT = int(os.environ.get("BENCH_PORT", "9220"))
CLIENT_PROCESSES = int(os.environ.get("BENCH_CLIENTS", "2"))
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "1"))  # receiver processes (`serve --processes N`)
CODES = ["a21026", "a21002", "a34013", "a00000", "a19001", "a01011", "a01012", "a01013", "a01014", "a21005"]
PASSWORD = "123456"
START = dt.datetime(2026, 1, 1)


def mn_of(i: int) -> str:
    return f"88880000BENCH{i:06d}"


def _body() -> str:
    groups = []
    for j, code in enumerate(CODES):
        avg = 10 + j * 3.3
        groups.append(
            f"{code}-Min={avg * 0.8:.4f},{code}-Avg={avg:.4f},{code}-Max={avg * 1.2:.4f},"
            f"{code}-ZsAvg={avg * 1.1:.4f},{code}-Flag=N"
        )
    return ";".join(groups)


BODY = _body()


def packet(mn: str, n: int, flag: int) -> bytes:
    """The n-th packet of a logger: minute data of minute n from START, and at each whole hour the hourly
    data of the hour before (so both CNs are stored), each with its own DataTime."""
    hourly = n % 61 == 60
    minute = n - n // 61
    moment = START + dt.timedelta(minutes=minute) if not hourly else START + dt.timedelta(hours=n // 61)
    cn = "2061" if hourly else "2051"
    stamp = f"{moment:%Y%m%d%H%M%S}"
    segment = (
        f"QN={stamp}{n % 1000:03d};ST=31;CN={cn};PW={PASSWORD};MN={mn};Flag={flag};"
        f"CP=&&DataTime={stamp};{BODY}&&"
    ).encode()
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212.crc(segment))


async def _logger(i: int, deadline: float, ack: bool, sent: list[int], acked: list[int]) -> None:
    await asyncio.sleep((i % 100) * 0.002)  # not all at the same instant
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    mn = mn_of(i)
    flag = 5 if ack else 4
    loop = asyncio.get_running_loop()
    decoder = hj212.StreamDecoder()
    n = outstanding = 0
    try:
        while loop.time() < deadline:
            burst = WINDOW - outstanding if ack else WINDOW
            if burst > 0:
                writer.write(b"".join(packet(mn, n + k, flag) for k in range(burst)))
                n += burst
                outstanding += burst
                await writer.drain()
            if ack:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got = sum(1 for p in decoder.feed(chunk) if isinstance(p, hj212.Packet))
                outstanding -= got
                acked[0] += got
        if ack:  # the last acknowledgements
            end = loop.time() + 60
            while outstanding > 0 and loop.time() < end:
                chunk = await asyncio.wait_for(reader.read(65536), max(0.1, end - loop.time()))
                if not chunk:
                    break
                got = sum(1 for p in decoder.feed(chunk) if isinstance(p, hj212.Packet))
                outstanding -= got
                acked[0] += got
    finally:
        sent[0] += n
        writer.close()


def _client(first: int, count: int, start_at: float, ack: bool, results: mp.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> tuple[int, int]:
        while time.time() < start_at:
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SECONDS
        sent, acked = [0], [0]
        await asyncio.gather(*(_logger(i, deadline, ack, sent, acked) for i in range(first, first + count)))
        return sent[0], acked[0]

    sent, acked = asyncio.run(main())
    times = os.times()
    results.put((sent, acked, times.user + times.system))


def seed() -> None:
    from django.db import connection

    from benchmarks.common import copy_enterprises
    from phaseout.monitoring.models import MonitoringPoint

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_monitoringpoint WHERE mn LIKE '88880000BENCH%%'")
        (have,) = cursor.fetchone()
        if have == LOGGERS:
            return
        cursor.execute("TRUNCATE monitoring_reading, monitoring_monitoringpoint CASCADE")
        cursor.execute("DELETE FROM registry_enterprise WHERE id = 990001")
        copy_enterprises(
            cursor.cursor, [(990001, "914407039900000001"[:17], "基准测试钢铁有限公司", "440703", "steel")]
        )
    MonitoringPoint.objects.bulk_create(
        MonitoringPoint(
            mn=mn_of(i), enterprise_id=990001, outlet_code=f"DA{i:06d}", outlet_name=f"{i}号排口", kind="gas",
            password=PASSWORD,
        )
        for i in range(LOGGERS)
    )  # fmt: skip


def counts() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (point_id, cn, data_time)) FROM monitoring_reading")
        total, distinct = cursor.fetchone()
    return int(total), int(distinct)


def run(mode: str, profile: bool) -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_reading")
    connection.close()
    prof = OUT / f"hj212_receive_{mode}.prof"
    command = [sys.executable]
    if profile:
        command += ["-m", "cProfile", "-o", str(prof)]
    limit = max(200_000, LOGGERS * WINDOW * 2)
    command += ["-m", "phaseout.cli", "hj212", "serve", f"127.0.0.1:{PORT}", "--batch-size", str(BATCH),
                "--max-connections", str(LOGGERS + 100), "--buffer-limit", str(limit)]  # fmt: skip
    if PROCESSES > 1:
        command += ["--processes", str(PROCESSES)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    assert "HJ 212 receiver" in line, line
    ack = mode == "ack"
    results: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 1.0
    per = LOGGERS // CLIENT_PROCESSES
    shares = [per if k < CLIENT_PROCESSES - 1 else LOGGERS - k * per for k in range(CLIENT_PROCESSES)]
    clients = [
        mp.Process(target=_client, args=(k * per, share, start_at, ack, results))
        for k, share in enumerate(shares)
    ]
    for c in clients:
        c.start()
    sent = acked = 0
    client_cpu = 0.0
    for _ in clients:
        s, a, c = results.get(timeout=SECONDS + 180)
        sent += s
        acked += a
        client_cpu += c
    for c in clients:
        c.join()
    # Wait until everything sent is stored (noack: the receiver may still be writing).
    stored = 0
    while True:
        stored, distinct = counts()
        connection.close()
        if stored >= sent or time.time() - start_at > SECONDS + 120:
            break
        time.sleep(0.2)
    elapsed = time.time() - start_at
    server_cpu = _cpu_seconds(lambda pid, ppids: pid == server.pid or ppids.get(pid) == server.pid)
    database_cpu = _cpu_seconds(lambda pid, ppids: DATABASE in _cmdline(pid) and "postgres" in _cmdline(pid))
    server.terminate()
    stats_line = server.communicate(timeout=600)[0].strip().splitlines()
    stored, distinct = counts()
    result = {
        "sent": sent, "acked": acked, "stored": stored, "distinct": distinct, "seconds": elapsed,
        "rate": stored / elapsed,
    }  # fmt: skip
    print(
        f"{mode}: {LOGGERS} loggers, {PROCESSES} receiver process(es), window {WINDOW}, batch {BATCH}: "
        f"sent {sent:,}, acknowledged {acked:,}, "
        f"stored {stored:,} (distinct keys {distinct:,}) in {elapsed:.1f} s = "
        f"{result['rate']:,.0f} packets/s; "
        f"{'exact' if stored == distinct == sent and (not ack or acked == sent) else 'NOT EXACT'}"
    )
    print(
        f"  CPU seconds: receiver process(es) {server_cpu:.1f}, PostgreSQL backends of {DATABASE} "
        f"{database_cpu:.1f}, the logger clients {client_cpu:.1f}"
    )
    if stats_line:
        import json

        print(f"  receiver: {stats_line[-1]}")
        counted = json.loads(stats_line[-1])
        refused = sum(counted["refused"].values())
        # Without acknowledgements a full buffer refuses packets (reason "overload", counted, logged):
        # every packet sent is stored or refused, none silently lost.
        print(
            f"  accounted for: stored {stored:,} + refused {refused:,} = {stored + refused:,} "
            f"of {sent:,} sent: "
            f"{'every packet' if stored + refused == sent else 'MISSING SOME'}"
        )
    if profile and prof.exists():
        print("  receiver's event loop, cProfile, top 15 by own time:")
        stats = pstats.Stats(str(prof))
        stats.sort_stats("tottime").print_stats(15)
    return result


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cpu_seconds(select) -> float:  # type: ignore[no-untyped-def]
    """User + system CPU seconds of the running processes `select(pid, parents)` picks (Linux /proc)."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            stats[int(entry.name)] = text[text.rindex(")") + 2 :].split()
    ppids = {pid: int(fields[1]) for pid, fields in stats.items()}
    tick = os.sysconf("SC_CLK_TCK")
    return sum(
        (int(fields[11]) + int(fields[12])) / tick for pid, fields in stats.items() if select(pid, ppids)
    )


def main() -> None:
    use_database(DATABASE)
    seed()
    print(f"load average before: {os.getloadavg()}")
    modes = ["ack", "noack"] if os.environ.get("BENCH_MODE", "both") == "both" else [os.environ["BENCH_MODE"]]
    rates = [run(mode, os.environ.get("PROFILE") == "1")["rate"] for mode in modes]
    print(f"load average after: {os.getloadavg()}")
    print(f"target >= 20,000 packets/s sustained: {'met' if max(rates) >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
