"""The production topology on loopback, started for real (issue 18, parts 3 and 4).

A PostgreSQL primary and a streaming replica made from it by `pg_basebackup -R`, two gunicorn app servers
started with deploy/gunicorn.conf.py, the reverse proxy of tools/proxy.py in front of them (nginx is not on
this machine; the proxy does what deploy/nginx/phaseout.conf asks of nginx that matters here: round robin,
X-Forwarded-For overwritten, a request retried on the other server only when the first refused the
connection, or when it was idempotent), a Celery worker and Celery beat on Redis. Every process runs the
production settings (DEBUG off, keys given, the Redis cache shared by all), over plain HTTP on loopback
(HTTPS=false: the proxy stands where nginx terminates TLS).

Used by tests/test_topology.py (the processes killed and restarted under traffic) and by
benchmarks/bench_load.py (`make load`: locust against the same topology).

The primary: the machine's PostgreSQL server (127.0.0.1:5432) when it accepts a replication connection
(pg_hba.conf needs `host replication postgres 127.0.0.1/32 trust`, wal_level replica, max_wal_senders > 0);
otherwise, and that is this machine's case, a cluster of the topology's own started with `initdb` on
PRIMARY_PORT. The replica is always a cluster of its own. Both clusters are run as the `postgres` OS user
(the topology must run as root or as postgres) and removed, data directories and all, by `stop()`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
BIN = PYTHON.parent
_T = TypeVar("_T")


def _pg_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian's /usr/lib/postgresql/N/bin)."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) are not installed")
    return Path(initdb).parent


@dataclass(frozen=True)
class Ports:
    """Loopback ports; each engineer's topology has its own (TOPOLOGY_PORT_BASE, TOPOLOGY_PG_PORT_BASE)."""

    proxy: int = int(os.environ.get("TOPOLOGY_PORT_BASE", "8140"))
    primary: int = int(os.environ.get("TOPOLOGY_PG_PORT_BASE", "55440"))

    @property
    def apps(self) -> tuple[int, int]:
        return (self.proxy + 1, self.proxy + 2)

    @property
    def replica(self) -> int:
        return self.primary + 1


REDIS_URL = os.environ.get("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/14")
MACHINE_SERVER = os.environ.get("TOPOLOGY_MACHINE_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "phaseout_topology"


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where this start's output begins in the log

    def start(self, env: dict[str, str]) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        handle = self.log.open("ab")
        # Its own session: a kill reaches the whole process group (gunicorn's or Celery's master and its
        # workers), as systemd's KillMode=control-group does.
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=30)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self.popen = None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Topology:
    """Start with `with Topology.started() as topo:` (or start() / stop())."""

    ports: Ports = field(default_factory=Ports)
    gunicorn_workers: int = int(os.environ.get("TOPOLOGY_GUNICORN_WORKERS", "2"))
    # Threads per gunicorn worker (more than 1: the gthread worker class; deploy/gunicorn.conf.py).
    gunicorn_threads: int = int(os.environ.get("TOPOLOGY_GUNICORN_THREADS", "1"))
    worker_concurrency: int = int(os.environ.get("TOPOLOGY_WORKER_CONCURRENCY", "2"))
    # Seconds before Redis hands a task a dead worker took to another (CELERY_VISIBILITY_TIMEOUT).
    visibility_timeout: int = 10
    sweep_seconds: float = 10.0  # beat's interval for the sweep (CELERY_SWEEP_SECONDS)
    # fsync off: for the test, whose clusters are removed afterwards (a machine crash loses nothing it
    # needs); the load test keeps PostgreSQL's defaults, as an installation runs.
    durable: bool = True
    # The replica logs every statement (the test counts the reads that reach it); off for the load test.
    replica_log_statements: bool = False
    # pg_stat_statements on both clusters (the load test says where the database's time goes).
    stat_statements: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="phaseout-topology-")))
    primary_kind: str = ""  # "machine" (the machine's server) or "own" (a cluster started here)
    why_own_primary: str = ""
    processes: dict[str, Process] = field(default_factory=dict)
    _clusters: list[Path] = field(default_factory=list)
    _created_database_on_machine: bool = False
    seeded: dict[str, list[int]] = field(default_factory=dict)  # what tools/topology_seed.py made
    timings: dict[str, float] = field(default_factory=dict)  # seconds each part of start() took

    # -- addresses ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.proxy}"

    @property
    def primary_url(self) -> str:
        if self.primary_kind == "machine":
            return f"{MACHINE_SERVER}/{DATABASE}"
        return f"postgres://postgres@127.0.0.1:{self.ports.primary}/{DATABASE}"

    @property
    def replica_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports.replica}/{DATABASE}"

    def env(self) -> dict[str, str]:
        """The environment every process of the installation runs with (as /etc/phaseout/phaseout.env)."""
        kept = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PHASEOUT_", "DATABASE_URL", "REPLICA_", "CELERY_", "REDIS_", "GUNICORN_"))
            and k not in {"DEBUG", "SECRET_KEY", "AUDIT_MAC_KEY", "MEDIA_ROOT", "HTTPS", "SECURE_COOKIES"}
            and not k.startswith(("PYTEST_", "COV_"))
        }
        return {
            **kept,
            "DJANGO_SETTINGS_MODULE": "phaseout.settings",
            "DEBUG": "false",
            "SECRET_KEY": "topology-only-secret-key-not-for-an-installation-0123456789",
            "PHASEOUT_KEYS_FILE": str(self.base / "keys.json"),  # `phaseout keys generate`, in start()
            "AUDIT_MAC_KEY": "5a" * 32,
            "HTTPS": "false",  # plain HTTP on loopback: the proxy stands where nginx terminates TLS
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TRUSTED_PROXIES": "127.0.0.1",
            "DATABASE_URL": self.primary_url,
            # Persistent connections, as deploy/phaseout.env.example sets them: a new PostgreSQL backend per
            # request (and one more on the replica) costs more than most pages' queries.
            "CONN_MAX_AGE": os.environ.get("TOPOLOGY_CONN_MAX_AGE", "60"),
            "REPLICA_DATABASE_URL": self.replica_url,
            "REPLICA_CHECK_SECONDS": "1",
            "CELERY_BROKER_URL": REDIS_URL,
            "REDIS_CACHE_URL": REDIS_URL,
            "CELERY_VISIBILITY_TIMEOUT": str(self.visibility_timeout),
            "CELERY_SWEEP_SECONDS": str(self.sweep_seconds),
            "PHASEOUT_VAR_DIR": str(self.base / "var"),
            "MEDIA_ROOT": str(self.base / "media"),  # the volume the app servers and the worker share
            "GUNICORN_WORKERS": str(self.gunicorn_workers),
            "GUNICORN_THREADS": str(self.gunicorn_threads),
            "GUNICORN_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    # -- the whole ------------------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def started(cls, seed: Sequence[str] = (), **kwargs: object) -> Iterator[Topology]:
        topo = cls(**kwargs)  # type: ignore[arg-type]
        try:
            topo.start(seed=seed)
            yield topo
        finally:
            topo.stop()

    def start(self, seed: Sequence[str] = ()) -> None:
        """Databases (primary, migrated, reference data, `seed` run as `python tools/topology_seed.py
        *seed`), then the replica, the app servers, the proxy, the worker and beat."""
        self.base.chmod(0o755)
        (self.base / "logs").mkdir()
        (self.base / "var").mkdir()
        (self.base / "media").mkdir()
        self._flush_redis()
        # The keyring is made while the primary starts; collectstatic, which needs no database, runs beside
        # the migrations.
        beside = concurrent.futures.ThreadPoolExecutor(1)
        keys = beside.submit(self._timed, "keys", self._generate_keys)
        self._timed("primary", self.start_primary)
        keys.result()
        static = beside.submit(
            self._timed, "collectstatic", lambda: self.manage("collectstatic", "--noinput", "-v0")
        )
        self._timed("migrate", lambda: self.manage("migrate", "--noinput", "-v0"))
        self._timed("reference", lambda: self.manage("reference"))
        if seed:
            printed = self._timed(
                "seed", lambda: self.run_python(str(ROOT / "tools" / "topology_seed.py"), *seed)
            )
            self.seeded = json.loads(printed.strip().splitlines()[-1])
        self._timed("replica", self.start_replica)
        static.result()
        started = time.monotonic()
        for port in self.ports.apps:
            self.start_app(port)
        self.start_proxy()
        self.start_worker()
        self.start_beat()
        for port in self.ports.apps:
            self.wait_app(port)
        self.wait_worker()
        self.wait_url(f"{self.url}/public/")
        self.timings["processes"] = time.monotonic() - started

    def _timed(self, name: str, step: Callable[[], _T]) -> _T:
        started = time.monotonic()
        try:
            return step()
        finally:
            self.timings[name] = time.monotonic() - started

    def _generate_keys(self) -> None:
        """The installation's keyring (encryption, MAC, audit, SM2 signing), as deploy/README.md step 3."""
        env = {**self.env(), "DEBUG": "true"}  # production settings refuse to start without the keys
        del env["PHASEOUT_KEYS_FILE"]
        subprocess.run(
            [str(PYTHON), "-m", "phaseout.cli", "keys", "generate", str(self.base / "keys.json")],
            cwd=ROOT, env=env, capture_output=True, check=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        """Every process, both clusters and their data directories, the topology's database and Redis."""
        for process in reversed(list(self.processes.values())):
            process.kill(signal.SIGTERM)
        pg_ctl = _pg_bin() / "pg_ctl"
        for cluster in reversed(self._clusters):
            subprocess.run(
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(pg_ctl),
                    "-D",
                    str(cluster),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                check=False,
            )
        self._clusters.clear()
        if self._created_database_on_machine:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(f"{MACHINE_SERVER}/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            self._flush_redis()
        if os.environ.get("TOPOLOGY_KEEP_LOGS"):
            shutil.rmtree(self.base / "pg", ignore_errors=True)
        else:
            shutil.rmtree(self.base, ignore_errors=True)

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()

    # -- PostgreSQL -----------------------------------------------------------------------------------

    def _as_postgres(self, *argv: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")
        return done

    def _machine_accepts_replication(self) -> bool:
        """Whether the machine's server takes a replication connection from loopback (IDENTIFY_SYSTEM)."""
        import psycopg

        try:
            with psycopg.connect(f"{MACHINE_SERVER}/postgres", autocommit=True) as conn:
                level = conn.execute("SHOW wal_level").fetchone()
                senders = conn.execute("SHOW max_wal_senders").fetchone()
            with psycopg.connect(f"{MACHINE_SERVER}/postgres?replication=true", autocommit=True) as repl:
                repl.execute("IDENTIFY_SYSTEM")
        except psycopg.Error as exc:
            self.why_own_primary = " ".join(str(exc).split())
            return False
        if level is None or level[0] not in ("replica", "logical") or senders is None or senders[0] == "0":
            self.why_own_primary = f"wal_level={level}, max_wal_senders={senders}"
            return False
        return True

    def start_primary(self) -> None:
        pg = self.base / "pg"
        pg.mkdir()
        pg.chmod(0o755)
        shutil.chown(pg, "postgres", "postgres")
        choice = os.environ.get("TOPOLOGY_PRIMARY", "auto")
        if choice in ("auto", "machine") and self._machine_accepts_replication():
            import psycopg

            self.primary_kind = "machine"
            with psycopg.connect(f"{MACHINE_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            self._created_database_on_machine = True
            return
        if choice == "machine":
            raise RuntimeError(f"the machine's server refuses replication: {self.why_own_primary}")
        self.primary_kind = "own"
        primary = pg / "primary"
        bindir = _pg_bin()
        self._as_postgres(
            bindir / "initdb", "-D", primary, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.ports.primary}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{pg}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nmax_connections = 200\nshared_buffers = 128MB\n"
                + ("" if self.durable else "fsync = off\nfull_page_writes = off\n")
                + ("shared_preload_libraries = 'pg_stat_statements'\n" if self.stat_statements else "")
            )
        self._as_postgres(bindir / "pg_ctl", "-D", primary, "-l", pg / "primary.log", "-w", "start")
        self._clusters.append(primary)
        self._as_postgres(
            bindir / "psql", "-h", "127.0.0.1", "-p", self.ports.primary, "-U", "postgres", "-d", "postgres",
            "-c", f'CREATE DATABASE "{DATABASE}"',
        )  # fmt: skip
        if self.stat_statements:
            self.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def start_replica(self) -> None:
        """`pg_basebackup -R` from the primary into a cluster of its own on the replica port, streaming."""
        pg = self.base / "pg"
        replica = pg / "replica"
        bindir = _pg_bin()
        source = (
            ["-h", "127.0.0.1", "-p", "5432"]
            if self.primary_kind == "machine"
            else ["-h", "127.0.0.1", "-p", str(self.ports.primary)]
        )
        self._as_postgres(
            bindir / "pg_basebackup", *source, "-U", "postgres", "-D", replica,
            "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast",
        )  # fmt: skip
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.ports.replica}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{pg}'\nhot_standby = on\nmax_connections = 200\n"
                + ("log_statement = 'all'\n" if self.replica_log_statements else "")
            )
        self._as_postgres(bindir / "pg_ctl", "-D", replica, "-l", pg / "replica.log", "-w", "start")
        self._clusters.append(replica)

    def replica_statements(self) -> int:
        """How many statements on the business records the replica has logged (replica_log_statements)."""
        log = self.base / "pg" / "replica.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return len(re.findall(r'statement: SELECT .*FROM "(?:cases|registry|disclosure|reports)_', text))

    def sql(
        self, query: str, params: Sequence[object] = (), *, replica: bool = False
    ) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.replica_url if replica else self.primary_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []

    # -- commands -------------------------------------------------------------------------------------

    def manage(self, *argv: str, timeout: float = 600) -> str:
        return self.run_python("-m", "phaseout.cli", *argv, timeout=timeout)

    def run_python(self, *argv: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(PYTHON), *argv],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.returncode}): {done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    # -- processes ------------------------------------------------------------------------------------

    def _log(self, name: str) -> Path:
        return self.base / "logs" / f"{name}.log"

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        process = self.processes.get(name) or Process(name, argv, self._log(name))
        process.argv = argv
        self.processes[name] = process
        process.start(env or self.env())
        return process

    def start_app(self, port: int) -> Process:
        env = {
            **self.env(),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESS_LOG": str(self._log(f"access-{port}")),
        }
        argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
        return self._start(f"app-{port}", argv, env)

    def start_proxy(self) -> Process:
        argv = [
            str(PYTHON), str(ROOT / "tools" / "proxy.py"), "--listen", f"127.0.0.1:{self.ports.proxy}",
            *(a for port in self.ports.apps for a in ("--upstream", f"127.0.0.1:{port}")),
        ]  # fmt: skip
        return self._start("proxy", argv)

    def start_worker(self) -> Process:
        # As deploy/systemd/phaseout-worker.service starts it.
        argv = [
            str(BIN / "celery"), "--app", "phaseout", "worker", "--loglevel", "INFO",
            "--concurrency", str(self.worker_concurrency), "--hostname", "phaseout@topology",
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        return self._start("worker", argv)

    def start_beat(self) -> Process:
        argv = [
            str(BIN / "celery"), "--app", "phaseout", "beat", "--loglevel", "INFO",
            "--schedule", str(self.base / "var" / "celerybeat-schedule"),
        ]  # fmt: skip
        return self._start("beat", argv)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.processes[name].kill(sig)

    def restart(self, name: str) -> None:
        process = self.processes[name]
        if name.startswith("app-"):
            port = int(name.split("-", 1)[1])
            self.start_app(port)
            self.wait_app(port)
        else:
            process.start(self.env())
            if name == "worker":
                self.wait_worker()

    # -- readiness ------------------------------------------------------------------------------------

    def wait_url(self, url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
                last = exc
            except OSError as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within {timeout} s: {last}\n{self.tail_logs()}")

    def wait_app(self, port: int) -> None:
        self.wait_url(f"http://127.0.0.1:{port}/public/")

    def wait_worker(self, timeout: float = 90) -> None:
        """Until this start of the worker has said "ready." (its consumer is connected to the broker)."""
        process = self.processes["worker"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with process.log.open("rb") as log:
                log.seek(process.log_offset)
                if b" ready." in log.read():
                    return
            if not process.alive:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the Celery worker did not become ready within {timeout} s\n{self.tail_logs()}")

    def tail_logs(self, lines: int = 30) -> str:
        parts = []
        for path in sorted((self.base / "logs").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def main() -> None:
    """`python tools/topology.py [SEED ARGS...]`: start the topology, print its address, wait for Ctrl-C."""
    with Topology.started(seed=sys.argv[1:]) as topo:
        print(f"topology up at {topo.url} (primary: {topo.primary_kind}; logs in {topo.base / 'logs'})")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
