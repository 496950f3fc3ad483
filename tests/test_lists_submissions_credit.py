"""The submissions list and the credit sanctions list work like every other official list (issue 14 §4): a
total, filters kept in the address, sorting by a column, bad filters refused in Chinese with nothing shown,
and an .xlsx of exactly the filtered rows — all of them, not one page — formula-safe and audited. A
submission's status is filtered in the database by the same rule `Submission.status_on` states."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.credit.models import Acknowledgement, Referral
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.plans.models import Plan, Submission, Task
from phaseout.web import PAGE_SIZE, lists
from tests.conftest import client_for
from tests.factories import CaseFactory, EnterpriseFactory, PersonFactory, UserFactory

D = dt.date
TODAY = D(2026, 3, 2)
# The pages read the clock: they run on 2 March 2026, at noon in Jiangmen.
ON_TODAY = time_machine.travel(dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC), tick=False)
STATUS_LABELS = {s.value: str(s.label) for s in Submission.Status}


def _sheet(response) -> list[tuple]:
    assert response.status_code == 200
    assert response["Content-Type"] == lists.XLSX
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(book.active.values)


def _total(page: str) -> int:
    found = re.search(r"共 (\d+) 条", page)
    assert found, page[:2000]
    return int(found.group(1))


# ── submissions ──


@dataclass
class Owed:
    plan: Plan
    grid: list[Submission]  # every combination of state, due date and date handed in
    taishan: list[Submission]  # more than a page, all owed by Taishan


def _plan(office: Person, title: str, city: str = "440700") -> tuple[Plan, Task]:
    plan = Plan.objects.create(
        year=2026, title=title, source_name="plan.txt", source_text="", created_by=office.user,
        territory=Territory.objects.get(code=city), confirmed_by=office.user,
        status=Plan.Status.APPROVED, approval_body="江门市人民政府", approval_doc_number="江府函〔2026〕1号",
        approved_on=dt.date(2026, 1, 6), approval_recorded_by=office.user,
        approval_recorded_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        confirmed_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )  # fmt: skip
    return plan, Task.objects.create(
        plan=plan, number="一", text="各单位报送工作情况", deadline=TODAY, order=0
    )


def _owed(office: Person, district: Person) -> Owed:
    """A confirmed plan whose submissions cover every status on TODAY (and the day before and after)."""
    plan, task = _plan(office, "2026年推动落后产能退出工作计划")
    pengjiang = Territory.objects.get(code="440703")
    fgj = Department.objects.get(code="jm-fgj")
    kinds = list(Submission.Kind)
    grid: list[Submission] = []
    combinations: list[tuple[str, int | None]] = [("open", None), ("returned", None)]
    combinations += [(state, shift) for state in ("pending", "accepted") for shift in (-1, 0, 1)]
    for due_shift in (-1, 0, 1):
        due = TODAY + dt.timedelta(days=due_shift)
        for state, shift in combinations:
            n = len(grid)
            unit = {"territory": pengjiang} if n % 2 == 0 else {"department": fgj}
            grid.append(
                Submission.objects.create(
                    plan=plan,
                    task=task,
                    kind=kinds[n % len(kinds)],
                    due_date=due,
                    state=state,
                    submitted_on=None if shift is None else due + dt.timedelta(days=shift),
                    submitted_by=None if shift is None else district.user,
                    **unit,
                )
            )
    taishan = Territory.objects.get(code="440781")
    more = [
        Submission(
            plan=plan,
            task=task,
            territory=taishan,
            kind=Submission.Kind.SUMMARY,
            due_date=TODAY + dt.timedelta(days=30 + i),
        )
        for i in range(PAGE_SIZE + 3)
    ]
    return Owed(plan=plan, grid=grid, taishan=Submission.objects.bulk_create(more))


@pytest.mark.parametrize("day", [TODAY - dt.timedelta(days=2), TODAY, TODAY + dt.timedelta(days=2)])
def test_the_status_filter_in_the_database_is_status_on(office: Person, district: Person, day: D) -> None:
    """Every status the database filter finds is exactly the rows status_on gives it, and each row has
    one status (the grid covers every state with due dates and hand-in dates around the day)."""
    owed = _owed(office, district)
    rows = list(Submission.objects.all())
    by_rule: dict[str, set[int]] = {status: set() for status in Submission.Status.values}
    for s in rows:
        by_rule[s.status_on(day)].add(s.pk)
    for status in Submission.Status.values:
        found = set(
            Submission.objects.filter(Submission.status_filter(status, day)).values_list("pk", flat=True)
        )
        assert found == by_rule[status], status
    assert sum(len(pks) for pks in by_rule.values()) == len(rows)
    if day == TODAY:  # the grid is not vacuous: on TODAY every status has rows of its own
        assert all(by_rule[status] & {s.pk for s in owed.grid} for status in Submission.Status.values)


def test_the_submissions_list_counts_pages_and_exports_exactly_the_filtered_rows(
    office: Person, district: Person
) -> None:
    owed = _owed(office, district)
    client = client_for(office.user)
    with ON_TODAY:
        page = client.get("/submissions/", {"unit": "台山", "sort": "-due"}).content.decode()
        assert _total(page) == PAGE_SIZE + 3
        assert page.count('href="/submissions/') >= PAGE_SIZE
        assert "蓬江区" not in page.split("<tbody>")[1]
        # The filter stays in the address: in the pager, in the column headings, in the export link.
        assert (
            "?unit=%E5%8F%B0%E5%B1%B1&amp;sort=-due&page=2" in page
            or "unit=%E5%8F%B0%E5%B1%B1&sort=-due&page=2" in page
        )
        assert 'href="?unit=%E5%8F%B0%E5%B1%B1&amp;sort=due"' in page  # the due column, sorted descending
        assert 'aria-sort="descending"' in page
        assert "unit=%E5%8F%B0%E5%B1%B1&amp;sort=-due&amp;format=xlsx" in page
        second = client.get("/submissions/", {"unit": "台山", "sort": "-due", "page": "2"}).content.decode()
        assert len(re.findall(r'<tr class="status-', second)) == 3
        rows = _sheet(client.get("/submissions/", {"unit": "台山", "sort": "-due", "format": "xlsx"}))
    assert rows[0] == ("工作计划", "任务", "单位", "类型", "报送时限", "状态", "报送日期")
    body = rows[1:]
    assert len(body) == PAGE_SIZE + 3  # every filtered row, not a page
    assert {r[2] for r in body} == {"台山市"} and {r[5] for r in body} == {STATUS_LABELS["due"]}
    dues = [r[4].date() for r in body]
    assert dues == sorted((s.due_date for s in owed.taishan), reverse=True)
    entry = AuditEvent.objects.get(action="export.submissions")
    assert (entry.actor_id, entry.outcome, entry.object_type, entry.data) == (
        office.user.pk,
        Outcome.SUCCESS,
        "",
        {"format": "xlsx", "filter": {"unit": "台山", "sort": "-due"}, "rows": PAGE_SIZE + 3},
    )


@pytest.mark.parametrize("status", Submission.Status.values)
def test_each_status_filter_lists_and_exports_the_rows_of_that_status(
    office: Person, district: Person, status: str
) -> None:
    owed = _owed(office, district)
    expected = [s for s in [*owed.grid, *owed.taishan] if s.status_on(TODAY) == status]
    assert expected  # every status has rows on TODAY
    client = client_for(office.user)
    with ON_TODAY:
        page = client.get("/submissions/", {"status": status}).content.decode()
        rows = _sheet(client.get("/submissions/", {"status": status, "format": "xlsx"}))
    assert _total(page) == len(expected)
    assert f'<option value="{status}" selected>' in page  # the filter is kept in the form
    assert len(rows) == 1 + len(expected)
    assert {r[5] for r in rows[1:]} == {STATUS_LABELS[status]}
    expected_keys = sorted((s.due_date, s.unit_name, s.get_kind_display()) for s in expected)
    assert sorted((r[4].date(), r[2], r[3]) for r in rows[1:]) == expected_keys
    assert AuditEvent.objects.get(action="export.submissions").data == {
        "format": "xlsx",
        "filter": {"status": status},
        "rows": len(expected),
    }


def test_the_submissions_list_filters_by_kind_plan_and_due_dates_and_sorts_by_unit_and_kind(
    office: Person, district: Person
) -> None:
    owed = _owed(office, district)
    other, task = _plan(office, "2026年另一项工作计划")
    Submission.objects.create(
        plan=other, task=task, territory=Territory.objects.get(code="440703"), kind="report", due_date=TODAY
    )
    client = client_for(office.user)
    with ON_TODAY:
        of_plan = client.get("/submissions/", {"plan": owed.plan.pk}).content.decode()
        assert _total(of_plan) == len(owed.grid) + len(owed.taishan)
        mine = client.get("/submissions/", {"plan": other.pk}).content.decode()
        assert _total(mine) == 1 and "2026年另一项工作计划" in mine
        dated = client.get("/submissions/", {"since": "2026-03-02", "until": "2026-03-03"}).content.decode()
        assert _total(dated) == len([s for s in owed.grid if s.due_date >= TODAY]) + 1
        reports = _sheet(client.get("/submissions/", {"kind": "report", "format": "xlsx"}))
        assert {r[3] for r in reports[1:]} == {"情况报送"}
        assert len(reports) - 1 == 1 + len([s for s in owed.grid if s.kind == "report"])
        by_unit = _sheet(
            client.get("/submissions/", {"until": "2026-03-03", "sort": "unit", "format": "xlsx"})
        )
        units = [r[2] for r in by_unit[1:]]
        assert set(units) == {"蓬江区", "江门市发展和改革局"} and units == sorted(units)
        by_kind = client.get("/submissions/", {"until": "2026-03-03", "sort": "-kind"}).content.decode()
        assert 'aria-sort="descending"' in by_kind and 'href="?until=2026-03-03&amp;sort=kind"' in by_kind


def test_a_bad_submissions_filter_is_refused_in_chinese_and_shows_nothing(
    office: Person, district: Person, heyuan_office: Person
) -> None:
    _owed(office, district)
    heyuan_plan, _ = _plan(heyuan_office, "河源市工作计划", city="441600")
    client = client_for(office.user)
    refusals = {
        "status": ({"status": "overdue"}, "状态：选择一个有效的选项。 overdue 不在可用的选项中。"),
        "kind": ({"kind": "memo"}, "类型：选择一个有效的选项。 memo 不在可用的选项中。"),
        "date": ({"since": "2026-13-01"}, "报送时限自：输入一个有效的日期。"),
        "order": ({"since": "2026-03-03", "until": "2026-03-01"}, "报送时限的起始日期晚于截止日期。"),
        # another city's plan is not one of the office's choices
        "plan": ({"plan": str(heyuan_plan.pk)}, "工作计划：选择一个有效的选项： 该选择不在可用的选项中。"),
    }
    with ON_TODAY:
        for name, (query, message) in refusals.items():
            response = client.get("/submissions/", query)
            page = response.content.decode()
            assert response.status_code == 200
            assert [str(m) for m in response.context["messages"]] == [message], name
            assert _total(page) == 0 and '<tr class="status-' not in page, name
        rows = _sheet(client.get("/submissions/", {"status": "overdue", "format": "xlsx"}))
    assert len(rows) == 1  # the headings, no row
    assert AuditEvent.objects.get(action="export.submissions").data["rows"] == 0


def test_who_reads_the_submissions_list_and_which_rows(
    office: Person, district: Person, energy_dept: Person, other_district: Person
) -> None:
    owed = _owed(office, district)
    seen = {
        office: len(owed.grid) + len(owed.taishan),
        district: len([s for s in owed.grid if s.territory_id == "440703"]),
        energy_dept: len([s for s in owed.grid if s.department_id]),
        other_district: len(owed.taishan),
    }
    with ON_TODAY:
        for person, count in seen.items():
            rows = _sheet(client_for(person.user).get("/submissions/", {"format": "xlsx"}))
            assert len(rows) - 1 == count, person.role
            page = client_for(person.user).get("/submissions/").content.decode()
            assert _total(page) == count, person.role
        # a unit is offered its hand-in on a row still owed
        pengjiang = client_for(district.user).get("/submissions/", {"status": "due"}).content.decode()
        due = next(s for s in owed.grid if s.territory_id == "440703" and s.status_on(TODAY) == "due")
        assert reverse("submission-submit", args=[due.pk]) in pengjiang
        for role in (Role.ENTERPRISE, Role.AUDITOR, Role.SECURITY_ADMIN, Role.INTAKE):
            other = _someone(role)
            for query in ({}, {"format": "xlsx"}):
                response = client_for(other.user).get("/submissions/", query)
                assert response.status_code == 403, role
                assert "Content-Disposition" not in response
    assert AuditEvent.objects.filter(action="export.submissions").count() == len(seen)


# ── credit sanctions ──


def _someone(role: Role) -> Person:
    """A person of a role that does not read the list (an enterprise account comes with its enterprise)."""
    firm = {"enterprise": EnterpriseFactory()} if role == Role.ENTERPRISE else {}
    return PersonFactory(user=UserFactory(username=f"r-{role}"), role=role, **firm)


def _referral(name: str, status: str, approver: Person, day: int = 2) -> Referral:
    case = CaseFactory(enterprise=EnterpriseFactory(name=name))
    decided = {} if status == "proposed" else {
        "decision_number": f"江淘汰办〔2026〕{day}号", "deciding_body": "协调小组",
        "decided_on": D(2026, 3, day), "valid_from": D(2026, 3, day), "approved_by": approver.user,
    }  # fmt: skip
    return Referral.objects.create(
        case=case,
        enterprise=case.enterprise,
        reason="逾期未退出",
        legal_basis="依据",
        status=status,
        **decided,
    )


def test_the_credit_list_sorts_and_exports_exactly_the_filtered_rows(office: Person) -> None:
    _referral("乙水泥", "approved", office, day=3)
    _referral('=HYPERLINK("http://x")甲钢铁', "approved", office, day=1)
    _referral("丙铸造", "approved", office, day=2)
    _referral("丁玻璃", "proposed", office)
    client = client_for(office.user)
    page = client.get("/credit/", {"status": "approved", "sort": "enterprise"}).content.decode()
    assert _total(page) == 3 and "丁玻璃" not in page
    assert 'aria-sort="ascending"' in page
    assert 'href="?status=approved&amp;sort=-enterprise"' in page  # the heading keeps the filter
    assert 'href="?status=approved&amp;sort=decision"' in page
    assert '<input type="hidden" name="sort" value="enterprise">' in page  # filtering keeps the order
    rows = _sheet(client.get("/credit/", {"status": "approved", "sort": "decision", "format": "xlsx"}))
    assert rows[0][:6] == ("企业", "统一社会信用代码", "理由", "状态", "决定", "已确认")
    body = rows[1:]
    assert len(body) == 3 and {r[3] for r in body} == {"已审定"}
    assert [r[4][-10:] for r in body] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body[0][0] == '\'=HYPERLINK("http://x")甲钢铁'  # formula-safe
    backwards = _sheet(
        client.get("/credit/", {"status": "approved", "sort": "-enterprise", "format": "xlsx"})
    )
    names = [r[0] for r in backwards[1:]]
    assert names == sorted(names, reverse=True)
    entries = list(AuditEvent.objects.filter(action="export.credit_list").order_by("seq"))
    assert [(e.actor_id, e.outcome) for e in entries] == [(office.user.pk, Outcome.SUCCESS)] * 2
    assert [e.data for e in entries] == [
        {"format": "xlsx", "filter": {"status": "approved", "sort": sort}, "rows": 3}
        for sort in ("decision", "-enterprise")
    ]


def test_the_credit_export_is_every_filtered_row_not_a_page(office: Person) -> None:
    for i in range(PAGE_SIZE + 2):
        _referral(f"失信铸造{i:03d}", "proposed", office)
    _referral("已批准钢铁", "approved", office)
    client = client_for(office.user)
    rows = _sheet(client.get("/credit/", {"q": "失信", "format": "xlsx"}))
    assert len(rows) == 1 + PAGE_SIZE + 2 and "已批准钢铁" not in repr(rows)
    assert AuditEvent.objects.get(action="export.credit_list").data == {
        "format": "xlsx",
        "filter": {"q": "失信"},
        "rows": PAGE_SIZE + 2,
    }


def test_a_bad_credit_filter_is_refused_in_chinese_and_shows_nothing(office: Person) -> None:
    _referral("乙水泥", "approved", office)
    response = client_for(office.user).get("/credit/", {"status": "revoked"})
    page = response.content.decode()
    assert [str(m) for m in response.context["messages"]] == [
        "状态：选择一个有效的选项。 revoked 不在可用的选项中。"
    ]
    assert _total(page) == 0 and "乙水泥" not in page


def test_who_reads_the_credit_list_and_the_blocks_beside_it(
    office: Person, energy_dept: Person, district: Person
) -> None:
    referral = _referral("乙水泥", "approved", office)
    ack = Acknowledgement.objects.create(
        referral=referral, measure_id="land", department=energy_dept.department
    )
    for person in (office, energy_dept):
        assert client_for(person.user).get("/credit/").status_code == 200
        assert len(_sheet(client_for(person.user).get("/credit/", {"format": "xlsx"}))) >= 1
    # the department's measures to acknowledge are still beside its list; not the office's
    department_page = client_for(energy_dept.user).get("/credit/").content.decode()
    assert reverse("acknowledge", args=[ack.pk]) in department_page
    assert (
        reverse("acknowledge", args=[ack.pk]) not in client_for(office.user).get("/credit/").content.decode()
    )
    for role in (Role.DISTRICT, Role.ENTERPRISE, Role.AUDITOR, Role.INTAKE):
        other = district if role == Role.DISTRICT else _someone(role)
        for query in ({}, {"format": "xlsx"}):
            response = client_for(other.user).get("/credit/", query)
            assert response.status_code == 403 and "Content-Disposition" not in response, role
    assert AuditEvent.objects.filter(action="export.credit_list").count() == 2
