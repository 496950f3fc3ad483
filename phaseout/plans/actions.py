"""Writes for plans: import a document as a draft, review it, confirm it, submissions, supervision."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from phaseout.audit.record import record
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.orgs.scope import (
    city_code,
    is_province,
    office_people,
    people_of_department,
    people_of_enterprise,
    people_of_territory,
)
from phaseout.plans import handin, parser, scope, tasktable
from phaseout.plans.documents import read_text
from phaseout.plans.models import (
    Plan,
    PlanChange,
    Programme,
    Section,
    Submission,
    SubmissionVersion,
    Supervision,
    Target,
    Task,
    TaskUnit,
    TimeExpression,
)
from phaseout.rules.approvals import OFFICE, PlanStep, StepRefused, plan_step, summary_due


class PlanError(ValueError):
    """A plan action refused, with a message for the person."""


# --- matching names to the organisation -------------------------------------------------------------

_SUFFIXES = ("局", "委员会", "委", "厅", "办公室", "中心支行", "分局")


def _core(name: str, city: Territory | None) -> str:
    name = re.sub(r"\(.*?\)", "", name)
    if city is not None and name.startswith(city.name):
        name = name[len(city.name) :]
    elif city is not None and name.startswith(city.name.removesuffix("市")):
        name = name[len(city.name) - 1 :]  # "江门银保监分局"
    else:
        name = name.removeprefix("市")
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(c in chars for c in short)


def city_of(issuer: str) -> Territory | None:
    for territory in Territory.objects.filter(level="city"):
        if issuer.startswith(territory.name) or issuer.startswith(territory.name.removesuffix("市")):
            return territory
    return None


_COLLECTIVE_DEPARTMENTS = re.compile(r"有关(?:部门|单位)$|相关部门$|^各(?:有关)?(?:部门|单位)$|成员单位$")


def match_unit(name: str, city: Territory | None) -> tuple[str, Department | None]:
    """(match kind, department) for a unit name as written in a plan."""
    if (re.match(r"^各[县市区]", name) and "政府" in name) or name.startswith("各地级以上市"):
        # a city's districts; in a provincial plan, its cities (各地级以上市…)
        return TaskUnit.Match.ALL_DISTRICTS, None
    if re.fullmatch(r"(?:[\u4e00-\u9fa5]{2,3}市)?市?(?:人民)?政府(?:办公室)?", name):
        return TaskUnit.Match.GOVERNMENT, None
    if name.startswith("省") or re.match(r"^[\u4e00-\u9fa5]{2,3}省", name):
        return TaskUnit.Match.EXTERNAL, None
    if _COLLECTIVE_DEPARTMENTS.search(name):
        # "市有关部门", "各单位", "协调小组各成员单位": a group that owes no submission of its own
        return TaskUnit.Match.COLLECTIVE, None
    if city is None:
        return TaskUnit.Match.UNMAPPED, None
    departments = list(Department.objects.filter(territory=city))
    if "协调小组" in name:
        office = next((d for d in departments if d.is_office), None)
        if office:
            return TaskUnit.Match.DEPARTMENT, office
    core = _core(name, city)
    scored = []
    for department in departments:
        other = _core(department.name, city)
        if core == other:
            return TaskUnit.Match.DEPARTMENT, department
        short, long = sorted((core, other), key=len)
        if short and _subsequence(short, long) and len(short) / len(long) >= 0.5:
            scored.append((len(short) / len(long), department))
    scored.sort(key=lambda item: item[0], reverse=True)
    if len(scored) == 1 or (len(scored) > 1 and scored[0][0] > scored[1][0]):
        return TaskUnit.Match.DEPARTMENT, scored[0][1]
    return TaskUnit.Match.UNMAPPED, None


_GOVERNMENT_OF = re.compile(r"(?P<place>[\u4e00-\u9fa5]{2,8}?)(?:人民)?政府(?:办公室)?")


def named_place(name: str, territory: Territory | None) -> Territory | None:
    """The one district of a city's plan, or the one city of a provincial plan, that a unit name names
    ("蓬江区人民政府", "江门市政府", "台山市"); None when it names none of them (the plan's own government,
    a department, a group)."""
    if territory is None:
        return None
    m = _GOVERNMENT_OF.fullmatch(name)
    place = m.group("place") if m else name
    return Territory.objects.filter(parent=territory, name=place).first()


# --- import -----------------------------------------------------------------------------------------


KIND_NAMES = {
    "plan": _lazy("a work plan"),
    "notice": _lazy("a notice"),
    "publicity": _lazy("a publicity notice (公示)"),
    "announcement": _lazy("an announcement (公告)"),
}


def kind_name(kind: str) -> str:
    return str(KIND_NAMES.get(kind, KIND_NAMES["notice"]))


def no_duties(parsed: parser.ParsedPlan) -> parser.NotAPlan:
    """A document without a duty is not damaged: say what it is, with its number and title."""
    return parser.NotAPlan(
        "no_duties",
        _(
            "This document is %(kind)s (%(number)s%(title)s), not a work plan, and it names no duty with a "
            "unit or a date; nothing was imported."
        )
        % {
            "kind": kind_name(parsed.kind),
            "number": f"{parsed.doc_number} " if parsed.doc_number else "",
            "title": parsed.title or _("no title"),
        },
    )


@transaction.atomic
def import_plan(
    *, name: str, data: bytes, by: User, year: int | None = None, table: tuple[str, bytes] | None = None
) -> Plan:
    """Read a plan document into a draft plan. Bad input raises and creates nothing.

    A notice, publicity notice or announcement that names dated duties is read the same way (its kind is
    kept in the plan's problems); one that names none is refused with what it is. `table` is the optional
    任务分工表 (.docx or .xlsx) whose rows become tasks merged with the body's (phaseout.plans.tasktable)."""
    text = read_text(name, data)
    parsed = parser.parse(text, year=year)
    if table is not None:
        rows = tasktable.read_table(*table)
        tasktable.merge(parsed, rows)
    if not parsed.tasks:
        raise no_duties(parsed)
    if parsed.year is None:
        raise PlanError(_("The plan's year could not be found in the document; please give it."))
    city = city_of(parsed.issuer or parsed.title)
    reader = Person.objects.filter(user=by).select_related("department__territory").first()
    own_city = city_code(reader) if reader is not None else None
    if reader is not None and is_province(reader):
        # The provincial office reads in the province's own plan: its territory is the province.
        if city is not None:
            raise PlanError(
                _("The document was issued by %(city)s, a city; its coordination office reads it in.")
                % {"city": city.name}
            )
        city = Territory.objects.filter(code=own_city, level=Territory.Level.PROVINCE).first()
        if city is None:
            raise PlanError(_("Your account is not of a province's office."))
    elif city is not None and own_city is not None and city.code != own_city:
        raise PlanError(
            _("The document was issued by %(city)s, not by your city; its coordination office reads it in.")
            % {"city": city.name}
        )
    plan = Plan.objects.create(
        year=parsed.year,
        title=parsed.title[:200] or name,
        issuer=parsed.issuer[:100],
        doc_number=parsed.doc_number[:60],
        issue_date=parsed.issue_date,
        valid_until=parsed.valid_until,
        recipients=parsed.recipients,
        territory=city,
        source_name=name[:200],
        source_text=text,
        problems=parsed.problems,
        created_by=by,
    )
    sections: dict[str, Section] = {}
    for order, s in enumerate(parsed.sections):
        sections[s.path] = Section.objects.create(
            plan=plan,
            path=s.path,
            level=s.level,
            title=s.title[:200],
            stage=s.stage,
            period_start=s.period_start,
            period_end=s.period_end,
            period_text=s.period_text[:60],
            order=order,
        )
    task_of: dict[int, Task] = {}
    for order, t in enumerate(parsed.tasks):
        task = Task.objects.create(
            plan=plan,
            section=sections.get(t.number),
            number=t.number,
            text=t.text,
            deadline=t.deadline,
            period_start=t.period_start,
            period_end=t.period_end,
            inherited_deadline=t.inherited_deadline,
            order=order,
        )
        for expr in t.times:
            task_of[id(expr)] = task
        for unit in t.units:
            place = named_place(unit.name, city)
            full_name = unit.name
            for hint in unit.places:  # "(一)江门市人民政府…": read as "市人民政府" with "江门" before it
                if place is None and (place := named_place(hint + unit.name, city)) is not None:
                    full_name = hint + unit.name
            match: str
            department: Department | None
            if place is not None:
                match, department = TaskUnit.Match.TERRITORY.value, None
            else:
                match, department = match_unit(unit.name, city)
            TaskUnit.objects.create(
                task=task,
                name=full_name[:100],
                role=unit.role,
                source=unit.source,
                match=match,
                department=department,
                territory=place,
            )
    for expr in parsed.times:
        TimeExpression.objects.create(
            plan=plan,
            task=task_of.get(id(expr)),
            text=expr.text[:60],
            sentence=expr.sentence,
            kind=expr.kind,
            date=expr.date,
            start=expr.start,
            months=expr.months,
            days=expr.days,
            reason=expr.reason[:200],
            needs_review=expr.needs_review,
        )
    record(
        actor=by,
        action="plan.import",
        obj=plan,
        data={
            "file": name,
            "tasks": len(parsed.tasks),
            "kind": parsed.kind,
            "table": table[0] if table is not None else None,
            "table_tasks": sum(1 for t in parsed.tasks if t.source != "body"),
        },
    )
    return plan


def _draft(plan: Plan) -> Plan:
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    if locked.status != Plan.Status.DRAFT:
        raise PlanError(_("This plan is already confirmed."))
    return locked


@transaction.atomic
def map_unit(
    *,
    plan: Plan,
    name: str,
    match: str,
    department: Department | None,
    by: User,
    territory: Territory | None = None,
) -> int:
    """Map every mention of a name in a draft plan to a unit of the organisation."""
    plan = _draft(plan)
    if match == TaskUnit.Match.DEPARTMENT and department is None:
        raise PlanError(_("Please choose the department."))
    if match == TaskUnit.Match.TERRITORY and (
        territory is None or plan.territory_id is None or territory.parent_id != plan.territory_id
    ):
        raise PlanError(_("Please choose the district or city of this plan that the name is."))
    if match not in TaskUnit.Match.values or match == TaskUnit.Match.UNMAPPED:
        raise PlanError(_("Please choose what this name is."))
    count = TaskUnit.objects.filter(task__plan=plan, name=name).update(
        match=match,
        department=department if match == TaskUnit.Match.DEPARTMENT else None,
        territory=territory if match == TaskUnit.Match.TERRITORY else None,
    )
    data: dict[str, Any] = {"name": name, "match": match}
    if match == TaskUnit.Match.TERRITORY and territory is not None:
        data["territory"] = territory.code
    record(actor=by, action="plan.map_unit", obj=plan, data=data)
    return count


@transaction.atomic
def review_time(*, expression: TimeExpression, date: dt.date | None, by: User) -> TimeExpression:
    """Accept a flagged expression as having no date, or give its date (which then applies to its task)."""
    _draft(expression.plan)
    expression.reviewed_by = by
    if date is not None:
        expression.date = date
        expression.reason = _("date given at review")
        if expression.task_id and expression.kind in ("deadline", "vague", "recurring"):
            Task.objects.filter(pk=expression.task_id, deadline__isnull=True).update(deadline=date)
    expression.save()
    record(actor=by, action="plan.review_time", obj=expression.plan, data={"text": expression.text})
    return expression


_REPORTING = re.compile(r"报送|函告|反馈|上报|备案|报市|报区|报县|报省|汇总|总结")


def _kind(text: str) -> str:
    if "总结" in text:
        return Submission.Kind.SUMMARY
    if "清单" in text:  # a list the plan asks for as such (a summary that encloses one is a summary)
        return Submission.Kind.CLOSED_LIST
    if ("工作计划" in text or "方案" in text) and "备案" in text:
        return Submission.Kind.SUB_PLAN
    return Submission.Kind.REPORT


@transaction.atomic
def confirm_plan(*, plan: Plan, by: User) -> Plan:
    """Confirm a reviewed draft and derive the submissions each unit owes."""
    plan = _draft(plan)
    unmapped = sorted(
        set(
            TaskUnit.objects.filter(task__plan=plan, match=TaskUnit.Match.UNMAPPED).values_list(
                "name", flat=True
            )
        )
    )
    if unmapped:
        raise PlanError(
            _("Some names are not matched to a unit yet: %(names)s") % {"names": "、".join(unmapped)}
        )
    pending = plan.times.filter(needs_review=True, reviewed_by__isnull=True).count()
    if pending:
        raise PlanError(_("%(count)d time expressions still need review.") % {"count": pending})
    provincial = is_provincial(plan)
    # A city plan's reporting tasks are owed by its departments and districts; a provincial plan's dated
    # tasks whose units are the cities (各地级以上市…) are each city's duties, handed in by its office and
    # reviewed by the provincial office (ADR 0030).
    if provincial:
        districts = list(Territory.objects.filter(parent=plan.territory, level=Territory.Level.CITY))
    else:
        districts = list(Territory.objects.filter(parent=plan.territory)) if plan.territory else []
    for task in plan.tasks.filter(deadline__isnull=False).prefetch_related("units"):
        if not provincial and not _REPORTING.search(task.text):
            continue
        for unit in task.units.all():
            if unit.role not in (TaskUnit.Role.LEAD, TaskUnit.Role.RESPONSIBLE):
                continue  # supporting units contribute; the lead or the responsible unit reports
            owed: list[dict[str, Any]] = []
            if unit.match == TaskUnit.Match.DEPARTMENT:
                owed.append({"department": unit.department})
            elif unit.match == TaskUnit.Match.ALL_DISTRICTS:
                owed.extend({"territory": district} for district in districts)
            elif unit.match == TaskUnit.Match.TERRITORY and unit.territory_id:
                owed.append({"territory": unit.territory})
            for owner in owed:
                Submission.objects.get_or_create(
                    plan=plan,
                    task=task,
                    **owner,
                    defaults={"kind": _kind(task.text), "due_date": task.deadline},
                )
    plan.status = plan_step(plan.status, PlanStep.CONFIRM, OFFICE).value
    plan.confirmed_by = by
    plan.confirmed_at = timezone.now()
    plan.summary_due = summary_due(plan.tasks.values_list("text", "deadline"))
    plan.save()
    record(
        actor=by,
        action="plan.confirm",
        obj=plan,
        data={
            "submissions": plan.submissions.count(),
            "summary_due": plan.summary_due.isoformat() if plan.summary_due else None,
        },
    )
    return plan


APPROVAL_BODY_MAX = 100
APPROVAL_DOC_MAX = 60


def approval_fields(
    *, body: str, doc_number: str, approved_on: dt.date | None, today: dt.date
) -> tuple[str, str, dt.date]:
    """The city government's approval as the office records it, checked: body and document number given
    and bounded, the date given and not in the future. Shared by the plan's and the summary's approval."""
    body = _text(body, APPROVAL_BODY_MAX, _("Please give the body that approved it."))
    doc_number = _text(doc_number, APPROVAL_DOC_MAX, _("Please give the number of the approving document."))
    if "\x00" in body or "\x00" in doc_number:
        raise PlanError(_("The text contains a character that is not allowed."))
    day = _not_future(
        approved_on,
        today,
        missing=_("Please give the date of approval."),
        future=_("The date of approval cannot be in the future."),
    )
    return body, doc_number, day


@transaction.atomic
def approve_plan(
    *,
    plan: Plan,
    body: str,
    doc_number: str,
    approved_on: dt.date | None,
    by: User,
    now: dt.datetime | None = None,
) -> Plan:
    """Record the city government's approval of a plan the office confirmed (报市政府审定): the body, its
    document and the date it approved. The plan is then in force: what units owe under it is owed and
    swept. Irreversible; a plan's history keeps the step.

    A provincial plan is approved by the provincial government, recorded by the provincial office: the
    body must be the provincial government, and the date not before the plan was drawn up (its 成文日期)."""
    now = now or timezone.now()
    locked = Plan.objects.select_for_update(of=("self",)).select_related("territory").get(pk=plan.pk)
    provincial = is_provincial(locked)
    person = Person.objects.filter(user=by).select_related("department__territory").first()
    if provincial:
        assert locked.territory is not None
        if person is None or not is_province(person) or city_code(person) != locked.territory_id:
            raise PlanError(
                _("Only the provincial office records the provincial government's approval of its plan.")
            )
    elif person is not None and is_province(person):
        raise PlanError(_("Only the city's coordination office records the city government's approval."))
    body, doc_number, day = approval_fields(
        body=body, doc_number=doc_number, approved_on=approved_on, today=timezone.localdate(now)
    )
    try:
        target = plan_step(locked.status, PlanStep.APPROVE, OFFICE)
    except StepRefused:
        if locked.status == Plan.Status.APPROVED:
            if provincial:
                raise PlanError(
                    _("This plan has already been approved by the provincial government.")
                ) from None
            raise PlanError(_("This plan has already been approved by the city government.")) from None
        if provincial:
            raise PlanError(
                _(
                    "Only a plan the provincial office has confirmed can be approved by the provincial "
                    "government."
                )
            ) from None
        raise PlanError(
            _("Only a plan the office has confirmed can be approved by the city government.")
        ) from None
    assert locked.confirmed_at is not None
    if provincial:
        assert locked.territory is not None
        if not provincial_government(body, locked.territory):
            raise PlanError(
                _(
                    "The provincial plan is approved by the provincial government (%(body)s), not by "
                    "%(given)s."
                )
                % {"body": f"{locked.territory.name}人民政府", "given": body}
            )
        if locked.issue_date is not None and day < locked.issue_date:
            raise PlanError(
                _("The date of approval cannot be before the plan was drawn up (%(date)s).")
                % {"date": locked.issue_date.isoformat()}
            )
    elif day < timezone.localdate(locked.confirmed_at):
        raise PlanError(_("The date of approval cannot be before the office confirmed the plan."))
    before = locked.status
    locked.status = target.value
    locked.approval_body, locked.approval_doc_number, locked.approved_on = body, doc_number, day
    locked.approval_recorded_by, locked.approval_recorded_at = by, now
    locked.save(
        update_fields=[
            "status",
            "approval_body",
            "approval_doc_number",
            "approved_on",
            "approval_recorded_by",
            "approval_recorded_at",
        ]
    )
    PlanChange.objects.create(
        plan=locked,
        field="status",
        before=before,
        after=locked.status,
        reason=f"{body} {doc_number} {day.isoformat()}",
        by=by,
    )
    record(
        actor=by,
        action="plan.approve",
        obj=locked,
        data={"body": body, "document": doc_number, "approved_on": day.isoformat()},
    )
    return locked


def is_provincial(plan: Plan) -> bool:
    """A plan of the province itself (its territory is the province), not of one of its cities."""
    return plan.territory is not None and plan.territory.level == Territory.Level.PROVINCE


# The provincial government, as the body that approves the provincial plan: "广东省人民政府", "省人民政府",
# "省政府" — not one of its departments, not its general office, not a city's government.
_PROVINCIAL_GOVERNMENT = re.compile(r"(?P<province>[\u4e00-\u9fa5]{0,8}?省)?(?:人民)?政府")


def provincial_government(body: str, province: Territory) -> bool:
    m = _PROVINCIAL_GOVERNMENT.fullmatch(body.replace(" ", ""))
    if m is None:
        return False
    named = m.group("province")
    return named is not None and named in ("省", province.name)


def provincial_plans(city: Territory) -> QuerySet[Plan]:
    """The plans a city's plan may implement: those of its province the provincial office confirmed."""
    return Plan.objects.filter(
        territory=city.parent_id, territory__level=Territory.Level.PROVINCE, status__in=Plan.CONFIRMED_STATES
    ).order_by("-year", "-id")


@transaction.atomic
def link_provincial_plan(*, plan: Plan, provincial: Plan, by: User) -> Plan:
    """The city's office records which provincial plan its plan implements (again, to correct it); the
    plan's history keeps each link."""
    locked = (
        Plan.objects.select_for_update(of=("self",))
        .select_related("territory", "provincial_plan")
        .get(pk=plan.pk)
    )
    person = Person.objects.filter(user=by).select_related("department__territory").first()
    city = locked.territory
    if (
        person is None
        or person.role != Role.OFFICE
        or city is None
        or city.level != Territory.Level.CITY
        or city_code(person) != city.code
    ):
        raise PlanError(_("Only the city's coordination office links its plan to the provincial plan."))
    if not provincial_plans(city).filter(pk=provincial.pk).exists():
        raise PlanError(_("Please choose a plan of your province that the provincial office has confirmed."))
    if provincial.year != locked.year:
        raise PlanError(
            _(
                "The provincial plan is of %(provincial)d and this plan of %(city)d: "
                "link the plan of the same year."
            )
            % {"provincial": provincial.year, "city": locked.year}
        )
    if locked.provincial_plan_id == provincial.pk:
        raise PlanError(_("This plan is already linked to that provincial plan."))
    before = str(locked.provincial_plan) if locked.provincial_plan is not None else ""
    before_id = locked.provincial_plan_id
    locked.provincial_plan = provincial
    locked.save(update_fields=["provincial_plan"])
    PlanChange.objects.create(
        plan=locked, field="provincial_plan", before=before, after=str(provincial), by=by
    )
    record(
        actor=by,
        action="plan.link_provincial",
        obj=locked,
        data={"provincial_plan": provincial.pk, "before": before_id},
    )
    return locked


def _reread_summary_due(plan: Plan) -> None:
    """A confirmed plan's task deadline moved: the year summary's due date follows its task."""
    if plan.status in Plan.CONFIRMED_STATES:
        due = summary_due(plan.tasks.values_list("text", "deadline"))
        Plan.objects.filter(pk=plan.pk).update(summary_due=due)


@transaction.atomic
def change_deadline(*, task: Task, deadline: dt.date, reason: str, by: User) -> Task:
    """Move a task's deadline; a confirmed plan keeps the history, and open submissions move with it."""
    if not reason.strip():
        raise PlanError(_("Please give the reason for the change."))
    task = Task.objects.select_for_update().get(pk=task.pk)
    before = task.deadline
    task.deadline = deadline
    task.save(update_fields=["deadline"])
    task.submissions.filter(submitted_on__isnull=True).update(due_date=deadline)
    _reread_summary_due(task.plan)
    PlanChange.objects.create(
        plan=task.plan,
        task=task,
        field="deadline",
        before=before.isoformat() if before else "",
        after=deadline.isoformat(),
        reason=reason,
        by=by,
    )
    record(actor=by, action="plan.change_deadline", obj=task.plan, reason=reason, data={"task": task.pk})
    return task


@transaction.atomic
def edit_task(
    *,
    task: Task,
    text: str,
    deadline: dt.date | None,
    add: Department | None,
    remove: list[TaskUnit],
    reason: str,
    by: User,
) -> Task:
    """Edit a task of a plan: its text, deadline and responsible units. Each change is kept with its
    reason; submissions follow (a unit added to a reporting task owes one; a unit removed owes none
    it has not already handed in: one handed in, even returned, keeps its versions)."""
    if not reason.strip():
        raise PlanError(_("Please give the reason for the change."))
    task = Task.objects.select_for_update().select_related("plan").get(pk=task.pk)
    if not text.strip():
        raise PlanError(_("A task needs its text."))
    changes: list[tuple[str, str, str]] = []
    if text.strip() != task.text:
        changes.append(("text", task.text, text.strip()))
        task.text = text.strip()
    if deadline != task.deadline:
        changes.append(
            (
                "deadline",
                task.deadline.isoformat() if task.deadline else "",
                deadline.isoformat() if deadline else "",
            )
        )
        task.deadline = deadline
        if deadline is not None:
            task.submissions.filter(submitted_on__isnull=True).update(due_date=deadline)
    task.save()
    if changes:
        _reread_summary_due(task.plan)  # the text or the deadline of the summary's task
    for unit in remove:
        if unit.task_id != task.pk:
            raise PlanError(_("That unit is not named in this task."))
        changes.append(("unit", f"{unit.name}（{unit.get_role_display()}）", ""))
        unit.delete()
    if remove:
        _drop_unowed(task)
    if add is not None:
        if task.units.filter(department=add).exclude(role=TaskUnit.Role.RECEIVER).exists():
            raise PlanError(_("This department is already responsible for the task."))
        TaskUnit.objects.create(
            task=task,
            name=add.name,
            role=TaskUnit.Role.RESPONSIBLE,
            source="edit",
            match=TaskUnit.Match.DEPARTMENT,
            department=add,
        )
        changes.append(("unit", "", add.name))
        if task.plan.status in Plan.CONFIRMED_STATES and task.deadline and _REPORTING.search(task.text):
            Submission.objects.get_or_create(
                plan=task.plan,
                task=task,
                department=add,
                defaults={"kind": _kind(task.text), "due_date": task.deadline},
            )
    if not changes:
        raise PlanError(_("Nothing was changed."))
    for field, before, after in changes:
        PlanChange.objects.create(
            plan=task.plan, task=task, field=field, before=before, after=after, reason=reason, by=by
        )
    record(
        actor=by,
        action="plan.edit_task",
        obj=task.plan,
        reason=reason,
        data={"task": task.pk, "changes": len(changes)},
    )
    return task


@transaction.atomic
def submit(
    *,
    submission: Submission,
    document: UploadedFile,
    numbers: dict[str, Any],
    note: str,
    by: User,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Submission:
    """Hand in a submission: a new version, checked by its content, awaiting the office's review. A
    submission returned with comments is handed in again the same way; one awaiting review or accepted
    is not."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    locked = (
        Submission.objects.select_for_update(of=("self",))
        .select_related("plan__territory")
        .get(pk=submission.pk)
    )
    if locked.plan.status not in Plan.IN_FORCE:
        if is_provincial(locked.plan):
            raise PlanError(
                _(
                    "The provincial plan is not in force until the provincial government approves it; "
                    "nothing is handed in under it yet."
                )
            )
        raise PlanError(
            _(
                "The plan is not in force until the city government approves it; "
                "nothing is handed in under it yet."
            )
        )
    if locked.state == Submission.State.PENDING:
        raise PlanError(_("This has already been submitted and awaits the office's review."))
    if locked.state == Submission.State.ACCEPTED:
        raise PlanError(_("This submission has been accepted; nothing more is to be handed in."))
    name = (document.name or "").rsplit("/", 1)[-1]
    try:
        checked = handin.check(document, name=name, size=document.size or 0, kind=locked.kind)
    except handin.HandInRefused as exc:
        raise PlanError(str(exc)) from None
    number = locked.versions.count() + 1
    stem = name.rsplit(".", 1)[0] or "document"
    document.name = f"{stem}.{checked.extension}"  # stored under the type its content is, not its name
    version = SubmissionVersion.objects.create(
        submission=locked,
        number=number,
        document=document,
        name=name[:200],
        sha256=checked.sha256,
        size=checked.size,
        content_type=checked.content_type,
        numbers=numbers,
        note=note,
        handed_in_by=by,
        handed_in_at=now,
        handed_in_on=today,
    )
    locked.state = Submission.State.PENDING
    locked.submitted_on = today
    locked.submitted_by = by
    locked.save(update_fields=["state", "submitted_on", "submitted_by"])
    record(
        actor=by,
        action="submission.submit",
        obj=locked,
        data={"version": version.number, "late": today > locked.due_date, "sha256": checked.sha256},
    )
    return locked


COMMENTS_MAX = 2000


@transaction.atomic
def review_submission(
    *,
    submission: Submission,
    version: int,
    accept: bool,
    comments: str,
    by: User,
    now: dt.datetime | None = None,
) -> SubmissionVersion:
    """The office accepts the version handed in, or returns it to the unit with comments (required).
    `version` is the number the reviewer read: a review of a version no longer the one awaiting review
    (another reviewer was first, or the unit handed in again) is refused."""
    now = now or timezone.now()
    comments = (comments or "").strip()
    if not accept and not comments:
        raise PlanError(_("Please write the comments: the unit needs to know what to change."))
    if len(comments) > COMMENTS_MAX:
        raise PlanError(_("The text is too long: at most %(limit)d characters.") % {"limit": COMMENTS_MAX})
    locked = (
        Submission.objects.select_for_update(of=("self",))
        .select_related("plan__territory")
        .get(pk=submission.pk)
    )
    _may_review(locked, by)
    current = locked.versions.order_by("-number").first()
    if current is None:
        raise PlanError(_("Nothing has been handed in yet."))
    if current.number != version:
        raise PlanError(
            _(
                "Version %(read)d is no longer the latest: version %(latest)d was handed in since. "
                "Please read it first."
            )
            % {"read": version, "latest": current.number}
        )
    if current.review != SubmissionVersion.Review.PENDING:
        raise PlanError(
            _("This version was already %(review)s by %(who)s.")
            % {"review": current.get_review_display(), "who": _name(current.reviewed_by)}
        )
    current.review = SubmissionVersion.Review.ACCEPTED if accept else SubmissionVersion.Review.RETURNED
    current.reviewed_by, current.reviewed_at, current.comments = by, now, comments
    current.save(update_fields=["review", "reviewed_by", "reviewed_at", "comments"])
    if accept:
        locked.state = Submission.State.ACCEPTED
    else:
        locked.state = Submission.State.RETURNED
        locked.submitted_on, locked.submitted_by = None, None
    locked.save(update_fields=["state", "submitted_on", "submitted_by"])
    record(
        actor=by,
        action="submission.accept" if accept else "submission.return",
        obj=locked,
        reason=comments,
        data={"version": current.number, "handed_in_on": current.handed_in_on.isoformat()},
    )
    if not accept:  # the unit is told what to change, in its message centre and by mail
        notify(
            _owners(locked),
            MessageKind.RETURNED,
            _("Submission returned: %(task)s") % {"task": locked.task.text[:60]},
            f"{_describe(locked)}\n{comments}",
            obj=locked,
            url=reverse("my-submissions"),
            key=f"submission.returned:{locked.pk}:{current.number}",
            by=by,
            now=now,
        )
    return current


def _may_review(submission: Submission, by: User) -> None:
    """What a city's office hands in under the provincial plan is reviewed by the provincial office of
    that province, never by the city's office that handed it in; a city plan's submissions by the city's
    office, never by the province (it reads them)."""
    person = Person.objects.filter(user=by).select_related("department__territory").first()
    if is_provincial(submission.plan):
        if person is None or not is_province(person) or city_code(person) != submission.plan.territory_id:
            raise PlanError(
                _("Only the provincial office accepts or returns what the cities hand in under its plan.")
            )
    elif person is not None and is_province(person):
        raise PlanError(_("Only the city's coordination office accepts or returns what its units hand in."))


def _name(user: User | None) -> str:
    if user is None:
        return ""
    person = getattr(user, "person", None)
    return (person.display_name if person is not None else "") or user.username


# --- supervision: failed tasks, notices and summonses ------------------------------------------------

SUPERVISION_TEXT_MAX = 2000
FAILURE_REASON_MAX = 2000
TALK_PLACE_MAX = 200
FAILED_STATUSES = (Submission.Status.MISSING, Submission.Status.LATE)


def failed_tasks(plan: Plan, today: dt.date) -> list[Task]:
    """The plan's tasks that failed: marked failed by the office, or with a submission that was not made
    by its date (missing, or made late)."""
    late = {s.task_id for s in plan.submissions.all() if s.status_on(today) in FAILED_STATUSES}
    return [t for t in plan.tasks.all() if t.failed_on is not None or t.pk in late]


def _drop_unowed(task: Task) -> None:
    """After units were taken off a task: the submissions not yet handed in that no unit left on it owes
    (a department's, a place's) are dropped; one another lead or responsible unit still owes stays (the
    same department named twice, a district named and "every district")."""
    owing = task.units.filter(role__in=(TaskUnit.Role.LEAD, TaskUnit.Role.RESPONSIBLE))
    departments = owing.filter(match=TaskUnit.Match.DEPARTMENT).values("department")
    places = owing.filter(match=TaskUnit.Match.TERRITORY).values("territory")
    unsent = task.submissions.filter(state=Submission.State.OPEN)
    unsent.filter(department__isnull=False).exclude(department__in=departments).delete()
    if not owing.filter(match=TaskUnit.Match.ALL_DISTRICTS).exists():
        unsent.filter(territory__isnull=False).exclude(territory__in=places).delete()


def responsible_units(task: Task) -> list[Department | Territory]:
    """The units of the organisation responsible for a task (lead, supporting, responsible — not the one
    that only receives the report): its departments, and every district of the plan's city when the task
    names them all."""
    units: list[Department | Territory] = []
    for unit in task.units.select_related("department", "territory").exclude(role=TaskUnit.Role.RECEIVER):
        if unit.match == TaskUnit.Match.DEPARTMENT and unit.department is not None:
            if unit.department not in units:
                units.append(unit.department)
        elif unit.match == TaskUnit.Match.TERRITORY and unit.territory is not None:
            if unit.territory not in units:
                units.append(unit.territory)
        elif unit.match == TaskUnit.Match.ALL_DISTRICTS and task.plan.territory_id:
            for district in Territory.objects.filter(parent=task.plan.territory_id).order_by("code"):
                if district not in units:
                    units.append(district)
    return units


def _not_future(day: dt.date | None, today: dt.date, *, missing: str, future: str) -> dt.date:
    if day is None:
        raise PlanError(missing)
    if day > today:
        raise PlanError(future)
    return day


def _text(text: str, limit: int, empty: str) -> str:
    text = (text or "").strip()
    if not text:
        raise PlanError(empty)
    if len(text) > limit:
        raise PlanError(_("The text is too long: at most %(limit)d characters.") % {"limit": limit})
    return text


@transaction.atomic
def mark_task_failed(*, task: Task, failed_on: dt.date, reason: str, by: User, today: dt.date) -> Task:
    """The office records that a task of a confirmed plan failed, with the reason."""
    reason = _text(reason, FAILURE_REASON_MAX, _("Please give the reason the task failed."))
    _not_future(
        failed_on,
        today,
        missing=_("Please give the date the task failed."),
        future=_("The date the task failed cannot be in the future."),
    )
    task = Task.objects.select_for_update().select_related("plan").get(pk=task.pk)
    if task.plan.status not in Plan.CONFIRMED_STATES:
        raise PlanError(_("Only a task of a confirmed plan can fail."))
    if task.failed_on is not None:
        raise PlanError(_("This task is already recorded as failed."))
    task.failed_on, task.failure_reason, task.failed_by = failed_on, reason, by
    task.save(update_fields=["failed_on", "failure_reason", "failed_by"])
    record(
        actor=by,
        action="plan.task_failed",
        obj=task.plan,
        reason=reason,
        data={"task": task.pk, "failed_on": failed_on.isoformat()},
    )
    return task


@transaction.atomic
def record_supervision(
    *,
    plan: Plan,
    kind: str,
    issued_on: dt.date | None,
    text: str,
    by: User,
    today: dt.date,
    task: Task | None = None,
    unit: Department | Territory | None = None,
    enterprise: Any = None,
    talk_at: dt.datetime | None = None,
    talk_place: str = "",
) -> Supervision:
    """The office circulates a notice (通报) or summons for talks (约谈) exactly one target: a unit
    responsible for a task of the plan that failed, or an enterprise that fell behind (Heyuan 三(三))."""
    if kind not in Supervision.Kind.values:
        raise PlanError(_("Please choose a notice or a summons."))
    if unit is None and enterprise is None:
        raise PlanError(_("Please name whom it is against: a unit or an enterprise."))
    if unit is not None and enterprise is not None:
        raise PlanError(_("A notice or summons names one target: a unit or an enterprise, not both."))
    issued_on = _not_future(
        issued_on,
        today,
        missing=_("Please give the date of issue."),
        future=_("The date of issue cannot be in the future."),
    )
    text = _text(text, SUPERVISION_TEXT_MAX, _("Please write the text of the notice or summons."))
    talk_place = (talk_place or "").strip()
    if kind == Supervision.Kind.TALKS:
        if talk_at is None or not talk_place:
            raise PlanError(_("A summons for talks needs the time and the place of the talk."))
        if len(talk_place) > TALK_PLACE_MAX:
            raise PlanError(
                _("The place is too long: at most %(limit)d characters.") % {"limit": TALK_PLACE_MAX}
            )
        if timezone.localdate(talk_at) < issued_on:
            raise PlanError(_("The talk cannot be before the summons is issued."))
    else:
        talk_at, talk_place = None, ""
    if task is not None and task.plan_id != plan.pk:
        raise PlanError(_("That task is not in this plan."))
    failed: list[Submission] = []
    owner: dict[str, Any]
    if unit is not None:
        if task is None:
            raise PlanError(_("Please choose the task the unit failed."))
        if task not in failed_tasks(plan, today):
            raise PlanError(
                _("This task has not failed: its date has not passed unmet and it is not marked failed.")
            )
        if unit not in responsible_units(task):
            raise PlanError(_("%(unit)s is not responsible for this task.") % {"unit": unit.name})
        owner = {"department": unit} if isinstance(unit, Department) else {"territory": unit}
        failed = [s for s in task.submissions.filter(**owner) if s.status_on(today) in FAILED_STATUSES]
    else:
        owner = {"enterprise": enterprise}
    supervision = Supervision.objects.create(
        plan=plan,
        kind=kind,
        task=task,
        issued_on=issued_on,
        text=text,
        talk_at=talk_at,
        talk_place=talk_place,
        by=by,
        **owner,
    )
    supervision.submissions.set(failed)
    record(
        actor=by,
        action=f"supervision.{kind}",
        obj=supervision,
        reason=text,
        data={
            "plan": plan.pk,
            "task": task.pk if task else None,
            "target": supervision.target_name,
            "issued_on": issued_on.isoformat(),
        },
    )
    _tell_supervision(supervision, by=by)
    return supervision


def _people_named(supervision: Supervision) -> list[Person]:
    """The accounts of the unit or enterprise a notice or summons names (as `scope.addressed_to`)."""
    if supervision.department_id:
        return list(people_of_department(supervision.department_id))
    if supervision.territory_id:
        return list(people_of_territory(supervision.territory_id))
    return list(people_of_enterprise(supervision.enterprise_id)) if supervision.enterprise_id else []


def _tell_supervision(supervision: Supervision, *, by: User) -> None:
    plan = supervision.plan
    if supervision.kind == Supervision.Kind.TALKS:
        assert supervision.talk_at is not None
        kind, title = MessageKind.SUMMONS, _("Summons for talks: %(plan)s") % {"plan": plan.title}
        when = _("The talk: %(at)s, %(place)s.") % {
            "at": timezone.localtime(supervision.talk_at).strftime("%Y-%m-%d %H:%M"),
            "place": supervision.talk_place,
        }
        body = f"{supervision.text}\n\n{when}"
    else:
        kind, title = MessageKind.NOTICE, _("Circulated notice: %(plan)s") % {"plan": plan.title}
        body = supervision.text
    notify(_people_named(supervision), kind, title, body, obj=supervision, url=reverse("home"), by=by)


@transaction.atomic
def record_supervisions(
    *,
    plan: Plan,
    kind: str,
    issued_on: dt.date | None,
    text: str,
    by: User,
    today: dt.date,
    task: Task | None = None,
    units: list[Department | Territory] | None = None,
    enterprise: Any = None,
    talk_at: dt.datetime | None = None,
    talk_place: str = "",
) -> list[Supervision]:
    """One notice or summons to several units at once: a record for each (each names one target, as the
    law's record does), all or none — a unit not responsible for the task refuses the whole."""
    targets: list[Department | Territory | None] = list(units or []) or [None]
    if len({(type(u).__name__, u.pk) for u in targets if u is not None}) != len([u for u in targets if u]):
        raise PlanError(_("A unit is named twice."))
    return [
        record_supervision(
            plan=plan,
            kind=kind,
            issued_on=issued_on,
            text=text,
            by=by,
            today=today,
            task=task,
            unit=unit,
            enterprise=enterprise,
            talk_at=talk_at,
            talk_place=talk_place,
        )
        for unit in targets
    ]


@transaction.atomic
def acknowledge_supervision(*, supervision: Supervision, person: Person) -> Supervision:
    """The person the notice or summons names marks it read; who and when are kept."""
    locked = Supervision.objects.select_for_update().get(pk=supervision.pk)
    if not scope.addressed_to(person).filter(pk=locked.pk).exists():
        raise PlanError(_("This notice or summons does not name your unit."))
    if locked.acknowledged_at is not None:
        raise PlanError(_("This has already been marked as read."))
    locked.acknowledged_at, locked.acknowledged_by = timezone.now(), person.user
    locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
    record(actor=person.user, action="supervision.acknowledge", obj=locked)
    return locked


REMIND_DAYS = 7


def sweep_submissions(*, now: dt.datetime | None = None, today: dt.date | None = None) -> tuple[int, int]:
    """Remind (7 days before the date) and escalate (after it) each open submission once, by message to its
    unit — and an escalation to the office too; safe to run twice and at once (each row is claimed by a
    compare-and-set update)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    open_ = Submission.objects.filter(submitted_on__isnull=True, plan__status__in=Plan.IN_FORCE)
    related = ("plan__territory", "task", "department", "territory")
    soon = open_.filter(
        reminded_at__isnull=True, due_date__gte=today, due_date__lte=today + dt.timedelta(days=REMIND_DAYS)
    )
    reminded = escalated = 0
    for submission in list(soon.select_related(*related)):
        with transaction.atomic():
            if not Submission.objects.filter(pk=submission.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                continue
            title = _("Reminder: %(kind)s due on %(due)s") % {
                "kind": submission.get_kind_display(),
                "due": submission.due_date.isoformat(),
            }
            notify(
                _owners(submission),
                MessageKind.REMINDER,
                title,
                _describe(submission),
                obj=submission,
                url=reverse("my-submissions"),
                key=f"submission.reminder:{submission.pk}",
                now=now,
            )
            reminded += 1
    for submission in list(
        open_.filter(escalated_at__isnull=True, due_date__lt=today).select_related(*related)
    ):
        with transaction.atomic():
            if not Submission.objects.filter(pk=submission.pk, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            title = _("Overdue: %(kind)s of %(unit)s was due on %(due)s") % {
                "kind": submission.get_kind_display(),
                "unit": submission.unit_name,
                "due": submission.due_date.isoformat(),
            }
            key = f"submission.escalation:{submission.pk}"
            body = _describe(submission)
            mine = reverse("my-submissions")
            notify(
                _owners(submission),
                MessageKind.ESCALATION,
                title,
                body,
                obj=submission,
                url=mine,
                key=key,
                now=now,
            )
            office = reverse("plan-detail", args=[submission.plan_id])
            office_staff = _plan_office(submission.plan)
            notify(
                office_staff,
                MessageKind.ESCALATION,
                title,
                body,
                obj=submission,
                url=office,
                key=key,
                now=now,
            )
            escalated += 1
    return reminded, escalated


def _owners(submission: Submission) -> list[Person]:
    """The accounts of the unit that owes the submission: a department's, a district's; a city's duty
    under the provincial plan, the city's coordination office."""
    if submission.department_id:
        return list(people_of_department(submission.department_id))
    if submission.territory_id:
        if is_provincial(submission.plan):
            return list(office_people(submission.territory_id))
        return list(people_of_territory(submission.territory_id))
    return []


def _plan_office(plan: Plan) -> list[Person]:
    """The office that reviews what is owed under the plan: the city's, or the provincial office for the
    provincial plan."""
    if is_provincial(plan):
        return list(
            Person.objects.filter(
                role=Role.PROVINCE, department__territory=plan.territory_id, user__is_active=True
            ).select_related("user", "department")
        )
    return list(office_people(plan.territory_id))


def _describe(submission: Submission) -> str:
    return f"{submission.plan.title}\n{submission.task.number} {submission.task.text}".strip()


# --- inspection programmes ------------------------------------------------------------------------


def draw(
    pool: list[int], inspectors: list[int], *, count: int, per_target: int, seed: int
) -> list[tuple[int, list[int]]]:
    """双随机: random enterprises from the pool and random inspectors for each, from one seed.
    The same seed, pool and inspectors give the same draw, so anyone can check it."""
    rng = random.Random(seed)
    chosen = rng.sample(sorted(pool), min(count, len(pool)))
    return [
        (enterprise, rng.sample(sorted(inspectors), min(per_target, len(inspectors))))
        for enterprise in chosen
    ]


@transaction.atomic
def create_programme(
    *,
    department: Department,
    title: str,
    dimension: str,
    year: int,
    due_date: dt.date,
    method: str,
    by: User,
    rule_id: str = "",
    count: int = 0,
    per_target: int = 2,
    industry: str = "",
    territory: Territory | None = None,
    seed: int | None = None,
) -> Programme:
    from phaseout.orgs.models import Person, Role
    from phaseout.registry.models import Enterprise, LineStatus
    from phaseout.rules.rulebook import library

    if dimension not in department.dimensions:
        raise PlanError(_("This department does not enforce that dimension."))
    enterprises = Enterprise.objects.filter(lines__status__in=[LineStatus.OPERATING, LineStatus.RECTIFYING])
    if territory is not None:
        enterprises = enterprises.filter(territory__in=territory.subtree_codes())
    if industry:
        enterprises = enterprises.filter(industry_id=industry)
    inspectors = list(
        Person.objects.filter(role=Role.DEPARTMENT, department=department, user__is_active=True).values_list(
            "pk", flat=True
        )
    )
    programme = Programme(
        department=department,
        title=title,
        dimension=dimension,
        year=year,
        due_date=due_date,
        method=method,
        created_by=by,
    )
    if method == Programme.Method.RULE:
        rule = library().latest(rule_id) if rule_id in library().versions else None
        if rule is None:
            raise PlanError(_("Unknown rule."))
        if rule.industries:
            enterprises = enterprises.filter(industry_id__in=rule.industries)
        if rule.equipment_types:
            enterprises = enterprises.filter(lines__equipment_type__in=rule.equipment_types)
        programme.rule_id = rule_id
        targets: list[tuple[int, list[int]]] = [
            (pk, []) for pk in sorted(set(enterprises.values_list("pk", flat=True)))
        ]
    else:
        if count < 1:
            raise PlanError(_("Say how many enterprises to draw."))
        if len(inspectors) < per_target:
            raise PlanError(_("The department has fewer inspectors than each inspection needs."))
        pool = sorted(set(enterprises.values_list("pk", flat=True)))
        if not pool:
            raise PlanError(_("No enterprise matches; nothing to draw from."))
        programme.seed = seed if seed is not None else secrets.randbits(48)
        programme.pool = pool
        programme.inspector_pool = sorted(inspectors)
        targets = draw(pool, inspectors, count=count, per_target=per_target, seed=programme.seed)
    if not targets:
        raise PlanError(_("No enterprise matches; nothing to draw from."))
    programme.save()
    for enterprise_id, people in targets:
        target = Target.objects.create(programme=programme, enterprise_id=enterprise_id)
        target.inspectors.set(people)
    record(
        actor=by,
        action="programme.create",
        obj=programme,
        data={"method": method, "targets": len(targets), "seed": programme.seed},
    )
    return programme


def target_status(programme: Programme, today: dt.date) -> dict[int, tuple[str, Any]]:
    """Each target's status from the inspections actually recorded: done, open or overdue."""
    from phaseout.cases.models import Inspection

    done = {
        enterprise: inspected_on
        for enterprise, inspected_on in Inspection.objects.filter(
            department=programme.department,
            dimension=programme.dimension,
            inspected_on__year=programme.year,
            inspected_on__lte=programme.due_date,
            enterprise__in=programme.targets.values("enterprise"),
        ).values_list("enterprise_id", "inspected_on")
    }
    result: dict[int, tuple[str, Any]] = {}
    for target in programme.targets.all():
        if target.enterprise_id in done:
            result[target.pk] = ("done", done[target.enterprise_id])
        else:
            result[target.pk] = ("overdue" if today > programme.due_date else "open", None)
    return result
