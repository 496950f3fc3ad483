"""The periodic jobs: every app registers its own; one runner runs them all, each in its own
transaction, and a failing job neither stops the others nor keeps what it wrote."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from phaseout import jobs
from phaseout.cases.models import Case
from phaseout.cases.tasks import sweep_deadlines
from phaseout.orgs.models import Territory
from tests.factories import CaseFactory

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Asia/Shanghai
TODAY = dt.date(2026, 3, 2)


def _territory(code: str) -> Territory:
    return Territory.objects.create(code=code, name=f"测试{code}", level=Territory.Level.COUNTY)


def _writes(code: str, count: int) -> jobs.JobFunction:
    def run(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
        _territory(code)
        return {"n": count}

    return run


def _writes_then_fails(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    _territory("990002")
    raise RuntimeError("broken job")


@pytest.mark.django_db
def test_a_failing_job_is_rolled_back_and_reported_and_the_others_run(caplog) -> None:
    registry = jobs.JobRegistry()
    registry.register("first", _writes("990001", 3), summary="first: %(n)d.", label="First")
    registry.register("broken", _writes_then_fails, summary="broken: %(n)d.", label="Broken")
    registry.register("last", _writes("990003", 5), summary="last: %(n)d.", label="Last")

    report = registry.run(now=NOW, today=TODAY)

    assert [o.job.name for o in report.outcomes] == ["first", "broken", "last"]
    assert report.failed == ["broken"]
    assert report["first"].counts == {"n": 3}
    assert report["last"].counts == {"n": 5}
    # The failing job's write is gone; the others' writes stay.
    assert set(Territory.objects.filter(code__startswith="99").values_list("code", flat=True)) == {
        "990001",
        "990003",
    }
    text = str(report)
    assert "first: 3." in text and "last: 5." in text
    assert "Broken" in text and "失败" in text
    assert "sweep job broken failed" in caplog.text
    assert "broken job" in caplog.text  # the traceback is logged


@pytest.mark.django_db
def test_jobs_get_the_same_now_and_today() -> None:
    seen: list[tuple[dt.datetime, dt.date]] = []

    def spy(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
        seen.append((now, today))
        return {}

    registry = jobs.JobRegistry()
    registry.register("a", spy, summary="a.", label="A")
    registry.register("b", spy, summary="b.", label="B")
    registry.run(now=NOW)
    assert seen == [(NOW, TODAY), (NOW, TODAY)]  # today is the local date of now


def test_every_app_with_periodic_work_registers_its_job() -> None:
    assert [job.name for job in jobs.registry.jobs] == [
        "audit",
        "audit-anchor",
        "cases",
        "case-tally",
        "exit-tally",
        "standards",  # evaluation runs whose worker died
        "plans",
        "complaints",
        "credit",
        "monitoring.partitions",
        "monitoring.checks",
        "signals",
        "province",
        "messaging",  # after the apps whose sweeps make messages: what they made goes out in the same run
        "identity-dormant",
    ]


def _overdue_case() -> Case:
    return CaseFactory(
        state="rectifying",
        order_date=dt.date(2025, 9, 1),
        deadline=dt.date(2026, 3, 1),
        rectification_months=6,
    )


def test_the_sweep_reports_every_job_in_chinese(reference) -> None:
    case = _overdue_case()
    report = jobs.run_jobs(now=NOW, today=TODAY)
    assert report.failed == []
    assert report["cases"].counts == {"orders": 1, "measures": 0, "visits": 0}
    assert report["plans"].counts == {"reminded": 0, "overdue": 0}
    assert report["credit"].counts == {"proposed": 0, "lifted": 0}
    assert report["complaints"].counts == {"escalated": 0}
    assert report["province"].counts == {"overdue": 0}
    text = str(report)
    for sentence in ("整改逾期 1 件", "逾期未报送 0 项", "提请联合惩戒 0 件", "举报超期督办 0 件"):
        assert sentence in text
    assert Case.objects.get(pk=case.pk).state == "overdue"
    again = jobs.run_jobs(now=NOW, today=TODAY)
    assert again["cases"].counts["orders"] == 0


def test_the_command_and_the_task_use_the_runner(reference, monkeypatch) -> None:
    _overdue_case()
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("sweep_deadlines", "--today", TODAY.isoformat(), stdout=out)
        assert "整改逾期 1 件" in out.getvalue()
        assert "逾期未报送 0 项" in out.getvalue()
        assert "整改逾期 0 件" in sweep_deadlines()

        def broken(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
            raise RuntimeError("broken job")

        registry = jobs.JobRegistry()
        registry.register("broken", broken, summary="x", label="Broken")
        monkeypatch.setattr(jobs, "registry", registry)
        with pytest.raises(CommandError, match="broken"):
            call_command("sweep_deadlines", stdout=StringIO())
