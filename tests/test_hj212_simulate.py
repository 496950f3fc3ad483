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
