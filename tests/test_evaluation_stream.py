"""The registry evaluation streamed (issue 15): one query for every line and its newest measurements,
evaluated in blocks, results written set-based; the same findings per line as the evaluation it
replaces; a dry run that writes nothing; a run started from the page, queued, with its progress shown."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Finding
from phaseout.orgs.models import Person, Role, Territory
from phaseout.registry.facts import line_facts, read_attributes
from phaseout.registry.models import Measurement, ProductionLine
from phaseout.rules.batch import ColumnsBuilder, evaluate_columns
from phaseout.rules.engine import FactsError, LineFacts, Quantity, Status, evaluate
from phaseout.rules.rulebook import Comparison, library
from phaseout.standards import actions
from phaseout.standards.models import EvaluationResult, EvaluationRun
from phaseout.standards.tasks import carry_out
from tests.conftest import client_for
from tests.factories import EnterpriseFactory, LineFactory, PersonFactory, UserFactory

ON = dt.date(2026, 8, 3)

# equipment type: (industry, sizes (with a wrong unit at the end), indicators)
KINDS: dict[str, tuple[str, list[str], str, list[str]]] = {
    "blast_furnace": ("steel", ["300", "380", "400", "450", "1080", "2500"], "m3", ["blast_furnace_energy"]),
    "converter": ("steel", ["20", "30", "50", "120"], "t", ["converter_energy"]),
    "sintering_machine": (
        "steel",
        ["60", "90", "180", "360"],
        "m2",
        ["sintering_energy", "nox_concentration"],
    ),
    "clinker_line": ("cement", ["1000", "2500", "4000"], "t/d", ["clinker_energy", "cement_energy"]),
    "cement_mill": ("cement", ["2.6", "3.0", "3.8", "4.2"], "m", ["cement_grinding_power"]),
    "flat_glass_line": ("flat_glass", ["400", "600", "900"], "t/d", ["flat_glass_energy"]),
    "coke_oven": ("coke", [], "", ["coke_energy"]),
}
CENTRES = {
    "blast_furnace_energy": 415,
    "converter_energy": -12,
    "sintering_energy": 50,
    "nox_concentration": 50,
    "clinker_energy": 115,
    "cement_energy": 94,
    "cement_grinding_power": 33,
    "flat_glass_energy": 12.5,
    "coke_energy": 135,
}
ATTRIBUTES: list[dict[str, Any]] = [
    {},
    {},
    {"feed_iron_grade": 60},
    {"feed_iron_grade": "58.5"},
    {"clinker_ratio": 80},
    {"clinker_ratio": "not a number"},
    {"steel_grade": "plain_carbon"},
    {"steel_grade": "no such grade"},
    {"unknown_attribute": 3, "product": "no such product"},
    {"altitude": 2100, "atmospheric_pressure": 80000},
]
PROCESSES = ["", "", "", "foundry_iron", "vertical_kiln", "no such process"]
STATUSES = ["operating"] * 6 + ["rectifying", "exited", "sealed"]
COUNTIES = ["440703", "440705", "440781"]


@pytest.fixture
def registry(reference: None) -> list[ProductionLine]:
    """A varied registry: every kind, sizes on both sides of the thresholds, sizes and measurements in
    units the rules refuse, attributes known and not, several measurements per indicator (older ones,
    ones after the evaluation date, two on one day), lines not evaluated."""
    rng = random.Random(20261203)
    units = {code: m.unit for code, m in library().vocabulary.measurements.items()}
    firms = {
        (industry, county): EnterpriseFactory(industry_id=industry, territory_id=county)
        for industry in ("steel", "cement", "flat_glass", "coke")
        for county in COUNTIES
    }
    lines = []
    for number in range(160):
        kind = rng.choice(list(KINDS))
        industry, sizes, unit, indicators = KINDS[kind]
        size: Decimal | None = Decimal(rng.choice(sizes)) if sizes else None
        size_unit = unit
        if number % 23 == 0:
            size_unit = "t/d" if unit != "t/d" else "m3"  # a unit the rules refuse
        if kind == "coke_oven" and number % 5 == 0:
            size, size_unit = Decimal("6"), "m"  # a size where the kind has none
        status = rng.choice(STATUSES)
        line = LineFactory(
            enterprise=firms[(industry, rng.choice(COUNTIES))],
            equipment_type=kind,
            size_value=size,
            size_unit=size_unit if size is not None else "",
            process=rng.choice(PROCESSES),
            attributes=rng.choice(ATTRIBUTES),
            status=status,
            exited_on=dt.date(2025, 1, 1) if status == "exited" else None,
        )
        lines.append(line)
        for indicator in indicators:
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                day = (
                    ON
                    - dt.timedelta(days=rng.choice([0, 5, 5, 40, 400]))
                    + dt.timedelta(days=rng.choice([0, 0, 0, 9]))
                )
                value = Decimal(str(round(CENTRES[indicator] * rng.uniform(0.9, 1.1), 2)))
                Measurement.objects.create(
                    line=line,
                    indicator=indicator,
                    value=value,
                    unit=units[indicator] if rng.random() > 0.04 else "t",
                    measured_on=day,
                    source=Measurement.Source.ENERGY_AUDIT,
                )
        if number % 17 == 0:
            Measurement.objects.create(
                line=line,
                indicator="no_such_indicator",
                value=Decimal(1),
                unit="t",
                measured_on=ON,
                source=Measurement.Source.ENERGY_AUDIT,
            )
    return lines


def _old_evaluation(
    on: dt.date, territory: Territory | None = None, bases: set[tuple[Any, ...]] | None = None
) -> tuple[set[tuple[Any, ...]], int, int]:
    """The evaluation as it was before the streamed one (phaseout.standards.actions before issue 15):
    every line read into a dict, the newest measurements looked up by a list of their ids, one column
    builder over all lines. (breaches as (line, rule key, measured, limit), lines evaluated, refused)."""
    lib = library()
    qs = ProductionLine.objects.filter(status__in=actions.EVALUATED_STATUSES)
    if territory is not None:
        qs = qs.filter(enterprise__territory__in=territory.subtree_codes())
    rows = list(
        qs.order_by("id").values(
            "id",
            "enterprise__industry_id",
            "equipment_type",
            "size_value",
            "size_unit",
            "process",
            "attributes",
        )
    )
    latest: dict[int, dict[str, tuple[Decimal, str, int]]] = {}
    for line_id, indicator, value, unit, pk in (
        Measurement.objects.filter(measured_on__lte=on, line_id__in=[r["id"] for r in rows])
        .order_by("line_id", "indicator", "-measured_on", "-id")
        .values_list("line_id", "indicator", "value", "unit", "id")
    ):
        latest.setdefault(line_id, {}).setdefault(indicator, (value, unit, pk))
    builder = ColumnsBuilder(lib)
    kept = []
    refused = 0
    vocabulary = lib.vocabulary
    for row in rows:
        product, attributes = read_attributes(row["attributes"] or {}, vocabulary)
        facts = LineFacts(
            industry=row["enterprise__industry_id"],
            equipment_type=row["equipment_type"],
            size=row["size_value"],
            size_unit=row["size_unit"] if row["size_value"] is not None else "",
            process=row["process"] if row["process"] in vocabulary.processes else "",
            product=product,
            attributes=attributes,
            measurements={
                code: Quantity(value, unit)
                for code, (value, unit, _pk) in latest.get(row["id"], {}).items()
                if code in vocabulary.measurements
            },
        )
        try:
            builder.add(facts)
        except FactsError:
            refused += 1
            continue
        kept.append(row)
    result = evaluate_columns(lib, builder.build(), on)
    found = {
        (
            kept[int(i)]["id"],
            result.rules[int(r)].key,
            actions._decimal(result.measured[p]),
            actions._decimal(result.limit[p]),
        )
        for p, (i, r) in enumerate(zip(result.line, result.rule, strict=True))
    }
    for i, r in zip(result.line, result.rule, strict=True):
        row, rule = kept[int(i)], result.rules[int(r)]
        measurement = latest.get(row["id"], {}).get(rule.indicator)
        if rule.comparison is Comparison.ELIMINATED:
            basis = f"size:{row['equipment_type']}:{row['size_value']}:{row['process']}"[:80]
        else:
            basis = f"measurement:{measurement[2] if measurement else None}"
        if bases is not None:
            bases.add((row["id"], rule.key, basis, measurement[0] if measurement else None))
    return found, len(kept), refused


def test_a_breach_keeps_the_basis_and_value_the_old_evaluation_recorded(
    registry: list[ProductionLine],
) -> None:
    """Findings on record are matched by their basis: the size as its decimal text, the measurement's id;
    a basis written differently would open every finding a second time."""
    old: set[tuple[Any, ...]] = set()
    _old_evaluation(ON, bases=old)
    lib = library()
    new = {
        (b.line_id, b.rule.key, b.basis, b.measured_value)
        for rows in actions.stream_rows(
            on=ON, territory=None, indicators=lib.vocabulary.measurements, block=5
        )
        for b in actions.evaluate_rows(lib, rows, ON).breaches
    }
    assert new == old
    assert any(basis.startswith("size:") and basis.split(":")[2].endswith(".00") for _l, _r, basis, _v in new)
    assert any(basis.startswith("measurement:") and value is not None for _l, _r, basis, value in new)


def _new_results(run: EvaluationRun) -> set[tuple[Any, ...]]:
    return {
        (r.line_id, f"{r.rule_id}@{r.rule_version}", r.measured, r.limit)
        for r in EvaluationResult.objects.filter(run=run)
    }


@pytest.mark.parametrize("block", [1, 2, 7, 5000])
def test_the_streamed_evaluation_finds_what_the_old_one_found(
    registry: list[ProductionLine], office: Person, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "FETCH_ROWS", 3)  # a line's rows are split across fetches
    old, evaluated, refused = _old_evaluation(ON)
    assert len(old) > 20 and refused > 3 and evaluated > 80  # the set exercises what it should
    run = actions.run_evaluation(on=ON, by=office.user, open_cases=False, block=block)
    assert (run.lines_evaluated, run.lines_refused, run.breaches) == (evaluated, refused, len(old))
    assert _new_results(run) == old
    preview = actions.preview_evaluation(on=ON, block=block)
    assert (preview.lines_evaluated, preview.lines_refused, preview.breaches) == (
        evaluated,
        refused,
        len(old),
    )
    assert sum(preview.by_rule.values()) == len(old)


def test_the_streamed_evaluation_agrees_with_the_exact_per_line_engine(
    registry: list[ProductionLine], office: Person
) -> None:
    """Each evaluated line judged alone by the Decimal engine (rules.engine.evaluate) breaks the same
    rules."""
    lib = library()
    expected = set()
    for line in ProductionLine.objects.filter(status__in=actions.EVALUATED_STATUSES).select_related(
        "enterprise"
    ):
        measured = Measurement.objects.filter(line=line, measured_on__lte=ON).order_by("-measured_on", "-id")
        try:
            outcomes = evaluate(lib, line_facts(line, measured), ON)
        except FactsError:
            continue
        expected |= {(line.pk, o.rule.key) for o in outcomes if o.status is Status.BREACH}
    run = actions.run_evaluation(on=ON, by=office.user, open_cases=False, block=11)
    assert {(line, key) for line, key, _m, _l in _new_results(run)} == expected


def test_a_territory_is_evaluated_alone(registry: list[ProductionLine], office: Person) -> None:
    county = Territory.objects.get(code="440705")
    old, evaluated, refused = _old_evaluation(ON, county)
    run = actions.run_evaluation(on=ON, by=office.user, territory=county, open_cases=False, block=4)
    assert _new_results(run) == old and run.lines_evaluated == evaluated and run.lines_refused == refused
    assert {r.territory_id for r in run.results.all()} <= {"440705"} and old


def test_findings_on_record_are_found_for_a_whole_block_as_the_opener_finds_them(
    registry: list[ProductionLine], office: Person
) -> None:
    first = actions.run_evaluation(on=ON, by=office.user, block=9)
    assert first.findings_opened > 10
    findings = Finding.objects.count()
    again = actions.run_evaluation(on=ON, by=office.user, block=9)
    assert again.findings_opened == 0 and Finding.objects.count() == findings
    assert again.already_known == again.breaches == first.breaches

    def linked(run: EvaluationRun) -> set[tuple[int, str, int | None]]:
        return set(EvaluationResult.objects.filter(run=run).values_list("line_id", "rule_id", "finding_id"))

    assert linked(again) == linked(first)


def _counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_a_dry_run_writes_nothing_at_all(registry: list[ProductionLine], office: Person) -> None:
    old, evaluated, refused = _old_evaluation(ON)
    before = _counts()
    out = io.StringIO()
    call_command("evaluate_registry", "--date", ON.isoformat(), "--dry-run", stdout=out)
    assert _counts() == before
    text = out.getvalue()
    assert "试运行，未写入任何内容" in text
    assert f"{evaluated} 条生产线已评估，拒绝 {refused} 条，将记录不达标 {len(old)} 项" in text
    assert "400立方米及以下炼铁高炉" in text  # the breaches by rule, in Chinese


def test_the_evaluation_records_its_start_and_finish(registry: list[ProductionLine], office: Person) -> None:
    run = actions.run_evaluation(on=ON, by=office.user)
    entries = AuditEvent.objects.filter(object_type="standards.evaluationrun", object_id=str(run.pk))
    assert list(entries.order_by("seq").values_list("action", "actor_id")) == [
        ("evaluation.start", office.user.pk),
        ("evaluation.finish", office.user.pk),
    ]
    finish = entries.get(action="evaluation.finish")
    assert finish.data == {"status": "done", "breaches": run.breaches, "opened": run.findings_opened}
    assert (
        run.status == "done" and run.lines_done == run.lines_total == run.lines_evaluated + run.lines_refused
    )


def test_a_queued_run_is_carried_out_once(registry: list[ProductionLine], office: Person) -> None:
    run = actions.start_evaluation(on=ON, by=office.user)
    assert run.status == "queued" and not run.results.exists()
    carry_out(run.pk)
    carry_out(run.pk)  # delivered twice: the second finds it claimed
    run.refresh_from_db()
    assert run.status == "done" and run.breaches == run.results.count() > 0
    assert AuditEvent.objects.filter(object_id=str(run.pk), action="evaluation.finish").count() == 1


def test_the_page_queues_a_run_and_shows_its_progress(
    registry: list[ProductionLine], office: Person, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(office.user)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post("/standards/evaluations/start/", {"on": ON.isoformat()})
    assert response.status_code == 302 and len(queued) == 1
    run = EvaluationRun.objects.get()
    assert run.status == "queued" and run.started_by == office.user
    assert AuditEvent.objects.filter(action="evaluation.start", object_id=str(run.pk)).exists()
    page = client.get("/standards/evaluations/").content.decode()
    assert "排队中" in page and 'hx-trigger="every 2s"' in page
    EvaluationRun.objects.filter(pk=run.pk).update(status="running", lines_total=400, lines_done=100)
    page = client.get("/standards/evaluations/").content.decode()
    assert "已读取 100 / 400 条生产线" in page and 'value="25"' in page and 'hx-trigger="every 2s"' in page
    EvaluationRun.objects.filter(pk=run.pk).update(status="queued", lines_total=0, lines_done=0)
    queued[0]()  # the worker carries it out
    run.refresh_from_db()
    assert run.status == "done" and run.breaches > 0
    page = client.get("/standards/evaluations/").content.decode()
    assert "已完成" in page and "hx-trigger" not in page
    # The office's run is over its own city; another city's office sees neither the run nor its results.
    assert run.territory_id == "440700"
    assert {r.territory.parent_id for r in run.results.select_related("territory")} == {"440700"}
    heyuan = client_for(_heyuan_office().user)
    assert f"/standards/evaluations/{run.pk}/" not in heyuan.get("/standards/evaluations/").content.decode()
    assert heyuan.get(f"/standards/evaluations/{run.pk}/").status_code == 404


def _heyuan_office() -> Person:
    from phaseout.orgs.models import Department
    from tests.factories import PersonFactory, UserFactory

    return PersonFactory(
        user=UserFactory(username="hy-office"),
        role=Role.OFFICE,
        department=Department.objects.get(code="hy-gxj"),
    )


@pytest.mark.parametrize(
    ("role", "may_read", "may_start"),
    [
        (Role.OFFICE, True, True),
        (Role.DEPARTMENT, True, False),
        (Role.DISTRICT, True, False),
        (Role.ENTERPRISE, False, False),
        (Role.AUDITOR, False, False),
        (Role.SECURITY_ADMIN, False, False),
        (Role.SYSTEM_ADMIN, False, False),
        (Role.INTAKE, False, False),
    ],
)
def test_who_reads_and_who_starts_evaluations(
    reference: None, role: Role, may_read: bool, may_start: bool, django_capture_on_commit_callbacks: Any
) -> None:
    unit: dict[str, Any] = {}
    if role in (Role.OFFICE, Role.DEPARTMENT):
        unit["department"] = apps.get_model("orgs", "Department").objects.get(
            code="jm-gxj" if role == Role.OFFICE else "jm-fgj"
        )
    elif role == Role.DISTRICT:
        unit["territory"] = Territory.objects.get(code="440703")
    elif role == Role.ENTERPRISE:
        unit["enterprise"] = EnterpriseFactory()
    person = PersonFactory(user=UserFactory(username=f"who-{role}"), role=role, display_name="某人", **unit)
    client = client_for(person.user)
    assert client.get("/standards/evaluations/").status_code == (200 if may_read else 403)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/standards/evaluations/start/", {"on": ON.isoformat()})
    assert response.status_code == (302 if may_start else 403)
    assert EvaluationRun.objects.count() == (1 if may_start else 0)
    assert AuditEvent.objects.filter(action="evaluation.start").count() == (1 if may_start else 0)


def test_a_start_with_a_bad_date_is_refused_and_queues_nothing(office: Person) -> None:
    client = client_for(office.user)
    response = client.post("/standards/evaluations/start/", {"on": "not a date"}, follow=True)
    assert "输入一个有效的日期" in response.content.decode() or "有效" in response.content.decode()
    assert not EvaluationRun.objects.exists()
    assert not AuditEvent.objects.filter(action="evaluation.start").exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(reference: None) -> None:
    from django.test import Client

    response = Client().post("/standards/evaluations/start/", {"on": ON.isoformat()})
    assert response.status_code == 302 and "/accounts/" in response["Location"]
    assert not EvaluationRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_outside_a_transaction_reads_through_its_own_connection(
    registry: list[ProductionLine], office: Person
) -> None:
    """As the command and the worker run it (autocommit): on PostgreSQL the lines are read through a
    connection of its own in a snapshot, while the results and the progress are written and committed
    on the default one; the answer is the same."""
    old, evaluated, refused = _old_evaluation(ON)
    run = actions.run_evaluation(on=ON, by=office.user, open_cases=False, block=10)
    assert _new_results(run) == old
    run.refresh_from_db()
    assert (run.lines_evaluated, run.lines_refused, run.lines_done) == (
        evaluated,
        refused,
        evaluated + refused,
    )


def test_a_run_that_fails_midway_lists_nothing_and_says_why(
    registry: list[ProductionLine], office: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate_rows = actions.evaluate_rows
    calls = []

    def fail_on_the_third_block(*args: Any) -> actions.Block:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return evaluate_rows(*args)

    monkeypatch.setattr(actions, "evaluate_rows", fail_on_the_third_block)
    with pytest.raises(RuntimeError):
        actions.run_evaluation(on=ON, by=office.user, open_cases=False, block=10)
    run = EvaluationRun.objects.get()
    assert run.status == "failed" and run.failure == "the database went away" and run.finished_at
    assert not run.results.exists() and run.lines_done > 0
    finish = AuditEvent.objects.get(action="evaluation.finish", object_id=str(run.pk))
    assert finish.data["status"] == "failed"


# ── A run whose worker died (issue 18, ADR 24's gap) ──

LEASE = dt.timedelta(minutes=30)


class Killed(BaseException):
    """SIGKILL in the middle of a block: the process stops; nothing it would still write is written."""


def _died_midway(office: Person, monkeypatch: pytest.MonkeyPatch, at: dt.datetime) -> EvaluationRun:
    """A run whose worker was killed in its third block: the blocks before are written, the run is left
    `running` (the finish it would record is rolled back with the process: raised there too)."""
    evaluate_rows, record = actions.evaluate_rows, actions.record
    calls = []

    def killed_on_the_third_block(*args: Any) -> actions.Block:
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return evaluate_rows(*args)

    def nothing_after_the_kill(**kwargs: Any) -> Any:
        if kwargs.get("action") == "evaluation.finish":
            raise Killed
        return record(**kwargs)

    monkeypatch.setattr(actions, "evaluate_rows", killed_on_the_third_block)
    monkeypatch.setattr(actions, "record", nothing_after_the_kill)
    run = actions.start_evaluation(on=ON, by=office.user)
    with time_machine.travel(at, tick=False), pytest.raises(Killed):
        actions.carry_out_evaluation(run=run, open_cases=False, block=10)
    monkeypatch.undo()
    run.refresh_from_db()
    return run


def test_a_run_whose_worker_died_is_marked_failed_by_the_sweep_with_its_audit_entry(
    registry: list[ProductionLine], office: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaseout import jobs

    started = dt.datetime(2026, 8, 3, 2, 0, tzinfo=dt.UTC)
    run = _died_midway(office, monkeypatch, started)
    assert (run.status, run.heartbeat_at, run.finished_at) == ("running", started, None)
    assert run.results.exists() and run.lines_done > 0  # the blocks before the kill were written
    # Within the lease nothing happens.
    assert actions.give_up_lost_runs(now=started + LEASE) == {"failed": 0}
    assert EvaluationRun.objects.get().status == "running"
    later = started + LEASE + dt.timedelta(seconds=1)
    report = jobs.run_jobs(now=later)
    assert report["standards"].counts == {"failed": 1}
    assert "工作进程已停止、标记为失败的登记簿评估 1 次。" in str(report)
    run.refresh_from_db()
    reason = (
        "执行本次评估的工作进程已停止：自 2026-08-03 10:00 起再无运行信号。"
        "本次评估已标记为失败，请重新发起评估。"
    )
    assert (run.status, run.finished_at, run.failure) == ("failed", later, reason)
    assert not run.results.exists()  # a failed run lists nothing
    entry = AuditEvent.objects.get(action="evaluation.lost")
    assert (entry.actor, entry.object_type, entry.object_id, entry.reason) == (
        None,
        "standards.evaluationrun",
        str(run.pk),
        reason,
    )
    assert entry.data == {
        "heartbeat_at": started.isoformat(),
        "lease_seconds": 1800,
        "lines_done": run.lines_done,
    }
    # Run again: nothing more.
    assert actions.give_up_lost_runs(now=later + LEASE) == {"failed": 0}
    assert AuditEvent.objects.filter(action="evaluation.lost").count() == 1


def test_a_run_that_beats_is_not_given_up_and_a_late_worker_leaves_the_verdict(
    registry: list[ProductionLine], office: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block is a sign of life; a worker given up while it ran slow stops at its next block and
    records no finish over the sweep's verdict."""
    start = dt.datetime(2026, 8, 3, 2, 0, tzinfo=dt.UTC)
    evaluate_rows = actions.evaluate_rows
    blocks: list[int] = []

    def slow(*args: Any) -> actions.Block:
        blocks.append(1)
        if len(blocks) == 2:  # the first block has beaten at start + 1 min; the sweep runs in between
            with time_machine.travel(start + LEASE + dt.timedelta(minutes=2), tick=False):
                assert actions.give_up_lost_runs(now=start + LEASE) == {"failed": 0}  # it beat: alive
                assert actions.give_up_lost_runs(now=start + LEASE + dt.timedelta(minutes=2)) == {"failed": 1}
        return evaluate_rows(*args)

    monkeypatch.setattr(actions, "evaluate_rows", slow)
    run = actions.start_evaluation(on=ON, by=office.user)
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        done = actions.carry_out_evaluation(run=run, open_cases=False, block=10)
    assert len(blocks) == 2  # stopped after the block it was given up in
    assert done.status == "failed" and done.failure.startswith("执行本次评估的工作进程已停止")
    assert not done.results.exists()
    actions_of_run = AuditEvent.objects.filter(object_id=str(run.pk)).order_by("seq")
    assert list(actions_of_run.values_list("action", flat=True)) == ["evaluation.start", "evaluation.lost"]


def test_a_queued_run_is_not_given_up(registry: list[ProductionLine], office: Person) -> None:
    with time_machine.travel(dt.datetime(2026, 8, 3, 2, 0, tzinfo=dt.UTC), tick=False):
        run = actions.start_evaluation(on=ON, by=office.user)
    assert actions.give_up_lost_runs(now=dt.datetime(2026, 9, 3, tzinfo=dt.UTC)) == {"failed": 0}
    run.refresh_from_db()
    assert run.status == "queued"
