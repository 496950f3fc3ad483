"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated by the product."""

from __future__ import annotations

import json
import os
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
        # Production settings need the encryption keys: a keyring for the benchmarks only, the same in
        # every run (a database seeded once is read again by later runs).
        os.environ["PHASEOUT_KEYS"] = json.dumps(
            {
                "current": 1,
                "encryption": {"1": "0b" * 16},
                "mac": "5e" * 32,
                # The demo's decisions are signed (ADR 16): a signing seed, benchmark-only too.
                "signing": {"current": 1, "keys": {"1": "3c" * 32}},
            }
        )
    os.environ.setdefault("AUDIT_MAC_KEY", "a7" * 32)
    os.environ.setdefault(
        "HTTPS", "false"
    )  # in-process requests: no TLS to redirect to  # the audit trail's key, likewise benchmark-only
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
        # One ciphertext for every row: the seed's time goes to COPY, not to 1,000,000 encryptions
        # (each row still decrypts as the platform stores it).
        phone = crypto.encrypt("registry.contact_phone", "0750-3800000")
        contact = crypto.encrypt("registry.contact_name", "张工")
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
                    contact,
                    phone,  # encrypted at rest
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


def signed_in(user: Any) -> Any:
    """A test client signed in as the user with both factors, as the login pages make the session: the
    password step by force_login, then a real TOTP code on the second-factor page (a device is made
    for an account that has none)."""
    from django.test import Client
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="benchmark", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)  # signed in again
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post("/accounts/second-factor/", {"token": f"{totp.token():06d}"})
    assert response.status_code == 302, (user, response.status_code)
    return client


def stock_changelist(model: Any, *, list_filter: tuple[str, ...], search_fields: tuple[str, ...]) -> Any:
    """The peer of a list page: the stock Django admin changelist of the same table (the platform's admin
    registers only reference data: the table is registered in the benchmark's process). Returns
    get(params) -> response, rendered, as a superuser's request to the ModelAdmin's own view."""
    import importlib

    from django.conf import settings
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import RequestFactory
    from django.urls import clear_url_caches

    site = admin.site  # the platform's admin, with the peer's table registered in this process only
    if model not in site._registry:
        peer = type(
            "PeerAdmin", (admin.ModelAdmin,), {"list_filter": list_filter, "search_fields": search_fields}
        )
        site.register(model, peer)
        importlib.reload(importlib.import_module(settings.ROOT_URLCONF))  # the admin's URLs with it
        clear_url_caches()
    model_admin = site._registry[model]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    factory = RequestFactory()

    def get(params: dict[str, str]) -> Any:
        request = factory.get("/", params)
        request.user = user
        request.session = SessionStore()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        response = model_admin.changelist_view(request)
        response.render()
        assert response.status_code == 200, (params, response.status_code)
        return response

    return get
