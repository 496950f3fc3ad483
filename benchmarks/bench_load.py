"""`make load`: the load test of issue 18 part 4 — locust against the production topology on this machine.

Starts the topology of tools/topology.py (primary and streaming replica, two gunicorn app servers behind
the loopback proxy, Celery worker and beat on Redis; the demo data, LOAD_PEOPLE accounts of each role and
LOAD_FINDINGS cases waiting for a decision), then runs benchmarks/locustfile.py headless, bounded in
time and people, loopback only:

    LOAD_USERS     people at once (default 200)
    LOAD_MINUTES   minutes of load once every person is signed in (default 10)
    LOAD_SPAWN     people started per second (default 2: each signs in, PBKDF2 at production cost)
    LOAD_FINDINGS  cases waiting for the department's decisions (default 400)

Prints p50/p95/p99 per page and the errors; where the time goes (pages by total time; the app servers'
own time from gunicorn's access log against the time seen through the proxy; the database's statements
by total time, primary and replica, from pg_stat_statements) and the load average while it ran. Exit 1
when a request failed or the targets are missed: p95 under 300 ms for pages, under 1 s for decisions.
Figures are saved to benchmarks/out/load-*.csv and load-summary.json.
"""

from __future__ import annotations

import csv
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.topology import BIN, Topology  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
USERS = int(os.environ.get("LOAD_USERS", "200"))
MINUTES = float(os.environ.get("LOAD_MINUTES", "10"))
SPAWN = float(os.environ.get("LOAD_SPAWN", "2"))
FINDINGS = int(os.environ.get("LOAD_FINDINGS", "400"))
PAGE_P95_MS, DECISION_P95_MS = 300, 1000


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


class LoadSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(10):
            self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))


def gunicorn_times(topo: Topology) -> dict[str, list[float]]:
    """Milliseconds gunicorn spent per request (its access log's %(M)s), by path shape."""
    times: dict[str, list[float]] = {}
    line = re.compile(r'"(GET|POST) (\S+) HTTP/1\.\d" (\d+) \S+ (\d+)ms')
    for log in (topo.base / "logs").glob("access-*.log"):
        for found in line.finditer(log.read_text(errors="replace")):
            path = re.sub(r"/\d+/", "/[id]/", found.group(2).split("?")[0])
            times.setdefault(f"{found.group(1)} {path}", []).append(float(found.group(4)))
    return times


def top_statements(topo: Topology, replica: bool) -> list[tuple[str, int, float, float]]:
    try:
        rows = topo.sql(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110), calls, total_exec_time,"
            " mean_exec_time FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY total_exec_time DESC LIMIT 8",
            replica=replica,
        )
    except Exception as exc:  # pg_stat_statements not loaded (the machine's server as primary)
        print(f"  (pg_stat_statements: {exc})")
        return []
    return [(str(q), int(c), float(t), float(m)) for q, c, t, m in rows]  # type: ignore[arg-type]


def main() -> int:
    OUT.mkdir(exist_ok=True)
    people = max(10, USERS // 2)  # accounts of each role: more than the people of any one kind
    print(f"starting the topology (demo data, {people} accounts per role, {FINDINGS} cases to decide) ...")
    topo = Topology(stat_statements=True)
    sampler = LoadSampler()
    try:
        visible = OUT / "load-visible.json"
        topo.start(seed=["demo", f"people={people}", f"findings={FINDINGS}", f"visible={visible}"])
        print("  timings (s):", json.dumps({k: round(v, 1) for k, v in topo.timings.items()}))
        print(f"  primary: {topo.primary_kind}", f"({topo.why_own_primary})" if topo.why_own_primary else "")
        data = OUT / "load-data.json"
        cases = json.loads(visible.read_text())
        data.write_text(json.dumps({"cases": cases, "findings": topo.seeded["findings"]}))
        topo.sql("SELECT pg_stat_statements_reset()")
        ramp = USERS / SPAWN
        run_time = int(ramp + MINUTES * 60)
        print(
            f"locust: {USERS} people ({SPAWN}/s, all in after {ramp:.0f} s, figures reset then), "
            f"{MINUTES:g} min of load; load average before: {loadavg()}",
            flush=True,
        )
        sampler.start()
        started = time.monotonic()
        locust = subprocess.run(
            [
                str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
                "--host", topo.url, "-u", str(USERS), "-r", str(SPAWN), "--run-time", f"{run_time}s",
                "--reset-stats", "--csv", str(OUT / "load"), "--only-summary", "--loglevel", "WARNING",
                "--stop-timeout", "30", "--exit-code-on-error", "0",
            ],
            cwd=ROOT, env={**os.environ, "LOAD_DATA": str(data)}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        sampler.stop.set()
        if locust.returncode != 0:
            print(locust.stdout[-3000:], locust.stderr[-5000:])
            return 1
        return report(topo, elapsed, sampler.samples)
    finally:
        topo.stop()


def report(topo: Topology, elapsed: float, samples: list[float]) -> int:
    with (OUT / "load_stats.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    pages = [r for r in rows if r["Name"] != "Aggregated" and not r["Name"].startswith("/accounts/")]
    total = next(r for r in rows if r["Name"] == "Aggregated")
    missed = []
    print(f"\n{'page':44} {'requests':>8} {'errors':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  (ms)")
    for r in sorted(pages, key=lambda r: r["Name"]):
        p95 = float(r["95%"])
        budget = DECISION_P95_MS if r["Name"].startswith(("decision", "tip-off")) else PAGE_P95_MS
        over = p95 > budget
        if over:
            missed.append(r["Name"])
        print(
            f"{r['Name'][:44]:44} {r['Request Count']:>8} {r['Failure Count']:>6} {r['50%']:>6} {r['95%']:>6}"
            f" {r['99%']:>6} {float(r['Max Response Time']):>7.0f}{'  over ' + str(budget) if over else ''}"
        )
    print(
        f"{'all':44} {total['Request Count']:>8} {total['Failure Count']:>6} {total['50%']:>6}"
        f" {total['95%']:>6}"
        f" {total['99%']:>6}   {float(total['Requests/s']):.1f} requests/s"
    )
    failures = OUT / "load_failures.csv"
    if failures.exists():
        with failures.open() as fh:
            for f in list(csv.DictReader(fh))[:20]:
                print(f"  error: {f['Method']} {f['Name']}: {f['Error'][:150]} ×{f['Occurrences']}")
    print("\nwhere the time goes — pages by total time (requests × mean):")
    by_total = sorted(pages, key=lambda r: -int(r["Request Count"]) * float(r["Average Response Time"]))
    whole = sum(int(r["Request Count"]) * float(r["Average Response Time"]) for r in pages) or 1
    for r in by_total[:8]:
        spent = int(r["Request Count"]) * float(r["Average Response Time"])
        print(f"  {r['Name'][:44]:44} {spent / 1000:8.1f} s  {100 * spent / whole:5.1f} %")
    served = gunicorn_times(topo)
    print("\nthe app servers' own time by path (gunicorn's access log), top by total:")
    for path, values in sorted(served.items(), key=lambda kv: -sum(kv[1]))[:10]:
        print(
            f"  {path[:50]:50} {len(values):>6} requests, median {statistics.median(values):6.0f} ms,"
            f" total {sum(values) / 1000:7.1f} s"
        )
    app_ms = [ms for values in served.values() for ms in values]
    if app_ms:
        print(
            f"\napp servers (gunicorn's own time per request, {len(app_ms)} requests): median "
            f"{statistics.median(app_ms):.0f} ms, mean {statistics.fmean(app_ms):.0f} ms; through the proxy "
            f"(locust): median {total['50%']} ms, mean {float(total['Average Response Time']):.0f} ms — the "
            "difference is queueing for a free gunicorn worker, the proxy and the client"
        )
    for replica in (False, True):
        statements = top_statements(topo, replica)
        if statements:
            db_ms = sum(t for _, _, t, _ in top_statements_all(topo, replica))
            print(
                f"\ndatabase ({'replica' if replica else 'primary'}): {db_ms / 1000:.1f} s in statements;"
                " top by total:"
            )
            for query, calls, spent, mean in statements:
                print(f"  {spent / 1000:7.2f} s {calls:>7} calls {mean:7.2f} ms  {query}")
    summary = {
        "users": USERS,
        "minutes": MINUTES,
        "elapsed_s": round(elapsed),
        "requests": int(total["Request Count"]),
        "errors": int(total["Failure Count"]),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "load_average": {"min": min(samples, default=0), "max": max(samples, default=0),
                         "mean": round(statistics.fmean(samples), 2) if samples else 0},
        "over_budget": missed,
    }  # fmt: skip
    (OUT / "load-summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    print(
        f"\nload average (1 min) while it ran: mean {summary['load_average']['mean']}, "
        f"min {summary['load_average']['min']}, max {summary['load_average']['max']} (2 cores);"
        f" after: {loadavg()}"
    )
    ok = not int(total["Failure Count"]) and not missed
    print(
        "targets met"
        if ok
        else f"targets missed: {int(total['Failure Count'])} errors; p95 over budget: {missed}"
    )
    return 0 if ok else 1


def top_statements_all(topo: Topology, replica: bool) -> list[tuple[str, int, float, float]]:
    rows = topo.sql(
        "SELECT '', calls, total_exec_time, mean_exec_time FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        replica=replica,
    )
    return [(str(q), int(c), float(t), float(m)) for q, c, t, m in rows]  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
