"""`phaseout hj212 simulate` against a running receiver, with the demo's monitoring points: every packet the
simulator sends is acknowledged and stored, counted per point and per kind of data."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count

from phaseout import demo
from phaseout.monitoring.models import MonitoringPoint, Reading
from phaseout.monitoring.receiver import Settings, platform_receiver
from phaseout.orgs.models import Department, Role, Territory
from phaseout.registry.models import LineStatus
from tests.factories import EnterpriseFactory, LineFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)  # 20:30 in Jiangmen
START = "2026-03-01T17:00"  # local: the simulated two hours end at 19:00, before NOW


@pytest.fixture
def demo_points(reference: None) -> list[MonitoringPoint]:
    """The demo's monitoring points (phaseout.demo._monitoring) over four enterprises in each city and an
    exited line: 11 points, two going offline half-way, one on the exited line."""
    PersonFactory(
        user=UserFactory(username="office"), role=Role.OFFICE, display_name="office",
        department=Department.objects.get(code="jm-gxj"),
    )  # fmt: skip
    for code in ("440703", "440704", "441602", "441621"):
        for _ in range(2):
            LineFactory(enterprise=EnterpriseFactory(territory=Territory.objects.get(code=code)))
    LineFactory(
        enterprise=EnterpriseFactory(territory=Territory.objects.get(code="440705")),
        status=LineStatus.EXITED,
        exited_on=dt.date(2025, 12, 1),
    )
    demo._monitoring(dt.date(2026, 3, 1))
    return list(MonitoringPoint.objects.all())


class _Running:
    """The platform's receiver serving on an ephemeral loopback port in a thread of its own."""

    def __init__(self) -> None:
        self.port = 0
        self.ready = threading.Event()
        self.receiver: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.receiver = platform_receiver(Settings(flush_seconds=0.05, retry_seconds=0.1), clock=lambda: NOW)
        server = await self.receiver.start("127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        await self._stop.wait()
        await self.receiver.stop()

    def __enter__(self) -> _Running:
        self._thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def test_simulate_sends_the_demo_points_packets_and_every_one_is_stored(
    demo_points: list[MonitoringPoint],
) -> None:
    assert len(demo_points) == 11
    out = StringIO()
    with _Running() as running:
        call_command(
            "hj212", "simulate", "--to", f"127.0.0.1:{running.port}", "--hours", "2", "--start", START,
            "--minute-step", "10", stdout=out,
        )  # fmt: skip
        stats = running.receiver.stats
    # Two hours at ten-minute steps: 12 minute packets and 2 hourly ones a logger; the two offline ones
    # stop after an hour (6 + 1): 9 x 14 + 2 x 7 = 140.
    assert out.getvalue().strip() == "11 loggers, 140 packets acknowledged"
    assert (stats.packets, stats.stored, stats.duplicates, stats.acked, dict(stats.refused)) == (
        140,
        140,
        0,
        140,
        {},
    )
    assert Reading.objects.count() == 140
    counts: dict[str, list[int]] = {}
    for _point, code, n in (
        Reading.objects.values_list("point_id", "point__outlet_code").annotate(n=Count("id")).order_by()
    ):
        counts.setdefault(code, []).append(n)
    counts = {code: sorted(ns) for code, ns in counts.items()}
    assert counts == {"DA001": [14] * 6, "DA002": [14, 14], "DA003": [7, 7], "DA009": [14]}
    by_kind = dict(Reading.objects.values_list("cn").annotate(n=Count("id")).order_by())
    assert by_kind == {"2051": 9 * 12 + 2 * 6, "2061": 9 * 2 + 2 * 1}
    # The first minute's data time is 17:00 local, stored as 09:00 UTC; the last hour's is 18:00 local.
    assert Reading.objects.filter(cn="2051").earliest("data_time").data_time == dt.datetime(
        2026, 3, 1, 9, tzinfo=dt.UTC
    )
    assert Reading.objects.filter(cn="2061").latest("data_time").data_time == dt.datetime(
        2026, 3, 1, 10, tzinfo=dt.UTC
    )
    assert set(MonitoringPoint.objects.values_list("last_seen_at", flat=True)) == {NOW}


def test_feed_replays_the_demo_and_the_screening_finds_the_offline_and_the_exited_line(
    demo_points: list[MonitoringPoint],
) -> None:
    """`make demo`'s feed: a receiver in the process, the loggers' last 60 hours sent to it, each point then
    last seen when its last packet was sent; the screening finds the offline loggers (silent for 30 hours) and
    signals the exited line still emitting."""
    import time_machine

    from phaseout.monitoring import checks
    from phaseout.monitoring.models import CheckKind, DataCheck
    from phaseout.signals.models import Signal, SignalKind

    out = StringIO()
    with time_machine.travel(NOW, tick=True):
        call_command("hj212", "feed", "--hours", "60", "--minute-step", "30", stdout=out)
    # 60 hours at 30-minute steps: 120 minute packets and 60 hourly ones a logger; the offline ones stop
    # after 30 hours (60 + 30): 9 x 180 + 2 x 90 = 1,800.
    assert out.getvalue().strip() == "11 loggers, 1800 packets sent, 1800 acknowledged after storing"
    assert Reading.objects.count() == 1800
    offline = MonitoringPoint.objects.filter(outlet_code="DA003")
    # Their last minute packet holds 13:30 local on 28 February (05:30 UTC): seen five minutes after it.
    assert {p.last_seen_at for p in offline} == {dt.datetime(2026, 2, 28, 5, 35, tzinfo=dt.UTC)}
    counts = checks.screen(now=NOW, today=NOW.date())
    assert counts["offline"] == 2 and counts["resumed"] == 1
    assert set(
        DataCheck.objects.filter(kind=CheckKind.OFFLINE).values_list("point__outlet_code", flat=True)
    ) == {"DA003"}
    signal = Signal.objects.get(kind=SignalKind.RESUMED_EMISSION)
    assert signal.line is not None and signal.line.status == LineStatus.EXITED
