"""The audit trail at 1,000,000 entries (PostgreSQL): the auditor's page (/audit/) unfiltered and with each
filter, `phaseout audit verify` over the whole chain, and record() throughput, one writer and four.

The entries are chained for real (HMAC-SM3 over each one's canonical content) and loaded with COPY. Target:
every page under 0.5 s at 1 M entries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AUDIT_MAC_KEY", "be" * 32)
from benchmarks.common import OUT, signed_in, use_database

N = int(os.environ.get("BENCH_AUDIT_ROWS", "1000000"))
ACTIONS = [
    "case.order_rectification",
    "case.dismiss",
    "case.propose_closure",
    "list.publish",
    "plan.confirm",
    "tipoff.identity_read",
    "login.success",
    "login.failure",
    "logout",
    "person.update",
    "export.ledger",
    "licence.create",
]
NAMES = [f"user{i:03d}" for i in range(200)]
START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def seed() -> None:
    from django.db import connection, transaction

    from phaseout.audit import chain
    from phaseout.audit.maintenance import maintenance
    from phaseout.audit.models import AuditEvent, ChainHead

    if AuditEvent.objects.count() == N:
        print(f"seed: {N} entries already there")
        return
    started = time.perf_counter()
    with transaction.atomic(), maintenance():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditevent, audit_chainhead RESTART IDENTITY")
        prev = chain.GENESIS
        columns = (
            "seq, at, actor_name, unit, action, object_type, object_id, outcome, ip, reason, data, "
            "key_version, prev_mac, mac"
        )
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy,
        ):
            for seq in range(1, N + 1):
                outcome = "failure" if seq % 31 == 0 else "refused" if seq % 13 == 0 else "success"
                values = {
                    "seq": seq,
                    "at": chain.timestamp(START + dt.timedelta(seconds=seq * 15)),
                    "actor_id": None,
                    "actor_name": NAMES[seq % len(NAMES)],
                    "unit": "江门市工业和信息化局",
                    "ip": f"10.0.{seq % 250}.{seq % 200 + 1}",
                    "action": ACTIONS[seq % len(ACTIONS)],
                    "object_type": "cases.case",
                    "object_id": str(seq % 50000),
                    "outcome": outcome,
                    "reason": "基准测试",
                    "data": {"n": seq},
                    "key_version": 1,
                }
                mac = chain.mac(1, prev, chain.canonical(values))
                copy.write_row(
                    (
                        seq, values["at"], values["actor_name"], values["unit"], values["action"],
                        values["object_type"], values["object_id"], outcome, values["ip"], values["reason"],
                        json.dumps(values["data"]), 1, prev, mac,
                    )
                )  # fmt: skip
                prev = mac
        ChainHead.objects.create(pk=1, seq=N, mac=prev)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    print(f"seed: {N} chained entries in {time.perf_counter() - started:.0f} s")


def pages() -> list[str]:

    from phaseout.orgs.models import Person, Role
    from tests.factories import UserFactory

    user = UserFactory(username="bench-auditor")
    Person.objects.get_or_create(user=user, defaults={"role": Role.AUDITOR, "display_name": "审计"})
    client = signed_in(user)
    day = (START + dt.timedelta(days=60)).date().isoformat()
    cases = {
        "unfiltered, page 1": {},
        "unfiltered, page 200": {"page": "200"},
        "person": {"person": "user042"},
        "event (exact)": {"action": "tipoff.identity_read"},
        "event (prefix case.)": {"action": "case."},
        "outcome failure": {"outcome": "failure"},
        "one day": {"since": day, "until": day},
        "person + outcome + month": {
            "person": "user042",
            "outcome": "refused",
            "since": day,
            "until": "2026-08-31",
        },
    }
    lines = []
    for label, query in cases.items():
        times = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.get("/audit/", query, SERVER_NAME="127.0.0.1")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        lines.append(
            f"/audit/ {label}: median {statistics.median(times) * 1000:.0f} ms,"
            f" max {max(times) * 1000:.0f} ms"
        )
        print(lines[-1], flush=True)
    return lines


def verify_all() -> str:
    from phaseout.audit.verify import verify

    started = time.perf_counter()
    report = verify(Path("/nonexistent-archive"))
    elapsed = time.perf_counter() - started
    rate = report.checked / elapsed
    line = f"verify: {report.checked} entries in {elapsed:.1f} s ({rate:,.0f}/s), ok={report.ok}"
    print(line, flush=True)
    return line


def throughput() -> list[str]:
    from django.db import connection, transaction

    from phaseout.audit.record import record

    lines = []
    for writers in (1, 4):
        per = 500
        barrier = threading.Barrier(writers)

        def write(barrier: threading.Barrier = barrier, per: int = per) -> None:
            barrier.wait()
            for i in range(per):
                with transaction.atomic():
                    record(actor=None, action="bench.write", data={"i": i})
            connection.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        lines.append(
            f"record(): {writers} writer(s), {writers * per} entries, {writers * per / elapsed:,.0f}/s"
        )
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    use_database("phaseout_audit")
    seed()
    lines = [*pages(), verify_all(), *throughput()]
    (OUT / "audit.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
