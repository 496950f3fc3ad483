"""Several receiver processes on one port (`phaseout hj212 serve ADDR:PORT --processes N`).

One receiver is one event loop, so one core: decoding and checking the packets is Python work. With
`--processes N` the command becomes a parent that starts N receiver processes, each binding the same
address with SO_REUSEPORT (the kernel spreads the incoming connections over them, by the connection's
addresses and ports) and each with its own writers and database connections. The parent itself holds no
database connection and serves no logger:

- each child reports its counters every `report_seconds` (a line `STATS {json}` on its standard output)
  and once more when it stops; the parent adds them up (the counters of all children, and those last
  reported by children that have died);
- a child that exits without being asked is noticed at once (its output ends), logged with its exit
  status, counted (`deaths`), and started again (after `restart_seconds`, doubling while it keeps dying
  within a minute of its start, up to a minute). What it held unstored at its last report is counted as
  `lost` (readings not stored and, since an acknowledgement follows the commit, not acknowledged either:
  a logger that asked for one sends them again; one that did not has lost them);
- SIGTERM (or SIGINT) to the parent is forwarded to every child, which stops as a lone receiver does
  (writes what it holds, settles what is in flight); the parent waits for them and prints the sum. A
  child whose parent is gone (its standard input ends) stops the same way.

Pure asyncio and subprocess: no Django here (the command builds each child's command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("phaseout.monitoring.hj212")
STATS_PREFIX = "STATS "
READY_MARK = "HJ 212 receiver"
MAX_PROCESSES = 64


def add_stats(total: dict[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
    """Add one process's counters into `total` (numbers added; the refusals by reason added by reason)."""
    for key, value in stats.items():
        if isinstance(value, dict):
            into = total.setdefault(key, {})
            for reason, count in value.items():
                into[reason] = into.get(reason, 0) + count
        elif isinstance(value, int | float) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
    return total


def parse_stats(line: str) -> dict[str, Any] | None:
    """A child's counters from one line of its output (a periodic `STATS {...}` or the final `{...}`)."""
    text = line.strip()
    if text.startswith(STATS_PREFIX):
        text = text[len(STATS_PREFIX) :]
    if not text.startswith("{"):
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port yet. SO_REUSEPORT would let the children share the port with a
    receiver left over from before (and with it the loggers' connections): the parent looks first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class _Child:
    index: int
    process: asyncio.subprocess.Process | None = None
    last: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    delay: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None


class Supervisor:
    """N child processes from `argv(index)`, watched, restarted, stopped, their counters added up."""

    def __init__(
        self,
        argv: Callable[[int], list[str]],
        processes: int,
        *,
        env: Mapping[str, str] | None = None,
        restart_seconds: float = 1.0,
        stop_seconds: float = 60.0,
        on_line: Callable[[int, str], None] | None = None,
    ) -> None:
        if not 1 <= processes <= MAX_PROCESSES:
            raise ValueError(f"processes: 1..{MAX_PROCESSES}")
        self._argv = argv
        self._env = dict(env) if env is not None else None
        self.restart_seconds = restart_seconds
        self.stop_seconds = stop_seconds
        self._on_line = on_line
        self.children = [_Child(i) for i in range(processes)]
        self._stopping = False
        self.deaths = 0
        self.lost = 0
        self._retired: dict[str, Any] = {}  # the last counters of children that have died
        self.died = asyncio.Event()  # set at each death (tests wait on it)
        self._stop = asyncio.Event()

    async def start(self, ready_timeout: float = 120.0) -> None:
        """Start every child and wait until each says it is serving; stop them all when one does not."""
        for child in self.children:
            await self._spawn(child)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(child.ready.wait() for child in self.children)), ready_timeout
            )
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, child: _Child) -> None:
        loop = asyncio.get_running_loop()
        child.ready.clear()
        child.last = {}
        child.process = await asyncio.create_subprocess_exec(
            *self._argv(child.index),
            stdin=asyncio.subprocess.PIPE,  # the child stops when this ends: its parent is gone
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
        )
        child.started_at = loop.time()
        child.watcher = asyncio.create_task(self._watch(child, child.process))

    async def _watch(self, child: _Child, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            raw = await process.stdout.readline()
            if not raw:
                break
            line = raw.decode("utf-8", errors="replace")
            if READY_MARK in line:
                child.ready.set()
            found = parse_stats(line)
            if found is not None:
                child.last = found
            elif self._on_line is not None:
                self._on_line(child.index, line.rstrip("\n"))
        status = await process.wait()
        if self._stopping:
            return
        # Died without being asked: its counters so far are kept, what it held unstored is lost.
        lost = int(child.last.get("pending", 0))
        self.deaths += 1
        self.lost += lost
        add_stats(self._retired, {k: v for k, v in child.last.items() if k != "pending"})
        logger.error(
            "hj212: receiver process %d (pid %s) exited with status %s; %d readings it held unstored "
            "at its last report are lost; starting it again",
            child.index, process.pid, status, lost,
        )  # fmt: skip
        self.died.set()
        loop = asyncio.get_running_loop()
        quick = loop.time() - child.started_at < 60.0
        child.delay = min(max(child.delay * 2, self.restart_seconds), 60.0) if quick else self.restart_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), child.delay)
        if not self._stopping:
            await self._spawn(child)

    def totals(self) -> dict[str, Any]:
        """The counters of all children added up: the live ones' last reports and the dead ones' last."""
        total: dict[str, Any] = {}
        add_stats(total, self._retired)
        for child in self.children:
            add_stats(total, child.last)
        total.setdefault("pending", 0)
        total.update(processes=len(self.children), deaths=self.deaths, lost=self.lost)
        # How the kernel spread the connections (the live processes' counts since their last start).
        total["connections_by_process"] = [int(c.last.get("connections", 0)) for c in self.children]
        return total

    async def stop(self) -> dict[str, Any]:
        """SIGTERM to every child; wait for each to write what it holds and exit (SIGKILL after
        `stop_seconds`); the counters added up."""
        self._stopping = True
        self._stop.set()
        running = [c for c in self.children if c.process is not None and c.process.returncode is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            if child.watcher is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(child.watcher), self.stop_seconds)
            except TimeoutError:
                assert child.process is not None
                logger.error("hj212: receiver process %d did not stop; killed", child.index)
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                with contextlib.suppress(asyncio.CancelledError):
                    await child.watcher
        return self.totals()
