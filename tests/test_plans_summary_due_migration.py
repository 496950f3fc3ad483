"""Migration plans 0009: a plan confirmed before it gets the year summary's due date read from its tasks,
as confirmation reads it now; a draft is left to its confirmation, and a plan that states none has none."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("plans", "0008_plan_city_government_approval")]
AFTER = [("plans", "0009_plan_summary_due_and_provincial_plan")]
HAND_UP = (
    "2022年1月5日前，市工业和信息化局将2021年度推动落后产能退出工作总结报市政府同意后上报省工业和信息化厅。"
)
CONFIRMED_AT = dt.datetime(2021, 4, 20, 2, 0, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_plans_confirmed_before_get_their_summary_date_from_their_tasks() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="office")
        Plan, Task = old.get_model("plans", "Plan"), old.get_model("plans", "Task")
        plans = {}
        for name, status in (("confirmed", "confirmed"), ("draft", "draft"), ("none", "confirmed")):
            plans[name] = Plan.objects.create(
                year=2021, title=name, status=status, source_name="p.txt", source_text="", created_by=user,
                confirmed_by=user if status != "draft" else None,
                confirmed_at=CONFIRMED_AT if status != "draft" else None,
            )  # fmt: skip
        for name in ("confirmed", "draft"):
            Task.objects.create(plan=plans[name], text=HAND_UP, deadline=dt.date(2022, 1, 5), order=0)
        Task.objects.create(
            plan=plans["none"], text="各区报送工作方案备案", deadline=dt.date(2021, 5, 31), order=0
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        due = dict(new.get_model("plans", "Plan").objects.values_list("title", "summary_due"))
        assert due == {"confirmed": dt.date(2022, 1, 5), "draft": None, "none": None}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
