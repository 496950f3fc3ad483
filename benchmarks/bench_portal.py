"""A published list page under wrk, with the production server settings (gunicorn, DEBUG off,
PostgreSQL, the Redis cache): requests per second with the portal's cache, and with it off.

Target: at least 2,000 requests/s with caching. The list holds 300 entries (a large city's
yellow-card list). wrk runs 2 threads and 64 connections for 15 s against 4 gunicorn workers on
this 2-core machine (wrk and the server share the cores).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, use_database

PORT = 8765
URL = f"http://127.0.0.1:{PORT}/public/yellow/"
DURATION = os.environ.get("BENCH_SECONDS", "15")


def _publish() -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from phaseout.disclosure.models import Snapshot

    user, _ = User.objects.get_or_create(username="bench-office")
    Snapshot.objects.all().delete()
    rows = [
        {
            "enterprise": f"江门市第{i}水泥有限公司",
            "uscc": f"91440700MA{i:07d}X",
            "territory": "蓬江区",
            "industry": "水泥",
            "equipment": f"{i}号熟料生产线",
            "capacity": "2500 t/d",
            "basis": "熟料单位产品综合能耗限额",
            "since": "2026-03-02",
            "case": f"2026-{i:06d}",
            "department": "jm-fgj",
        }
        for i in range(300)
    ]
    now = timezone.now()
    Snapshot.objects.create(
        kind="yellow",
        as_of=dt.date(2026, 3, 2),
        status="published",
        rows=rows,
        created_by=user,
        approved_by=user,
        approved_at=now,
        published_at=now,
    )


def _serve(cache_seconds: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "REDIS_CACHE_URL": "redis://127.0.0.1:6379/5",
        "PUBLIC_CACHE_SECONDS": cache_seconds,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "false",
    }
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    process = subprocess.Popen(
        [gunicorn, "phaseout.wsgi", "-w", "4", "-b", f"127.0.0.1:{PORT}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(URL, timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def _wrk() -> tuple[float, str]:
    done = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{DURATION}s", "--latency", URL], capture_output=True, text=True, check=True
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    latency = re.search(r"99%\s+(\S+)", done.stdout)
    return rate, latency.group(1) if latency else "?"


def _measure(cache_seconds: str) -> tuple[float, str]:
    import redis

    redis.Redis(db=5).flushdb()
    server = _serve(cache_seconds)
    try:
        return _wrk()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    use_database("phaseout_bench_portal")
    _publish()
    cached, cached_p99 = _measure("300")
    uncached, uncached_p99 = _measure("0")
    print(f"published list, 300 entries, gunicorn 4 workers, wrk -t2 -c64 -d{DURATION}s")
    verdict = "met" if cached >= 2000 else "NOT met"
    print(f"with the portal cache: {cached:,.0f} requests/s (p99 {cached_p99}); target 2,000: {verdict}")
    print(f"cache off:             {uncached:,.0f} requests/s (p99 {uncached_p99})")
    print(f"ratio cached / uncached: {cached / uncached:.1f}x")


if __name__ == "__main__":
    main()
