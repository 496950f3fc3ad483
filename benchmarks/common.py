"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated by the product."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
OUT.mkdir(exist_ok=True)
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def use_database(name: str, *, fresh: bool = False) -> str:
    """Point Django at database `name` (created if missing), migrate it, and set Django up."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "phaseout.settings"
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    subprocess.run([sys.executable, "-m", "phaseout.cli", "migrate", "-v0"], check=True, env=os.environ)
    subprocess.run(
        [sys.executable, "-m", "phaseout.cli", "reference"],
        check=True,
        env=os.environ,
        stdout=subprocess.DEVNULL,
    )
    import django

    django.setup()
    return url


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 95)
