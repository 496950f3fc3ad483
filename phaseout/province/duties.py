"""The cities' duties under the provincial plan (ADR 0030): what each city owes by the plan's dates — the
provincial plan's dated tasks whose units are the cities (各地级以上市…) — and how each stands, per duty and
per city, for the provincial office; the city's office reads its own (phaseout.plans.scope.owed_by_city)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from phaseout.orgs.models import Territory
from phaseout.orgs.scope import provincial_cities
from phaseout.plans.models import Plan, Submission, Task


@dataclass
class DutyRow:
    """One duty of the provincial plan: each city's submission (None where the city owes none) and the
    count of each status."""

    task: Task
    due: dt.date | None
    cells: list[tuple[Territory, Submission | None, str]]
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def handed_in(self) -> int:
        return sum(self.counts[s] for s in (Submission.Status.PENDING, Submission.Status.ON_TIME))

    @property
    def late(self) -> int:
        return self.counts[Submission.Status.LATE] + self.counts[Submission.Status.MISSING]


def board(plan: Plan, today: dt.date) -> list[DutyRow]:
    """The provincial plan's duties, each with every city of the province: two queries (the cities, the
    submissions with their tasks), whatever the number of duties and cities."""
    assert plan.territory_id is not None
    cities = list(provincial_cities(plan.territory_id))
    owed: dict[int, dict[str, Submission]] = {}
    tasks: dict[int, Task] = {}
    for submission in (
        Submission.objects.filter(plan=plan, territory__isnull=False)
        .select_related("task", "territory")
        .order_by("task__order", "territory")
    ):
        tasks.setdefault(submission.task_id, submission.task)
        owed.setdefault(submission.task_id, {})[submission.territory_id or ""] = submission
    rows = []
    for task_id, task in tasks.items():
        row = DutyRow(task=task, due=task.deadline, cells=[])
        for city in cities:
            owes = owed[task_id].get(city.code)
            status = owes.status_on(today) if owes is not None else ""
            row.cells.append((city, owes, status))
            if status:
                row.counts[status] += 1
        rows.append(row)
    return rows
