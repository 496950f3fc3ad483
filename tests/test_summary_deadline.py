"""The deadline sweep of the year summaries (issue 17, ADR 0026): the date the plan states for the summary
to reach the province; a city whose summary is not with the province by then is marked overdue once, its
office and the provincial office told, each mark audited; shown on the province's progress page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from phaseout import jobs
from phaseout.audit.models import AuditEvent
from phaseout.messaging.models import Message
from phaseout.orgs.models import Person, Territory
from phaseout.plans import actions as plan_actions
from phaseout.plans.models import Plan, Task, TaskUnit
from phaseout.province import actions, sweep
from phaseout.province.models import SummaryOverdue, YearSummary
from phaseout.rules.approvals import hands_summary_to_province, summary_due
from tests.conftest import client_for
from tests.test_concurrency import _race

NOW = dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC)
YEAR = 2026
DUE = dt.date(2027, 1, 5)
AFTER = dt.datetime(2027, 1, 6, 1, 0, tzinfo=dt.UTC)  # 6 January, 09:00 in Guangdong
JIANGMEN_TASK = (
    "2027年1月5日前，市工业和信息化局将2026年度推动落后产能退出工作总结"
    "报市政府同意后上报省工业和信息化厅等部门。"
)
OVERDUE_TITLE = "年度总结逾期：江门市未在 2027-01-05 前将2026年度总结上报省级"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- the date, as the plan states it (pure rule) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hands_up"),
    [
        (JIANGMEN_TASK, True),
        (
            "市工业和信息化局于2021年12月底将2021年全市落后产能退出情况汇总，报经市人民政府同意后上报省工业和信息化厅。",
            True,
        ),
        ("各地级以上市人民政府于2027年1月10日前将2026年度工作总结报送广东省工业和信息化厅。", True),
        ("2026年12月15日前，各市（区）政府将2026年推动落后产能退出工作总结函告市工业和信息化局。", False),
        ("省发展改革委牵头总结推广好的经验做法。", False),
        ("2027年1月5日前，市工业和信息化局将淘汰情况上报省工业和信息化厅。", False),
    ],
)
def test_the_task_that_hands_the_summary_up_to_the_province(text: str, hands_up: bool) -> None:
    assert hands_summary_to_province(text) is hands_up


def test_the_summary_is_due_on_the_latest_date_of_those_tasks() -> None:
    tasks = [
        ("2026年12月15日前，各市（区）政府将工作总结函告市工业和信息化局。", dt.date(2026, 12, 15)),
        (JIANGMEN_TASK, DUE),
        ("年中总结报省工业和信息化厅。", dt.date(2026, 6, 30)),
        ("年度总结报省工业和信息化厅。", None),
    ]
    assert summary_due(tasks) == DUE
    assert summary_due(tasks[:1]) is None and summary_due([]) is None


def test_confirmation_reads_the_due_date_and_a_changed_deadline_moves_it(office: Person) -> None:
    plan = Plan.objects.create(
        year=YEAR, title="江门市2026年推动落后产能退出工作计划", territory_id="440700", source_name="p.txt",
        source_text="", created_by=office.user,
    )  # fmt: skip
    task = Task.objects.create(plan=plan, text=JIANGMEN_TASK, deadline=DUE, order=0)
    TaskUnit.objects.create(
        task=task, name="省工业和信息化厅", role="receiver", source="body", match="external"
    )
    plan = plan_actions.confirm_plan(plan=plan, by=office.user)
    assert plan.summary_due == DUE
    assert AuditEvent.objects.get(action="plan.confirm").data["summary_due"] == "2027-01-05"
    plan_actions.change_deadline(
        task=task, deadline=dt.date(2027, 1, 8), reason="省厅通知延后", by=office.user
    )
    plan.refresh_from_db()
    assert plan.summary_due == dt.date(2027, 1, 8)


# --- the sweep --------------------------------------------------------------------------------------------


def _plan_in_force(office: Person, city: str, due: dt.date | None = DUE, **fields: object) -> Plan:
    return Plan.objects.create(
        year=YEAR, title=f"{city}计划", doc_number=f"{city}〔2026〕1号", territory_id=city, status="approved",
        source_name="p.txt", source_text="", created_by=office.user, confirmed_by=office.user,
        confirmed_at=NOW, approval_body="市人民政府", approval_doc_number="府函〔2026〕1号",
        approved_on=dt.date(2026, 4, 28), approval_recorded_by=office.user, approval_recorded_at=NOW,
        summary_due=due, **fields,
    )  # fmt: skip


def _handed_up(office: Person, city: str, at: dt.datetime) -> YearSummary:
    with time_machine.travel(at, tick=False):
        summary = actions.draw_up_summary(city=Territory.objects.get(code=city), year=YEAR, by=office.user)
        summary = actions.approve_summary(
            summary=summary,
            body="市人民政府",
            doc_number="府函〔2027〕2号",
            approved_on=timezone.localdate(at),  # the day it is drawn up
            by=office.user,
        )
        return actions.hand_up_summary(summary=summary, by=office.user)


def _marks() -> set[tuple[str, int, dt.date]]:
    return set(SummaryOverdue.objects.values_list("city", "year", "due_on"))


def test_a_city_without_its_summary_is_marked_once_and_both_offices_are_told(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    jiangmen = _plan_in_force(office, "440700")
    _plan_in_force(heyuan_office, "441600")
    _handed_up(heyuan_office, "441600", dt.datetime(2027, 1, 5, 15, 0, tzinfo=dt.UTC))  # 23:00 local, on time
    assert sweep.sweep_overdue_summaries(now=NOW, today=DUE) == 0  # the due day itself is not past
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 6)) == 1
    mark = SummaryOverdue.objects.get()
    assert (mark.city_id, mark.year, mark.due_on, mark.plan, mark.marked_at) == (
        "440700",
        YEAR,
        DUE,
        jiangmen,
        AFTER,
    )
    audit = AuditEvent.objects.get(action="summary.overdue")
    assert (audit.actor, audit.object_type, audit.object_id) == (
        None,
        "province.summaryoverdue",
        str(mark.pk),
    )
    assert audit.data == {"city": "440700", "year": YEAR, "due_on": "2027-01-05"}
    to_office = Message.objects.get(recipient=office, key="summary.overdue:440700:2026")
    to_province = Message.objects.get(recipient=province, key="summary.overdue:440700:2026")
    assert to_office.title == to_province.title == OVERDUE_TITLE
    assert (to_office.kind, to_office.url) == ("escalation", "/summaries/")
    assert to_province.url == "/province/?year=2026"
    assert not Message.objects.filter(recipient=heyuan_office, key__startswith="summary.overdue").exists()
    # run again, and later: nothing more
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 6)) == 0
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 3, 1)) == 0
    assert (
        SummaryOverdue.objects.count() == 1
        and AuditEvent.objects.filter(action="summary.overdue").count() == 1
    )
    assert Message.objects.filter(key__startswith="summary.overdue").count() == 2


def test_two_runs_at_once_mark_tell_and_audit_each_city_once(office: Person, province: Person) -> None:
    """Both runs found the city before either marked it: the database decides who marks it."""
    plan = _plan_in_force(office, "440700")
    found = list(sweep.candidates(dt.date(2027, 1, 6)))
    assert found == [("440700", YEAR, DUE, plan.pk)]
    rows: list[tuple[object, ...]] = [(*found[0], AFTER)]
    assert sweep._mark(rows, now=AFTER) == 1
    assert sweep._mark(rows, now=AFTER) == 0  # the second run's insert conflicts: no message, no audit
    assert SummaryOverdue.objects.count() == 1
    assert AuditEvent.objects.filter(action="summary.overdue").count() == 1
    assert Message.objects.filter(key="summary.overdue:440700:2026").count() == 2


def test_returned_or_late_or_unapproved_summaries_are_overdue_on_time_ones_are_not(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    territories_ = ("440700", "441600")
    for city, person in zip(territories_, (office, heyuan_office), strict=True):
        _plan_in_force(person, city)
    # Jiangmen handed up on time, the province returned it, and it was not handed up again
    returned = _handed_up(office, "440700", dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC))
    actions.review_summary(summary=returned, accept=False, reason="缺少明细", by=province.user)
    # Heyuan handed up on 6 January, a day late, before the sweep ran
    _handed_up(heyuan_office, "441600", dt.datetime(2027, 1, 5, 16, 30, tzinfo=dt.UTC))  # 00:30 on the 6th
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 7)) == 2
    assert _marks() == {("440700", YEAR, DUE), ("441600", YEAR, DUE)}


def test_an_accepted_summary_a_plan_not_in_force_or_without_a_date_marks_nothing(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    _plan_in_force(office, "440700")
    accepted = _handed_up(office, "440700", dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC))
    actions.review_summary(summary=accepted, accept=True, reason="", by=province.user)
    _plan_in_force(heyuan_office, "441600", due=None)  # the plan states no date
    confirmed = _plan_in_force(office, "440700", due=DUE)
    Plan.objects.filter(pk=confirmed.pk).update(status="confirmed")  # not in force
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 2, 1)) == 0
    assert not SummaryOverdue.objects.exists()


def test_the_provincial_plans_date_applies_when_the_citys_plan_states_none(
    office: Person, province: Person
) -> None:
    provincial = Plan.objects.create(
        year=YEAR, title="广东省2026年推动落后产能退出工作方案", territory_id="440000", status="confirmed",
        source_name="gd.txt", source_text="", created_by=province.user, confirmed_by=province.user,
        confirmed_at=NOW, summary_due=dt.date(2027, 1, 10),
    )  # fmt: skip
    _plan_in_force(office, "440700", due=None, provincial_plan=provincial)
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 10)) == 0
    assert sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 11)) == 1
    assert _marks() == {("440700", YEAR, dt.date(2027, 1, 10))}


def test_the_sweep_is_the_province_apps_job_and_the_progress_page_shows_the_mark(
    office: Person, province: Person
) -> None:
    _plan_in_force(office, "440700")
    report = jobs.run_jobs(now=AFTER, today=dt.date(2027, 1, 6))
    assert report["province"].counts == {"overdue": 1}
    assert "年度总结逾期未上报省级 1 个市。" in str(report)
    assert jobs.run_jobs(now=AFTER, today=dt.date(2027, 1, 6))["province"].counts == {"overdue": 0}
    page = client_for(province.user).get(f"/province/?year={YEAR}").content.decode()
    assert "逾期：未在 2027-01-05 前上报省级" in page and "截止 2027-01-05" in page
    assert "年度总结逾期 1 个。" in page
    mine = client_for(office.user).get("/summaries/").content.decode()
    assert "2026年度总结未在 2027-01-05 前上报省级。" in mine


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_running_at_once_mark_the_city_once(office: Person, province: Person) -> None:
    _plan_in_force(office, "440700")

    def run() -> int:
        with transaction.atomic():
            return sweep.sweep_overdue_summaries(now=AFTER, today=dt.date(2027, 1, 6))

    outcomes = _race(run, run)
    assert sorted(outcomes) == [0, 1], outcomes  # type: ignore[type-var]
    assert SummaryOverdue.objects.count() == 1
    assert AuditEvent.objects.filter(action="summary.overdue").count() == 1
    assert Message.objects.filter(key="summary.overdue:440700:2026").count() == 2
