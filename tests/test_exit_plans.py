"""Exit plans: which measures each plan takes, who carries each out, by when, under which legal basis;
and the measures an exit order actually writes."""

from __future__ import annotations

import datetime as dt

import pytest

from phaseout.cases import actions
from phaseout.cases.models import ExitMeasure
from phaseout.orgs.models import Person
from phaseout.rules import exit_plans as ep
from phaseout.rules.exit_plans import ExitPlan, MeasureKind, MeasureNorm
from tests.factories import CaseFactory

K = MeasureKind
TERRITORY = "属地县（区）人民政府"


@pytest.mark.parametrize("plan", list(ExitPlan))
def test_licences_are_revoked_within_thirty_days_by_their_issuers(plan: ExitPlan) -> None:
    assert ep.norm_for(plan, K.LICENCE_REVOCATION) == MeasureNorm(
        days=30, unit="发证部门（安全生产许可证等有关证照）"
    )


def test_dismantling_at_once_gets_thirty_days_otherwise_six_months() -> None:
    assert ep.norm_for(ExitPlan.DISMANTLE_AT_ONCE, K.DISMANTLING) == MeasureNorm(days=30, unit=TERRITORY)
    assert ep.norm_for(ExitPlan.SEAL_THEN_DISMANTLE, K.DISMANTLING) == MeasureNorm(months=6, unit=TERRITORY)
    assert ep.norm_for(ExitPlan.CLOSE_ENTERPRISE, K.DISMANTLING) == MeasureNorm(months=6, unit=TERRITORY)


def test_other_measures_keep_their_norm_whatever_the_plan() -> None:
    assert ep.norm_for(ExitPlan.DISMANTLE_AT_ONCE, K.WEBSITE_ANNOUNCEMENT) == MeasureNorm(
        days=20, unit="市工业和信息化局"
    )
    assert ep.norm_for(ExitPlan.CLOSE_ENTERPRISE, K.POWER_CUT) == MeasureNorm(days=5, unit="供电局")
    assert ep.norm_for(ExitPlan.SEAL_THEN_DISMANTLE, K.PUBLIC_PLEDGE) == MeasureNorm(days=15, unit="企业")
    assert ep.norm_for(ExitPlan.CLOSE_ENTERPRISE, K.CLOSE_ENTERPRISE) == MeasureNorm(days=30, unit=TERRITORY)


def test_only_a_safety_power_cut_rests_on_the_safety_law() -> None:
    assert ep.measure_basis(K.POWER_CUT, "safety") == ep.UTILITY_CUT_SAFETY
    assert "第七十条" in ep.UTILITY_CUT_SAFETY and "提前二十四小时" in ep.UTILITY_CUT_SAFETY
    assert ep.measure_basis(K.WATER_CUT, "safety") == ep.UTILITY_CUT_GENERAL
    for dimension in ("energy", "environment", "quality", "technology"):
        assert ep.measure_basis(K.POWER_CUT, dimension) == ep.UTILITY_CUT_GENERAL
        assert ep.measure_basis(K.WATER_CUT, dimension) == ep.UTILITY_CUT_GENERAL
    # Households are never cut, whichever basis applies.
    assert "第四十三条第二款" in ep.UTILITY_CUT_GENERAL and "第四十三条第二款" in ep.UTILITY_CUT_SAFETY


def test_the_other_measures_have_their_own_basis() -> None:
    assert (
        ep.measure_basis(K.DISMANTLING, "safety")
        == "关停（关闭）决定；工信部联产业〔2017〕30号（不能立即拆除的限期拆除）"
    )
    assert ep.measure_basis(K.LICENCE_REVOCATION, "safety") == (
        "安全生产法（2021）第一百一十三条：有关部门应当依法吊销其有关证照"
    )
    assert ep.measure_basis(K.CLOSE_ENTERPRISE, "energy") == "关停（关闭）决定"


def test_a_safety_closure_adds_the_licence_revocation() -> None:
    assert ep.measures_for(ExitPlan.CLOSE_ENTERPRISE, "safety") == (
        K.CLOSE_ENTERPRISE,
        K.POWER_CUT,
        K.WATER_CUT,
        K.PUBLIC_PLEDGE,
        K.WEBSITE_ANNOUNCEMENT,
        K.LICENCE_REVOCATION,
    )
    assert ep.measures_for(ExitPlan.DISMANTLE_AT_ONCE, "safety") == (
        K.DISMANTLING,
        K.WEBSITE_ANNOUNCEMENT,
        K.LICENCE_REVOCATION,
    )
    for dimension in ("energy", "environment", "quality", "technology"):
        for plan in ExitPlan:
            assert ep.measures_for(plan, dimension) == ep.PLANS[plan]
            assert K.LICENCE_REVOCATION not in ep.measures_for(plan, dimension)


def test_an_exit_order_writes_each_measure_with_its_unit_basis_and_deadline(safety_dept: Person) -> None:
    case = CaseFactory(dimension="safety", consequence="exit_at_once", rule_id="safety.steel.x")
    actions.order_exit(
        case=case,
        plan=ExitPlan.SEAL_THEN_DISMANTLE,
        by=safety_dept.user,
        reason="立即淘汰",
        today=dt.date(2026, 3, 2),
    )
    measures = {m.kind: (m.unit, m.deadline, m.basis) for m in ExitMeasure.objects.filter(case=case)}
    # Served Monday 2 March 2026: 5 days is Saturday 7th → Monday 9th; 20 days is Sunday 22nd → 23rd.
    assert measures == {
        "power_cut": ("供电局", dt.date(2026, 3, 9), ep.UTILITY_CUT_SAFETY),
        "water_cut": ("属地县（区）人民政府（供水单位）", dt.date(2026, 3, 9), ep.UTILITY_CUT_GENERAL),
        "power_equipment_removal": (
            TERRITORY,
            dt.date(2026, 3, 17),
            ep.MEASURE_BASIS[K.POWER_EQUIPMENT_REMOVAL],
        ),
        "equipment_sealing": (TERRITORY, dt.date(2026, 3, 17), ep.MEASURE_BASIS[K.EQUIPMENT_SEALING]),
        "public_pledge": ("企业", dt.date(2026, 3, 17), ep.MEASURE_BASIS[K.PUBLIC_PLEDGE]),
        "website_announcement": (
            "市工业和信息化局",
            dt.date(2026, 3, 23),
            ep.MEASURE_BASIS[K.WEBSITE_ANNOUNCEMENT],
        ),
        "dismantling": (TERRITORY, dt.date(2026, 9, 2), ep.MEASURE_BASIS[K.DISMANTLING]),
        "licence_revocation": (
            "发证部门（安全生产许可证等有关证照）",
            dt.date(2026, 4, 1),
            ep.MEASURE_BASIS[K.LICENCE_REVOCATION],
        ),
    }


def test_dismantling_at_once_is_due_thirty_days_after_service(energy_dept: Person) -> None:
    case = CaseFactory(dimension="technology", consequence="exit_at_once", rule_id="technology.steel.x")
    actions.order_exit(
        case=case,
        plan=ExitPlan.DISMANTLE_AT_ONCE,
        by=energy_dept.user,
        reason="立即淘汰",
        today=dt.date(2026, 3, 2),
    )
    assert dict(ExitMeasure.objects.filter(case=case).values_list("kind", "deadline")) == {
        "dismantling": dt.date(2026, 4, 1),
        "website_announcement": dt.date(2026, 3, 23),
    }
