"""Backup and restore (issue 18, part 5; 等保 L3-CES1-29): the restore drill — seed, back up, restore into a
fresh installation in a process of its own, read everything back, verify the audit trail — and every
refusal: a tampered file, a tampered manifest, an added file, a path outside the backup, other keys, a
database or media directory that is not empty."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions as case_actions
from phaseout.cases.models import Evidence
from phaseout.operations import backup as ops
from phaseout.orgs.models import Person
from phaseout.registry.models import Enterprise
from tests.conftest import PNG, REPORT_PDF, upload
from tests.factories import CaseFactory, EnterpriseFactory

ROOT = Path(__file__).resolve().parent.parent
PHASEOUT = str(Path(sys.executable).parent / "phaseout")
PHONE = "13800138000"
PG = "postgres://postgres@127.0.0.1:5432"


def _seed(officer: Person) -> dict[str, Any]:
    enterprise = EnterpriseFactory(contact_phone=PHONE)
    case = CaseFactory(enterprise=enterprise)
    evidence = case_actions.add_case_evidence(
        case=case,
        files=[upload("现场.png", PNG, "image/png"), upload("整改报告.pdf", REPORT_PDF, "application/pdf")],
        by=officer.user,
        description="现场照片与整改报告",
    )
    return {"enterprise": enterprise.pk, "evidence": [e.pk for e in evidence]}


def _backup(tmp_path: Path) -> Path:
    target = tmp_path / "backup"
    call_command("backup", str(target), stdout=open(os.devnull, "w"))  # noqa: SIM115
    return target


def _restore_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A fresh installation: its own database, media, audit archive and anchors; the same keys (the
    suite's development keyring and audit key, as an administrator configures the keys kept apart)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(tmp_path / "restored" / "media"),
        "AUDIT_ARCHIVE_DIR": str(tmp_path / "restored" / "archive"),
        "AUDIT_ANCHOR_FILE": str(tmp_path / "restored" / "anchors.jsonl"),
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


READ_BACK = """
import hashlib, json, django
django.setup()
from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Evidence
from phaseout.registry.models import Enterprise
ids = json.loads(%r)
files = {}
for e in Evidence.objects.filter(pk__in=ids["evidence"]):
    with e.file.open("rb") as handle:
        files[e.original_name] = hashlib.sha256(handle.read()).hexdigest() == e.sha256
print(json.dumps({
    "files": files,
    "phone": Enterprise.objects.get(pk=ids["enterprise"]).contact_phone,
    "events": AuditEvent.objects.count(),
    "last": AuditEvent.objects.order_by("-seq").values_list("action", flat=True).first(),
}))
"""


def _drill(tmp_path: Path, energy_dept: Person, database_url: str) -> None:
    seeded = _seed(energy_dept)
    events = AuditEvent.objects.count()
    assert events > 0
    target = _backup(tmp_path)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    env = _restore_env(tmp_path, database_url)
    done = _run([PHASEOUT, "restore", str(target)], env)
    assert done.returncode == 0, done.stderr
    assert "已从" in done.stdout and "均与备份一致" in done.stdout, done.stdout
    assert "审计" in done.stdout  # the trail's verification, reported
    read = _run([sys.executable, "-c", READ_BACK % json.dumps(seeded)], env)
    assert read.returncode == 0, read.stderr
    back = json.loads(read.stdout)
    assert back["files"] == {"现场.png": True, "整改报告.pdf": True}
    assert back["phone"] == PHONE  # personal data decrypts with the keys kept apart
    # the restored trail, the backup's own entry (written after it) not in it, and the restore's entry
    assert back["events"] == manifest["rows"]["audit_auditevent"] + 1
    assert back["last"] == "platform.restore"
    verified = _run([PHASEOUT, "audit", "verify"], env)
    assert verified.returncode == 0, verified.stderr
    for name, entry in manifest["files"].items():
        if name.startswith("media/"):
            restored = tmp_path / "restored" / "media" / name.removeprefix("media/")
            assert hashlib.sha256(restored.read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_restore_drill_on_sqlite(tmp_path: Path, energy_dept: Person) -> None:
    assert connection.vendor == "sqlite"
    _drill(tmp_path, energy_dept, f"sqlite:///{tmp_path / 'restored.sqlite3'}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_drill_on_postgresql(tmp_path: Path, energy_dept: Person) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS dp_restore")
        admin.execute("CREATE DATABASE dp_restore")
    try:
        _drill(tmp_path, energy_dept, f"{PG}/dp_restore")
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS dp_restore WITH (FORCE)")


# --- what a backup holds --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_backup_holds_the_database_the_files_and_check_values_never_the_keys(
    tmp_path: Path, energy_dept: Person
) -> None:
    _seed(energy_dept)
    before = AuditEvent.objects.count()
    target = _backup(tmp_path)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    database = "database.dump" if connection.vendor == "postgresql" else "database.sqlite3"
    assert manifest["database"] == database
    media = sorted(n for n in manifest["files"] if n.startswith("media/evidence/"))
    assert len(media) == 2
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((target / name).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["rows"]["cases_evidence"] == 2
    assert manifest["rows"]["audit_auditevent"] == before
    # The keys' check values, never a key: neither the audit key nor any key of the keyring is in any file.
    from phaseout.crypto import keyring

    ring = keyring.load(
        keys_json=django_settings.PHASEOUT_KEYS,
        keys_file_setting=django_settings.PHASEOUT_KEYS_FILE,
        development=django_settings.PHASEOUT_DEV_KEYRING,
        var_dir=django_settings.VAR_DIR,
    )
    secrets = [django_settings.AUDIT_MAC_KEY, ring.mac.hex(), *(k.hex() for k in ring.encryption.values())]
    for path in target.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in blob and bytes.fromhex(secret) not in blob, path
    assert set(manifest["keys"]) == {"backend", "encryption", "mac", "audit"}
    # The live trail records the backup, with its seal.
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None and entry.action == "platform.backup"
    assert entry.data["seal"] == manifest["seal"] and entry.data["files"] == len(manifest["files"])


@pytest.mark.django_db(transaction=True)
def test_a_backup_is_written_only_into_a_new_directory(tmp_path: Path, reference: None) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="不是空目录"):
        call_command("backup", str(tmp_path / "used"))
    with pytest.raises(CommandError, match="NUL"):
        call_command("backup", "a\x00b")
    assert AuditEvent.objects.count() == events
    out = tmp_path / "dated"
    call_command("backup", "--dated", str(out), stdout=open(os.devnull, "w"))  # noqa: SIM115
    (made,) = out.iterdir()
    assert (made / "manifest.json").is_file()


# --- refusals: nothing is restored ----------------------------------------------------------------------


@pytest.fixture
def made(tmp_path: Path, energy_dept: Person, transactional_db: None) -> Path:
    _seed(energy_dept)
    return _backup(tmp_path)


def _refused(source: Path, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("restore", "--check", str(source))


def test_an_intact_backup_checks(made: Path) -> None:
    from io import StringIO

    out = StringIO()
    call_command("restore", "--check", str(made), stdout=out)
    assert "备份完好" in out.getvalue()


def test_a_changed_file_is_refused(made: Path) -> None:
    (name,) = [p for p in (made / "media").rglob("*.png")]
    blob = bytearray(name.read_bytes())
    blob[-1] ^= 0xFF
    name.write_bytes(bytes(blob))
    _refused(made, "备份文件与校验和不符：media/evidence/.*png。未恢复任何内容")


def test_a_changed_database_dump_is_refused(made: Path) -> None:
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    with (made / manifest["database"]).open("ab") as handle:
        handle.write(b"\0")
    _refused(made, "备份文件与校验和不符：database")


def test_a_manifest_changed_with_its_file_is_refused(made: Path) -> None:
    """An attacker who changes a file and writes its new sum into the manifest breaks the seal."""
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    (name,) = [n for n in manifest["files"] if n.endswith(".png")]
    (made / name).write_bytes(b"forged")
    manifest["files"][name] = {"size": 6, "sha256": hashlib.sha256(b"forged").hexdigest()}
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _refused(made, "备份清单已被改动")


def test_a_file_added_or_missing_is_refused(made: Path) -> None:
    (made / "media" / "extra.txt").write_text("x")
    _refused(made, "备份中多出文件：media/extra.txt")
    (made / "media" / "extra.txt").unlink()
    (pdf,) = [p for p in (made / "media").rglob("*.pdf")]
    pdf.unlink()
    _refused(made, "备份缺少文件")


@pytest.mark.parametrize("name", ["media/../../etc/passwd", "/etc/passwd", "media\\x", "other/file", "media"])
def test_a_path_outside_the_backup_is_refused_even_when_sealed(made: Path, name: str) -> None:
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name] = {"size": 1, "sha256": "0" * 64}
    manifest["seal"] = ops._seal(manifest)  # as someone holding the keys would
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _refused(made, "备份清单指向备份目录以外的文件")


def test_no_manifest_or_an_unreadable_one_is_refused(made: Path, tmp_path: Path) -> None:
    _refused(tmp_path / "nothing-here", "中没有备份")
    (made / "manifest.json").write_text("{not json", encoding="utf-8")
    _refused(made, "无法读取备份清单")
    (made / "manifest.json").write_text(json.dumps({"format": 99}), encoding="utf-8")
    _refused(made, "本版本无法读取")


def test_other_keys_are_refused_by_name(made: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another installation's audit key: the keyring holds none (a fresh development keyring has one, which
    # would win over the setting) and the setting holds another.
    from phaseout import crypto

    def missing(version: int, data: bytes) -> bytes:
        raise crypto.MissingKey(f"audit key {version}")

    monkeypatch.setattr(crypto, "audit_mac", missing)
    settings.AUDIT_MAC_KEY = "cd" * 32
    # The seal is under the keyring's MAC key, which is unchanged: the audit key is what differs.
    _refused(made, "本系统的密钥与备份时的不同（第 1 版审计密钥）")


def test_a_database_that_is_not_empty_is_refused_and_left_as_it_was(made: Path) -> None:
    events = AuditEvent.objects.count()
    evidence = Evidence.objects.count()
    with pytest.raises(CommandError, match=r"数据库不为空（已有 \d+ 张表）：备份只能恢复到空数据库"):
        call_command("restore", str(made))
    assert AuditEvent.objects.count() == events and Evidence.objects.count() == evidence
    assert Enterprise.objects.count() == 1


@contextmanager
def _empty_database(tmp_path: Path, name: str) -> Iterator[str]:
    """A new, empty database of the suite's engine: a file, or a dp_ database on the PostgreSQL server."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        return
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


TABLES = (
    "import django; django.setup(); from django.db import connection;"
    " print(len(connection.introspection.table_names()))"
)


def test_a_media_directory_that_is_not_empty_is_refused(made: Path, tmp_path: Path) -> None:
    with _empty_database(tmp_path, "dp_restore_media") as url:
        env = _restore_env(tmp_path, url)
        Path(env["MEDIA_ROOT"]).mkdir(parents=True)
        (Path(env["MEDIA_ROOT"]) / "left.txt").write_text("x")
        done = _run([PHASEOUT, "restore", str(made)], env)
        assert done.returncode != 0
        assert "不为空：备份只能恢复到空的系统中" in done.stderr, done.stderr
        tables = _run([sys.executable, "-c", TABLES], env)
        assert tables.stdout.split() == ["0"], tables.stderr  # nothing was written


def test_a_backup_of_another_engine_is_refused(made: Path, tmp_path: Path) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    manifest["engine"] = other
    manifest["seal"] = ops._seal(manifest)
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CommandError, match=f"该备份来自 {other} 数据库，本系统使用 {connection.vendor}"):
        call_command("restore", str(made))


# --- a manifest in non-ASCII, or not UTF-8: a clear refusal, never a traceback (issue 13's probe) ---------

ALTERED = "备份清单已被改动，或由与本系统不同的密钥签封：未恢复任何内容。"


def _rewrite(made: Path, change: Any, *, reseal: bool = False) -> None:
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    if reseal:
        manifest["seal"] = ops._seal(manifest)  # as someone holding the keys would
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")  # \\u escapes, ASCII


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(seal="封印" * 32),  # a non-ASCII seal
        lambda m: m.update(seal="\udcff" + m["seal"][1:]),  # a lone surrogate (JSON "\udcff")
        lambda m: m.update(seal=["not", "a", "string"]),
        lambda m: m.update(note="备注"),  # non-ASCII added elsewhere: the seal no longer holds
        lambda m: m.update(note="\ud800"),  # a lone surrogate elsewhere (UTF-8 cannot encode it)
    ],
    ids=["non-ascii-seal", "surrogate-seal", "list-seal", "non-ascii-field", "surrogate-field"],
)
def test_a_manifest_tampered_in_non_ascii_is_refused_as_altered(made: Path, change: Any) -> None:
    _rewrite(made, change)
    _refused(made, "^" + ALTERED + "$")


def test_a_seal_that_is_not_utf_8_is_refused_as_unreadable(made: Path) -> None:
    raw = (made / "manifest.json").read_bytes()
    start = raw.index(b'"seal": "') + len(b'"seal": "') if b'"seal": "' in raw else raw.index(b'"seal":"') + 8
    (made / "manifest.json").write_bytes(raw[:start] + b"\xff\xfe" + raw[start + 2 :])
    _refused(made, "^无法读取备份清单：")


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["keys"].update(mac="密钥"),
        lambda m: m["keys"]["audit"].update({"1": "审计"}),
        lambda m: m["keys"].update(encryption={"一": "x"}),
        lambda m: m.update(keys="密钥"),
        lambda m: m.update(database=["x"]),
        lambda m: m["files"].update({m["database"]: "文件"}),
        lambda m: m["files"].update({"media/\ud800.png": {"size": 1, "sha256": "0" * 64}}),
    ],
    ids=[
        "mac",
        "audit",
        "encryption-version",
        "keys-not-a-dict",
        "database-list",
        "entry-not-a-dict",
        "surrogate-file-name",
    ],
)
def test_a_sealed_manifest_with_non_ascii_or_misshapen_values_is_refused_with_a_message(
    made: Path, change: Any
) -> None:
    """Even sealed by someone holding the keys, a misshapen manifest is a refusal in words, not a crash."""
    _rewrite(made, change, reseal=True)
    with pytest.raises(CommandError) as refused:
        call_command("restore", "--check", str(made))
    message = str(refused.value)
    assert message and any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_the_command_line_prints_the_refusal_in_chinese_and_exits_non_zero(
    made: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import ManagementUtility

    _rewrite(made, lambda m: m.update(seal="封印"))
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["phaseout", "restore", "--check", str(made)]).execute()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == "CommandError: " + ALTERED
    assert "Traceback" not in err
