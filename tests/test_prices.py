"""Price measures: who pays which surcharge, from when to when, and the lists for the utilities."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from phaseout.cases import actions
from phaseout.cases.models import Case
from phaseout.orgs.models import Person
from phaseout.prices.measures import price_rows
from phaseout.prices.models import PriceRate
from phaseout.registry.models import EquipmentType, ProductionLine
from phaseout.rules.prices import CaseFacts, PriceKind, Rate, exceedance, measures_for
from phaseout.rules.rulebook import CatalogueClass, Verification
from tests.conftest import PNG, client_for, order_elimination_exit, upload
from tests.factories import EnterpriseFactory, LineFactory

ON = dt.date(2026, 8, 3)


def _finding(person: Person, line: ProductionLine, dimension: str, rule_id: str, value: str | None) -> Case:
    inspection = actions.record_inspection(
        department=person.department,
        enterprise=line.enterprise,
        line=line,
        dimension=dimension,
        inspected_on=ON,
        inspectors="李明",
        files=[],
        by=person.user,
        today=ON,
    )
    finding = actions.record_finding(
        inspection=inspection,
        rule_id=rule_id,
        line=line,
        measured_value=Decimal(value) if value else None,
        by=person.user,
    )
    return Case.objects.get(finding=finding)


def _kiln(industry: str = "cement") -> ProductionLine:
    return LineFactory(
        enterprise=EnterpriseFactory(industry_id=industry),
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
        process="vertical_kiln",
    )


def test_elimination_class_steel_pays_the_differential_price_until_it_exits(office: Person) -> None:
    case = _finding(
        office,
        LineFactory(size_value=Decimal("380")),
        "technology",
        "technology.steel.blast-furnace-400",
        None,
    )
    [row] = [r for r in price_rows(Case.objects.all()) if r.measure.kind is PriceKind.DIFFERENTIAL]
    assert row.measure.rate is not None and row.measure.rate.rate == Decimal("0.5")
    assert "2803" in row.measure.rate.source
    assert (row.measure.start, row.measure.end) == (ON, None)
    assert row.unconfirmed  # the 2024 catalogue wording is unconfirmed, and the list says so
    case = order_elimination_exit(case, office.user, ON)
    for measure in case.measures.exclude(kind="dismantling"):
        actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=office.user,
            done_on=ON,
            note="已完成",
            files=[upload("a.png", PNG)],
            today=ON,
        )
    actions.confirm_exit(
        case=Case.objects.get(pk=case.pk), by=office.user, today=ON + dt.timedelta(days=20), reason="已退出"
    )
    [row] = [r for r in price_rows(Case.objects.all()) if r.measure.kind is PriceKind.DIFFERENTIAL]
    assert (row.measure.end, row.measure.end_reason) == (ON + dt.timedelta(days=20), "exited")
    assert not row.active_on(ON + dt.timedelta(days=21))


def test_elimination_class_cement_pays_the_general_level_marked_unconfirmed(office: Person) -> None:
    _finding(office, _kiln(), "technology", "technology.cement.vertical-kiln", None)
    [row] = [r for r in price_rows(Case.objects.all()) if r.measure.kind is PriceKind.DIFFERENTIAL]
    assert row.measure.rate is not None
    assert (row.measure.rate.rate, row.measure.rate.verification) == (
        Decimal("0.3"),
        Verification.UNCONFIRMED,
    )


def test_flat_glass_is_not_among_the_differential_price_industries() -> None:
    facts = CaseFacts(
        case_id=1,
        industry="flat_glass",
        dimension="technology",
        catalogue_class=CatalogueClass.ELIMINATED,
        energy_limit_breach=False,
        indicator="",
        measured=None,
        limit=None,
        start=ON,
        end=None,
        end_reason="",
    )
    kinds = {m.kind for m in measures_for(facts, [])}
    assert kinds == {PriceKind.WATER}  # the water surcharge still applies (rate to be entered)


def _rate(kind: PriceKind, rate: str, above: str | None = None) -> Rate:
    return Rate(
        kind=kind,
        rate=Decimal(rate),
        above=Decimal(above) if above is not None else None,
        effective_from=dt.date(2020, 1, 1),
        source="测试",
        verification=Verification.SECONDARY,
    )


def test_punitive_ladder_takes_the_highest_step_passed() -> None:
    ladder = [_rate(PriceKind.PUNITIVE, "0.1", "0"), _rate(PriceKind.PUNITIVE, "0.3", "20")]
    facts = CaseFacts(
        case_id=1,
        industry="cement",
        dimension="energy",
        catalogue_class=CatalogueClass.NONE,
        energy_limit_breach=True,
        indicator="clinker_energy",
        measured=Decimal("146.25"),
        limit=Decimal("117"),
        start=ON,
        end=None,
        end_reason="",
    )
    assert exceedance(Decimal("146.25"), Decimal("117")) == Decimal(25)
    [punitive] = [m for m in measures_for(facts, ladder) if m.kind is PriceKind.PUNITIVE]
    assert punitive.rate is not None and punitive.rate.rate == Decimal("0.3")
    slight = CaseFacts(**{**facts.__dict__, "measured": Decimal("120")})
    [punitive] = [m for m in measures_for(slight, ladder) if m.kind is PriceKind.PUNITIVE]
    assert punitive.rate is not None and punitive.rate.rate == Decimal("0.1")
    # A converter's limit is negative: the exceedance is counted against its magnitude.
    assert exceedance(Decimal("-9"), Decimal("-12")) == Decimal(25)


def test_energy_breach_needs_office_rates_and_ends_when_closed_compliant(
    office: Person, energy_dept: Person
) -> None:
    line = _kiln()
    case = _finding(energy_dept, line, "energy", "energy.cement.clinker-energy", "125")
    rows = {r.measure.kind: r for r in price_rows(Case.objects.all())}
    assert set(rows) == {PriceKind.PUNITIVE, PriceKind.WATER}
    assert rows[PriceKind.PUNITIVE].measure.rate is None  # nothing confirmed: the office must enter it
    client = client_for(office.user)
    page = client.get("/prices/").content.decode()
    assert "标准尚待办公室录入" in page
    response = client.post(
        "/prices/",
        {
            "kind": "punitive",
            "rate": "0.2",
            "above": "0",
            "effective_from": "2021-01-01",
            "source": "某省惩罚性电价通知",
            "verification": "secondary",
        },
    )
    assert response.status_code == 302
    [row] = [r for r in price_rows(Case.objects.all()) if r.measure.kind is PriceKind.PUNITIVE]
    assert row.measure.rate is not None and row.measure.rate.rate == Decimal("0.2")
    assert row.measure.rate.entered_by_office
    case = actions.order_rectification(case=case, by=energy_dept.user, today=ON)
    case = actions.verify_rectification(
        case=case, passed=True, by=energy_dept.user, reason="复测达标", today=ON
    )
    actions.close_compliant(case=case, by=energy_dept.user, reason="结案", today=ON)
    [row] = [r for r in price_rows(Case.objects.all()) if r.measure.kind is PriceKind.PUNITIVE]
    assert row.measure.end_reason == "closed_compliant" and row.measure.end is not None


@pytest.mark.parametrize(
    "data",
    [
        {
            "kind": "water",
            "water_tier1": "20",
            "effective_from": "2021-01-01",
            "source": "x",
            "verification": "secondary",
        },
        {
            "kind": "punitive",
            "rate": "0",
            "effective_from": "2021-01-01",
            "source": "x",
            "verification": "secondary",
        },
        {
            "kind": "differential",
            "rate": "0.4",
            "effective_from": "2021-01-01",
            "source": "x",
            "verification": "secondary",
        },
        {
            "kind": "punitive",
            "rate": "0.2",
            "effective_from": "2021-01-01",
            "source": " ",
            "verification": "secondary",
        },
        {
            "kind": "tiered",
            "rate": "0.05",
            "effective_from": "2021-01-01",
            "source": "x",
            "verification": "secondary",
        },
    ],
)
def test_bad_rates_are_refused_and_change_nothing(office: Person, data: dict[str, str]) -> None:
    before = PriceRate.objects.count()
    response = client_for(office.user).post("/prices/", data)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode() or "errorlist" in response.content.decode()
    assert PriceRate.objects.count() == before


def test_departments_read_but_do_not_enter_rates(energy_dept: Person) -> None:
    client = client_for(energy_dept.user)
    assert client.get("/prices/").status_code == 200
    assert client.post("/prices/", {"kind": "punitive"}).status_code == 404


def test_the_utility_lists_are_xlsx_with_the_verification_of_every_rate(office: Person) -> None:
    _finding(office, _kiln(), "technology", "technology.cement.vertical-kiln", None)
    _finding(
        office,
        LineFactory(size_value=Decimal("380")),
        "technology",
        "technology.steel.blast-furnace-400",
        None,
    )
    response = client_for(office.user).get("/prices/power.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active  # streamed
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert "未经核实" in rows[1][0]
    assert rows[2][0] == "企业"
    body = rows[3:]
    assert len(body) == 2
    rates = sorted(row[5] for row in body)
    assert rates == ["+0.3 元/kWh", "+0.5 元/kWh"]
    cement = next(row for row in body if row[5] == "+0.3 元/kWh")
    assert "未经核实" in cement[13]
    water_file = client_for(office.user).get("/prices/water.xlsx")
    water = load_workbook(io.BytesIO(b"".join(water_file.streaming_content))).active
    assert [c.value for c in water[4]][5] == "标准尚待办公室录入"
    assert client_for(office.user).get("/prices/gas.xlsx").status_code == 404


def test_tiered_price_for_steel_not_on_the_differential_price() -> None:
    tier = Rate(
        kind=PriceKind.TIERED,
        rate=Decimal("0.05"),
        industry="steel",
        indicator="blast_furnace_energy",
        above=Decimal("400"),
        effective_from=dt.date(2020, 1, 1),
        source="河北省阶梯电价示例",
        verification=Verification.SECONDARY,
    )
    higher = Rate(**{**tier.__dict__, "rate": Decimal("0.1"), "above": Decimal("430")})
    facts = CaseFacts(
        case_id=1,
        industry="steel",
        dimension="energy",
        catalogue_class=CatalogueClass.NONE,
        energy_limit_breach=True,
        indicator="blast_furnace_energy",
        measured=Decimal("420"),
        limit=Decimal("415"),
        start=ON,
        end=None,
        end_reason="",
    )
    [tiered] = [m for m in measures_for(facts, [tier, higher]) if m.kind is PriceKind.TIERED]
    assert tiered.rate == tier
    hot = CaseFacts(**{**facts.__dict__, "measured": Decimal("431")})
    [tiered] = [m for m in measures_for(hot, [tier, higher]) if m.kind is PriceKind.TIERED]
    assert tiered.rate == higher
    # Before the rate's first day there is nothing to apply.
    early = CaseFacts(**{**facts.__dict__, "start": dt.date(2019, 6, 1)})
    assert not [m for m in measures_for(early, [tier, higher]) if m.kind is PriceKind.TIERED]
