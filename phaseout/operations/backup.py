"""`phaseout backup DIR` and `phaseout restore DIR` (等保 L3-CES1-29).

A backup is a directory:

    manifest.json     what is in it: the engine, the migrations applied, the rows per table, the keys' check
                      values, and every file with its size and SHA-256; sealed with HMAC-SM3 under the
                      installation's MAC key (phaseout.crypto), so that a file and its sum cannot be changed
                      together unnoticed by anyone without the keys
    database.dump     PostgreSQL: pg_dump's custom format (one snapshot), without owner or grants
    database.sqlite3  the embedded set-up: a consistent copy by SQLite's online backup API
    media/...         every file under MEDIA_ROOT (evidence, registers, submissions)
    audit-archive/... the audit trail's archive files (AUDIT_ARCHIVE_DIR: entries past the retention)

The keys are never in it (they are kept apart, deploy/README.md): only check values that show whether an
installation holds the same keys. The database is read first, the files after: evidence is never
rewritten, so every file the dump names is there when the files are copied.

Restore goes only into an EMPTY installation (no table in the database, nothing under MEDIA_ROOT) and
checks everything before it writes anything: the seal, every file's size and sum, no file added or
missing, paths that stay inside the backup, the engine, and that this installation's keys are those
of the backup. Then the database, then the files (each sum checked again as written), then the rows
counted against the manifest and the audit chain verified.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils.translation import gettext as _

from phaseout import crypto
from phaseout.audit import chain

FORMAT = 1
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 1024**3  # a million files' entries fit many times over
SEAL_PURPOSE = "backup.manifest"
KEY_CHECK_PURPOSE = "backup.keycheck"
KEY_CHECK_TEXT = b"phaseout key check"
DUMP = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore is refused; the message says why (in the platform's language)."""


@dataclass
class RestoreReport:
    tables: int = 0
    rows: int = 0
    files: int = 0
    pending_migrations: list[str] = field(default_factory=list)
    audit: str = ""


# --- shared ---------------------------------------------------------------------------------------------


def _engine(using: str) -> str:
    vendor = connections[using].vendor
    if vendor not in DUMP:
        raise BackupError(
            _("Backups are made of PostgreSQL or SQLite databases only, not %(vendor)s.") % {"vendor": vendor}
        )
    return vendor


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Path, target: Path) -> tuple[int, str]:
    """Copy a file, returning its size and SHA-256 as copied."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, target.open("xb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    return size, digest.hexdigest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "seal"}
    # surrogatepass: a lone surrogate (a JSON "\ud800" written into a tampered manifest) gives bytes that
    # break the seal, not a UnicodeEncodeError; a manifest the platform wrote never holds one.
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def _same(recorded: object, mine: str) -> bool:
    """A recorded check value (a seal, a MAC) equals ours, compared in constant time: as bytes, since
    hmac.compare_digest refuses str holding non-ASCII, which a tampered manifest may (a TypeError)."""
    if not isinstance(recorded, str):
        return False
    return hmac.compare_digest(recorded.encode("utf-8", "surrogatepass"), mine.encode("utf-8"))


def _seal(manifest: dict[str, Any]) -> str:
    return crypto.hmac_sm3(SEAL_PURPOSE, _canonical(manifest)).hex()


def key_checks() -> dict[str, Any]:
    """Check values of this installation's keys (never the keys): a known text encrypted under each
    encryption key version, its HMAC under the MAC key, and its audit-chain MAC under each audit key."""
    backend = crypto.backend()
    audit_versions = sorted({chain.current_version(), *settings.AUDIT_MAC_OLD_KEYS})
    return {
        "backend": settings.PHASEOUT_CRYPTO_BACKEND,
        "encryption": {
            str(version): base64.b64encode(
                backend.encrypt(version, KEY_CHECK_TEXT, KEY_CHECK_PURPOSE.encode())
            ).decode()
            for version in backend.versions()
        },
        "mac": crypto.hmac_sm3(KEY_CHECK_PURPOSE, KEY_CHECK_TEXT).hex(),
        "audit": {str(v): chain.mac(v, chain.GENESIS, KEY_CHECK_TEXT) for v in audit_versions},
    }


def _keys_differ(recorded: dict[str, Any]) -> list[str]:
    """What in this installation's keys differs from those recorded in a backup (empty: the same)."""
    problems: list[str] = []
    backend = crypto.backend()
    versions = set(backend.versions())
    for version, token in (recorded.get("encryption") or {}).items():
        try:
            blob = base64.b64decode(str(token), validate=True)
            same = (
                int(version) in versions
                and backend.decrypt(int(version), blob, KEY_CHECK_PURPOSE.encode()) == KEY_CHECK_TEXT
            )
        except Exception:
            same = False
        if not same:
            problems.append(_("the encryption key of version %(version)s") % {"version": version})
    if not _same(recorded.get("mac", ""), crypto.hmac_sm3(KEY_CHECK_PURPOSE, KEY_CHECK_TEXT).hex()):
        problems.append(_("the MAC key (blind indexes)"))
    for version, value in (recorded.get("audit") or {}).items():
        try:
            mine = chain.mac(int(version), chain.GENESIS, KEY_CHECK_TEXT)
        except Exception:
            mine = ""
        if not mine or not _same(value, mine):
            problems.append(_("the audit key of version %(version)s") % {"version": version})
    return problems


def _tables() -> list[tuple[str, str]]:
    """(label, table) of every concrete model, in a stable order."""
    seen: dict[str, str] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy:
            seen.setdefault(meta.db_table, meta.label_lower)
    return sorted((label, table) for table, label in seen.items())


def _count(cursor: Any, existing: set[str], quote: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _label, table in _tables():
        if table in existing:
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - the models' own tables
            counts[table] = int(cursor.fetchone()[0])
    return counts


def row_counts(using: str = "default") -> dict[str, int]:
    connection = connections[using]
    with connection.cursor() as cursor:
        return _count(cursor, set(connection.introspection.table_names()), connection.ops.quote_name)


def _sqlite_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = db.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        existing = {row[0] for row in cursor.fetchall()}
        return _count(cursor, existing, lambda name: '"' + name.replace('"', '""') + '"')
    finally:
        db.close()


def _applied_migrations(using: str) -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in sorted(MigrationRecorder(connections[using]).applied_migrations()):
        latest[app] = max(latest.get(app, ""), name)
    return latest


def _pg_args(using: str) -> tuple[list[str], dict[str, str]]:
    conf = connections[using].settings_dict
    args = ["--dbname", conf["NAME"]]
    if conf.get("HOST"):
        args += ["--host", str(conf["HOST"])]
    if conf.get("PORT"):
        args += ["--port", str(conf["PORT"])]
    if conf.get("USER"):
        args += ["--username", str(conf["USER"])]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if conf.get("PASSWORD"):
        env["PGPASSWORD"] = str(conf["PASSWORD"])
    return args, env


def _roots() -> dict[str, Path]:
    """The directories a backup holds besides the database, by their name in it."""
    return {"media": Path(settings.MEDIA_ROOT), "audit-archive": Path(settings.AUDIT_ARCHIVE_DIR)}


def _program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            _("%(program)s was not found: install the PostgreSQL client of the server's major version.")
            % {"program": name}
        )
    return found


def _media_files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue  # only the platform's own regular files
            yield path.relative_to(root).as_posix(), path


# --- backup ---------------------------------------------------------------------------------------------


def backup(target: Path, *, now: dt.datetime, using: str = "default") -> dict[str, Any]:
    """Write a backup into `target` (a new or empty directory); return its manifest."""
    engine = _engine(using)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(
            _("%(dir)s is not an empty directory: a backup is written into a new one.") % {"dir": target}
        )
    target.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    dump = target / DUMP[engine]
    if engine == "postgresql":
        # The rows are counted in the very snapshot pg_dump reads (writes go on meanwhile).
        connection = connections[using]
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = _count(
                cursor, set(connection.introspection.table_names(cursor)), connection.ops.quote_name
            )
            args, env = _pg_args(using)
            done = subprocess.run(  # noqa: S603 - fixed program, arguments from the settings
                [
                    _program("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(dump),
                    *args,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            raise BackupError(_("pg_dump failed: %(error)s") % {"error": done.stderr.strip()[-2000:]})
    else:
        source = sqlite3.connect(str(connections[using].settings_dict["NAME"]))
        copy = sqlite3.connect(str(dump))
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        counts = _sqlite_counts(dump)  # the copy's own rows
    files[DUMP[engine]] = {"size": dump.stat().st_size, "sha256": _sha256(dump)}
    for prefix, root in _roots().items():
        for relative, path in _media_files(root):
            size, digest = _copy(path, target / prefix / relative)
            files[f"{prefix}/{relative}"] = {"size": size, "sha256": digest}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "engine": engine,
        "database": DUMP[engine],
        "migrations": _applied_migrations(using),
        "rows": counts,
        "keys": key_checks(),
        "files": files,
    }
    manifest["seal"] = _seal(manifest)
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


# --- restore --------------------------------------------------------------------------------------------


def _safe_relative(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and name.isprintable()  # no NUL, no control character, no lone surrogate (no file name of ours)
        and "\x00" not in name
        and "\\" not in name
        and not path.is_absolute()
        and ".." not in path.parts
        and (name == path.as_posix())
    )


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file() or path.is_symlink():
        raise BackupError(_("%(dir)s holds no backup (no manifest.json).") % {"dir": source})
    if path.stat().st_size > MANIFEST_MAX_BYTES:
        raise BackupError(_("The backup's manifest is too large to be one."))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(_("The backup's manifest cannot be read: %(error)s") % {"error": exc}) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(_("The backup's manifest is not in a format this version reads."))
    return manifest


def _check_shape(manifest: dict[str, Any]) -> None:
    """The sealed manifest has the shape the platform writes (a manifest sealed by someone holding the keys
    could hold anything): files a mapping of names to {size, sha256}, the database one of them, the keys'
    check values mappings of strings."""
    files = manifest.get("files")
    database = manifest.get("database")
    if not isinstance(files, dict) or not isinstance(database, str) or database not in files:
        raise BackupError(_("The backup's manifest names no database file."))
    keys = manifest.get("keys") or {}
    shaped = isinstance(keys, dict) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        for entry in files.values()
    )
    for part in ("encryption", "audit"):
        value = keys.get(part) if isinstance(keys, dict) else None
        shaped = shaped and (
            value is None
            or (isinstance(value, dict) and all(isinstance(v, str) for v in (*value, *value.values())))
        )
    if not shaped:
        raise BackupError(_("The backup's manifest is not in a format this version reads."))


def verify(source: Path) -> dict[str, Any]:
    """Check a backup without writing anything; return its manifest, or raise BackupError saying what is
    wrong (the seal, a file changed, added or missing, the keys)."""
    manifest = read_manifest(source)
    if not _same(manifest.get("seal", ""), _seal(manifest)):
        raise BackupError(
            _(
                "The backup's manifest has been altered, or was sealed with other keys than this "
                "installation's: nothing was restored."
            )
        )
    _check_shape(manifest)
    files = manifest["files"]
    for name, entry in files.items():
        prefix = name.split("/", 1)[0]
        if not _safe_relative(name) or not (
            name == manifest["database"] or (prefix in _roots() and "/" in name)
        ):
            raise BackupError(_("The backup names a file outside it: %(name)s") % {"name": name[:200]})
        path = source / name
        if not path.is_file() or path.is_symlink():
            raise BackupError(_("A file of the backup is missing: %(name)s") % {"name": name})
        if path.stat().st_size != entry.get("size") or _sha256(path) != entry.get("sha256"):
            raise BackupError(
                _("A file of the backup does not match its checksum: %(name)s. Nothing was restored.")
                % {"name": name}
            )
    listed = set(files) | {MANIFEST}
    for path in sorted(source.rglob("*")):
        if path.is_file() or path.is_symlink():
            name = path.relative_to(source).as_posix()
            if name not in listed:
                raise BackupError(
                    _("A file was added to the backup: %(name)s. Nothing was restored.") % {"name": name}
                )
    differ = _keys_differ(manifest.get("keys") or {})
    if differ:
        raise BackupError(
            _(
                "This installation's keys are not those of the backup (%(keys)s): its personal data could "
                "not be read nor its audit trail verified. Configure the keys kept with the backup."
            )
            % {"keys": "、".join(differ)}
        )
    return manifest


def _empty(using: str) -> None:
    tables = connections[using].introspection.table_names()
    if tables:
        raise BackupError(
            _(
                "The database is not empty (%(count)d tables): a backup is restored only into an empty "
                "database. Create a new one and do not run migrate before the restore."
            )
            % {"count": len(tables)}
        )
    for root in _roots().values():
        if root.exists() and any(root.iterdir()):
            raise BackupError(
                _("%(dir)s is not empty: a backup is restored only into an empty installation.")
                % {"dir": root}
            )


def restore(source: Path, *, using: str = "default") -> RestoreReport:
    manifest = verify(source)
    engine = _engine(using)
    if manifest.get("engine") != engine:
        raise BackupError(
            _("The backup is of a %(backup)s database; this installation's is %(here)s.")
            % {"backup": manifest.get("engine"), "here": engine}
        )
    _empty(using)
    dump = source / manifest["database"]
    connection = connections[using]
    if engine == "postgresql":
        args, env = _pg_args(using)
        done = subprocess.run(  # noqa: S603 - fixed program, arguments from the settings
            [
                _program("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                *args,
                str(dump),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(_("pg_restore failed: %(error)s") % {"error": done.stderr.strip()[-2000:]})
    else:
        connection.close()
        backup_db = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        target = sqlite3.connect(str(connection.settings_dict["NAME"]))
        try:
            backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
    connection.close()
    report = RestoreReport()
    roots = _roots()
    for name, entry in manifest["files"].items():
        prefix, _sep, relative = name.partition("/")
        if prefix in roots and relative:
            size, digest = _copy(source / name, roots[prefix] / relative)
            if size != entry["size"] or digest != entry["sha256"]:
                raise BackupError(_("A file changed while it was restored: %(name)s") % {"name": name})
            report.files += 1
    counts = row_counts(using)
    expected = {str(k): int(v) for k, v in (manifest.get("rows") or {}).items()}
    wrong = {t: (n, counts.get(t)) for t, n in expected.items() if counts.get(t) != n}
    if wrong:
        table, (want, got) = next(iter(sorted(wrong.items())))
        raise BackupError(
            _("The restored table %(table)s has %(got)s rows; the backup recorded %(want)d.")
            % {"table": table, "got": got, "want": want}
        )
    report.tables = len(counts)
    report.rows = sum(counts.values())
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    report.pending_migrations = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
    return report
