"""The standards engine in the platform: registry evaluation, automatic findings, the JSON command,
the pages, and findings judged with the line's corrections."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from phaseout.cases import actions
from phaseout.cases.models import Case, Finding, Inspection
from phaseout.orgs.models import Person
from phaseout.registry.models import EquipmentType, Measurement, ProductionLine
from phaseout.standards.actions import run_evaluation
from phaseout.standards.models import EvaluationResult, EvaluationRun
from tests.conftest import client_for
from tests.factories import EnterpriseFactory, LineFactory

ON = dt.date(2026, 8, 3)


def _cement_line(**attributes: object) -> ProductionLine:
    return LineFactory(
        enterprise=EnterpriseFactory(industry_id="cement", territory_id="440705"),
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
        attributes=attributes,
    )


def _measure(line: ProductionLine, indicator: str, value: str, unit: str, on: dt.date = ON) -> Measurement:
    return Measurement.objects.create(
        line=line,
        indicator=indicator,
        value=Decimal(value),
        unit=unit,
        measured_on=on - dt.timedelta(days=10),
        source=Measurement.Source.ENERGY_AUDIT,
    )


@pytest.fixture
def registry(reference: None) -> dict[str, ProductionLine]:
    small_furnace = LineFactory(size_value=Decimal("380"))
    big_furnace = LineFactory(size_value=Decimal("1080"), attributes={"feed_iron_grade": 60})
    _measure(big_furnace, "blast_furnace_energy", "420", "kgce/t")  # limit 415 + 2 × 3.61 = 422.22
    foundry = LineFactory(size_value=Decimal("300"), process="foundry_iron")
    kiln = _cement_line(clinker_ratio=80)
    _measure(kiln, "cement_energy", "99", "kgce/t")  # limit 94 + 5 × 1.2 = 100: compliant
    _measure(kiln, "clinker_energy", "119.5", "kgce/t")  # over 117
    exited = LineFactory(size_value=Decimal("200"), status="exited", exited_on=dt.date(2025, 1, 1))
    return {"small": small_furnace, "big": big_furnace, "foundry": foundry, "kiln": kiln, "exited": exited}


def test_evaluation_opens_findings_and_cases_once(
    registry: dict[str, ProductionLine], office: Person
) -> None:
    run = run_evaluation(on=ON, by=office.user)
    assert run.status == EvaluationRun.Status.DONE
    assert run.lines_evaluated == 4  # the exited line is not evaluated
    found = {(r.line_id, r.rule_id) for r in EvaluationResult.objects.filter(run=run)}
    assert found == {
        (registry["small"].pk, "technology.steel.blast-furnace-400"),
        (registry["kiln"].pk, "energy.cement.clinker-energy"),
    }
    assert run.findings_opened == 2 and run.already_known == 0
    elimination = Case.objects.get(line=registry["small"])
    assert elimination.state == "finding"  # a proposal: the department orders the exit on the record
    assert not elimination.measures.exists()
    energy = Case.objects.get(line=registry["kiln"])
    assert energy.state == "finding" and energy.finding is not None
    assert energy.finding.limit_value == Decimal("117.0000")
    assert energy.finding.measured_value == Decimal("119.5")
    assert energy.finding.rule_version == "GB 16780-2021"
    assert energy.finding.inspection.method == Inspection.Method.EVALUATION
    assert energy.finding.inspection.department.code == "jm-fgj"  # the enforcing department of the city

    again = run_evaluation(on=ON, by=office.user)
    assert (again.breaches, again.findings_opened, again.already_known) == (2, 0, 2)
    assert Finding.objects.count() == 2 and Case.objects.count() == 2


def test_a_new_measurement_after_a_closed_case_opens_a_new_one(
    registry: dict[str, ProductionLine], office: Person, energy_dept: Person
) -> None:
    run_evaluation(on=ON, by=office.user)
    case = Case.objects.get(line=registry["kiln"])
    case = actions.order_rectification(case=case, by=energy_dept.user, today=ON)
    case = actions.verify_rectification(
        case=case, passed=True, by=energy_dept.user, reason="复测达标", today=ON
    )
    case = actions.close_compliant(case=case, by=energy_dept.user, reason="整改完成", today=ON)
    assert case.state == "closed"
    # The same (old) measurement: nothing new.
    assert run_evaluation(on=ON, by=office.user).findings_opened == 0
    later = ON + dt.timedelta(days=40)
    _measure(registry["kiln"], "clinker_energy", "118", "kgce/t", on=later)
    assert run_evaluation(on=later, by=office.user).findings_opened == 1
    assert Case.objects.filter(line=registry["kiln"]).count() == 2


def test_a_2021_evaluation_uses_the_2021_rules(registry: dict[str, ProductionLine], office: Person) -> None:
    run = run_evaluation(on=dt.date(2021, 6, 1), by=office.user, open_cases=False)
    versions = {(r.rule_id, r.rule_version) for r in run.results.all()}
    # The kiln's measurements were taken in 2026: in 2021 nothing was measured yet.
    assert versions == {("technology.steel.blast-furnace-400", "目录（2019年本）")}
    assert not Finding.objects.exists()


def test_finding_uses_the_line_corrections(office: Person, energy_dept: Person) -> None:
    kiln = _cement_line(clinker_ratio=80)
    inspection = actions.record_inspection(
        department=energy_dept.department,
        enterprise=kiln.enterprise,
        line=kiln,
        dimension="energy",
        inspected_on=ON,
        inspectors="李明",
        files=[],
        by=energy_dept.user,
        today=ON,
    )
    finding = actions.record_finding(
        inspection=inspection,
        rule_id="energy.cement.cement-energy",
        line=kiln,
        measured_value=Decimal("100"),
        by=energy_dept.user,
    )
    assert finding.conclusion == "compliant"
    assert finding.limit_value == Decimal("100.0000")
    assert len(finding.corrections) == 1 and "+6.00" in finding.corrections[0]
    over = actions.record_finding(
        inspection=inspection,
        rule_id="energy.cement.cement-energy",
        line=kiln,
        measured_value=Decimal("100.01"),
        by=energy_dept.user,
    )
    assert over.conclusion == "non_compliant"


def test_evaluate_command_shows_progress_in_chinese(
    registry: dict[str, ProductionLine], office: Person
) -> None:
    out = io.StringIO()
    call_command("evaluate_registry", "--date", ON.isoformat(), "--by", "office", stdout=out)
    text = out.getvalue()
    assert "条生产线待评估" in text and "评估批次" in text
    assert Finding.objects.count() == 2
    out = io.StringIO()
    call_command("evaluate_registry", "--date", ON.isoformat(), "--dry-run", stdout=out)
    assert Finding.objects.count() == 2


LINE = {
    "industry": "steel",
    "equipment_type": "blast_furnace",
    "size": {"value": 1080, "unit": "m3"},
    "attributes": {"feed_iron_grade": 60},
    "measurements": {"blast_furnace_energy": {"value": 423, "unit": "kgce/t"}},
}


def _check_line(payload: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phaseout.cli", "check-line", "-", *args],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_line_reads_json_and_prints_the_findings() -> None:
    done = _check_line(json.dumps(LINE), "--date", "2026-08-01")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [finding] = report["findings"]
    assert finding["rule"] == "energy.steel.blast-furnace"
    assert (finding["measured"], finding["limit"], finding["base_limit"]) == ("423", "422.22", "415")
    assert finding["consequence"] == "rectify" and finding["verification"] == "secondary"
    assert "GB 21256-2025" in finding["legal_basis"]
    assert finding["enforcing_departments"] == ["发展改革部门", "工业和信息化部门"]
    # Judged by the rules of its day: in 2021 the 2013 edition (unconfirmed values) applies.
    report = json.loads(_check_line(json.dumps(LINE), "--date", "2021-06-01").stdout)
    assert report["findings"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "Expecting"),
        (
            json.dumps({**LINE, "measurements": {"blast_furnace_energy": {"value": 4, "unit": "kWh/t"}}}),
            "unit mismatch",
        ),
        (json.dumps({**LINE, "size": {"value": 1080, "unit": "t"}}), "unit mismatch"),
        (json.dumps({**LINE, "colour": "red"}), "unknown field"),
        (json.dumps([1, 2]), "JSON object"),
    ],
)
def test_check_line_refuses_what_it_cannot_read(payload: str, message: str) -> None:
    done = _check_line(payload)
    assert done.returncode == 2
    assert message in json.loads(done.stdout)["error"]


def test_rulebook_and_what_if_pages(office: Person) -> None:
    client = client_for(office.user)
    page = client.get("/standards/energy-steel/").content.decode()
    assert "GB 21256-2025" in page and "415" in page
    assert "未经核实" in page  # the 2013 values are unconfirmed, and say so
    page = client.get(
        "/standards/what-if/",
        {
            "on": "2026-08-01",
            "industry": "steel",
            "equipment_type": "blast_furnace",
            "size": "380",
            "m_blast_furnace_energy": "430",
            "a_feed_iron_grade": "60",
        },
    ).content.decode()
    assert "400立方米及以下炼铁高炉" in page and "422.22" in page
    bad = client.get("/standards/what-if/", {"on": "2026-08-01", "industry": "steel", "size": "-1"})
    assert bad.status_code == 200 and 'class="error"' in bad.content.decode()


def test_office_starts_an_evaluation_from_the_page(
    registry: dict[str, ProductionLine], office: Person, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(office.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/standards/evaluations/start/", {"on": ON.isoformat()})
    assert response.status_code == 302
    run = EvaluationRun.objects.get()  # the task ran eagerly on commit (no broker in tests)
    assert run.status == "done" and run.breaches == 2
    page = client.get(f"/standards/evaluations/{run.pk}/", {"consequence": "exit_at_once"}).content.decode()
    assert "400立方米及以下炼铁高炉" in page and "熟料单位产品综合能耗" not in page
    future = client.post("/standards/evaluations/start/", {"on": "2099-01-01"})
    assert future.status_code == 302 and EvaluationRun.objects.count() == 1


def test_only_the_office_starts_evaluations(registry: dict[str, ProductionLine], energy_dept: Person) -> None:
    response = client_for(energy_dept.user).post("/standards/evaluations/start/", {"on": ON.isoformat()})
    assert response.status_code == 403
    assert not EvaluationRun.objects.exists()


def test_line_form_keeps_process_product_and_correction_inputs(district: Person) -> None:
    line = LineFactory(enterprise=EnterpriseFactory(territory_id="440703"))
    client = client_for(district.user)
    data = {
        "name": line.name,
        "equipment_type": "blast_furnace",
        "size_value": "1080",
        "size_unit": "m3",
        "capacity": "100",
        "capacity_unit": "10kt/a",
        "process": "foundry_iron",
        "product": "",
        "commissioning_year": "2010",
        "status": "operating",
        "a_feed_iron_grade": "60.1",
        "a_steel_grade": "quality_carbon",
    }
    response = client.post(f"/enterprises/{line.enterprise_id}/lines/{line.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()
    line.refresh_from_db()
    assert line.process == "foundry_iron"
    assert line.attributes == {"feed_iron_grade": "60.1", "steel_grade": "quality_carbon"}
    bad = client.post(
        f"/enterprises/{line.enterprise_id}/lines/{line.pk}/edit/", {**data, "a_steel_grade": "gold"}
    )
    assert bad.status_code == 200
    line.refresh_from_db()
    assert line.attributes["steel_grade"] == "quality_carbon"


@pytest.mark.parametrize("today", [dt.date(2026, 6, 30), ON])
def test_measured_values_are_recorded_in_the_indicator_unit_and_judged_on_the_line_page(
    district: Person, today: dt.date
) -> None:
    line = LineFactory(
        enterprise=EnterpriseFactory(territory_id="440703"), attributes={"feed_iron_grade": "60"}
    )
    url = f"/enterprises/{line.enterprise_id}/lines/{line.pk}/"
    # The form and the page read the clock: it is 10:00 in Jiangmen on `today`.
    with time_machine.travel(dt.datetime.combine(today, dt.time(2, 0), tzinfo=dt.UTC), tick=False):
        client = client_for(district.user)
        future = client.post(
            url,
            {
                "indicator": "blast_furnace_energy",
                "value": "430",
                "measured_on": (today + dt.timedelta(days=1)).isoformat(),
                "source": "energy_audit",
            },
        )
        assert future.status_code == 200 and not Measurement.objects.exists()
        response = client.post(
            url,
            {
                "indicator": "blast_furnace_energy",
                "value": "430",
                "measured_on": (today - dt.timedelta(days=3)).isoformat(),
                "source": "energy_audit",
            },
        )
        assert response.status_code == 302
        page = client.get(url).content.decode()
    measurement = Measurement.objects.get()
    assert (measurement.unit, measurement.recorded_by) == ("kgce/t", district.user)
    assert "高炉工序单位产品能耗" in page and "430" in page
    # Judged by the version in force today (from 2026-07-01), with the feed-grade correction applied.
    assert ("422.22" in page) == (today >= dt.date(2026, 7, 1))


def test_a_broken_rulebook_stops_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management.base import CommandError

    from phaseout.rules.rulebook import RULEBOOK_DIR
    from phaseout.standards import checks
    from phaseout.standards.management.commands import check_rulebooks

    for path in RULEBOOK_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    broken = tmp_path / "energy-steel.toml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace('unit = "kgce/t"', 'unit = "kWh/t"', 1), encoding="utf-8"
    )
    monkeypatch.setattr(checks, "RULEBOOK_DIR", tmp_path)
    monkeypatch.setattr(check_rulebooks, "RULEBOOK_DIR", tmp_path)
    [error] = checks.rulebooks_load()
    assert "energy-steel.toml:" in error.msg and "unit mismatch" in error.msg
    with pytest.raises(CommandError, match=r"energy-steel\.toml:\d+: unit mismatch"):
        call_command("check_rulebooks")
    monkeypatch.setattr(checks, "RULEBOOK_DIR", RULEBOOK_DIR)
    assert checks.rulebooks_load() == []


def test_run_status_reads_as_a_status(registry: dict[str, ProductionLine], office: Person) -> None:
    run_evaluation(on=ON, by=office.user)
    page = client_for(office.user).get("/standards/evaluations/").content.decode()
    assert "已完成" in page
