"""A new account's first sign-in in a real browser (Debian's Chromium): the initial password, the forced
change, the second factor set up from the page's QR code and secret, and the home page."""

from __future__ import annotations

import base64

import pytest
from django_otp.oath import TOTP

from phaseout.accounts import create_person
from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Role, Territory
from tests.test_browser import browser, server  # noqa: F401 (fixtures)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_new_account_changes_its_password_sets_up_totp_and_reaches_home(
    browser,  # noqa: F811
    server,  # noqa: F811
    reference,
) -> None:
    create_person(
        username="jianghai",
        password="Initial-pw-2026",
        display_name="江海区工信局",
        role=Role.DISTRICT,
        territory=Territory.objects.get(code="440704"),
        by=None,
    )
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", "jianghai")
    page.fill("#id_password", "Initial-pw-2026")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.startswith(f"{server}/accounts/password/"), page.content()[:2000]
    assert "您的密码由安全管理员设置，请先设置您自己的密码再继续。" in page.content()

    page.fill("#id_old_password", "Initial-pw-2026")
    page.fill("#id_new_password1", "Jiang-hai-own-9")
    page.fill("#id_new_password2", "Jiang-hai-own-9")
    page.click("form:not(.inline) button[type=submit]")
    page.wait_for_load_state()
    assert page.url.startswith(f"{server}/accounts/second-factor/new/"), page.content()[:2000]
    assert page.locator("#totp-qr svg").is_visible()  # the QR code, drawn on the server

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_token", f"{TOTP(key).token():06d}")
    page.click("form:not(.inline) button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{server}/", page.content()[:2000]
    assert "江海区工信局" in page.locator("header .who").inner_text()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-4:] == ["auth.password_ok", "auth.password_changed", "auth.otp_enrolled", "auth.login"]
