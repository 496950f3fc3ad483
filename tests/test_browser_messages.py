"""The message centre in Chromium, on a desk (1440 px) and a phone (390 px): the header shows the unread
count, the menu's 消息 opens the list, opening a message marks it read and links to its record, and nothing
scrolls sideways."""

from __future__ import annotations

import pytest

from phaseout.complaints import actions as tipoffs
from phaseout.messaging.actions import notify
from phaseout.orgs.models import Department, Role
from tests.factories import PersonFactory, UserFactory
from tests.test_browser import _login, browser, server  # noqa: F401 (fixtures)


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth"), (
        page.url
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_the_unread_count_the_list_and_a_message_opened_on_desk_and_phone(
    browser,  # noqa: F811
    server,  # noqa: F811
    reference: None,
    width: int,
) -> None:
    person = PersonFactory(
        user=UserFactory(username="msg-dept"),
        role=Role.DEPARTMENT,
        department=Department.objects.get(code="jm-fgj"),
        display_name="发改局干部",
    )
    tipoff, _new = tipoffs.receive(source="web", text="某厂用电异常，疑似能耗超标")
    notify([person], "tipoff", f"举报 {tipoff.tracking_code} 已转交你单位办理", url=f"/tipoffs/{tipoff.pk}/")
    tipoffs.hand_over(tipoff=tipoff, department=person.department, by=person.user)  # a second message
    page = _login(browser, server, "msg-dept")
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    page.goto(f"{server}/")
    assert page.locator("header.top .badge").inner_text() == "2"
    _no_sideways_scroll(page)
    if width < 400:
        page.locator("label.menu-button").click()
    page.locator("nav.side").get_by_role("link", name="消息", exact=True).click()
    page.wait_for_load_state()
    assert page.url == f"{server}/messages/"
    _no_sideways_scroll(page)
    assert page.locator("tr.unread").count() == 2
    page.locator("tr.unread a").first.click()
    page.wait_for_load_state()
    assert page.locator("header.top .badge").inner_text() == "1"
    _no_sideways_scroll(page)
    page.get_by_role("link", name="查看相关记录").click()
    page.wait_for_load_state()
    assert page.url == f"{server}/tipoffs/{tipoff.pk}/"
