"""Published lists: membership follows the cases; draft → approved → published, withdrawal; the public
portal, its open data and error reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case
from phaseout.disclosure import actions
from phaseout.disclosure import cache as public_cache
from phaseout.disclosure.lists import rows_for
from phaseout.disclosure.models import ErrorReport, ListKind, Snapshot
from phaseout.orgs.models import Person
from tests.conftest import PDF, client_for, close_by_government, upload
from tests.factories import EnterpriseFactory, LineFactory

ON = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()
    public_cache._local.clear()


def _energy_case(energy_dept: Person, name: str = "江门市某水泥有限公司") -> Case:
    line = LineFactory(
        enterprise=EnterpriseFactory(industry_id="cement", name=name),
        equipment_type="clinker_line",
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
    )
    inspection = case_actions.record_inspection(
        department=energy_dept.department,
        enterprise=line.enterprise,
        line=line,
        dimension="energy",
        inspected_on=ON,
        inspectors="李明",
        files=[],
        by=energy_dept.user,
        today=ON,
    )
    finding = case_actions.record_finding(
        inspection=inspection,
        rule_id="energy.cement.clinker-energy",
        line=line,
        measured_value=Decimal("130"),
        by=energy_dept.user,
    )
    return Case.objects.get(finding=finding)


def _names(kind: str, today: dt.date = ON) -> list[str]:
    return [row["enterprise"] for row in rows_for(kind, today)]


def test_membership_follows_the_case(energy_dept: Person, office: Person) -> None:
    case = _energy_case(energy_dept)
    assert _names("yellow") == []  # a finding alone is not an order
    assert _names("energy") == ["江门市某水泥有限公司"]  # but it is an inspection result with a violator
    case = case_actions.order_rectification(case=case, by=energy_dept.user, today=ON)
    assert _names("yellow") == ["江门市某水泥有限公司"]
    case = case_actions.verify_rectification(
        case=case, passed=False, by=energy_dept.user, reason="复测仍超标", today=ON
    )
    case = case_actions.propose_closure(case=case, by=energy_dept.user, reason="整改后仍不达标", today=ON)
    assert _names("yellow") == ["江门市某水泥有限公司"]  # proposed, not yet decided
    assert _names("red") == []
    case = close_by_government(case, energy_dept, office, ON, propose=False)
    assert _names("yellow") == []
    assert _names("red") == ["江门市某水泥有限公司"]
    for measure in case.measures.exclude(kind="dismantling"):
        case_actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=office.user,
            done_on=ON,
            note="",
            files=[upload("m.pdf", PDF)],
            today=ON,
        )
    assert _names("sealed") == ["江门市某水泥有限公司"]
    case_actions.confirm_exit(case=Case.objects.get(pk=case.pk), by=office.user, today=ON, reason="已退出")
    assert _names("exited") == ["江门市某水泥有限公司"]
    # Another case that closes compliant leaves the yellow list.
    other = _energy_case(energy_dept, "江门市合规水泥有限公司")
    other = case_actions.order_rectification(case=other, by=energy_dept.user, today=ON)
    assert "江门市合规水泥有限公司" in _names("yellow")
    other = case_actions.verify_rectification(
        case=other, passed=True, by=energy_dept.user, reason="达标", today=ON
    )
    case_actions.close_compliant(case=other, by=energy_dept.user, reason="结案", today=ON)
    assert "江门市合规水泥有限公司" not in _names("yellow")


def test_publication_and_withdrawal_keep_the_history(energy_dept: Person, office: Person) -> None:
    case = case_actions.order_rectification(case=_energy_case(energy_dept), by=energy_dept.user, today=ON)
    first = actions.draft(kind="yellow", by=office.user, today=ON)
    anonymous = Client()
    assert "尚未公布" in anonymous.get("/public/yellow/").content.decode()
    with pytest.raises(actions.DisclosureError):
        actions.publish(snapshot=first, by=office.user)  # not approved yet
    actions.approve_undecided(snapshot=first, by=office.user)
    actions.publish(snapshot=actions.approve(snapshot=first, by=office.user), by=office.user)
    page = anonymous.get("/public/yellow/").content.decode()
    assert "江门市某水泥有限公司" in page
    # The case moves on; the published list does not change until a new snapshot is published.
    case = case_actions.verify_rectification(
        case=case, passed=True, by=energy_dept.user, reason="达标", today=ON
    )
    assert _names("yellow") == ["江门市某水泥有限公司"]  # verified, but on the list until closed
    case_actions.close_compliant(case=case, by=energy_dept.user, reason="结案", today=ON)
    second = actions.draft(kind="yellow", by=office.user, today=ON)
    assert not second.entries.exists()
    # The portal's cache holds the published page; a new publication replaces it at once.
    assert "江门市某水泥有限公司" in anonymous.get("/public/yellow/").content.decode()
    actions.publish(snapshot=actions.approve(snapshot=second, by=office.user), by=office.user)
    assert "江门市某水泥有限公司" not in anonymous.get("/public/yellow/").content.decode()
    first.refresh_from_db()
    assert first.status == Snapshot.Status.SUPERSEDED and first.entries.count() == 1
    with pytest.raises(actions.DisclosureError):
        actions.withdraw(snapshot=second, reason=" ", by=office.user)
    actions.withdraw(snapshot=second, reason="数据核对中", by=office.user)
    page = anonymous.get("/public/yellow/").content.decode()
    assert "数据核对中" in page and 'id="public-rows"' not in page
    assert Snapshot.objects.filter(kind="yellow").count() == 2


def _published(energy_dept: Person, office: Person, name: str) -> Snapshot:
    case_actions.order_rectification(case=_energy_case(energy_dept, name), by=energy_dept.user, today=ON)
    snapshot = actions.draft(kind="yellow", by=office.user, today=ON)
    actions.approve_undecided(snapshot=snapshot, by=office.user)
    return actions.publish(snapshot=actions.approve(snapshot=snapshot, by=office.user), by=office.user)


def test_open_data_is_safe_and_markup_is_text(energy_dept: Person, office: Person) -> None:
    snapshot = _published(energy_dept, office, '=HYPERLINK("http://x")<script>alert(1)</script>')
    anonymous = Client()
    page = anonymous.get("/public/yellow/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    response = anonymous.get("/public/yellow.csv")
    assert response["Cache-Control"].startswith("public")
    rows = list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))
    assert rows[0][0] == "企业" and rows[1][0].startswith("'=")  # neutralised formula
    data = json.loads(anonymous.get("/public/yellow.json").getvalue())
    assert data["entries"][0]["uscc"] == snapshot.entries.get().uscc
    assert "department" not in data["entries"][0] and "case" not in data["entries"][0]
    atom = anonymous.get("/public/yellow.atom")
    assert atom["Content-Type"].startswith("application/atom+xml") and b"<feed" in atom.getvalue()
    assert b"<script>" not in atom.getvalue()
    found = anonymous.get("/public/yellow/", {"q": snapshot.entries.get().uscc.lower()}).content.decode()
    assert "HYPERLINK" in found
    assert anonymous.get("/public/nonsense/").status_code == 404
    assert anonymous.get("/public/yellow.xls").status_code == 404


def test_error_reports_go_to_the_owning_department_and_floods_are_throttled(
    energy_dept: Person, office: Person, settings: object
) -> None:
    snapshot = _published(energy_dept, office, "江门市某水泥有限公司")
    anonymous = Client()
    uscc = snapshot.entries.get().uscc
    response = anonymous.post("/public/yellow/report/", {"uscc": uscc, "text": "已整改完毕", "contact": ""})
    assert response.status_code == 201
    report = ErrorReport.objects.get()
    assert report.department == energy_dept.department  # the department that inspected it
    assert anonymous.post("/public/yellow/report/", {"text": "x", "website": "spam"}).status_code == 400
    assert anonymous.post("/public/yellow/report/", {"text": ""}).status_code == 400
    settings.PUBLIC_POSTS_PER_HOUR = 3  # type: ignore[attr-defined]
    cache.clear()
    codes = [anonymous.post("/public/yellow/report/", {"text": "再次反馈"}).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    assert ErrorReport.objects.count() == 4


def test_only_the_office_publishes(energy_dept: Person, office: Person) -> None:
    snapshot = actions.draft(kind="licences", by=office.user, today=ON)
    assert client_for(energy_dept.user).post(f"/lists/{snapshot.pk}/approve/").status_code == 403
    assert client_for(energy_dept.user).get("/lists/").status_code == 403
    client = client_for(office.user)
    assert client.post(f"/lists/{snapshot.pk}/approve/").status_code == 302
    assert client.post(f"/lists/{snapshot.pk}/publish/", {"confirm": "on"}).status_code == 302
    snapshot.refresh_from_db()
    assert snapshot.status == "published"


def test_error_reports_page_shows_a_department_its_own(
    energy_dept: Person, env_dept: Person, office: Person
) -> None:
    snapshot = _published(energy_dept, office, "江门市某水泥有限公司")
    Client().post("/public/yellow/report/", {"uscc": snapshot.entries.get().uscc, "text": "名称有误"})
    assert "名称有误" in client_for(energy_dept.user).get("/lists/errors/").content.decode()
    assert "名称有误" not in client_for(env_dept.user).get("/lists/errors/").content.decode()
    report = ErrorReport.objects.get()
    client_for(energy_dept.user).post("/lists/errors/", {"report": report.pk})
    report.refresh_from_db()
    assert report.handled_at is not None


def test_the_portal_index_follows_publication(energy_dept: Person, office: Person) -> None:
    anonymous = Client()
    assert "尚未公布" in anonymous.get("/public/").content.decode()
    _published(energy_dept, office, "江门市某水泥有限公司")
    page = anonymous.get("/public/").content.decode()
    # the yellow list is published now; the others (seven, and the serious over-emission list) are not
    assert page.count("尚未公布") == len(ListKind.values) - 1 == 8
