"""Chromium walks the online monitoring pages as the environment department, on a desk and on a phone: the
key discharge units, the points with their completeness, the data checks; the officer confirms a check
on the page (asked to confirm first) and the case proposal it opens is one click away."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case
from phaseout.monitoring.models import CheckStatus, DataCheck, KeyDischargeUnit
from phaseout.orgs.models import Person
from tests.test_browser import _login, browser, server  # noqa: F401 (fixtures)
from tests.test_data_checks import NOW, raised, sinter  # noqa: F401 (fixtures)

WIDE = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
    .slice(0, 8)"""


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    """The walk happens at NOW (the readings are of the hours before it); the clock runs from there."""
    with time_machine.travel(NOW, tick=True):
        yield


def _fits(page, path: str, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, (path, width, scroll, page.evaluate(WIDE))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_the_environment_officer_walks_the_monitoring_pages_and_confirms_a_check(
    browser,  # noqa: F811
    server,  # noqa: F811
    raised: DataCheck,  # noqa: F811
    env_dept: Person,
    width: int,
) -> None:
    KeyDischargeUnit.objects.create(enterprise=raised.enterprise, listed_year=2027, flue_gas=True)
    page = _login(browser, server, "sthjj")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{server}/monitoring/")
    assert "江门烧结测试厂" in page.locator("main").inner_text()
    _fits(page, "/monitoring/", width)
    page.goto(f"{server}/monitoring/points/")
    points = page.locator("main").inner_text()
    assert "88888880000001" in points and "烧结机头排口" in points
    _fits(page, "/monitoring/points/", width)
    page.goto(f"{server}/monitoring/checks/")
    assert "江门烧结测试厂" in page.locator("main").inner_text()
    _fits(page, "/monitoring/checks/", width)

    page.locator(f"a[href='/monitoring/checks/{raised.pk}/']").first.click()
    page.wait_for_load_state()
    assert page.url == f"{server}/monitoring/checks/{raised.pk}/"
    assert "260" in page.locator("main").inner_text()  # the hours behind it, with their flags
    _fits(page, f"/monitoring/checks/{raised.pk}/", width)

    form = page.locator("form[data-action=confirm]")
    page.locator("details.action", has=form).locator("summary").click()
    form.locator("[name=decided_on]").fill(NOW.date().isoformat())
    form.locator("[name=notes]").fill("现场核实，烧结机头二氧化硫超标")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    # Asked before it is done: the browser holds the form until the confirmation is ticked.
    assert form.locator("[name=confirm]").evaluate("e => e.validity.valueMissing") is True
    assert page.url == f"{server}/monitoring/checks/{raised.pk}/"
    raised.refresh_from_db()
    assert (
        raised.status == CheckStatus.OPEN
        and not AuditEvent.objects.filter(action="monitoring.check_confirm").exists()
    )

    form = page.locator("form[data-action=confirm]")
    if not page.locator("details.action", has=form).evaluate("d => d.open"):
        page.locator("details.action", has=form).locator("summary").click()
    form.locator("[name=decided_on]").fill(NOW.date().isoformat())
    form.locator("[name=confirm]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    raised.refresh_from_db()
    assert raised.status == CheckStatus.CONFIRMED and raised.decided_by == env_dept.user
    assert raised.decided_on == dt.date(2027, 3, 10)
    event = AuditEvent.objects.get(action="monitoring.check_confirm")
    assert event.actor == env_dept.user
    case = Case.objects.get(finding=raised.finding)
    page.locator(f"a[href='/cases/{case.pk}/']").first.click()
    page.wait_for_load_state()
    assert page.url == f"{server}/cases/{case.pk}/"
    assert page.locator("#case-state").inner_text().strip() == "拟处理（待决定）"
    _fits(page, f"/cases/{case.pk}/", width)
