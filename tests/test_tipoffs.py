"""Tip-offs: intake from the form and the hotline API, routing, working-day deadlines, answers, and
the reporter's identity, which no response to a non-intake role may contain."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from phaseout.audit.models import AuditEvent
from phaseout.complaints import actions
from phaseout.complaints.models import TipOff
from phaseout.orgs.models import Person, Role, Territory
from tests.conftest import _person, client_for, readable

NAME, PHONE = "张三丰", "13800138000"


@pytest.fixture(autouse=True)
def _setup(settings: object) -> None:
    cache.clear()
    settings.TIPOFF_API_TOKENS = {"12345": "token-12345", "ditiaogang": "token-dtg"}  # type: ignore[attr-defined]


@pytest.fixture
def intake(reference: None) -> Person:
    return _person("intake", Role.INTAKE)


def test_working_day_deadlines_across_the_spring_festival_and_national_day(reference: None) -> None:
    spring, _new = actions.receive(source="web", text="某厂用中频炉生产地条钢", today=dt.date(2026, 2, 13))
    # Saturday 14 February 2026 is a make-up working day before the Spring Festival holiday (15–23 Feb).
    assert spring.handover_due == dt.date(2026, 2, 14)
    assert spring.feedback_due == dt.date(2026, 3, 5)
    national, _new = actions.receive(source="web", text="某厂夜间偷排废气", today=dt.date(2026, 9, 30))
    assert national.handover_due == dt.date(2026, 10, 8)  # after the National Day holiday
    assert (spring.dimension, national.dimension) == ("technology", "environment")


def test_public_form_routes_and_answers_through_the_tracking_code(
    energy_dept: Person, env_dept: Person
) -> None:
    anonymous = Client()
    response = anonymous.post(
        "/public/tipoff/",
        {
            "text": "蓬江区某水泥厂夜间偷排粉尘<script>alert(1)</script>",
            "enterprise_name": "江门市某水泥有限公司",
            "reporter_name": NAME,
            "reporter_phone": PHONE,
        },
    )
    assert response.status_code == 201
    code = re.search(r'id="tracking-code">(\w+)<', response.content.decode()).group(1)  # type: ignore[union-attr]
    tipoff = TipOff.objects.get(tracking_code=code)
    assert tipoff.dimension == "environment" and tipoff.department == env_dept.department
    assert tipoff.territory_id == "440703"
    assert NAME not in tipoff.reporter_name and PHONE not in tipoff.reporter_phone  # encrypted at rest
    actions.answer(tipoff=tipoff, text="已立案调查，责令停产整治。", by=env_dept.user)
    page = anonymous.get("/public/tipoff/track/", {"code": code}).content.decode()
    assert "已立案调查" in page and NAME not in page
    assert "没有这个查询码" in anonymous.get("/public/tipoff/track/", {"code": "NOPE"}).content.decode()


def test_floods_are_throttled_and_bots_refused(reference: None, settings: object) -> None:
    settings.PUBLIC_POSTS_PER_HOUR = 3  # type: ignore[attr-defined]
    anonymous = Client()
    assert (
        anonymous.post("/public/tipoff/", {"text": "某厂使用淘汰类设备生产", "website": "x"}).status_code
        == 400
    )
    codes = [
        anonymous.post("/public/tipoff/", {"text": f"某厂使用淘汰类设备生产{i}"}).status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 429, 429, 429]  # the bot's post counted too
    assert TipOff.objects.count() == 2


def _api(body: object, token: str | None = "token-12345") -> tuple[int, dict[str, object]]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = Client().post("/api/tipoffs/", json.dumps(body), content_type="application/json", **headers)
    return response.status_code, json.loads(response.content)


def test_hotline_api_is_idempotent_and_refuses_bad_input(reference: None) -> None:
    order = {
        "external_id": "12345-2026-000981",
        "text": "鹤山市某钢厂使用中频炉生产地条钢",
        "reporter_phone": PHONE,
    }
    status, first = _api(order)
    assert status == 201 and first["dimension"] == "technology"
    status, again = _api(order)
    assert status == 200 and again["tracking_code"] == first["tracking_code"]
    assert TipOff.objects.count() == 1
    assert PHONE not in json.dumps(first)
    assert _api(order, token="wrong")[0] == 401
    assert _api(order, token=None)[0] == 401
    assert _api({"text": "没有工单号的举报"})[0] == 400
    assert _api({**order, "external_id": "x2", "colour": "red"})[0] == 400
    assert _api({**order, "external_id": "x3", "territory_code": "999999"})[0] == 400
    assert _api({**order, "external_id": "x4", "text": 5})[0] == 400
    assert _api([1, 2])[0] == 400
    assert TipOff.objects.count() == 1
    spec = json.loads(Client().get("/api/openapi.json").content)
    assert spec["paths"]["/api/tipoffs/"]["post"]["requestBody"]["required"] is True


def test_a_duplicate_is_detected_and_linked(reference: None) -> None:
    first, _new = actions.receive(source="web", text="该厂偷排废气", enterprise_name="江门市某钢铁有限公司")
    second, _new = actions.receive(source="web", text="又在偷排废气", enterprise_name="江门市某钢铁 有限公司")
    assert second.duplicate_of == first


def _get_urls() -> list[str]:
    def walk(patterns: list[object], prefix: str = "") -> list[str]:
        found = []
        for p in patterns:
            if isinstance(p, URLResolver):
                found += walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.append(prefix + str(p.pattern))
        return found

    return [r for r in walk(get_resolver().url_patterns) if not r.startswith(("admin/", "accounts/logout"))]


def test_the_reporter_never_appears_outside_intake(
    intake: Person, office: Person, energy_dept: Person, env_dept: Person, district: Person
) -> None:
    tipoff, _new = actions.receive(
        source="web",
        text="蓬江区某厂夜间偷排废气",
        enterprise_name="江门市某水泥有限公司",
        reporter_name=NAME,
        reporter_phone=PHONE,
    )
    auditor = _person("auditor-x", Role.AUDITOR)
    secadmin = _person("secadmin-x", Role.SECURITY_ADMIN)
    routes = _get_urls()
    checked = 0
    for person in (office, energy_dept, env_dept, district, auditor, secadmin):
        client = client_for(person.user)
        for route in routes:
            for value in ("1", str(tipoff.pk)):
                url = "/" + re.sub(r"<(?:int|slug|str):\w+>", value if "int" in route else "yellow", route)
                response = client.get(url, {"code": tipoff.tracking_code})
                body = readable(response)
                assert NAME not in body and PHONE not in body, (person.role, url)
                checked += 1
        # Even asking to reveal is refused to everyone but intake.
        response = client.post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "核实举报线索"})
        assert NAME not in response.content.decode() and response.status_code in (403, 404)
    assert checked > 100
    page = (
        client_for(intake.user)
        .post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "核实举报线索"})
        .content.decode()
    )
    assert NAME in page and PHONE in page
    assert AuditEvent.objects.filter(action="tipoff.identity_read", actor=intake.user).count() == 1
    assert Territory.objects.exists()


def test_petitions_count_calendar_days_and_overdue_tipoffs_escalate_once(reference: None) -> None:
    petition, _new = actions.receive(
        source="petition", text="信访反映某厂违规生产", today=dt.date(2026, 2, 13)
    )
    assert (petition.handover_due, petition.feedback_due) == (dt.date(2026, 2, 28), dt.date(2026, 4, 14))
    web, _new = actions.receive(source="web", text="某厂偷排废气", today=dt.date(2026, 3, 2))
    now = dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC)
    # Both are past their first limit: the web tip-off's 1 working day, the petition's 15 calendar days.
    assert actions.escalate_overdue(now=now, today=dt.date(2026, 3, 5)) == 2
    assert actions.escalate_overdue(now=now, today=dt.date(2026, 3, 5)) == 0
    web.refresh_from_db()
    assert web.escalated_at == now


def test_a_tipoff_is_linked_to_a_case_of_its_enterprise(office: Person, energy_dept: Person) -> None:
    from decimal import Decimal

    from phaseout.cases import actions as case_actions
    from phaseout.cases.models import Case
    from tests.factories import LineFactory

    line = LineFactory(size_value=Decimal("380"), enterprise__name="江门市被举报钢铁有限公司")
    day = dt.date(2026, 3, 2)
    inspection = case_actions.record_inspection(
        department=office.department, enterprise=line.enterprise, line=line, dimension="technology",
        inspected_on=day, inspectors="李明", files=[], by=office.user, today=day,
    )  # fmt: skip
    case_actions.record_finding(
        inspection=inspection,
        rule_id="technology.steel.blast-furnace-400",
        line=line,
        measured_value=None,
        by=office.user,
    )
    tipoff, _new = actions.receive(
        source="web", text="该厂还在用小高炉", enterprise_name="江门市被举报钢铁有限公司"
    )
    assert tipoff.enterprise == line.enterprise
    case = Case.objects.get()
    response = client_for(office.user).post(
        f"/tipoffs/{tipoff.pk}/", {"action": "link_case", "case": case.pk}
    )
    assert response.status_code == 302
    tipoff.refresh_from_db()
    assert tipoff.case == case


def test_the_routed_department_sees_tipoffs_falling_due_on_its_home_page(
    env_dept: Person, energy_dept: Person
) -> None:
    today = dt.date(2026, 3, 2)
    tipoff, _new = actions.receive(
        source="web", text="蓬江区某厂夜间偷排废气", today=today - dt.timedelta(days=20)
    )
    assert tipoff.department == env_dept.department
    with time_machine.travel(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC), tick=False):  # 09:00 in Jiangmen
        page = client_for(env_dept.user).get("/").content.decode()
        assert tipoff.tracking_code in page and "答复时限" in page
        assert tipoff.tracking_code not in client_for(energy_dept.user).get("/").content.decode()
