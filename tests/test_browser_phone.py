"""On a phone (390 px) the pages officials open on site fit the screen: no page scrolls sideways; wide
tables scroll inside their card or read as blocks; buttons are big enough to touch."""

from __future__ import annotations

import datetime as dt

import pytest

from phaseout.cases import actions
from phaseout.orgs.models import Person
from phaseout.rules.exit_plans import ExitPlan
from tests.factories import CaseFactory, LineFactory
from tests.test_browser import _login, browser, server  # noqa: F401 (fixtures)

TODAY = dt.date(2026, 3, 2)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_an_inspector_opens_on_site_fit_a_phone(
    browser,  # noqa: F811
    server,  # noqa: F811
    office: Person,
    energy_dept: Person,
) -> None:
    line = LineFactory(name="1号高炉（450立方米）用于普通钢冶炼的长名称生产线")
    case = CaseFactory(
        finding__inspection__inspected_on=dt.date(2025, 1, 2), dimension="technology",
        consequence="exit_at_once", line=line, enterprise=line.enterprise,
    )  # fmt: skip
    actions.order_exit(
        case=case, plan=ExitPlan.SEAL_THEN_DISMANTLE, by=office.user, reason="立即淘汰", today=TODAY
    )
    page = _login(browser, server, "office")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/",
        f"/cases/{case.pk}/",
        "/cases/",
        "/cases/proposals/",
        f"/enterprises/{line.enterprise_id}/",
        "/enterprises/",
        "/tipoffs/",
        "/credit/",
        "/reports/ledger/",
        "/plans/",
        "/submissions/",
        "/dashboard/",
    ):
        page.goto(f"{server}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > 391)
                .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
                .slice(0, 8)"""
        )
        assert width <= 390, (path, width, wide)
        small = page.evaluate(
            """() => [...document.querySelectorAll('main button, main a.button')]
                .filter(b => b.offsetParent !== null)
                .filter(b => b.getBoundingClientRect().height < 32)
                .map(b => b.textContent.trim()).slice(0, 5)"""
        )
        assert small == [], (path, small)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", ["pengjiang", "fgj"])
def test_the_district_and_the_department_work_on_a_phone(
    browser,  # noqa: F811
    server,  # noqa: F811
    office: Person,
    energy_dept: Person,
    district: Person,
    username: str,
) -> None:
    line = LineFactory()
    case = CaseFactory(
        finding__inspection__inspected_on=dt.date(2025, 1, 2), line=line, enterprise=line.enterprise
    )
    actions.order_rectification(
        case=case, by=energy_dept.user, reason="超限额", today=TODAY, issued_on=TODAY, served_on=TODAY
    )
    page = _login(browser, server, username)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/cases/", f"/cases/{case.pk}/", "/enterprises/", f"/enterprises/{line.enterprise_id}/",
                 "/cases/paths/", "/messages/", "/reports/ledger/"):  # fmt: skip
        response = page.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (username, path, width)
