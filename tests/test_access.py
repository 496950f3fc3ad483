"""Access is denied by default, and data scope follows the organisation."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver

from phaseout.cases import scope
from phaseout.cases.models import Case
from phaseout.orgs.access import ACCESS_ATTR, PUBLIC
from phaseout.orgs.models import Person, Role, Territory
from tests.conftest import client_for
from tests.factories import CaseFactory, EnterpriseFactory, PersonFactory, UserFactory


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _concrete(route: str) -> str:
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<slug:\w+>", "order_exit", route)
    route = re.sub(r"<docfmt:\w+>", "docx", route)
    route = re.sub(r"<(?:str|path):\w+>", "x", route)
    return "/" + route.lstrip("^").rstrip("$")


ALL_URLS = [(route, p) for route, p in _walk(get_resolver().url_patterns) if not route.startswith("admin/")]
# The public portal is open on purpose; a view is open only if it is listed here.
PUBLIC_ROUTES = {
    "public/",
    "public/<slug:kind>/",
    "public/<slug:kind>.<slug:fmt>",
    "public/<slug:kind>/report/",
    "public/tipoff/",
    "public/tipoff/track/",
    "api/tipoffs/",
    "api/openapi.json",
}
OWN_URLS = [(route, p) for route, p in ALL_URLS if route not in PUBLIC_ROUTES]


def test_only_the_listed_public_views_are_open() -> None:
    open_views = {route for route, p in ALL_URLS if getattr(p.callback, ACCESS_ATTR, None) == PUBLIC}
    assert open_views - {"accounts/login/", "accounts/logout/"} == PUBLIC_ROUTES


def test_every_view_declares_who_may_use_it() -> None:
    undeclared = []
    for route, pattern in OWN_URLS:
        view = pattern.callback
        declared = getattr(view, ACCESS_ATTR, None) or getattr(
            getattr(view, "view_class", None), ACCESS_ATTR, None
        )
        if declared is None:
            undeclared.append(route)
    assert not undeclared
    assert len(OWN_URLS) >= 20


@pytest.mark.parametrize("route", [r for r, _ in OWN_URLS])
def test_anonymous_is_sent_to_login_everywhere_but_login(route: str, client, reference) -> None:
    url = _concrete(route)
    for method in (client.get, client.post):
        response = method(url)
        if route.startswith("accounts/"):
            continue
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("route", [r for r, _ in OWN_URLS if not r.startswith("accounts/")])
def test_a_login_without_a_role_gets_nothing(route: str, outsider) -> None:
    client = client_for(outsider)
    assert client.get(_concrete(route)).status_code == 403
    assert client.post(_concrete(route)).status_code == 403


def test_admin_is_only_for_the_system_administrator(reference) -> None:
    office = PersonFactory(user=UserFactory(username="o"), role=Role.OFFICE)
    sysadmin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    PersonFactory(user=sysadmin_user, role=Role.SYSTEM_ADMIN)
    assert client_for(office.user).get("/admin/").status_code == 403  # refused, not sent to sign in again
    assert client_for(sysadmin_user).get("/admin/").status_code == 200


@pytest.fixture
def two_districts(reference):
    pengjiang = EnterpriseFactory(territory=Territory.objects.get(code="440703"))
    taishan = EnterpriseFactory(territory=Territory.objects.get(code="440781"))
    energy = CaseFactory(enterprise=pengjiang, dimension="energy")
    environment = CaseFactory(
        enterprise=taishan, dimension="environment", rule_id="environment.cement.kiln-pm"
    )
    return pengjiang, taishan, energy, environment


def test_scope_per_role(two_districts, office, energy_dept, env_dept, district, other_district) -> None:
    pengjiang, taishan, energy, environment = two_districts
    assert set(scope.cases(office)) == {energy, environment}
    assert set(scope.cases(energy_dept)) == {energy}
    assert set(scope.cases(env_dept)) == {environment}
    assert set(scope.cases(district)) == {energy}
    assert set(scope.cases(other_district)) == {environment}
    assert set(scope.enterprises(district)) == {pengjiang}
    assert set(scope.enterprises(energy_dept)) == {pengjiang, taishan}  # departments see the registry
    company = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=taishan)
    assert set(scope.cases(company)) == {environment}
    assert set(scope.enterprises(company)) == {taishan}


def test_scope_is_enforced_on_pages(two_districts, district, energy_dept, env_dept) -> None:
    pengjiang, taishan, energy, environment = two_districts
    c = client_for(district.user)
    assert c.get(f"/cases/{energy.pk}/").status_code == 200
    assert c.get(f"/cases/{environment.pk}/").status_code == 404
    assert c.get(f"/enterprises/{taishan.pk}/").status_code == 404
    assert c.get(f"/cases/{environment.pk}/file.zip").status_code == 404
    listing = c.get("/cases/").content.decode()
    assert pengjiang.name in listing and taishan.name not in listing
    c = client_for(env_dept.user)
    assert c.get(f"/cases/{energy.pk}/").status_code == 404
    # A department acting outside its dimension is refused and changes nothing.
    response = c.post(f"/cases/{energy.pk}/act/order_rectification/", {"version": energy.version})
    assert response.status_code == 404
    assert Case.objects.get(pk=energy.pk).state == "finding"


def test_district_may_not_order_rectification(two_districts, district) -> None:
    _, _, energy, _ = two_districts
    response = client_for(district.user).post(
        f"/cases/{energy.pk}/act/order_rectification/", {"version": energy.version}
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=energy.pk).state == "finding"


def test_an_action_from_the_wrong_state_is_explained(two_districts, energy_dept) -> None:
    _, _, energy, _ = two_districts
    response = client_for(energy_dept.user).post(
        f"/cases/{energy.pk}/act/accept/",
        {"version": energy.version, "accepted_on": "2026-03-02", "team": "组", "record_text": "合格"},
        follow=True,
    )
    assert "无法“登记验收”：案件当前状态为“拟处理（待决定）”" in response.content.decode()
    assert Case.objects.get(pk=energy.pk).state == "finding"


def test_enterprise_sees_only_itself(two_districts) -> None:
    pengjiang, taishan, energy, environment = two_districts
    company = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=pengjiang)
    c = client_for(company.user)
    assert c.get(f"/enterprises/{pengjiang.pk}/").status_code == 200
    assert c.get(f"/enterprises/{taishan.pk}/").status_code == 404
    assert c.get("/enterprises/").status_code == 403
    assert c.get(f"/cases/{energy.pk}/").status_code == 200
    assert c.get(f"/cases/{environment.pk}/").status_code == 404


def test_capacity_totals_keep_units_apart(reference, office) -> None:
    import datetime as dt

    from phaseout.home import exited_capacity
    from tests.factories import LineFactory

    year = 2026
    cement = EnterpriseFactory(industry_id="cement")
    LineFactory(
        enterprise=cement,
        equipment_type="clinker_line",
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
        status="exited",
        exited_on=dt.date(year, 1, 5),
    )
    LineFactory(
        enterprise=cement,
        equipment_type="cement_mill",
        size_value=Decimal("3"),
        size_unit="m",
        capacity=Decimal("60"),
        capacity_unit="10kt/a",
        status="exited",
        exited_on=dt.date(year, 2, 5),
    )
    LineFactory(
        enterprise=cement,
        equipment_type="clinker_line",
        size_value=Decimal("1000"),
        size_unit="t/d",
        capacity=Decimal("1000"),
        capacity_unit="t/d",
        status="exited",
        exited_on=dt.date(year, 3, 5),
    )
    LineFactory(enterprise=cement, capacity=Decimal("999"), status="operating")
    rows = exited_capacity(office, year)
    assert [(r["industry"], r["unit"], r["total"], r["lines"]) for r in rows] == [
        ("水泥", "万吨/年", Decimal("60"), 1),
        ("水泥", "t/d", Decimal("3500"), 2),
    ]
    # The dashboard shows this year's exits: it is 10:00 on 2 March 2026 in Jiangmen.
    with time_machine.travel(dt.datetime(year, 3, 2, 2, 0, tzinfo=dt.UTC), tick=False):
        page = client_for(office.user).get("/dashboard/").content.decode()
    assert "3500" in page and "万吨/年" in page


def test_people_without_scope_unit_cannot_exist(reference) -> None:
    from django.db import IntegrityError, transaction

    for role in (Role.DEPARTMENT, Role.DISTRICT, Role.ENTERPRISE):
        with pytest.raises(IntegrityError), transaction.atomic():
            Person.objects.create(user=UserFactory(username=f"x-{role}"), role=role, display_name="x")


def test_evidence_is_downloadable_only_within_scope(reference, energy_dept, district, other_district) -> None:
    import datetime as dt

    from phaseout.cases import actions
    from tests.conftest import PNG, upload
    from tests.factories import LineFactory

    line = LineFactory(enterprise=EnterpriseFactory(territory=Territory.objects.get(code="440703")))
    inspection = actions.record_inspection(
        department=energy_dept.department,
        enterprise=line.enterprise,
        line=line,
        dimension="energy",
        inspected_on=dt.date(2026, 3, 2),
        inspectors="李明",
        files=[upload("现场.png", PNG, "image/png")],
        by=energy_dept.user,
        today=dt.date(2026, 3, 2),
    )
    evidence = inspection.evidence.get()
    own = client_for(district.user).get(f"/evidence/{evidence.pk}/")
    assert own.status_code == 200 and b"".join(own.streaming_content) == PNG
    assert client_for(other_district.user).get(f"/evidence/{evidence.pk}/").status_code == 404
    assert client_for(energy_dept.user).get(f"/evidence/{evidence.pk}/").status_code == 200


@pytest.mark.parametrize("limit", [5000, 0])  # enterprises looked up first, or the join
def test_the_case_list_finds_cases_by_enterprise_name(office: Person, monkeypatch, limit: int) -> None:
    from phaseout.cases import views as case_views

    monkeypatch.setattr(case_views, "NAMED_ENTERPRISES_LIMIT", limit)
    wanted = [CaseFactory(enterprise=EnterpriseFactory(name=f"宏达金鼎实业{i}")) for i in range(2)]
    other = CaseFactory(enterprise=EnterpriseFactory(name="南方水泥"))
    page = client_for(office.user).get("/cases/", {"q": "金鼎"}).content.decode()
    assert all(f'href="/cases/{case.pk}/"' in page for case in wanted)
    assert f'href="/cases/{other.pk}/"' not in page
    lookup = case_views.enterprise_named("金鼎").children[0][0]
    assert lookup == ("enterprise_id__in" if limit else "enterprise__name__contains")
