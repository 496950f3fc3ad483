"""The HJ 212 receiver: an asyncio TCP server for data loggers.

Per connection a stream decoder (any chunking, garbage, over-long length fields) and a reassembler for
split messages. A packet's MN must be a known, active monitoring point and its PW that point's password.
Data packets (2011/2051/2061/2031) are buffered and written in batches (`batch_size` or every
`flush_seconds`) by `writers` database threads at once, each with its own connection; the 9014
acknowledgement a packet's Flag asks for is sent once its batch is committed, so an acknowledged reading
is a stored one. A bad packet is counted and logged with its reason; it never closes the connection or
stops the server.

If the database refuses writes, the buffer is kept and the write retried every `retry_seconds`; while
the buffer holds `buffer_limit` readings, new ones are refused (reason "overload", no acknowledgement,
so the logger keeps them and sends them again). Nothing is dropped silently: every packet is counted as
stored, duplicate, refused (by reason), or still pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hmac
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from phaseout.monitoring import hj212
from phaseout.monitoring.hj212 import DATA_CNS, DecodeError, Packet, Reason
from phaseout.monitoring.store import Rejection, Row

logger = logging.getLogger("phaseout.monitoring.hj212")
MAX_REJECTION_KEYS = 1000  # distinct (MN, reason) counted per flush; more are counted under MN "*"
MAX_CACHED_TIMES = 10_000
_UNREAD = object()


@dataclass(frozen=True)
class Settings:
    max_connections: int = 2000
    idle_seconds: float = 600.0  # a logger sends at least every minute or so; silence this long: closed
    max_segment: int = hj212.MAX_SEGMENT
    batch_size: int = 5000
    writers: int = 2  # database threads writing batches at once, each on its own connection (PostgreSQL)
    flush_seconds: float = 1.0
    buffer_limit: int = 200_000
    retry_seconds: float = 2.0
    lock_timeout_ms: int = 5000
    directory_seconds: float = 60.0  # how often new points and passwords are read again
    future_minutes: int = 60  # a DataTime further ahead than this (the logger's clock is wrong) is refused
    past_days: int = 400  # and one older than this


@dataclass(frozen=True)
class Entry:
    point_id: int
    password: str
    active: bool


Directory = dict[str, Entry]


@dataclass
class Stats:
    connections: int = 0
    connections_refused: int = 0
    packets: int = 0
    stored: int = 0
    duplicates: int = 0
    acked: int = 0
    other: int = 0  # valid packets of other commands (heartbeats, status): acknowledged, not stored
    write_failures: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def as_dict(self, pending: int) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k != "refused"}, "refused": dict(self.refused),
                "pending": pending}  # fmt: skip


@dataclass(slots=True)
class _Pending:
    row: Row
    ack_to: asyncio.StreamWriter | None
    ack: Packet | None


class Receiver:
    def __init__(
        self,
        *,
        settings: Settings | None = None,
        load_directory: Callable[[], Directory],
        write: Callable[[Sequence[Row], Sequence[Rejection], int], int],
        clock: Callable[[], dt.datetime] | None = None,
        zone: dt.tzinfo | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._load_directory = load_directory
        self._write = write
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._zone = zone or dt.UTC
        self.directory: Directory = {}
        self.stats = Stats()
        self._buffer: list[_Pending] = []
        self._rejections: dict[tuple[str, str], Rejection] = {}
        self._wake = asyncio.Event()
        self._db = ThreadPoolExecutor(
            max_workers=max(1, self.settings.writers), thread_name_prefix="hj212-db"
        )
        self._inflight = 0  # readings taken from the buffer by a write not yet finished
        self._unsettled: list[tuple[asyncio.Future[Any], list[_Pending], list[Rejection]]] = []
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._open = 0
        self.flushed = asyncio.Event()  # set after each successful write (tests wait on it)
        self._moments: dict[str, dt.datetime | None] = {}
        self._past = dt.timedelta(days=self.settings.past_days)
        self._future = dt.timedelta(minutes=self.settings.future_minutes)

    # ── running ──

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> asyncio.Server:
        """Listen on host:port. `reuse_port`: with SO_REUSEPORT, as one of several receiver processes on
        the same port (phaseout.monitoring.processes), the kernel spreading the connections over them."""
        await self.refresh_directory()
        # A burst of loggers reconnecting at once (after a network fault) must not overflow the accept
        # queue (asyncio's default backlog is 100): the kernel would reset the connections beyond it.
        self._server = await asyncio.start_server(
            self._handle, host, port, limit=self.settings.max_segment + 64,
            backlog=min(self.settings.max_connections, 4096), reuse_port=reuse_port or None,
        )  # fmt: skip
        self._tasks = [asyncio.create_task(self._flusher()) for _ in range(max(1, self.settings.writers))]
        self._tasks.append(asyncio.create_task(self._refresher()))
        return self._server

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            # Writes the cancelled flushes left running in their threads: settled as they end (stored and
            # acknowledged, or put back for the last flush), not written again blindly.
            while self._unsettled:
                future, batch, rejections = self._unsettled.pop()
                try:
                    inserted = await future
                except Exception:
                    self._put_back(batch, rejections)
                else:
                    self._settle(batch, inserted)
            await self.flush()
        finally:
            writers = max(1, self.settings.writers)
            barrier = threading.Barrier(writers)  # one close in each database thread
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(self._db, _close_connections, barrier) for _ in range(writers))
            )
            self._db.shutdown(wait=True)

    @property
    def pending(self) -> int:
        return len(self._buffer) + self._inflight

    async def _run_db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, _closing(fn), *args)

    async def refresh_directory(self) -> None:
        self.directory = await self._run_db(self._load_directory)

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(self.settings.directory_seconds)
            try:
                await self.refresh_directory()
            except Exception:  # the database is down: keep the directory we have
                logger.warning("hj212: could not read the monitoring points again", exc_info=True)

    # ── connections ──

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._open >= self.settings.max_connections:
            self.stats.connections_refused += 1
            logger.warning("hj212: connection from %s refused (%d open)", peer, self._open)
            writer.close()
            return
        self._open += 1
        self.stats.connections += 1
        decoder = hj212.StreamDecoder(max_segment=self.settings.max_segment)
        assembler = hj212.Reassembler()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), self.settings.idle_seconds)
                except TimeoutError:
                    logger.info("hj212: %s idle, closed", peer)
                    break
                if not chunk:
                    break
                now = self._clock()  # one reading of the clock for the packets of one read
                for item in decoder.feed(chunk):
                    if isinstance(item, DecodeError):
                        self._refuse(item.reason, "", peer, item.detail, item.raw)
                        continue
                    for whole in assembler.add(item):
                        if isinstance(whole, DecodeError):
                            self._refuse(whole.reason, item.mn, peer, whole.detail, b"")
                        else:
                            self._accept(whole, writer, peer, now)
                if len(self._buffer) >= self.settings.batch_size:
                    self._wake.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open -= 1
            writer.close()

    def _accept(self, packet: Packet, writer: asyncio.StreamWriter, peer: str, now: dt.datetime) -> None:
        self.stats.packets += 1
        entry = self.directory.get(packet.mn)
        if entry is None:
            return self._refuse(Reason.UNKNOWN_MN, packet.mn, peer, "", packet.segment.encode()[:80])
        if not hmac.compare_digest(packet.pw.encode(), entry.password.encode()):
            return self._refuse(Reason.PASSWORD, packet.mn, peer, "", b"")
        if not entry.active:
            return self._refuse(Reason.INACTIVE, packet.mn, peer, "", b"")
        if packet.cn not in DATA_CNS:
            self.stats.other += 1
            if packet.wants_ack:
                self._send(writer, hj212.ack(packet))
            return None
        moment = self._moment(packet.data_time_text)
        if moment is None:
            return self._refuse(Reason.DATA_TIME, packet.mn, peer, "no DataTime", b"")
        if not (now - self._past <= moment <= now + self._future):
            return self._refuse(Reason.DATA_TIME, packet.mn, peer, packet.data_time_text, b"")
        if len(self._buffer) + self._inflight >= self.settings.buffer_limit:
            return self._refuse(Reason.OVERLOAD, packet.mn, peer, "write buffer full", b"")
        row = Row(entry.point_id, packet.cn, moment, packet.values_json(), packet.qn[:20], now)
        self._buffer.append(
            _Pending(row, writer if packet.wants_ack else None, packet if packet.wants_ack else None)
        )
        return None

    def _moment(self, text: str) -> dt.datetime | None:
        """A DataTime as an aware time in the loggers' zone; None when it is not one. Loggers sending the
        same minute send the same text: read once (the cache is bounded)."""
        found = self._moments.get(text, _UNREAD)
        if found is _UNREAD:
            local = hj212.parse_time(text)
            found = None if local is None else local.replace(tzinfo=self._zone)
            if len(self._moments) >= MAX_CACHED_TIMES:
                self._moments.clear()
            self._moments[text] = found
        return found  # type: ignore[return-value]

    def _refuse(self, reason: Reason, mn: str, peer: str, detail: str, raw: bytes) -> None:
        self.stats.refused[str(reason)] += 1
        logger.warning("hj212: refused from %s MN=%s: %s %s", peer, mn[:24], reason, detail[:80])
        now = self._clock()
        key = (mn[:24], str(reason))
        if key not in self._rejections and len(self._rejections) >= MAX_REJECTION_KEYS:
            key = ("*", str(reason))
        found = self._rejections.get(key)
        if found is None:
            sample = raw.decode("utf-8", errors="replace").replace("\x00", "\\0")[:200]
            self._rejections[key] = Rejection(key[0], key[1], 1, now, now, peer, detail[:200], sample)
        else:
            found.count += 1
            found.last_at = now

    @staticmethod
    def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
        if not writer.is_closing():
            writer.write(data)

    # ── writing ──

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_seconds)
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(self.settings.retry_seconds)

    async def flush(self) -> bool:
        """Write what is buffered (a batch at a time); False when the database refused. Several flushes
        run at once (`Settings.writers`): each takes its batch off the buffer, and puts it back in front
        when the write fails, so a reading leaves the buffer only once it is stored. A flush cancelled
        (the receiver stops) leaves its write running in its thread; `stop` settles it."""
        loop = asyncio.get_running_loop()
        while self._buffer or self._rejections:
            batch = self._buffer[: self.settings.batch_size]
            del self._buffer[: len(batch)]
            self._inflight += len(batch)
            rejections = list(self._rejections.values())
            self._rejections = {}
            future = loop.run_in_executor(
                self._db,
                _closing(self._write),
                [p.row for p in batch],
                rejections,
                self.settings.lock_timeout_ms,
            )
            try:
                inserted = await asyncio.shield(future)
            except asyncio.CancelledError:
                self._unsettled.append((future, batch, rejections))
                raise
            except Exception:
                self._put_back(batch, rejections)
                self.stats.write_failures += 1
                logger.warning("hj212: writing %d readings failed; kept, retrying", len(batch), exc_info=True)
                return False
            finally:
                self._inflight -= len(batch)
            self._settle(batch, inserted)
        return True

    def _put_back(self, batch: list[_Pending], rejections: list[Rejection]) -> None:
        self._buffer[:0] = batch
        for rejection in rejections:  # counted again on the next try
            key = (rejection.mn, rejection.reason)
            if key in self._rejections:
                self._rejections[key].count += rejection.count
            else:
                self._rejections[key] = rejection

    def _settle(self, batch: list[_Pending], inserted: int) -> None:
        """A committed batch: counted, and the acknowledgements it owes sent, all of one connection's in
        one write (one system call, not one an acknowledgement)."""
        self.stats.stored += inserted
        self.stats.duplicates += len(batch) - inserted
        acks: dict[asyncio.StreamWriter, list[bytes]] = {}
        for pending in batch:
            if pending.ack_to is not None and pending.ack is not None:
                acks.setdefault(pending.ack_to, []).append(hj212.ack(pending.ack))
        for writer, frames in acks.items():
            self._send(writer, b"".join(frames))
            self.stats.acked += len(frames)
        self.flushed.set()


def _closing(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run fn in the database thread on that thread's own connection, kept from one batch to the next
    whatever CONN_MAX_AGE says (a new connection per batch cost a third of a batch's write: the backend's
    start and its temporary table made again); a connection that broke is dropped (the next call opens a
    new one)."""

    def run(*args: Any) -> Any:
        from django.db import connection

        if connection.connection is not None and connection.errors_occurred and not connection.is_usable():
            connection.close()
        try:
            return fn(*args)
        except Exception:
            if connection.connection is not None and not connection.is_usable():
                connection.close()
            raise

    return run


def _close_connections(barrier: threading.Barrier | None = None) -> None:
    from django.db import connections

    connections.close_all()
    if barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=30)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")[:64]


# ── the platform's directory and writer ──


def load_directory() -> Directory:
    from phaseout.monitoring.models import MonitoringPoint

    return {
        p.mn: Entry(point_id=p.pk, password=p.password, active=p.active)
        for p in MonitoringPoint.objects.only("pk", "mn", "password", "active").iterator(chunk_size=2000)
    }


def write(rows: Sequence[Row], rejections: Sequence[Rejection], lock_timeout_ms: int) -> int:
    from phaseout.monitoring import store

    return store.write(rows, rejections, lock_timeout_ms=lock_timeout_ms)


def platform_receiver(
    settings: Settings | None = None, clock: Callable[[], dt.datetime] | None = None
) -> Receiver:
    from django.db import connection
    from django.utils import timezone

    if connection.vendor != "postgresql":  # the embedded database takes one writer at a time
        settings = dataclasses.replace(settings or Settings(), writers=1)
    return Receiver(
        settings=settings,
        load_directory=load_directory,
        write=write,
        clock=clock,
        zone=timezone.get_default_timezone(),
    )
