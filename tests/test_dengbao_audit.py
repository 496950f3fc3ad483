"""等保 2.0 level 3, 安全计算环境 — the audit units (L3-CES1-12 to 15) and the audit trail's integrity at rest
(L3-CES1-26): every entry complete, chained by HMAC-SM3, append-only in the database, verified, archived
past its retention, and no action without its entry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import itertools
import json
import stat
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client

from phaseout import crypto, jobs
from phaseout.audit import anchor, archive, chain, maintenance, sequencer, verify
from phaseout.audit.apps import check_audit_settings
from phaseout.audit.models import AuditEvent, ChainHead, ChainLink, Outcome
from phaseout.audit.record import AuditWriteError, record
from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case, CaseEvent, Decision
from phaseout.crypto import keyring
from phaseout.disclosure import actions as list_actions
from phaseout.orgs.models import Person, Role
from tests.conftest import audit_numbers_set_back, client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
APPEND_ONLY = "audit_auditevent is append-only"


def _entries(n: int, *, actor: object = None, action: str = "test.event") -> list[AuditEvent]:
    return [record(actor=actor, action=action, reason=f"第{i}条", data={"i": i}) for i in range(n)]  # type: ignore[arg-type]


def _tamper(sql: str, params: list[object], *, linked: bool = True) -> None:
    """What a database owner can do: take the triggers off, change the tables, put them back. With
    `linked`, the entries written so far were linked into the chain first (the sequencer runs right after
    each commit, so an entry is linked moments after it is written)."""
    if linked:
        sequencer.run()
    for table in maintenance.TABLES:
        maintenance.uninstall(connection, table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for table in maintenance.TABLES:
        maintenance.install(connection, table)


_numbers_set_back = audit_numbers_set_back


@pytest.fixture
def auditor(reference: None) -> Person:
    return PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR, display_name="审计管理员")


# ── L3-CES1-12: audit enabled, covering every user and the important security events ──


def test_l3_ces1_12_a_write_over_http_is_audited_with_its_person(office: Person) -> None:
    snapshot = list_actions.approve(
        snapshot=list_actions.draft(kind="licences", by=office.user, today=TODAY), by=office.user
    )
    response = client_for(office.user).post(f"/lists/{snapshot.pk}/publish/", {"confirm": "on"})
    assert response.status_code == 302
    entry = AuditEvent.objects.get(action="list.publish")
    assert (entry.actor, entry.object_type, entry.object_id) == (
        office.user,
        "disclosure.snapshot",
        str(snapshot.pk),
    )


def test_l3_ces1_12_system_and_anonymous_events_are_audited_too(db: None) -> None:
    entry = record(actor=None, action="tipoff.receive", outcome=Outcome.SUCCESS)
    assert (entry.actor, entry.actor_name, entry.unit, entry.seq) == (None, "", "", 1)
    assert AuditEvent.objects.get().action == "tipoff.receive"


def test_l3_ces1_12_the_periodic_archive_is_itself_audited(db: None, tmp_path: Path) -> None:
    with time_machine.travel(dt.datetime(2026, 1, 10, 4, 0, tzinfo=dt.UTC), tick=False):
        _entries(2)
    with transaction.atomic():  # the runner's transaction; the file is named once it commits
        report = jobs.run_jobs(now=NOW)
    assert report["audit"].counts == {"archived": 2}
    assert "审计记录归档 2 条。" in str(report)
    entry = AuditEvent.objects.get(action="audit.archive")
    assert (entry.seq, entry.data["first_seq"], entry.data["last_seq"], entry.data["count"]) == (3, 1, 2, 2)


# ── L3-CES1-13: date and time, user, event type, outcome and other relevant information ──


def test_l3_ces1_13_each_entry_has_time_person_unit_address_event_object_outcome(office: Person) -> None:
    snapshot = list_actions.approve(
        snapshot=list_actions.draft(kind="licences", by=office.user, today=TODAY), by=office.user
    )
    client = client_for(office.user)
    moment = dt.datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        client.post(f"/lists/{snapshot.pk}/publish/", {"confirm": "on"}, REMOTE_ADDR="10.20.30.40")
    entry = AuditEvent.objects.get(action="list.publish")
    assert entry.at == moment
    assert (entry.actor_id, entry.actor_name, entry.unit) == (
        office.user.pk,
        "office",
        "江门市工业和信息化局",
    )
    assert (entry.ip, entry.outcome) == ("10.20.30.40", "success")
    assert (entry.object_type, entry.object_id) == ("disclosure.snapshot", str(snapshot.pk))
    assert (entry.key_version, len(entry.mac), len(entry.prev_mac)) == (1, 64, 64)


def test_l3_ces1_13_the_unit_is_the_one_at_the_time(energy_dept: Person, district: Person) -> None:
    first = record(actor=energy_dept.user, action="test.event")
    assert first.unit == "江门市发展和改革局"
    energy_dept.department = None
    energy_dept.role = Role.DISTRICT
    energy_dept.territory = district.territory
    energy_dept.save()
    energy_dept.user.refresh_from_db()
    second = record(actor=energy_dept.user, action="test.event")
    first.refresh_from_db()
    assert (first.unit, second.unit) == ("江门市发展和改革局", "蓬江区")


def test_l3_ces1_13_a_refusal_carries_its_outcome_and_a_forged_address_is_not_stored(db: None) -> None:
    from phaseout.audit.record import set_request_ip

    set_request_ip("not-an-address")
    try:
        entry = record(actor=None, action="login.failure", outcome=Outcome.REFUSED, data={"username": "x"})
    finally:
        set_request_ip(None)
    entry.refresh_from_db()
    assert (entry.outcome, entry.ip, entry.data) == ("refused", None, {"username": "x"})


# ── L3-CES1-14: audit records protected: no update, no deletion, no overwrite; backed up ──


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten'",
        "UPDATE audit_auditevent SET outcome = 'success' WHERE action = 'test.event'",
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditevent WHERE seq = 2",
    ],
)
def test_l3_ces1_14_the_database_refuses_update_and_delete(db: None, sql: str) -> None:
    _entries(3)
    before = list(AuditEvent.objects.order_by("seq").values_list("seq", "reason", "mac"))
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "reason", "mac")) == before


@pytest.mark.postgres  # TRUNCATE is PostgreSQL's (SQLite has DELETE only, tested above)
def test_l3_ces1_14_truncate_is_refused_on_postgresql(db: None) -> None:
    _entries(2)
    with connection.cursor() as cursor:  # the inserts' deferred checks done, as in a committed table
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.count() == 2


def test_l3_ces1_14_the_orm_and_the_model_refuse_too(db: None) -> None:
    entry = _entries(1)[0]
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.all().delete()
    with pytest.raises(RuntimeError, match="append-only"):
        entry.save()
    with pytest.raises(RuntimeError, match="append-only"):
        entry.delete()
    entry.refresh_from_db()
    assert entry.reason == "第0条"


def test_l3_ces1_14_maintenance_lets_deletion_through_never_an_update(db: None) -> None:
    _entries(2)
    with transaction.atomic(), maintenance.maintenance():
        with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
            AuditEvent.objects.filter(seq=1).update(reason="rewritten")
        AuditEvent.objects.filter(seq=1).delete()
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [2]
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.all().delete()  # the flag ended with its block


@pytest.mark.postgres  # roles are PostgreSQL's
def test_l3_ces1_14_on_postgresql_only_the_table_owner_may_use_maintenance(db: None) -> None:
    _entries(1)
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE phaseout_app_test NOLOGIN")
        cursor.execute("GRANT SELECT, INSERT, DELETE ON audit_auditevent TO phaseout_app_test")
        cursor.execute("SET LOCAL ROLE phaseout_app_test")
    try:
        with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic(), maintenance.maintenance():
            AuditEvent.objects.all().delete()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.count() == 1


@pytest.mark.postgres  # roles are PostgreSQL's
def test_l3_ces1_14_the_applications_role_reads_and_writes_business_and_only_appends_audit(
    energy_dept: Person,
) -> None:
    """`phaseout audit grant-app-role`: run as that role, the platform works and its audit entries are
    written, but no UPDATE or DELETE of an entry passes, maintenance flag or not; the periodic archive leaves
    the deletion to the owner."""
    _entries(1)
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE phaseout_app_role_test NOLOGIN")  # rolled back with the test
    out = StringIO()
    call_command("audit", "grant-app-role", "phaseout_app_role_test", stdout=out)
    assert "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_auditevent" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL ROLE phaseout_app_role_test")
    try:
        assert maintenance.owns_the_trail() is False
        case = case_actions.order_rectification(
            case=CaseFactory(), by=energy_dept.user, reason="超限额", today=TODAY,
            issued_on=dt.date(2026, 2, 27), served_on=dt.date(2026, 2, 27),
        )  # fmt: skip
        assert AuditEvent.objects.filter(action="case.order_rectification", object_id=str(case.pk)).exists()
        for statement in ("UPDATE audit_auditevent SET reason = 'x'", "DELETE FROM audit_auditevent"):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                maintenance.maintenance(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        assert archive.job(now=NOW + dt.timedelta(days=3650), today=TODAY) == {"archived": 0}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert maintenance.owns_the_trail() is True
    assert verify.verify().ok


@pytest.mark.postgres
def test_l3_ces1_14_the_owner_is_not_granted_as_the_applications_role(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="owns the audit table"):
        call_command("audit", "grant-app-role", owner)
    with pytest.raises(CommandError, match="no database role named nobody_here"):
        call_command("audit", "grant-app-role", "nobody_here")


def test_l3_ces1_14_no_roles_on_the_embedded_database(db: None) -> None:
    refusal = "no database role named anyone" if connection.vendor == "postgresql" else "PostgreSQL only"
    with pytest.raises(CommandError, match=refusal):
        call_command("audit", "grant-app-role", "anyone")


def test_l3_ces1_14_the_triggers_are_installed_by_the_migrations(db: None) -> None:
    # On SQLite a migration that rebuilds the table drops its triggers: this fails if one does.
    assert maintenance.installed(connection)


def test_l3_ces1_14_the_admin_cannot_change_or_delete_an_entry(db: None) -> None:
    """Not even a superuser: the audit trail is not in the admin (the auditor reads it on /audit/)."""
    entry = _entries(1)[0]
    client = client_for(UserFactory(username="root", is_staff=True, is_superuser=True))
    base = f"/admin/audit/auditevent/{entry.pk}"
    for url, data in [
        (f"{base}/change/", {"reason": "rewritten", "action": "x"}),
        (f"{base}/delete/", {"post": "yes"}),
        ("/admin/audit/auditevent/add/", {"action": "forged"}),
        ("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [entry.pk]}),
    ]:
        assert client.post(url, data).status_code in (302, 403, 404), url
    entry.refresh_from_db()
    # Nothing but the sign-in's own entries and the refusals was added.
    assert entry.reason == "第0条"
    assert set(AuditEvent.objects.exclude(pk=entry.pk).values_list("action", flat=True)) <= {
        "auth.login",
        "auth.otp_verified",
        "access.refused",
    }
    assert AuditEvent not in admin.site._registry


def test_l3_ces1_14_entries_past_retention_are_backed_up_to_a_write_once_file(
    db: None, django_capture_on_commit_callbacks: object
) -> None:
    # Retention 6 months counted from 2 December 2026: what was written before 1 June 2026 (Beijing time,
    # 31 May 16:00 UTC) goes to the archive.
    with time_machine.travel(dt.datetime(2026, 5, 31, 15, 59, 59, tzinfo=dt.UTC), tick=False):
        old = _entries(3, action="old")
    with time_machine.travel(dt.datetime(2026, 5, 31, 16, 0, tzinfo=dt.UTC), tick=False):
        recent = _entries(2, action="recent")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        segment = archive.archive(now=NOW)
    assert segment is not None and (segment.first_seq, segment.last_seq, segment.count) == (1, 3, 3)
    assert segment.path == Path(settings.AUDIT_ARCHIVE_DIR) / "audit-000000000001-000000000003.jsonl.gz"
    assert not segment.path.with_name(segment.path.name + ".partial").exists()
    assert not segment.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only
    with gzip.open(segment.path, "rt", encoding="utf-8") as fh:
        header, *lines = [json.loads(line) for line in fh]
    assert (header["format"], header["anchor"], header["last_mac"]) == (
        archive.FORMAT,
        chain.GENESIS,
        lines[-1]["link"]["mac"],
    )
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert [line["link"]["pos"] for line in lines] == [1, 2, 3]
    assert [line["link"]["prev"] for line in lines[1:]] == [line["link"]["mac"] for line in lines[:2]]
    assert [line["mac"] for line in lines] == [e.mac for e in old]
    assert [line["reason"] for line in lines] == ["第0条", "第1条", "第2条"]
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "action")) == [
        (4, "recent"),
        (5, "recent"),
        (6, "audit.archive"),
    ]
    entry = AuditEvent.objects.get(action="audit.archive")
    assert entry.data["sha256"] == segment.sha256 and entry.data["file"] == segment.path.name
    # The table's links continue the archived chain.
    assert ChainLink.objects.order_by("pos").values_list("pos", "seq", "prev").first() == (
        4,
        recent[0].seq,
        header["last_mac"],
    )
    report = verify.verify()
    assert report.ok, report.problems
    assert (report.checked, report.archived, report.last_seq) == (6, 3, 6)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert archive.archive(now=NOW) is None  # nothing more past the retention: no new file
    assert len(list(Path(settings.AUDIT_ARCHIVE_DIR).iterdir())) == 1


def test_l3_ces1_14_a_retention_under_six_months_is_refused_and_changes_nothing(db: None, settings) -> None:
    with time_machine.travel(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), tick=False):
        _entries(2)
    message = "审计记录至少保存 6 个月，不接受 5 个月的保存期限。"
    with pytest.raises(archive.RetentionTooShort) as refused:
        archive.archive(now=NOW, months=5)
    assert str(refused.value) == message
    settings.AUDIT_RETENTION_MONTHS = 5
    with pytest.raises(CommandError) as refused_command:
        call_command("audit", "archive", "--now", NOW.isoformat(), stdout=StringIO())
    assert str(refused_command.value) == message
    assert [e.id for e in check_audit_settings()] == ["audit.E002"]
    assert AuditEvent.objects.count() == 2
    assert not Path(settings.AUDIT_ARCHIVE_DIR).exists() or not any(
        Path(settings.AUDIT_ARCHIVE_DIR).iterdir()
    )


def test_l3_ces1_14_an_interrupted_archive_run_is_cleaned_up_or_completed(
    db: None, django_capture_on_commit_callbacks: object
) -> None:
    with time_machine.travel(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), tick=False):
        _entries(2)
    folder = Path(settings.AUDIT_ARCHIVE_DIR)
    with pytest.raises(RuntimeError, match="stopped"), transaction.atomic():
        archive.archive(now=NOW)
        raise RuntimeError("stopped before commit")
    # The run rolled back: the entries are in the table and its file is not published.
    assert AuditEvent.objects.count() == 2
    assert [p.name for p in folder.iterdir()] == ["audit-000000000001-000000000002.jsonl.gz.partial"]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        segment = archive.archive(now=NOW)
    assert segment is not None and [p.name for p in folder.iterdir()] == [segment.path.name]
    assert verify.verify().ok


# ── L3-CES1-15: the audit process cannot be interrupted: no audited action without its entry ──


def test_l3_ces1_15_if_the_audit_write_fails_the_decision_is_not_saved(energy_dept: Person) -> None:
    record(actor=None, action="test.event")
    record(actor=None, action="test.event")
    # A real failure: the numbers set back, so the next entry's number is taken (unique constraint).
    _numbers_set_back(1)
    case = CaseFactory()
    before = (
        case.version,
        case.state,
        CaseEvent.objects.count(),
        Decision.objects.count(),
        AuditEvent.objects.count(),
    )
    with pytest.raises(AuditWriteError, match=r"case\.order_rectification"):
        case_actions.order_rectification(case=case, by=energy_dept.user, today=TODAY)
    case = Case.objects.get(pk=case.pk)
    after = (
        case.version,
        case.state,
        CaseEvent.objects.count(),
        Decision.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before


def test_l3_ces1_15_a_failed_audit_write_is_not_taken_for_a_duplicate(energy_dept: Person) -> None:
    """Callers that catch IntegrityError (another run made the row) must not swallow the audit failure."""
    from django.db import IntegrityError

    record(actor=None, action="test.event")
    _numbers_set_back(0)
    with pytest.raises(AuditWriteError) as failed:
        record(actor=None, action="test.event")
    assert not isinstance(failed.value, IntegrityError)
    assert isinstance(failed.value.__cause__, IntegrityError)


def test_l3_ces1_15_no_key_no_start(settings, tmp_path: Path) -> None:
    _keyring_file(tmp_path, settings, audit=False)  # a keyring from before the audit key moved into it
    settings.AUDIT_MAC_KEY = ""
    assert [e.id for e in check_audit_settings()] == ["audit.E001"]
    settings.AUDIT_MAC_KEY = "ab" * 32
    assert check_audit_settings() == []
    settings.AUDIT_MAC_KEY = "ab" * 31  # 31 bytes: too short
    assert [e.id for e in check_audit_settings()] == ["audit.E001"]
    _keyring_file(tmp_path / "k2", settings)  # the keyring holds the audit key: no setting needed
    settings.AUDIT_MAC_KEY = ""
    assert check_audit_settings() == []


def _keyring_file(where: Path, settings: Any, *, audit: bool = True) -> Path:
    """A keyring file of the test's own (mode 600), with or without the audit chain's keys."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / "keys.json"
    ring = keyring.generate()
    if not audit:
        ring = keyring.Keyring(current=ring.current, encryption=ring.encryption, mac=ring.mac)
    keyring.write_file(path, ring)
    settings.PHASEOUT_KEYS, settings.PHASEOUT_KEYS_FILE, settings.PHASEOUT_DEV_KEYRING = "", str(path), False
    crypto.backend.cache_clear()
    return path


# ── L3-CES1-26: integrity of important data at rest — the audit trail, chained by HMAC-SM3 ──


def test_l3_ces1_26_an_entry_edited_in_sql_is_reported_by_verify(db: None) -> None:
    entries = _entries(5)
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().strip() == "审计记录完整：共核验 5 条（其中归档文件中 0 条），最后一条编号为 5。"
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = 3", ["改过的理由"])
    with pytest.raises(CommandError) as broken:
        call_command("audit", "verify", stdout=StringIO())
    assert str(broken.value) == (
        f"审计记录链已断裂。第一个断点：第 3 条（ID {entries[2].pk}）的内容与其校验码不符：该条记录已被篡改。"
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("outcome", "success"),
        ("actor_name", "someone"),
        ("unit", "某单位"),
        ("ip", "10.0.0.9"),
        ("object_id", "999"),
        ("data", '{"i": 9}'),
        ("key_version", 1),
        ("at", "2026-01-01 00:00:00"),
    ],
)
def test_l3_ces1_26_every_field_is_covered_by_the_mac(db: None, settings, column: str, value: object) -> None:
    entries = [
        record(actor=None, action="test.event", outcome=Outcome.FAILURE, data={"i": 1}, reason="r"),
        record(actor=None, action="test.event", outcome=Outcome.REFUSED, data={"i": 2}),
    ]
    if column == "key_version":
        value = 2
        settings.AUDIT_MAC_OLD_KEYS = {2: "cd" * 32}  # a key exists for it: the MAC is checked, and fails
    _tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE seq = 1", [value])  # noqa: S608
    report = verify.verify()
    assert report.problems == [f"第 1 条（ID {entries[0].pk}）的内容与其校验码不符：该条记录已被篡改。"]


def test_l3_ces1_26_a_deleted_entry_in_the_middle_is_reported(db: None) -> None:
    entries = _entries(5)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 3", [])
    report = verify.verify()
    assert report.problems == ["第 3 条已链入审计链第 3 环，但已不存在：该条记录已被删除。"]
    assert str(report).startswith("审计记录链已断裂。第一个断点：第 3 条已链入审计链第 3 环")
    assert entries[2].seq == 3


def test_l3_ces1_26_an_entry_deleted_with_its_link_is_reported(db: None) -> None:
    entries = _entries(5)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 3", [])
    _tamper("DELETE FROM audit_chainlink WHERE pos = 3", [])
    report = verify.verify()
    assert report.problems == [f"缺少第 3 至 3 条（在第 4 条、ID {entries[3].pk} 之前）。"]


def test_l3_ces1_26_entries_renumbered_to_hide_a_deletion_are_reported(db: None) -> None:
    entries = _entries(3)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 2", [])
    _tamper("UPDATE audit_auditevent SET seq = 2 WHERE seq = 3", [])
    report = verify.verify()
    assert report.problems == [
        f"第 2 条（ID {entries[2].pk}）的内容与其校验码不符：该条记录已被篡改。",
        f"第 2 条（ID {entries[2].pk}）不是链入审计链第 2 环的那一条：该条记录已被替换。",
        "第 3 条已链入审计链第 3 环，但已不存在：该条记录已被删除。",
    ]
    # Renumbering the links too breaks the chain of links.
    _tamper("DELETE FROM audit_chainlink WHERE pos = 2", [])
    _tamper("UPDATE audit_chainlink SET pos = 2 WHERE pos = 3", [])
    assert "审计链第 2 环与其校验码不符：审计链已被篡改。" in verify.verify().problems


def test_l3_ces1_26_entries_removed_from_the_end_are_reported(db: None) -> None:
    _entries(4)
    _tamper("DELETE FROM audit_auditevent WHERE seq >= 3", [])
    assert verify.verify().problems == [
        "第 3 条已链入审计链第 3 环，但已不存在：该条记录已被删除。",
        "第 4 条已链入审计链第 4 环，但已不存在：该条记录已被删除。",
    ]
    _tamper("DELETE FROM audit_chainlink WHERE pos >= 3", [])
    assert verify.verify().problems == [
        "链头记载最后一条为第 4 条，但实际最后一条为第 2 条：末尾的记录已被删除。"
    ]


def _head_set_back_to(seq: int) -> None:
    """What a database owner can do to hide the newest entries: delete them and set the head back."""
    sequencer.run()
    kept = ChainLink.objects.get(pos=seq)
    _tamper("DELETE FROM audit_auditevent WHERE seq > %s", [seq])
    _tamper("DELETE FROM audit_chainlink WHERE pos > %s", [seq])
    ChainHead.objects.filter(pk=1).update(seq=seq, mac=kept.mac)
    _numbers_set_back(seq)


def test_l3_ces1_26_newest_entries_removed_with_the_head_set_back_are_found_by_the_anchor(db: None) -> None:
    _entries(3)
    assert anchor.write(now=NOW) is not None
    _entries(1)
    _head_set_back_to(2)
    assert verify.verify().problems == [
        f"第 3 条已于 {chain.timestamp(NOW)} 锚定在数据库之外，但实际最后一条为第 2 条：末尾的记录已被删除。"
    ]


def test_l3_ces1_26_without_an_anchor_the_set_back_head_goes_unnoticed(db: None) -> None:
    """Why the anchor is there: the chain alone cannot see this (the test above fails without it)."""
    _entries(4)
    _head_set_back_to(2)
    assert verify.verify().ok


def test_l3_ces1_26_entries_replaced_after_the_anchor_are_reported(db: None) -> None:
    entries = _entries(3)
    anchor.write(now=NOW)
    _head_set_back_to(1)
    forged = record(actor=None, action="test.event", reason="替换的记录")
    forged_too = record(actor=None, action="test.event", reason="替换的记录")
    assert (forged.seq, forged_too.seq) == (2, 3)
    at = chain.timestamp(NOW)
    assert verify.verify().problems == [
        f"第 3 条（ID {forged_too.pk}）不是 {at} 锚定在数据库之外的那一条：此后的记录已被替换。"
    ]
    assert entries[2].pk != forged_too.pk


def test_l3_ces1_26_a_forged_anchor_line_is_reported(db: None) -> None:
    _entries(2)
    anchor.write(now=NOW)
    target = anchor.path()
    line = json.loads(target.read_text().splitlines()[0])
    line["seq"] = 9
    with target.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
        fh.write("不是一行锚定记录\n")
    assert verify.verify().problems == [
        f"审计记录链的一条锚定记录不真实：9 {chain.timestamp(NOW)}",
        "审计记录链的一条锚定记录不真实：不是一行锚定记录",
    ]


def test_the_anchor_is_written_by_the_periodic_jobs_and_appended(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    assert anchor.write(now=NOW) is None  # nothing to anchor before the first entry
    assert not anchor.path().exists()
    _entries(2)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        report = jobs.run_jobs(now=NOW, today=TODAY)
    assert str(report["audit-anchor"]) == "审计记录链已锚定至第 2 条。"
    assert not anchor.path().exists()  # not before the sweep's transaction commits
    for callback in pending:
        callback()
    _entries(1)
    anchor.write(now=NOW + dt.timedelta(minutes=15))
    lines = [json.loads(text) for text in anchor.path().read_text().splitlines()]
    head = ChainHead.objects.get(pk=1)
    assert ChainLink.objects.values_list("mac", flat=True).get(pos=3) == head.mac
    assert [(a["seq"], a["at"]) for a in lines] == [
        (2, chain.timestamp(NOW)),
        (3, chain.timestamp(NOW + dt.timedelta(minutes=15))),
    ]
    assert lines[-1]["mac"] == head.mac and lines[-1]["key_version"] == 1
    assert all(isinstance(a, anchor.Anchor) and a.genuine() for a in anchor.read())
    assert verify.verify().ok
    out = StringIO()
    call_command("audit", "anchor", stdout=out)
    assert out.getvalue().strip() == f"已将第 3 条锚定于 {anchor.path()}。"
    assert len(anchor.path().read_text().splitlines()) == 3


def test_l3_ces1_26_missing_triggers_are_reported(db: None) -> None:
    _entries(1)
    maintenance.uninstall(connection)
    assert verify.verify().problems == ["审计表上的只追加触发器缺失。"]


def test_l3_ces1_26_a_lost_or_altered_archive_is_reported(
    db: None, django_capture_on_commit_callbacks: object
) -> None:
    with time_machine.travel(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), tick=False):
        _entries(3)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        segment = archive.archive(now=NOW)
    assert segment is not None
    path = segment.path
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    altered = json.loads(lines[2])
    altered["reason"] = "改过"
    lines[2] = json.dumps(altered, ensure_ascii=False)
    path.chmod(0o644)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    assert verify.verify().problems == [
        f"第 2 条（ID {altered['id']}）的内容与其校验码不符：该条记录已被篡改。"
    ]
    path.unlink()
    first_left = AuditEvent.objects.order_by("seq").first()
    assert first_left is not None
    assert verify.verify().problems == [f"缺少第 1 至 3 条（在第 4 条、ID {first_left.pk} 之前）。"]


# ── The chain ──


def test_the_mac_is_hmac_sm3_over_the_previous_mac_and_the_content(settings: Any, tmp_path: Path) -> None:
    """Checked against HMAC written out by hand (RFC 2104) over SM3, whose own test vector is checked too;
    the key is the keyring's audit key of the entry's version."""

    def sm3(data: bytes) -> bytes:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize()

    assert (
        sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )  # GB/T 32905 A.1
    path = _keyring_file(tmp_path, settings)
    key = keyring.read_file(path).audit[1].ljust(64, b"\0")
    prev, content = "ab" * 32, "审计".encode()
    inner = sm3(bytes(b ^ 0x36 for b in key) + bytes.fromhex(prev) + content)
    expected = sm3(bytes(b ^ 0x5C for b in key) + inner).hex()
    assert chain.mac(1, prev, content) == expected
    assert chain.mac(1, chain.GENESIS, content) != expected
    settings.AUDIT_MAC_KEY = "ef" * 32  # the old setting plays no part for a version the keyring holds
    assert chain.mac(1, prev, content) == expected


def test_each_entry_is_sealed_then_linked_to_the_one_before_in_sequence(db: None) -> None:
    entries = _entries(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.prev_mac for e in entries] == [chain.GENESIS] * 3  # sealed on its own
    stored = AuditEvent.objects.get(seq=2)
    assert stored.mac == chain.mac(1, chain.GENESIS, chain.canonical(chain.fields(stored)))
    assert not ChainLink.objects.exists()  # not before the sequencer has run
    assert sequencer.run() == 3
    links = list(ChainLink.objects.order_by("pos").values_list("pos", "seq", "entry_mac", "prev", "mac"))
    assert [(pos, seq, entry_mac) for pos, seq, entry_mac, _p, _m in links] == [
        (1, 1, entries[0].mac),
        (2, 2, entries[1].mac),
        (3, 3, entries[2].mac),
    ]
    assert [prev for _pos, _seq, _e, prev, _m in links] == [chain.GENESIS, links[0][4], links[1][4]]
    content = json.dumps(
        {"entry_mac": entries[1].mac, "key_version": 1, "pos": 2, "seq": 2},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert links[1][4] == chain.mac(1, links[0][4], content)
    assert ChainHead.objects.values_list("seq", "mac").get() == (3, links[2][4])
    assert sequencer.run() == 0  # idempotent: nothing linked twice
    assert ChainLink.objects.count() == 3


def test_the_key_is_not_the_secret_key(db: None, settings, tmp_path: Path) -> None:
    path = _keyring_file(tmp_path, settings)
    entry = _entries(1)[0]
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    assert verify.verify().ok  # the secret key plays no part
    ring = keyring.read_file(path)
    keyring.write_file(path, dataclasses.replace(ring, audit={1: bytes.fromhex("ef" * 32)}))
    crypto.backend.cache_clear()
    assert verify.verify().problems == [
        f"第 1 条（ID {entry.pk}）的内容与其校验码不符：该条记录已被篡改。",
        "审计链第 1 环与其校验码不符：审计链已被篡改。",
    ]


def test_a_new_key_version_continues_the_chain_and_old_entries_still_verify(
    db: None, settings, tmp_path: Path
) -> None:
    path = _keyring_file(tmp_path, settings)
    older = _entries(2)
    call_command("keys", "add-audit-version")
    added = AuditEvent.objects.get(action="keys.add_audit_version")
    assert added.key_version == 2 and added.data == {"versions": [2]}
    newer = _entries(1)[0]
    assert newer.key_version == 2 and [e.key_version for e in older] == [1, 1]
    assert verify.verify().ok
    ring = keyring.read_file(path)
    keyring.write_file(path, dataclasses.replace(ring, audit={2: ring.audit[2]}))
    crypto.backend.cache_clear()
    assert verify.verify().problems[0] == f"第 1 条（ID {older[0].pk}）：没有第 1 版密钥，无法核验。"


def test_l3_ces1_26_the_audit_key_moves_into_the_keyring_and_old_chains_still_verify(
    db: None, settings, tmp_path: Path
) -> None:
    """重要数据存储完整性: a chain made under AUDIT_MAC_KEY (the setting before the keyring) goes on
    verifying once `phaseout keys import-audit-key` has copied the key into the keyring at its version
    and the setting is gone; a new version from the keyring continues the chain."""
    path = _keyring_file(tmp_path, settings, audit=False)
    settings.AUDIT_MAC_KEY, settings.AUDIT_MAC_KEY_VERSION, settings.AUDIT_MAC_OLD_KEYS = (
        "cd" * 32,
        3,
        {2: "ce" * 32},
    )
    before = _entries(2)
    assert [e.key_version for e in before] == [3, 3] and chain.source(3) == "settings"
    call_command("keys", "import-audit-key")
    ring = keyring.read_file(path)
    assert (
        ring.audit == {2: bytes.fromhex("ce" * 32), 3: bytes.fromhex("cd" * 32)} and ring.audit_current == 3
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    moved = AuditEvent.objects.get(action="keys.import_audit_key")
    assert moved.data == {"versions": [2, 3]} and moved.key_version == 3
    settings.AUDIT_MAC_KEY, settings.AUDIT_MAC_OLD_KEYS = "", {}
    assert chain.source(3) == "keyring" and check_audit_settings() == []
    assert verify.verify().ok
    call_command("keys", "add-audit-version")
    after = _entries(1)[0]
    assert after.key_version == 4 and verify.verify().ok


def test_l3_ces1_26_importing_an_audit_key_never_replaces_another(db: None, settings, tmp_path: Path) -> None:
    path = _keyring_file(tmp_path, settings)
    before = path.read_text()
    settings.AUDIT_MAC_KEY, settings.AUDIT_MAC_KEY_VERSION = "cd" * 32, 1
    with pytest.raises(CommandError, match="already holds another audit key of version 1"):
        call_command("keys", "import-audit-key")
    assert path.read_text() == before
    refused = AuditEvent.objects.get(action="keys.import_audit_key")
    assert refused.outcome == Outcome.FAILURE and "version 1" in refused.reason
    settings.AUDIT_MAC_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_MAC_KEY is not set"):
        call_command("keys", "import-audit-key")


@pytest.mark.django_db(transaction=True)
def test_writers_at_the_same_moment_do_not_fork_the_chain() -> None:
    threads_n, each = 6, 5
    barrier = threading.Barrier(threads_n)
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            barrier.wait()
            for j in range(each):
                with transaction.atomic():
                    record(actor=None, action="test.concurrent", data={"thread": i, "n": j})
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    entries = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, threads_n * each + 1))
    assert verify.verify().ok
    links = list(ChainLink.objects.order_by("pos"))
    assert [link.pos for link in links] == list(range(1, threads_n * each + 1))
    assert sorted(link.seq for link in links) == [e.seq for e in entries]
    assert all(b.prev == a.mac for a, b in itertools.pairwise(links))


# ── The auditor's page ──


def _page(client: Client, **query: str) -> str:
    response = client.get("/audit/", query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_auditor_sees_unit_address_and_outcome_and_filters(auditor: Person, office: Person) -> None:
    from phaseout.audit.record import set_request_ip

    set_request_ip("10.1.2.3")
    try:
        with time_machine.travel(dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC), tick=False):
            record(actor=office.user, action="list.publish", reason="发布名单")
        with time_machine.travel(dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC), tick=False):
            record(actor=office.user, action="case.dismiss", outcome=Outcome.REFUSED, reason="无权限")
            record(actor=None, action="login.failure", outcome=Outcome.FAILURE, reason="密码错误")
    finally:
        set_request_ip(None)
    client = client_for(auditor.user)
    page = _page(client)
    for text in (
        "江门市工业和信息化局",
        "10.1.2.3",
        "发布名单",
        "无权限",
        "密码错误",
        "成功",
        "失败",
        "拒绝",
    ):
        assert text in page, text
    successes = AuditEvent.objects.filter(outcome=Outcome.SUCCESS).count()  # with the auditor's sign-in
    assert f"成功：{successes}" in page and "失败：1" in page and "拒绝：1" in page
    assert "发布名单" not in _page(client, person="office", outcome="refused")
    assert "无权限" in _page(client, person="office", outcome="refused")
    assert "密码错误" not in _page(client, person="office")
    assert "无权限" in _page(client, action="case.")  # a first part ending with a full stop
    assert "无权限" not in _page(client, action="case")  # otherwise the exact event
    by_date = _page(client, since="2026-03-01", until="2026-03-01")
    assert "发布名单" in by_date and "无权限" not in by_date
    assert "发布名单" not in _page(client, since="2026-03-02")


def test_bad_filters_are_refused_with_a_message_and_show_nothing(auditor: Person) -> None:
    record(actor=None, action="login.failure", reason="密码错误")
    client = client_for(auditor.user)
    page = _page(client, since="2026-03-05", until="2026-03-01")
    assert "起始日期不能晚于截止日期。" in page and "密码错误" not in page
    page = _page(client, outcome="deleted")
    assert "结果：选择一个有效的选项。 deleted 不在可用的选项中。" in page
    assert "密码错误" not in page


def test_the_auditor_page_is_for_the_auditor_alone(
    auditor: Person, office: Person, district: Person, reference: None
) -> None:
    assert client_for(auditor.user).get("/audit/").status_code == 200
    others = [office, district]
    others += [
        PersonFactory(user=UserFactory(username=f"u-{role}"), role=role)
        for role in (Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, Role.INTAKE)
    ]
    for person in others:
        assert client_for(person.user).get("/audit/").status_code == 403, person.role
    assert Client().get("/audit/").status_code == 302  # to the login page


def test_the_auditor_page_costs_the_same_few_queries_however_long_the_trail(
    auditor: Person, django_assert_max_num_queries: object
) -> None:
    for _ in range(60):
        record(actor=auditor.user, action="test.event")
    client = client_for(auditor.user)
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        page = _page(client, page="2")
    assert "第 2 页" in page


def test_the_outcome_counts_stop_at_the_cap_and_say_so(auditor: Person, monkeypatch) -> None:
    from phaseout.audit import forms

    monkeypatch.setattr(forms, "COUNT_CAP", 3)
    record(actor=None, action="test.event", outcome=Outcome.FAILURE)  # the oldest: beyond the cap
    for _ in range(4):
        record(actor=None, action="test.event")
    page = _page(client_for(auditor.user))
    assert "所选记录中最新的 3 条：" in page
    assert "成功：3" in page and "失败：0" in page
    page = _page(client_for(auditor.user), outcome="failure")
    assert "所选记录中最新的" not in page and "失败：1" in page
