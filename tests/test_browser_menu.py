"""Every role, on a desk (1440 px) and on a phone (390 px): the grouped left menu shows the role's pages,
the core job is one click away, the current page is marked with its breadcrumbs, and no page scrolls
sideways."""

from __future__ import annotations

import pytest

from phaseout.orgs.models import Department, Role, Territory
from tests.factories import EnterpriseFactory, PersonFactory, UserFactory
from tests.test_browser import _login, browser, server  # noqa: F401 (fixtures)

# role: (username, the menu group, the core job's menu item, the address it opens)
CORE = {
    Role.OFFICE: ("m-office", "执法与案件", "案件", "/cases/"),
    Role.DEPARTMENT: ("m-dept", "执法与案件", "拟处理", "/cases/proposals/"),
    Role.DISTRICT: ("m-district", "计划与报送", "报送事项", "/submissions/"),
    Role.ENTERPRISE: ("m-firm", "企业与设备", "本企业", "/enterprises/"),
    Role.INTAKE: ("m-intake", "公示与举报", "举报", "/tipoffs/"),
    Role.AUDITOR: ("m-auditor", "系统管理", "审计日志", "/audit/"),
    Role.SECURITY_ADMIN: ("m-secadmin", "系统管理", "账号管理", "/people/"),
    Role.SYSTEM_ADMIN: ("m-sysadmin", "系统管理", "基础数据", "/admin/"),
}


def _person(role: Role) -> None:
    username = CORE[role][0]
    scope: dict[str, object] = {}
    if role in (Role.OFFICE, Role.DEPARTMENT):
        scope["department"] = Department.objects.get(code="jm-gxj" if role == Role.OFFICE else "jm-fgj")
    if role == Role.DISTRICT:
        scope["territory"] = Territory.objects.get(code="440703")
    if role == Role.ENTERPRISE:
        scope["enterprise"] = EnterpriseFactory()
    user = UserFactory(username=username, is_staff=role == Role.SYSTEM_ADMIN)
    PersonFactory(user=user, role=role, display_name=username, **scope)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", list(CORE), ids=[r.value for r in CORE])
def test_each_role_finds_its_job_from_the_menu_on_desk_and_phone(
    browser,  # noqa: F811
    server,  # noqa: F811
    reference: None,
    role: Role,
) -> None:
    _person(role)
    username, group, label, address = CORE[role]
    page = _login(browser, server, username)
    # Desk: the menu is there, grouped, the role's pages only.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{server}/")
    menu = page.locator("nav.side")
    assert menu.is_visible()
    assert group in menu.locator("h3").all_inner_texts()
    items = menu.locator("a").all_inner_texts()
    assert label in items
    if role != Role.SYSTEM_ADMIN:
        assert "基础数据" not in items
    if role != Role.AUDITOR:
        assert "审计日志" not in items
    if role != Role.SECURITY_ADMIN:
        assert "账号管理" not in items
    _no_sideways_scroll(page)
    menu.get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state()
    assert page.url.startswith(f"{server}{address}"), page.url
    if role != Role.SYSTEM_ADMIN:  # the admin site has its own layout
        current = page.locator('nav.side a[aria-current="page"]')
        assert current.inner_text() == label
        assert page.locator("nav.crumbs").inner_text().startswith(f"首页 › {group} › {label}")
    _no_sideways_scroll(page)
    # Phone: the menu folds behind the header's button; the job is two taps away; nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/")
    _no_sideways_scroll(page)
    assert page.locator("nav.side").is_hidden()
    page.locator("label.menu-button").click()
    assert page.locator("nav.side").is_visible()
    page.locator("nav.side").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state()
    assert page.url.startswith(f"{server}{address}"), page.url
    _no_sideways_scroll(page)
