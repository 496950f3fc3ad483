"""The security administrator manages accounts and roles (等保 three-role separation)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person, Role
from tests.conftest import client_for, form_login
from tests.factories import PersonFactory, UserFactory


@pytest.fixture
def secadmin(reference) -> Person:
    return PersonFactory(
        user=UserFactory(username="sec"), role=Role.SECURITY_ADMIN, display_name="安全管理员"
    )


def test_security_admin_creates_a_district_account_that_can_log_in(secadmin) -> None:
    c = client_for(secadmin.user)
    data = {
        "username": "jianghai",
        "password": "Haibin-2026-pw",
        "display_name": "江海区工信局",
        "role": "district",
        "territory": "440704",
        "active": "on",
    }
    assert c.post("/people/new/", {**data, "territory": ""}).status_code == 200  # no unit: refused
    assert not get_user_model().objects.filter(username="jianghai").exists()
    assert c.post("/people/new/", {**data, "password": "123"}).status_code == 200  # weak password: refused
    page = c.post("/people/new/", {**data, "password": "Jianghai-2026-pw"}).content.decode()
    assert "密码不能包含用户名。" in page  # the policy sees the new account's username
    assert c.post("/people/new/", data).status_code == 302
    person = Person.objects.get(user__username="jianghai")
    assert (person.role, person.territory_id, person.department_id) == ("district", "440704", None)
    # The initial password signs in, and the person must choose their own before anything else.
    ok, client = form_login("jianghai", "Haibin-2026-pw")
    assert not ok and client.get("/")["Location"] == "/accounts/password/"
    assert AuditEvent.objects.filter(action="person.create", actor=secadmin.user).exists()


def test_deactivate_change_role_and_reset_password(secadmin, district) -> None:
    c = client_for(secadmin.user)
    page = c.get(f"/people/{district.pk}/").content.decode()
    assert "重置密码" in page
    assert '<div class="who">安全管理员 · 安全管理员' in page  # the header still shows who is logged in
    c.post(
        f"/people/{district.pk}/",
        {"display_name": "台山", "role": "district", "territory": "440781", "confirm": "on"},
    )
    district.refresh_from_db()
    district.user.refresh_from_db()
    assert (district.territory_id, district.user.is_active) == ("440781", False)
    assert not form_login(district.user.username, "pw-Secret-123")[0]
    c.post(f"/people/{district.pk}/", {"password": "Another-pw-2026"})
    assert AuditEvent.objects.filter(action="auth.password_reset", actor=secadmin.user).count() == 1


def test_security_admin_cannot_lock_themselves_out(secadmin) -> None:
    c = client_for(secadmin.user)
    response = c.post(
        f"/people/{secadmin.pk}/", {"display_name": "x", "role": "office", "confirm": "on"}, follow=True
    )
    assert "不能停用自己的账号或修改自己的角色" in response.content.decode()
    secadmin.refresh_from_db()
    assert secadmin.role == "security_admin" and secadmin.user.is_active


@pytest.mark.parametrize("role", [Role.OFFICE, Role.SYSTEM_ADMIN, Role.AUDITOR])
def test_only_the_security_admin_manages_accounts(reference, role) -> None:
    person = PersonFactory(user=UserFactory(username=f"u-{role}"), role=role)
    c = client_for(person.user)
    assert c.get("/people/new/").status_code == 403
    assert c.post("/people/new/", {"username": "x"}).status_code == 403


def test_five_failed_logins_refuse_that_address_for_that_account_only(reference, district, office) -> None:
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(5):
        ok, _client = form_login(district.user.username, "wrong-password", **attacker)
        assert not ok
    ok, client = form_login(district.user.username, "pw-Secret-123", **attacker)
    assert not ok
    page = client.post(
        "/accounts/login/", {"username": district.user.username, "password": "pw-Secret-123"}
    ).content.decode()
    assert "该账号从您所在地址登录失败次数过多，请 15 分钟后再试，或联系安全管理员解除限制。" in page
    assert form_login(office.user.username, "pw-Secret-123", **attacker)[0]  # others are not affected
    assert form_login(district.user.username, "pw-Secret-123", REMOTE_ADDR="10.1.2.3")[0]  # nor elsewhere


def test_a_success_resets_the_count(reference, district) -> None:
    for _ in range(4):
        assert not form_login(district.user.username, "wrong-password")[0]
    assert form_login(district.user.username, "pw-Secret-123")[0]
    for _ in range(4):
        assert not form_login(district.user.username, "wrong-password")[0]
    assert form_login(district.user.username, "pw-Secret-123")[0]


def test_the_security_admin_lifts_a_lockout_with_a_new_password(secadmin, district) -> None:
    for _ in range(6):
        form_login(district.user.username, "wrong-password")
    assert not form_login(district.user.username, "pw-Secret-123")[0]
    client_for(secadmin.user).post(f"/people/{district.pk}/", {"password": "Fresh-pw-2026"})
    ok, client = form_login(district.user.username, "Fresh-pw-2026")
    assert not ok and client.get("/")["Location"] == "/accounts/password/"  # past the limit, to the change
