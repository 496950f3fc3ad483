"""A city's units see their own city only (issue 14: "a city's office sees its own city's map and
departments only"): the rule is stated once in phaseout.orgs.scope and every app's scope keeps to it."""

from __future__ import annotations

import pytest

from phaseout.cases import scope as case_scope
from phaseout.complaints import actions as tipoff_actions
from phaseout.complaints import scope as tipoff_scope
from phaseout.credit import scope as credit_scope
from phaseout.credit.models import Referral
from phaseout.orgs import scope
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.registry import scope as registry_scope
from phaseout.registry.models import Licence
from tests.conftest import client_for
from tests.factories import (
    CaseFactory,
    EnterpriseFactory,
    InspectionFactory,
    LineFactory,
    PersonFactory,
    UserFactory,
)


@pytest.fixture
def world(reference: None) -> dict[str, object]:
    jm = EnterpriseFactory(territory_id="440703", name="江门钢厂")
    hy = EnterpriseFactory(territory_id="441602", name="河源钢厂")
    jm_line, hy_line = LineFactory(enterprise=jm), LineFactory(enterprise=hy)
    jm_case = CaseFactory(enterprise=jm, line=jm_line)
    hy_case = CaseFactory(
        enterprise=hy, line=hy_line, finding__inspection__department=Department.objects.get(code="hy-fgj")
    )
    for case in (jm_case, hy_case):
        Referral.objects.create(case=case, enterprise=case.enterprise, reason="拒不退出", legal_basis="x")
        Licence.objects.create(enterprise=case.enterprise, kind=Licence.Kind.PRODUCTION, number=f"L{case.pk}")
    InspectionFactory(enterprise=hy, department=Department.objects.get(code="hy-fgj"))
    InspectionFactory(enterprise=jm)
    jm_tip, _new = tipoff_actions.receive(
        source="web", text="某厂夜间偷排废气，气味刺鼻", territory=jm.territory
    )
    hy_tip, _new = tipoff_actions.receive(
        source="web", text="某厂夜间偷排废水，河水发黑", territory=hy.territory
    )
    return {"jm": jm, "hy": hy, "jm_case": jm_case, "hy_case": hy_case, "jm_tip": jm_tip, "hy_tip": hy_tip}


def _person(username: str, role: Role, **unit: object) -> Person:
    return PersonFactory(user=UserFactory(username=username), role=role, display_name=username, **unit)


@pytest.mark.parametrize(
    ("role", "unit", "city"),
    [
        (Role.OFFICE, {"department": "jm-gxj"}, "440700"),
        (Role.OFFICE, {"department": "hy-gxj"}, "441600"),
        (Role.DEPARTMENT, {"department": "jm-fgj"}, "440700"),
        (Role.DEPARTMENT, {"department": "hy-fgj"}, "441600"),
    ],
)
def test_each_scope_keeps_to_the_units_city(
    world: dict[str, object], role: Role, unit: dict[str, str], city: str
):
    person = _person(f"{role}-{city}", role, department=Department.objects.get(code=unit["department"]))
    own, other = ("jm", "hy") if city == "440700" else ("hy", "jm")
    assert scope.city_code(person) == city
    assert set(registry_scope.enterprises(person)) == {world[own]}
    assert {line.enterprise for line in registry_scope.lines(person)} == {world[own]}
    assert list(case_scope.cases(person)) == [world[f"{own}_case"]]
    assert {i.enterprise for i in case_scope.inspections(person)} == {world[own]}
    assert {r.enterprise for r in credit_scope.referrals(person)} == {world[own]}
    assert {lic.enterprise for lic in credit_scope.licences(person)} == {world[own]}
    assert set(scope.departments(person).values_list("territory", flat=True)) == {city}
    # the city itself (under the province, 440000) and its counties
    assert set(scope.territories(person).values_list("parent", flat=True)) == {city, "440000"}
    assert not scope.territories(person).filter(parent=("441600" if city == "440700" else "440700")).exists()
    if role == Role.OFFICE:
        assert list(tipoff_scope.tipoffs(person)) == [world[f"{own}_tip"]]
    # Over HTTP: the other city's enterprise and case are not found.
    client = client_for(person.user)
    assert client.get(f"/cases/{world[f'{other}_case'].pk}/").status_code == 404  # type: ignore[attr-defined]
    assert client.get(f"/cases/{world[f'{own}_case'].pk}/").status_code == 200  # type: ignore[attr-defined]


def test_a_district_of_a_county_works_with_its_citys_departments(world: dict[str, object]) -> None:
    district = _person("d", Role.DISTRICT, territory=Territory.objects.get(code="441602"))
    assert scope.city_code(district) == "441600"
    assert set(scope.departments(district).values_list("territory", flat=True)) == {"441600"}
    assert list(case_scope.cases(district)) == [world["hy_case"]]


def test_the_intake_officers_and_administrators_have_no_city(world: dict[str, object]) -> None:
    intake = _person("i", Role.INTAKE)
    assert scope.city_code(intake) is None
    assert {t.pk for t in tipoff_scope.tipoffs(intake)} == {world["jm_tip"].pk, world["hy_tip"].pk}  # type: ignore[attr-defined]
    assert scope.departments(intake).count() == Department.objects.count()
    auditor = _person("a", Role.AUDITOR)
    assert not case_scope.cases(auditor).exists() and not registry_scope.enterprises(auditor).exists()


def test_the_office_approves_only_its_citys_referrals(world: dict[str, object], office: Person) -> None:
    other = Referral.objects.get(enterprise=world["hy"])
    response = client_for(office.user).post(
        f"/credit/{other.pk}/approve/", {"decision_number": "江发改〔2026〕1号", "deciding_body": "x"}
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == Referral.Status.PROPOSED
    page = client_for(office.user).get("/credit/").content.decode()
    assert "江门钢厂" in page and "河源钢厂" not in page


@pytest.mark.django_db
def test_a_territorys_subtree_is_read_once_per_instance(
    reference: None, django_assert_num_queries: object
) -> None:
    city = Territory.objects.get(code="440700")
    with django_assert_num_queries(1):  # type: ignore[operator]
        first = city.subtree_codes()
        first.append("999999")  # a caller changing its list changes nobody else's
        second = city.subtree_codes()
    assert "440703" in second and "999999" not in second and second[0] == "440700"
    assert second == Territory.objects.get(code="440700").subtree_codes()
