"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated by the product."""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
    if not (os.environ.get("PHASEOUT_KEYS") or os.environ.get("PHASEOUT_KEYS_FILE")):
        # Production settings need the encryption keys; a throw-away keyring for the benchmark.
        os.environ["PHASEOUT_KEYS"] = json.dumps(
            {"current": 1, "encryption": {"1": secrets.token_hex(16)}, "mac": secrets.token_hex(32)}
        )
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


def copy_enterprises(cursor: Any, rows: Iterable[tuple[int, str, str, str, str]]) -> None:
    """COPY enterprises given as (id, USCC without its check character, name, territory, industry);
    the check character is computed, the rest of the row is filled the same for every benchmark (the
    contact's phone encrypted, as the platform stores it)."""
    from stdnum.cn import uscc

    from phaseout import crypto

    with cursor.copy(
        "COPY registry_enterprise (id, uscc, name, territory_id, address, industry_id, contact_name,"
        " contact_phone, created_at, updated_at) FROM STDIN"
    ) as copy:
        for i, body, name, territory, industry in rows:
            code = body + uscc.calc_check_digit(body)
            address = f"工业大道{i % 997}号"
            copy.write_row(
                (
                    i,
                    code,
                    name,
                    territory,
                    address,
                    industry,
                    crypto.encrypt("registry.contact_name", "张工"),  # encrypted at rest too
                    crypto.encrypt("registry.contact_phone", "0750-3800000"),  # encrypted at rest
                    "2021-05-19",
                    "2021-05-19",
                )
            )


def office_user() -> Any:
    """The benchmarks' coordination-office account (created on first use)."""
    from django.contrib.auth import get_user_model

    from phaseout.orgs.models import Department, Person, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-office")
    Person.objects.get_or_create(
        user=user,
        defaults={
            "role": Role.OFFICE,
            "display_name": "bench",
            "department": Department.objects.get(code="jm-gxj"),
        },
    )
    return user
