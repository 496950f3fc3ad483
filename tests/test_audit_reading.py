"""The audit trail as an auditor reads it (issue: the working day, §5): every entry in Chinese — who, which
unit, what, which record by its name, from where, the result — filtered by dates, person, unit, kind of
event and record, and exported to .xlsx with exactly the selected entries."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from phaseout.audit import labels
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.audit.record import record
from phaseout.cases import actions
from phaseout.orgs.models import Person, Role
from tests.conftest import client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def auditor(reference: None) -> Person:
    return PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR, display_name="审计管理员")


def _rows(client: Client, **query: str) -> list[str]:
    response = client.get("/audit/", query)
    assert response.status_code == 200
    page = response.content.decode()
    return [row for row in page.split("<tr data-seq=")[1:]]


def test_every_event_is_named_in_chinese_and_each_record_by_its_name(
    auditor: Person, energy_dept: Person, district: Person
) -> None:
    case = actions.order_rectification(
        case=CaseFactory(), by=energy_dept.user, reason="超限额", today=TODAY,
        issued_on=dt.date(2026, 2, 27), served_on=dt.date(2026, 2, 27),
    )  # fmt: skip
    client = client_for(auditor.user)
    rows = _rows(client, action="case.order_rectification")
    assert len(rows) == 1
    row = rows[0]
    assert "责令限期整改" in row and "case.order_rectification" not in row.split('title="')[0]
    assert f"案件 {case}" in row and "cases.case" not in row
    assert "fgj" in row and "江门市发展和改革局" in row and "成功" in row
    signed_in = _rows(client, action="auth.login")
    assert signed_in and all("登录成功" in r for r in signed_in)


def test_no_event_recorded_by_the_platform_goes_unnamed() -> None:
    """Each event code the code records has a Chinese name (a new one without a name fails here)."""
    import re
    from pathlib import Path

    codes: set[str] = set()
    for path in Path("phaseout").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', text))
        codes |= set(re.findall(r'(?:audited_export|EVENT)\("(export\.[a-z_]+)"\)', text))
    codes -= {"login.failure"}
    unnamed = sorted(c for c in codes if labels.label(c) == c)
    assert unnamed == []
    from phaseout.cases.actions import EVENT_LABELS

    assert all(labels.label(f"case.{key}") == str(name) for key, name in EVENT_LABELS.items())


def test_filters_by_unit_and_by_record(auditor: Person, office: Person, district: Person) -> None:
    first, second = CaseFactory(), CaseFactory()
    record(actor=office.user, action="case.evidence_added", obj=first, reason="甲")
    record(actor=district.user, action="case.evidence_added", obj=second, reason="乙")
    client = client_for(auditor.user)
    by_unit = _rows(client, unit="江门市工业和信息化局", action="case.")
    assert len(by_unit) == 1 and "甲" in by_unit[0]
    by_record = _rows(client, record_type="cases.case", record_id=str(second.pk))
    assert len(by_record) == 1 and "乙" in by_record[0]
    refused = client.get("/audit/", {"record_id": str(second.pk)})
    assert "请选择该编号所属的记录类型。" in refused.content.decode()
    assert "乙" not in refused.content.decode()


def test_the_export_holds_exactly_the_selected_entries_and_is_itself_recorded(
    auditor: Person, office: Person
) -> None:
    for i in range(3):
        record(actor=office.user, action="list.publish", reason=f'=HYPERLINK("x")第{i}')
    record(actor=office.user, action="list.withdraw", reason="撤回", outcome=Outcome.REFUSED)
    client = client_for(auditor.user)
    response = client.get("/audit/export.xlsx", {"action": "list.publish"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][:6] == ("序号", "时间", "操作人", "用户名", "单位", "事件")
    body = values[1:]
    assert len(body) == 3
    assert {row[5] for row in body} == {"公示名单"}
    assert all(str(row[12]).startswith("'=HYPERLINK") for row in body)  # formula-safe
    entry = AuditEvent.objects.filter(action="export.audit_trail").get()
    assert (entry.actor_id, entry.data["rows"], entry.data["filter"]) == (
        auditor.user.pk,
        3,
        {"action": "list.publish"},
    )


def test_only_the_auditor_reads_or_exports_the_trail(office: Person, auditor: Person) -> None:
    assert client_for(office.user).get("/audit/").status_code == 403
    assert client_for(office.user).get("/audit/export.xlsx").status_code == 403
    assert not AuditEvent.objects.filter(action="export.audit_trail").exists()


def _exported(client: Client, **query: str) -> list[tuple[object, ...]]:
    response = client.get("/audit/export.xlsx", query)
    assert response.status_code == 200
    return list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.values)[1:]


@pytest.mark.parametrize("entries", [3, 40])
def test_the_export_names_each_record_without_a_query_per_entry(
    auditor: Person, office: Person, entries: int, django_assert_max_num_queries: object
) -> None:
    """Each entry's record named as on the page (a case by its number and enterprise), in a number of
    queries that does not grow with the entries: one per kind of record per block, not one per entry."""
    cases = [CaseFactory() for _ in range(entries)]
    for case in cases:
        record(actor=office.user, action="case.evidence_added", obj=case, reason="补充材料")
    client = client_for(auditor.user)
    with django_assert_max_num_queries(20):  # type: ignore[operator]
        body = _exported(client, action="case.evidence_added")
    expected = {(str(case.pk), f"#{case.pk} {case.enterprise.name}") for case in cases}
    assert {(row[9], row[8]) for row in body} == expected
    assert {(row[6], row[7], row[12]) for row in body} == {("case.evidence_added", "案件", "补充材料")}
    assert [row[0] for row in body] == sorted((row[0] for row in body), reverse=True)  # newest first
