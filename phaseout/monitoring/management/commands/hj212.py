"""`phaseout hj212 serve|parse|simulate`: the HJ 212 receiver, the packet checker and the simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from phaseout.monitoring.processes import MAX_PROCESSES

# The options a receiver process takes, passed on as they are to each child of `serve --processes N`.
RECEIVER_OPTIONS = (
    "max_connections", "idle_seconds", "max_segment", "batch_size", "flush_seconds", "buffer_limit",
    "writers", "past_days", "future_minutes",
)  # fmt: skip


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"ADDR:PORT expected, not {text!r}")
    return host or "127.0.0.1", int(port)


class Command(BaseCommand):
    help = "HJ 212 online monitoring: serve ADDR:PORT | parse FILE [--json] | simulate --to ADDR:PORT"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        serve = sub.add_parser("serve", help="receive data loggers' packets")
        serve.add_argument("address", nargs="?", default="0.0.0.0:9212")
        serve.add_argument("--max-connections", type=int, default=2000)
        serve.add_argument("--idle-seconds", type=float, default=600.0)
        serve.add_argument("--max-segment", type=int, default=1024)
        serve.add_argument("--batch-size", type=int, default=5000)
        serve.add_argument("--flush-seconds", type=float, default=1.0)
        serve.add_argument("--buffer-limit", type=int, default=200_000)
        serve.add_argument("--writers", type=int, default=2, help="database connections writing at once")
        serve.add_argument("--past-days", type=int, default=400, help="older DataTime refused")
        serve.add_argument("--future-minutes", type=int, default=60, help="DataTime further ahead refused")
        serve.add_argument(
            "--processes", type=int, default=1,
            help="receiver processes on the one port (SO_REUSEPORT), each with its own writers",
        )  # fmt: skip
        # A child of `--processes N`: shares the port, reports its counters, stops when its parent is gone.
        serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
        serve.add_argument("--report-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
        serve.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
        parse = sub.add_parser("parse", help="parse captured packets, one per line")
        parse.add_argument("file")
        parse.add_argument("--json", action="store_true")
        parse.add_argument("--max-segment", type=int, default=1024)
        simulate = sub.add_parser("simulate", help="send the demo monitors' packets")
        simulate.add_argument("--to", required=True)
        simulate.add_argument("--hours", type=int, default=6)
        simulate.add_argument("--start", help="local start time, YYYY-MM-DDTHH:MM (default: hours ago)")
        simulate.add_argument("--minute-step", type=int, default=10)
        feed = sub.add_parser(
            "feed", help="replay the demo monitors' last hours through a receiver on loopback, then stop"
        )
        feed.add_argument("--hours", type=int, default=60)
        feed.add_argument("--minute-step", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "serve":
            self.serve(options)
        elif action == "parse":
            self.parse(options)
        elif action == "feed":
            self.feed(options)
        else:
            self.simulate(options)

    def parse(self, options: dict[str, Any]) -> None:
        from phaseout.monitoring import hj212

        path = options["file"]
        try:
            with open(path, "rb") if path != "-" else sys.stdin.buffer as handle:
                data = handle.read(64 * 1024 * 1024 + 1)
        except OSError as error:
            raise CommandError(str(error)) from error
        if len(data) > 64 * 1024 * 1024:
            raise CommandError("file larger than 64 MiB")
        bad = 0
        for number, line in enumerate(hj212.iter_lines(data), start=1):
            try:
                packet = hj212.decode(line, max_segment=options["max_segment"])
                out: dict[str, Any] = {"line": number, **packet.as_dict()}
            except hj212.HJ212Error as error:
                bad += 1
                out = {"line": number, "error": str(error.reason), "detail": error.detail}
            if options["json"]:
                self.stdout.write(json.dumps(out, ensure_ascii=False))
            elif "error" in out:
                self.stdout.write(f"{number}: {out['error']} {out['detail']}")
            else:
                self.stdout.write(f"{number}: CN={out['CN']} MN={out['MN']} {out['CP'].get('DataTime', '')}")
        if bad:
            sys.exit(1)

    def serve(self, options: dict[str, Any]) -> None:
        host, port = _address(options["address"])
        processes = options["processes"]
        if not 1 <= processes <= MAX_PROCESSES:
            raise CommandError(
                _("--processes must be between 1 and %(max)d, not %(given)d.")
                % {"max": MAX_PROCESSES, "given": processes}
            )
        if processes > 1:
            self.serve_processes(host, port, processes, options)
        else:
            self.serve_one(host, port, options)

    def serve_one(self, host: str, port: int, options: dict[str, Any]) -> None:
        from phaseout.monitoring.receiver import Settings, platform_receiver

        settings = Settings(
            max_connections=options["max_connections"], idle_seconds=options["idle_seconds"],
            max_segment=options["max_segment"], batch_size=options["batch_size"],
            flush_seconds=options["flush_seconds"], buffer_limit=options["buffer_limit"],
            writers=max(1, min(int(options["writers"]), 16)),
            past_days=max(1, int(options["past_days"])),
            future_minutes=max(0, int(options["future_minutes"])),
        )  # fmt: skip
        report = max(0.0, float(options["report_seconds"] or 0.0))

        async def main() -> None:
            receiver = platform_receiver(settings)
            await receiver.start(host, port, reuse_port=options["reuse_port"])
            self._out(f"HJ 212 receiver on {host}:{port}, {len(receiver.directory)} monitoring points")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            tasks = []
            if options["supervised"]:
                tasks.append(asyncio.create_task(_until_stdin_ends(stop)))
            if report > 0:
                tasks.append(asyncio.create_task(self._report(receiver, report)))
            await stop.wait()
            for task in tasks:
                task.cancel()
            await receiver.stop()
            self._out(json.dumps(receiver.stats.as_dict(receiver.pending)))

        asyncio.run(main())

    def _out(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    async def _report(self, receiver: Any, seconds: float) -> None:
        from phaseout.monitoring.processes import STATS_PREFIX

        while True:
            await asyncio.sleep(seconds)
            self._out(STATS_PREFIX + json.dumps(receiver.stats.as_dict(receiver.pending)))

    def serve_processes(self, host: str, port: int, processes: int, options: dict[str, Any]) -> None:
        from phaseout.monitoring.processes import Supervisor, port_is_free

        if not port_is_free(host, port):
            raise CommandError(
                _("Something already listens on %(address)s; stop it first.") % {"address": f"{host}:{port}"}
            )
        argv = child_argv(host, port, options)

        async def main() -> dict[str, Any]:
            supervisor = Supervisor(lambda _index: argv, processes, on_line=lambda i, line: None)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await supervisor.start()
            self._out(f"HJ 212 receiver on {host}:{port}, {processes} processes")
            await stop.wait()
            return await supervisor.stop()

        self._out(json.dumps(asyncio.run(main())))

    def simulate(self, options: dict[str, Any]) -> None:
        from django.utils import timezone

        from phaseout.monitoring import simulator
        from phaseout.monitoring.models import MonitoringPoint

        host, port = _address(options["to"])
        hours = max(1, min(int(options["hours"]), 24 * 31))
        if options["start"]:
            start = dt.datetime.strptime(options["start"], "%Y-%m-%dT%H:%M")  # noqa: DTZ007 (local time)
        else:
            start = timezone.localtime().replace(tzinfo=None, minute=0, second=0, microsecond=0)
            start -= dt.timedelta(hours=hours)
        loggers = [
            simulator.Logger(mn=p.mn, password=p.password, kind=p.kind, profile=_profile(p))
            for p in MonitoringPoint.objects.filter(active=True).prefetch_related("lines")
        ]
        if not loggers:
            raise CommandError("no monitoring points (run `phaseout demo` first)")

        step = max(1, min(int(options["minute_step"]), 60))

        async def main() -> list[int]:
            return await asyncio.gather(
                *(
                    simulator.send(
                        host, port,
                        list(simulator.packets(lg, start=start, hours=hours, minute_step=step)),
                    )
                    for lg in loggers
                )
            )  # fmt: skip

        acks = asyncio.run(main())
        self.stdout.write(f"{len(loggers)} loggers, {sum(acks)} packets acknowledged")

    def feed(self, options: dict[str, Any]) -> None:
        """The demo's history: a receiver on a loopback port of this process, the simulated loggers sending
        their real packets of the last hours to it, every packet acknowledged after it is stored. A replay
        arrives at once, so each point is then marked last seen when its last packet was sent (the offline
        logger stopped half-way: it shows offline)."""
        from django.db.models import Max
        from django.utils import timezone

        from phaseout.monitoring import simulator
        from phaseout.monitoring.models import MonitoringPoint, Reading
        from phaseout.monitoring.receiver import platform_receiver

        hours = max(1, min(int(options["hours"]), 24 * 31))
        step = max(1, min(int(options["minute_step"]), 60))
        start = timezone.localtime().replace(tzinfo=None, minute=0, second=0, microsecond=0)
        start -= dt.timedelta(hours=hours)
        points = list(MonitoringPoint.objects.filter(active=True).prefetch_related("lines"))
        if not points:
            raise CommandError("no monitoring points (run `phaseout demo` first)")
        loggers = [
            simulator.Logger(mn=p.mn, password=p.password, kind=p.kind, profile=_profile(p)) for p in points
        ]

        async def main() -> tuple[int, int]:
            receiver = platform_receiver()
            server = await receiver.start("127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            sent = [list(simulator.packets(lg, start=start, hours=hours, minute_step=step)) for lg in loggers]
            acks = await asyncio.gather(*(simulator.send("127.0.0.1", port, data) for data in sent))
            await receiver.stop()
            return sum(len(data) for data in sent), sum(acks)

        sent, acked = asyncio.run(main())
        last = Reading.objects.values("point").annotate(last=Max("data_time"))
        for row in last:
            seen = row["last"] + dt.timedelta(minutes=5)
            MonitoringPoint.objects.filter(pk=row["point"]).update(last_seen_at=seen)
        self.stdout.write(f"{len(loggers)} loggers, {sent} packets sent, {acked} acknowledged after storing")


def child_argv(host: str, port: int, options: dict[str, Any]) -> list[str]:
    """The command line of one child of `serve --processes N`: the same receiver options, on the same port
    with SO_REUSEPORT, reporting its counters every second, stopping when its parent is gone."""
    argv = [sys.executable, "-m", "phaseout.cli", "hj212", "serve", f"{host}:{port}"]
    for name in RECEIVER_OPTIONS:
        argv += [f"--{name.replace('_', '-')}", str(options[name])]
    return [*argv, "--reuse-port", "--report-seconds", "1", "--supervised"]


async def _until_stdin_ends(stop: asyncio.Event) -> None:
    """Set `stop` when standard input ends (the parent process is gone). Read in a daemon thread of its
    own: a read that never ends must not hold the process at exit (the loop's executor would wait)."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):  # unbuffered: no lock of sys.stdin held when the process exits
                pass
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to tell
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, name="hj212-parent", daemon=True).start()
    await stop.wait()


def _profile(point: Any) -> str:
    from phaseout.registry.models import LineStatus

    if any(line.status == LineStatus.EXITED for line in point.lines.all()):
        return "exited"
    return {"DA002": "exceeding", "DA003": "offline"}.get(point.outlet_code, "normal")
