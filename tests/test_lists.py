"""Lists that work like officials' lists (the working day, §4): a total, filters kept in the address,
sorting by a column, and an .xlsx of exactly the filtered rows — all of them, not one page — formula-safe
and recorded in the audit trail."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person, Territory
from phaseout.web import PAGE_SIZE, lists
from tests.conftest import client_for
from tests.factories import CaseFactory, EnterpriseFactory


def _sheet(response) -> list[tuple]:
    assert response.status_code == 200
    assert response["Content-Type"] == lists.XLSX
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(book.active.values)


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/enterprises/\d+/">([^<]+)</a>', page)


def test_the_enterprise_list_totals_sorts_and_exports_exactly_the_filtered_rows(office: Person) -> None:
    taishan = Territory.objects.get(code="440781")
    for i in range(PAGE_SIZE + 5):  # more than a page
        EnterpriseFactory(name=f"台山铸造{i:03d}", territory=taishan, contact_name="李工")
    EnterpriseFactory(name='=HYPERLINK("http://x")台山', territory=taishan)
    EnterpriseFactory(name="蓬江钢铁")  # another county, filtered out
    client = client_for(office.user)
    page = client.get("/enterprises/", {"territory": "440781", "sort": "name"}).content.decode()
    assert "共 56 条" in page
    names = _names(page)
    assert len(names) == PAGE_SIZE and names == sorted(names)
    assert "蓬江钢铁" not in page
    # The column headings sort both ways and keep the filter; the pager keeps filter and order.
    assert 'href="?territory=440781&amp;sort=-name"' in page
    assert "?territory=440781&amp;sort=name&page=2" in page
    backwards = _names(client.get("/enterprises/", {"territory": "440781", "sort": "-name"}).content.decode())
    assert backwards == sorted(backwards, reverse=True) and backwards[0] == "台山铸造054"
    # An unknown sort keeps the list's own order (newest first), and is not an error.
    assert client.get("/enterprises/", {"sort": "contact_phone"}).status_code == 200
    rows = _sheet(client.get("/enterprises/", {"territory": "440781", "sort": "name", "format": "xlsx"}))
    assert rows[0] == ("统一社会信用代码", "企业名称", "属地", "行业", "地址", "联系人", "联系电话")
    body = rows[1:]
    assert len(body) == 56  # every filtered row, not a page
    assert {r[2] for r in body} == {"台山市"}
    assert '\'=HYPERLINK("http://x")台山' in [r[1] for r in body]  # formula-safe
    assert [r[1] for r in body if r[1].startswith("台山铸造")] == sorted(
        r[1] for r in body if r[1].startswith("台山铸造")
    )
    entry = AuditEvent.objects.get(action="export.enterprises")
    assert (entry.actor_id, entry.data) == (
        office.user.pk,
        {"format": "xlsx", "filter": {"territory": "440781", "sort": "name"}, "rows": 56},
    )


def test_a_district_exports_only_its_own_county(district: Person) -> None:
    EnterpriseFactory(name="蓬江一厂")
    EnterpriseFactory(name="台山一厂", territory=Territory.objects.get(code="440781"))
    rows = _sheet(client_for(district.user).get("/enterprises/", {"format": "xlsx"}))
    assert [r[1] for r in rows[1:]] == ["蓬江一厂"]


def test_the_case_list_totals_sorts_and_exports(energy_dept: Person) -> None:
    clock = {"order_date": dt.date(2026, 2, 2), "deadline": dt.date(2026, 8, 3), "rectification_months": 6}
    for state in ("rectifying", "overdue", "finding", "rectifying"):
        CaseFactory(state=state, **(clock if state != "finding" else {}))
    CaseFactory(state="rectifying", dimension="environment", **clock)  # another department's
    client = client_for(energy_dept.user)
    page = client.get("/cases/", {"state": "rectifying", "sort": "-number"}).content.decode()
    assert "共 2 条" in page
    assert 'aria-sort="descending"' in page
    rows = _sheet(client.get("/cases/", {"state": "rectifying", "sort": "-number", "format": "xlsx"}))
    assert rows[0][:3] == ("案件", "企业", "统一社会信用代码")
    numbers = [r[0] for r in rows[1:]]
    assert len(numbers) == 2 and numbers == sorted(numbers, reverse=True)
    assert {r[7] for r in rows[1:]} == {"限期整改中"}
    assert AuditEvent.objects.get(action="export.cases").data["rows"] == 2


def test_a_total_beyond_the_cap_says_more_than(office: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists, "COUNT_CAP", 3)
    for _ in range(5):
        EnterpriseFactory()
    page = client_for(office.user).get("/enterprises/").content.decode()
    assert "超过 3 条" in page
    # Beyond the cap, PostgreSQL's planner gives its estimate (nothing is read for it), said to be one;
    # SQLite has none to give.
    from django.db import connection

    from phaseout.registry import scope as registry_scope

    estimate = lists.estimated_count(registry_scope.enterprises(office))  # the page's own query
    if connection.vendor == "postgresql":
        assert estimate is not None and estimate >= 0
        shown = lists._beyond(estimate, 3)
        assert (f"数据库估计约 {shown} 条，未逐条计数" in page) == (shown is not None)
    else:
        assert estimate is None and "数据库估计" not in page
    assert lists._beyond(10, 3) == 10 and lists._beyond(3, 3) is None and lists._beyond(None, 3) is None


def test_the_tipoff_list_filters_pages_and_exports_without_the_reporter(office: Person) -> None:
    from phaseout.complaints import actions as tipoff_actions

    for i in range(PAGE_SIZE + 2):
        tipoff_actions.receive(
            source="web", text=f"某厂夜间偷开中频炉 {i}", enterprise_name=f"江门市某铸造厂{i}",
            reporter_name="张三丰", reporter_phone="13800138000", today=dt.date(2026, 3, 2),
        )  # fmt: skip
    tipoff_actions.receive(
        source="web", text="另一家水泥厂冒黑烟", enterprise_name="某水泥厂", today=dt.date(2026, 1, 5)
    )
    client = client_for(office.user)
    page = client.get("/tipoffs/", {"since": "2026-03-01"}).content.decode()
    assert "共 52 条" in page and "某水泥厂" not in page
    assert "?since=2026-03-01&page=2" in page
    second = client.get("/tipoffs/", {"since": "2026-03-01", "page": "2"}).content.decode()
    assert len(re.findall(r'href="/tipoffs/\d+/"', second)) == 2
    rows = _sheet(client.get("/tipoffs/", {"since": "2026-03-01", "format": "xlsx"}))
    assert len(rows) == 1 + 52
    flat = repr(rows)
    assert "张三丰" not in flat and "13800138000" not in flat  # the reporter is never in a list
    assert rows[1][8].startswith("某厂夜间偷开中频炉")
    assert AuditEvent.objects.get(action="export.tipoffs").data["rows"] == 52
    refused = client.get("/tipoffs/", {"since": "2026-13-01"})
    assert "某铸造厂" not in refused.content.decode()


def test_the_credit_list_is_paged_filtered_and_totalled(office: Person) -> None:
    from phaseout.credit.models import Referral

    for i in range(PAGE_SIZE + 3):
        case = CaseFactory(enterprise=EnterpriseFactory(name=f"失信铸造{i:03d}"))
        Referral.objects.create(
            case=case, enterprise=case.enterprise, reason="逾期未退出", legal_basis="依据"
        )
    approved = CaseFactory(enterprise=EnterpriseFactory(name="已批准钢铁"))
    Referral.objects.create(
        case=approved, enterprise=approved.enterprise, reason="逾期未退出", legal_basis="依据",
        status=Referral.Status.APPROVED, decision_number="江淘汰办〔2026〕1号", deciding_body="协调小组",
        decided_on=dt.date(2026, 3, 2), valid_from=dt.date(2026, 3, 2), approved_by=office.user,
    )  # fmt: skip
    client = client_for(office.user)
    page = client.get("/credit/", {"status": "proposed"}).content.decode()
    assert "共 53 条" in page and "已批准钢铁" not in page
    assert page.count("失信铸造") == PAGE_SIZE and "?status=proposed&page=2" in page
    found = client.get("/credit/", {"q": "已批准"}).content.decode()
    assert "共 1 条" in found and "已批准钢铁" in found


def test_the_accounts_list_filters_sorts_and_exports(
    office: Person, district: Person, energy_dept: Person
) -> None:
    from phaseout.orgs.models import Role
    from tests.factories import PersonFactory, UserFactory

    admin = PersonFactory(user=UserFactory(username="secadmin"), role=Role.SECURITY_ADMIN)
    client = client_for(admin.user)
    page = client.get("/people/", {"role": "department", "sort": "-username"}).content.decode()
    assert "共 1 条" in page and "fgj" in page and "pengjiang" not in page
    rows = _sheet(client.get("/people/", {"sort": "username", "format": "xlsx"}))
    assert rows[0] == ("用户名", "名称", "角色", "单位", "启用", "最近登录")
    usernames = [r[0] for r in rows[1:]]
    assert usernames == sorted(usernames) and {"office", "fgj", "pengjiang", "secadmin"} <= set(usernames)
    assert AuditEvent.objects.get(action="export.people").actor_id == admin.user.pk


def test_the_lines_and_inspections_lists(office: Person, energy_dept: Person, district: Person) -> None:
    from phaseout.cases import actions as case_actions
    from tests.conftest import PNG, upload
    from tests.factories import LineFactory

    taishan = EnterpriseFactory(name="台山水泥", territory=Territory.objects.get(code="440781"))
    LineFactory(enterprise=taishan, name="2号磨机")
    line = LineFactory(name="1号高炉", status="exited", exited_on=dt.date(2026, 2, 1))
    case_actions.record_inspection(
        department=energy_dept.department, enterprise=line.enterprise, line=line, dimension="energy",  # type: ignore[arg-type]
        inspected_on=dt.date(2026, 3, 1), inspectors="李明", files=[upload("现场.png", PNG, "image/png")],
        by=energy_dept.user, today=dt.date(2026, 3, 2),
    )  # fmt: skip
    mine = client_for(district.user).get("/lines/").content.decode()
    assert "共 1 条" in mine and "1号高炉" in mine and "2号磨机" not in mine  # the district's own county
    rows = _sheet(client_for(office.user).get("/lines/", {"status": "exited", "format": "xlsx"}))
    assert [r[3] for r in rows[1:]] == ["1号高炉"]
    page = client_for(energy_dept.user).get("/inspections/", {"since": "2026-03-01"}).content.decode()
    assert "共 1 条" in page and "2026-03-01" in page
    assert (
        "共 0 条"
        in client_for(energy_dept.user).get("/inspections/", {"since": "2026-03-02"}).content.decode()
    )
    sheet = _sheet(client_for(energy_dept.user).get("/inspections/", {"format": "xlsx"}))
    assert sheet[1][6] == "李明"
    assert {
        e.action for e in AuditEvent.objects.filter(action__in=["export.lines", "export.inspections"])
    } == {
        "export.lines",
        "export.inspections",
    }
