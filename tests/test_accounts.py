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
        "password": "Jianghai-2026-pw",
        "display_name": "江海区工信局",
        "role": "district",
        "territory": "440704",
        "active": "on",
    }
    assert c.post("/people/new/", {**data, "territory": ""}).status_code == 200  # no unit: refused
    assert not get_user_model().objects.filter(username="jianghai").exists()
    assert c.post("/people/new/", {**data, "password": "123"}).status_code == 200  # weak password: refused
    assert c.post("/people/new/", data).status_code == 302
    person = Person.objects.get(user__username="jianghai")
    assert (person.role, person.territory_id, person.department_id) == ("district", "440704", None)
    assert form_login("jianghai", "Jianghai-2026-pw")[0]
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
    assert AuditEvent.objects.filter(action="person.reset_password").count() == 1


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


def test_five_failed_logins_lock_the_account(reference, district, office) -> None:
    for _ in range(5):
        ok, _client = form_login(district.user.username, "wrong-password")
        assert not ok
    ok, client = form_login(district.user.username, "pw-Secret-123")
    assert not ok
    page = client.post(
        "/accounts/login/", {"username": district.user.username, "password": "pw-Secret-123"}
    ).content.decode()
    assert "账号已锁定 30 分钟" in page
    assert form_login(office.user.username, "pw-Secret-123")[0]  # others are not affected


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
    assert form_login(district.user.username, "Fresh-pw-2026")[0]
