"""Running it for real (issue 18): production settings by default, and the deploy/ folder a system
administrator follows — every file in it parsed and checked against the application it serves."""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from django.core.management import get_commands, load_command_class
from django.test import Client, RequestFactory

from phaseout import cli
from phaseout.crypto import keyring
from phaseout.web import client_ip

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
# Where the units expect things on the server, and where they are in this repository.
INSTALLED = {"/opt/phaseout/deploy/": DEPLOY, "/opt/phaseout/venv/bin/": BIN}


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment with nothing the suite set up for itself (DEBUG, keys, database, broker)."""
    dropped = (
        "DEBUG",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "REDIS_CACHE_URL",
        "SECRET_KEY",
        "AUDIT_MAC_KEY",
        "DJANGO_ALLOW_ASYNC_UNSAFE",  # the browser tests set it in the suite's own process
    )
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PHASEOUT_KEYS")}
    for name in ("HTTPS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_COOKIES", "TRUSTED_PROXIES"):
        env.pop(name, None)
    env.update(DJANGO_SETTINGS_MODULE="phaseout.settings", PHASEOUT_VAR_DIR=str(tmp_path / "var"))
    return env


def _example_env(tmp_path: Path) -> dict[str, str]:
    """deploy/phaseout.env.example with its placeholders filled as an administrator would (database and
    paths moved under tmp_path: the check below connects to nothing)."""
    values: dict[str, str] = {}
    for line in (DEPLOY / "phaseout.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    keys = tmp_path / "keys.json"
    keyring.write_file(keys, keyring.generate())
    filled = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "phaseout.example.gov.cn",
        "MESSAGING_SITE_URL": "https://phaseout.example.gov.cn",
        "AUDIT_MAC_KEY": secrets.token_hex(32),
        "PHASEOUT_KEYS_FILE": str(keys),
        "PHASEOUT_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AUDIT_ANCHOR_FILE": str(tmp_path / "anchors.jsonl"),
        "AUDIT_ARCHIVE_DIR": str(tmp_path / "archive"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    assert set(filled) <= set(values), set(filled) - set(values)
    left = {k: v for k, v in values.items() if k not in filled and "<" in v}
    assert not left, f"placeholders the test does not fill: {left}"
    return {**_clean_env(tmp_path), **values, **filled}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


# --- 1. production settings are the default --------------------------------------------------------------

PROBE = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG, s.HTTPS)"


def test_debug_is_off_unless_turned_on(tmp_path: Path) -> None:
    env = _example_env(tmp_path)
    done = _run([sys.executable, "-c", PROBE], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
    done = _run([sys.executable, "-c", PROBE], {**env, "DEBUG": "true"})
    assert done.stdout.split() == ["True", "False"]


def test_production_without_a_secret_key_does_not_start_and_says_why(tmp_path: Path) -> None:
    done = _run([sys.executable, "-c", PROBE], _clean_env(tmp_path))
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in done.stderr
    assert "deploy/README.md" in done.stderr


def test_the_example_configuration_passes_check_deploy_without_a_warning(tmp_path: Path) -> None:
    env = _example_env(tmp_path)
    assert "DEBUG" not in env
    done = _run([str(BIN / "phaseout"), "check", "--deploy"], env)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "System check identified no issues" in output, output
    assert not re.search(r"\b[A-Za-z_]+\.(W|E)\d{3}\b", output), output


@pytest.mark.parametrize(
    ("argv", "environ", "debug"),
    [
        (["phaseout", "demo"], {}, "true"),
        (["phaseout", "serve", "127.0.0.1:8000"], {}, "true"),
        (["phaseout", "totp", "office"], {}, "true"),
        # on a configured database, or with DEBUG given, nothing is turned on
        (["phaseout", "serve"], {"DATABASE_URL": "postgres://x@h/db"}, None),
        (["phaseout", "demo"], {"DEBUG": "false"}, "false"),
        # no other command turns it on
        (["phaseout", "migrate"], {}, None),
        (["phaseout", "sweep"], {}, None),
        (["phaseout"], {}, None),
    ],
)
def test_only_the_embedded_demo_turns_debug_on(
    argv: list[str], environ: dict[str, str], debug: str | None
) -> None:
    environ = dict(environ)  # the parameter's own dict is shared by every run of the test in a process
    turned = cli.demo_environment(argv, environ)
    assert environ.get("DEBUG") == debug
    assert turned == (debug == "true" and "DATABASE_URL" not in environ)


def test_phaseout_demo_on_the_embedded_database_runs_with_debug(tmp_path: Path) -> None:
    """The command itself, as `make demo` runs it, without DEBUG in its environment."""
    env = _clean_env(tmp_path)
    probe = "import sys; from phaseout import cli; cli.main(['phaseout', 'demo', '--help'])"
    done = _run([sys.executable, "-c", probe], env)
    assert done.returncode == 0, done.stderr
    done = _run([sys.executable, "-c", probe.replace("'demo'", "'migrate'")], env)
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


# --- the request size: the application's own limit, which nginx repeats ---------------------------------


def test_a_request_over_the_limit_is_refused_before_anything_reads_it(settings: object, db: None) -> None:
    settings.REQUEST_MAX_BYTES = 1000  # type: ignore[attr-defined]
    client = Client()
    big = client.post("/accounts/login/", {"username": "x" * 2000, "password": "y"})
    assert big.status_code == 413
    text = big.content.decode()
    assert "上传内容过大" in text and "未保存任何内容" in text
    small = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert small.status_code != 413


def test_a_request_with_an_unreadable_length_is_refused(db: None) -> None:
    response = Client().post("/accounts/login/", data="a=b", content_type="text/plain", CONTENT_LENGTH="12x")
    assert response.status_code == 400
    assert "无法读取请求" in response.content.decode()


def test_the_default_request_limit_is_the_largest_upload_plus_a_mebibyte(settings: object) -> None:
    largest = max(
        settings.EVIDENCE_MAX_BYTES,  # type: ignore[attr-defined]
        settings.REGISTER_IMPORT_MAX_BYTES,  # type: ignore[attr-defined]
        settings.PLAN_DOCUMENT_MAX_BYTES,  # type: ignore[attr-defined]
    )
    assert largest + 1024 * 1024 == settings.REQUEST_MAX_BYTES  # type: ignore[attr-defined]


# --- 2. deploy/ ----------------------------------------------------------------------------------------


def _unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as sections of (key, value) pairs, in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}: {raw}"
            current = line[1:-1]
            assert current not in sections, f"{path.name}: [{current}] twice"
            sections[current] = []
            continue
        assert current is not None, f"{path.name}: {raw} outside a section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z]+", key.strip()), f"{path.name}: {raw}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def test_there_is_a_unit_for_each_process_of_the_topology() -> None:
    names = {p.name for p in UNITS}
    assert {
        "phaseout-web@.service",
        "phaseout-worker.service",
        "phaseout-beat.service",
        "phaseout-hj212.service",
        "phaseout-backup.service",
    } <= names


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_each_unit_parses_and_runs_as_the_platform_user_with_its_configuration(path: Path) -> None:
    unit = _unit(path)
    assert _values(unit, "Unit", "Description")
    assert _values(unit, "Service", "User") == ["phaseout"]
    assert "/etc/phaseout/phaseout.env" in _values(unit, "Service", "EnvironmentFile")
    assert _values(unit, "Service", "WorkingDirectory") == ["/var/lib/phaseout"]
    (exec_start,) = _values(unit, "Service", "ExecStart")
    assert shlex.split(exec_start)[0].startswith("/opt/phaseout/venv/bin/")
    if _values(unit, "Service", "Type") != ["oneshot"]:
        assert _values(unit, "Service", "Restart") == ["on-failure"]
        assert _values(unit, "Install", "WantedBy") == ["multi-user.target"]


def _exec_start(name: str) -> list[str]:
    (line,) = _values(_unit(DEPLOY / "systemd" / name), "Service", "ExecStart")
    return shlex.split(line.replace("%i", "8001").replace("%H", "host"))


def _phaseout_command(argv: list[str]) -> None:
    """argv (after `phaseout`) names a real subcommand whose parser takes the arguments."""
    name = cli.ALIASES.get(argv[0], argv[0])
    commands = get_commands()
    assert name in commands, f"`phaseout {argv[0]}` is no command"
    command = load_command_class(commands[name], name)
    command.create_parser("phaseout", name).parse_args(argv[1:])


@pytest.mark.parametrize("name", ["phaseout-backup.service"])
def test_the_phaseout_units_name_real_subcommands(name: str) -> None:
    argv = _exec_start(name)
    assert argv[0] == "/opt/phaseout/venv/bin/phaseout"
    _phaseout_command(argv[1:])


def test_the_hj212_unit_names_the_receiver_command() -> None:
    argv = _exec_start("phaseout-hj212.service")
    assert argv[:3] == ["/opt/phaseout/venv/bin/phaseout", "hj212", "serve"]
    assert re.fullmatch(r"[0-9.]+:[0-9]+", argv[3])
    if "hj212" not in get_commands():
        pytest.skip(
            "`phaseout hj212` is being built on another branch: its arguments are checked once merged"
        )
    _phaseout_command(argv[1:])


@pytest.mark.parametrize(
    ("name", "subcommand"), [("phaseout-worker.service", "worker"), ("phaseout-beat.service", "beat")]
)
def test_the_celery_units_start_the_platform_app_with_valid_options(name: str, subcommand: str) -> None:
    from celery.bin.celery import celery as celery_cli

    argv = _exec_start(name)
    assert argv[0] == "/opt/phaseout/venv/bin/celery"
    assert argv[1:3] == ["--app", "phaseout"]
    assert argv[3] == subcommand
    import phaseout.celery

    assert phaseout.celery.app.main == "phaseout"
    command = celery_cli.commands[subcommand]  # type: ignore[attr-defined]
    parser = command.make_parser(click.Context(command))
    opts, rest, _order = parser.parse_args(argv[4:])  # raises on an unknown option or a missing value
    assert not rest
    for param in command.params:  # and each value is one the option takes
        if param.name in opts and opts[param.name] is not None:
            param.type_cast_value(click.Context(command), opts[param.name])


def test_the_web_unit_starts_gunicorn_with_the_config_and_checks_clean(tmp_path: Path) -> None:
    argv = _exec_start("phaseout-web@.service")
    assert argv[0] == "/opt/phaseout/venv/bin/gunicorn"
    assert argv[1] == "--config"
    config = Path(argv[2].replace("/opt/phaseout/deploy/", f"{DEPLOY}/"))
    assert config == DEPLOY / "gunicorn.conf.py"
    (bind,) = _values(_unit(DEPLOY / "systemd" / "phaseout-web@.service"), "Service", "Environment")
    assert bind == "GUNICORN_BIND=127.0.0.1:%i"
    env = {
        **os.environ,
        "GUNICORN_BIND": "127.0.0.1:8131",
        "GUNICORN_ACCESS_LOG": str(tmp_path / "access.log"),
    }
    # --check-config loads the configuration and the application (phaseout.wsgi) and exits.
    done = _run([str(BIN / "gunicorn"), "--config", str(config), "--check-config"], env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gunicorn_config_is_importable_and_bounded() -> None:
    namespace: dict[str, object] = {}
    source = (DEPLOY / "gunicorn.conf.py").read_text(encoding="utf-8")
    exec(compile(source, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own file, as gunicorn does
    assert namespace["wsgi_app"] == "phaseout.wsgi:application"
    assert namespace["bind"] == ["127.0.0.1:8001"]
    assert namespace["limit_request_line"] == 8190
    nginx_read = int(re.search(r"proxy_read_timeout (\d+)s;", _nginx()).group(1))  # type: ignore[union-attr]
    assert isinstance(namespace["timeout"], int) and namespace["timeout"] < nginx_read


def _nginx() -> str:
    return (DEPLOY / "nginx" / "phaseout.conf").read_text(encoding="utf-8")


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def test_nginx_takes_exactly_the_uploads_the_application_takes(settings: object) -> None:
    (limit,) = re.findall(r"^\s*client_max_body_size (\S+);", _nginx(), re.M)
    assert _size(limit) == settings.REQUEST_MAX_BYTES  # type: ignore[attr-defined]
    page = (DEPLOY / "nginx" / "errors" / "413.html").read_text(encoding="utf-8")
    assert f"{_size(limit) // 1024**2} MB" in page


def test_nginx_sets_the_forwarded_address_and_the_application_believes_it_only_from_nginx(
    settings: object,
) -> None:
    text = _nginx()
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", text)
    assert "$proxy_add_x_forwarded_for" not in text  # a client's own header is replaced, not appended to
    assert re.search(r"proxy_set_header X-Forwarded-Proto \$scheme;", text)
    example = (DEPLOY / "phaseout.env.example").read_text(encoding="utf-8")
    (proxies,) = re.findall(r"^TRUSTED_PROXIES=(.+)$", example, re.M)
    settings.TRUSTED_PROXIES = proxies.split(",")  # type: ignore[attr-defined]
    factory = RequestFactory()
    via_nginx = factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(via_nginx) == "203.0.113.9"
    direct = factory.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(direct) == "198.51.100.7"


def test_nginx_balances_the_two_app_servers_and_serves_static_files_from_static_root() -> None:
    text = _nginx()
    assert text.count("{") == text.count("}")
    upstream = re.search(r"upstream phaseout_app \{(.*?)\}", text, re.S).group(1)  # type: ignore[union-attr]
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", upstream)
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert ports == ["8001", "8002"]
    for port in ports:
        assert f"phaseout-web@{port}" in readme
    assert "non_idempotent" not in re.sub(r"#.*", "", text)  # a POST is never sent twice
    example = (DEPLOY / "phaseout.env.example").read_text(encoding="utf-8")
    (var_dir,) = re.findall(r"^PHASEOUT_VAR_DIR=(.+)$", example, re.M)
    # STATIC_ROOT is VAR_DIR/static (phaseout/settings.py); collectstatic writes there, nginx reads there.
    assert re.search(rf"location /static/ \{{\s*alias {re.escape(var_dir)}/static/;", text)
    assert re.search(r"location /media/ \{\s*return 404;", text)
    assert re.search(r"ssl_certificate\s+/etc/nginx/tls/", text)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "SM2" in text and "Tongsuo" in text  # the national-algorithm note
    for page in re.findall(r"error_page [\d ]+ /errors/(\S+);", text):
        assert (DEPLOY / "nginx" / "errors" / page).is_file()


def test_logrotate_accepts_the_configuration_and_turns_over_the_access_logs(tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.skip("logrotate is not installed here")
    user = getpass.getuser()
    text = (
        (DEPLOY / "logrotate" / "phaseout")
        .read_text(encoding="utf-8")
        .replace("phaseout phaseout", f"{user} {user}")
    )
    text = text.replace("www-data adm", f"{user} {user}")
    copy = tmp_path / "phaseout"
    copy.write_text(text, encoding="utf-8")
    done = _run([logrotate, "--debug", "--state", str(tmp_path / "state"), str(copy)], dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert not re.search(r"^error:", done.stderr, re.M), done.stderr
    namespace: dict[str, object] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(encoding="utf-8"), "g", "exec"), namespace)  # noqa: S102
    assert str(namespace["accesslog"]).startswith("/var/log/phaseout/access-")
    assert "/var/log/phaseout/access-*.log" in text


def test_postgresql_primary_streams_to_a_replica() -> None:
    primary = (DEPLOY / "postgresql" / "primary.conf").read_text(encoding="utf-8")
    assert re.search(r"^wal_level = replica", primary, re.M)
    assert int(re.search(r"^max_wal_senders = (\d+)", primary, re.M).group(1)) >= 2  # type: ignore[union-attr]
    for line in (DEPLOY / "postgresql" / "pg_hba.conf").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split()
            assert len(fields) == 5 and fields[0] in {"host", "hostssl"} and fields[4] == "scram-sha-256", (
                line
            )
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "pg_basebackup" in readme and "--write-recovery-conf" in readme


def test_the_readme_refers_to_every_file_in_deploy() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            relative = path.relative_to(DEPLOY).as_posix()
            assert relative in readme or f"{path.parent.relative_to(DEPLOY).as_posix()}/" in readme, relative


def test_the_keys_are_never_in_the_example_configuration() -> None:
    example = (DEPLOY / "phaseout.env.example").read_text(encoding="utf-8")
    assert not re.search(r"[0-9a-f]{32,}", example)
    assert json.dumps(example)  # plain text


def test_the_hj212_unit_stops_its_receiver_processes_through_their_parent() -> None:
    argv = _exec_start("phaseout-hj212.service")
    assert argv[argv.index("--processes") + 1] == "2"
    text = (ROOT / "deploy" / "systemd" / "phaseout-hj212.service").read_text()
    # SIGTERM to the parent alone (it forwards it and waits for each child); what remains is then killed.
    assert "KillMode=mixed" in text.splitlines()
