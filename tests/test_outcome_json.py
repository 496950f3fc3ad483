"""`phaseout check-line`'s JSON for an outcome, field by field, in the test process (the command's own
tests run it as a subprocess, which a mutation run cannot see): a measured breach with a correction and
the corrections it could not apply, and an elimination-class size."""

from __future__ import annotations

import datetime as dt
from typing import Any

from phaseout.rules.engine import Status, evaluate, facts_from_json, outcome_json
from phaseout.rules.rulebook import library

ON = dt.date(2026, 8, 1)
BOTH = ["发展改革部门", "工业和信息化部门"]


def _report(line: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lib = library()
    outcomes = evaluate(lib, facts_from_json(line, lib.vocabulary), ON)
    return (
        [outcome_json(o, lib) for o in outcomes if o.status is Status.BREACH],
        [outcome_json(o, lib) for o in outcomes if o.status is Status.NOT_ASSESSED],
    )


def test_a_measured_breach_with_its_correction_field_by_field() -> None:
    findings, not_assessed = _report(
        {
            "industry": "steel",
            "equipment_type": "blast_furnace",
            "size": {"value": 1080, "unit": "m3"},
            "attributes": {"feed_iron_grade": 60},
            "measurements": {"blast_furnace_energy": {"value": 423, "unit": "kgce/t"}},
        }
    )
    assert findings == [
        {
            "rule": "energy.steel.blast-furnace",
            "version": "GB 21256-2025",
            "title": "高炉工序单位产品能耗限额",
            "dimension": "energy",
            "status": "breach",
            "indicator": "blast_furnace_energy",
            "measured": "423",
            "limit": "422.22",
            "base_limit": "415",
            "unit": "kgce/t",
            "grade": 3,
            "corrections": [
                "入炉矿品位低于62%时，每低1个百分点限额增加3.61 kgce/t，最多按5个百分点计：+7.22"
            ],
            "missing": ["rare_earth_ore_share", "vti_ore_share", "laterite_ore_share"],
            "consequence": "rectify",
            "rectification_months": 6,
            "catalogue_class": "",
            "legal_basis": (
                "GB 21256-2025《粗钢生产主要工序单位产品能源消耗限额》表3及修正；工信部联产业〔2017〕30号"
            ),
            "enforcing_departments": BOTH,
            "verification": "secondary",
            "uses_unconfirmed_values": False,
        }
    ]
    assert len(not_assessed) == 6 and all(o["status"] == "not_assessed" for o in not_assessed)
    assert all(o["measured"] is None for o in not_assessed)


def test_an_elimination_class_size_field_by_field() -> None:
    findings, not_assessed = _report(
        {
            "industry": "steel",
            "equipment_type": "blast_furnace",
            "size": {"value": 380, "unit": "m3"},
            "attributes": {},
            "measurements": {},
        }
    )
    assert findings == [
        {
            "rule": "technology.steel.blast-furnace-400",
            "version": "目录（2024年本）",
            "title": "400立方米及以下炼铁高炉（铸造铁企业除外）",
            "dimension": "technology",
            "status": "breach",
            "indicator": "size",
            "measured": "380",
            "limit": "≤400 m3",
            "base_limit": None,
            "unit": "m3",
            "grade": 3,
            "corrections": [],
            "missing": [],
            "consequence": "exit_at_once",
            "rectification_months": None,
            "catalogue_class": "eliminated",
            "legal_basis": "《产业结构调整指导目录（2024年本）》淘汰类 钢铁（2024-02-01施行）",
            "enforcing_departments": BOTH,
            "verification": "unconfirmed",
            "uses_unconfirmed_values": True,
        }
    ]
    assert len(not_assessed) == 7


def test_the_facts_read_from_json_field_by_field() -> None:
    from decimal import Decimal

    from phaseout.rules.engine import LineFacts, Quantity

    vocabulary = library().vocabulary
    facts = facts_from_json(
        {
            "industry": "steel",
            "equipment_type": "blast_furnace",
            "size": {"value": 1080, "unit": "m3"},
            "attributes": {"feed_iron_grade": 60},
            "measurements": {"blast_furnace_energy": {"value": "423.5", "unit": "kgce/t"}},
        },
        vocabulary,
    )
    assert facts == LineFacts(
        industry="steel",
        equipment_type="blast_furnace",
        size=Decimal("1080"),
        size_unit="m3",
        process="",
        product="",
        attributes={"feed_iron_grade": Decimal("60")},
        measurements={"blast_furnace_energy": Quantity(Decimal("423.5"), "kgce/t")},
    )
    # nothing but what is given: every other field empty, no size and no unit
    assert facts_from_json({"industry": "cement"}, vocabulary) == LineFacts(industry="cement")
    assert facts_from_json({}, vocabulary) == LineFacts()
