"""等保 2.0 level 3, 安全计算环境 (GB/T 28448-2019 L3-CES1), the identity units — 01 identification and
password policy, 02 login-failure handling and session timeouts, 04 two factors, 06 default accounts,
07 disabled and shared accounts, 32 authentication data cleared — over HTTP, and the holes of issue 13
("anyone can lock any account", "weak accounts", the forgeable audit address) reproduced.

No test reads the real clock: each signs in inside `time_machine.travel` (the TOTP codes are computed on
the travelled clock, as the server checks them)."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.identity import factors
from phaseout.orgs.models import Credentials, PasswordHistory, Person, Role
from tests.conftest import PASSWORD, client_for, form_login, otp_code
from tests.factories import PersonFactory, UserFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OFFICE_LAN = {"REMOTE_ADDR": "10.20.30.40"}


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def secadmin(reference) -> Person:
    return PersonFactory(user=UserFactory(username="secadmin"), role=Role.SECURITY_ADMIN, display_name="安全")


def page(response) -> str:
    return response.content.decode()


def login_page_error(client: Client, username: str, password: str) -> str:
    return page(client.post("/accounts/login/", {"username": username, "password": password}))


def failures(**data: str) -> int:
    qs = AuditEvent.objects.filter(action="auth.login_failed", outcome=Outcome.FAILURE)
    for key, value in data.items():
        qs = qs.filter(**{f"data__{key}": value})
    return qs.count()


# ── 01 身份鉴别: unique identity, password complexity, periodic change ───────────────────


NEW = {"display_name": "江海区工信局", "role": "district", "territory": "440704", "active": "on"}


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("zhangsan", "zhangsan", "密码至少须有 10 个字符。"),
        ("zhangsan", "jiangmen2026", "密码须至少包含小写字母、大写字母、数字和其他字符四类中的 3 类。"),
        ("zhangsan", "ZhangSan-2026", "密码不能包含用户名。"),
    ],
)
def test_l3_ces1_01_weak_passwords_are_refused_with_a_reason(secadmin, username, password, message) -> None:
    c = client_for(secadmin.user)
    response = c.post("/people/new/", {**NEW, "username": username, "password": password})
    assert response.status_code == 200
    assert message in page(response)
    assert not get_user_model().objects.filter(username=username).exists()
    assert not AuditEvent.objects.filter(action="person.create").exists()


def test_zhangsan_cannot_choose_zhangsan_or_jiangmen2026(reference) -> None:
    """The probe's weak passwords, on the person's own change page: refused, nothing changed."""
    zhangsan = PersonFactory(user=UserFactory(username="zhangsan"), role=Role.OFFICE)
    c = client_for(zhangsan.user)
    for weak, message in (
        ("zhangsan", "密码至少须有 10 个字符。"),
        ("jiangmen2026", "密码须至少包含小写字母、大写字母、数字和其他字符四类中的 3 类。"),
        ("Zhangsan-2026", "密码不能包含用户名。"),
    ):
        data = {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak}
        assert message in page(c.post("/accounts/password/", data)), weak
    zhangsan.user.refresh_from_db()
    assert zhangsan.user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()


def test_l3_ces1_01_identity_is_unique(secadmin, district) -> None:
    c = client_for(secadmin.user)
    response = c.post(
        "/people/new/", {**NEW, "username": district.user.username, "password": "Strong-pw-2026"}
    )
    assert "该用户名已被使用。" in page(response)
    assert get_user_model().objects.filter(username=district.user.username).count() == 1


def test_l3_ces1_01_an_initial_password_must_be_changed_first(secadmin) -> None:
    c = client_for(secadmin.user)
    assert (
        c.post("/people/new/", {**NEW, "username": "jianghai", "password": "Initial-pw-2026"}).status_code
        == 302
    )
    assert Credentials.objects.get(user__username="jianghai").must_change_password
    ok, person = form_login("jianghai", "Initial-pw-2026")
    assert not ok
    for url in ("/", "/cases/", "/enterprises/", "/accounts/second-factor/new/"):  # every page sends there
        assert person.get(url)["Location"].startswith("/accounts/password/")
    shown = page(person.get("/accounts/password/"))
    assert "您的密码由安全管理员设置，请先设置您自己的密码再继续。" in shown
    # the same password again is refused (it is the current one), with the reason
    same = {
        "old_password": "Initial-pw-2026",
        "new_password1": "Initial-pw-2026",
        "new_password2": "Initial-pw-2026",
    }
    assert "密码不能与最近 5 次使用的密码相同。" in page(person.post("/accounts/password/", same))
    response = person.post(
        "/accounts/password/",
        {
            "old_password": "Initial-pw-2026",
            "new_password1": "Own-choice-2026",
            "new_password2": "Own-choice-2026",
        },
    )
    assert response.status_code == 302
    assert not Credentials.objects.get(user__username="jianghai").must_change_password
    assert person.get("/")["Location"].startswith("/accounts/second-factor/new/")  # next: the second factor
    event = AuditEvent.objects.get(action="auth.password_changed", outcome=Outcome.SUCCESS)
    assert event.actor.username == "jianghai" and event.data == {"username": "jianghai"}


def test_l3_ces1_01_self_service_change_keeps_five_earlier_passwords_out(district) -> None:
    c = client_for(district.user)
    current = PASSWORD
    for n in range(5):
        new = f"Rotated-pw-{n}-2026"
        response = c.post(
            "/accounts/password/", {"old_password": current, "new_password1": new, "new_password2": new}
        )
        assert response.status_code == 302, page(response)
        current = new
    assert PasswordHistory.objects.filter(user=district.user).count() == 5
    again = {
        "old_password": current,
        "new_password1": "Rotated-pw-1-2026",
        "new_password2": "Rotated-pw-1-2026",
    }
    response = c.post("/accounts/password/", again)
    assert "密码不能与最近 5 次使用的密码相同。" in page(response)
    wrong_old = {"old_password": "not-it", "new_password1": "Fresh-pw-2099", "new_password2": "Fresh-pw-2099"}
    assert "你的旧密码不正确。请重新输入。" in page(c.post("/accounts/password/", wrong_old))
    assert AuditEvent.objects.filter(
        action="auth.password_changed", outcome=Outcome.FAILURE, data__refused="old_password"
    ).exists()
    mismatch = {"old_password": current, "new_password1": "Fresh-pw-2099", "new_password2": "Fresh-pw-2098"}
    assert "输入的两个密码不一致。" in page(c.post("/accounts/password/", mismatch))
    district.user.refresh_from_db()
    assert district.user.check_password(current)  # the refusals changed nothing
    assert AuditEvent.objects.filter(action="auth.password_changed", outcome=Outcome.SUCCESS).count() == 5


def test_l3_ces1_01_a_password_expires_after_the_configured_days(district, _clock, settings) -> None:
    settings.PASSWORD_MAX_AGE_DAYS = 90
    c = client_for(district.user)
    c.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "Spring-pw-2026", "new_password2": "Spring-pw-2026"},
    )
    _clock.move_to(T0 + dt.timedelta(days=89))
    assert form_login(district.user.username, "Spring-pw-2026")[0]
    _clock.move_to(T0 + dt.timedelta(days=91))
    ok, c = form_login(district.user.username, "Spring-pw-2026")
    assert not ok and c.get("/cases/")["Location"].startswith("/accounts/password/")
    assert "您的密码已过期，请先设置新密码再继续。" in page(c.get("/accounts/password/"))


# ── 02 login-failure handling: limits, and sessions that end ─────────────────────────────


def test_l3_ces1_02_every_failure_is_recorded_without_the_password(district) -> None:
    assert not form_login(district.user.username, "Wrong-guess-1", **ATTACKER)[0]
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert (event.outcome, event.ip, event.actor) == (Outcome.FAILURE, "203.0.113.66", None)
    assert event.data == {"username": district.user.username, "address": "203.0.113.66"}
    assert "Wrong-guess-1" not in str(event.data) + event.reason
    refused = login_page_error(Client(**ATTACKER), district.user.username, "Wrong-guess-2")
    assert "请输入一个正确的用户名和密码。注意，两者都区分大小写。" in refused
    assert "Wrong-guess-2" not in refused  # the page does not send the password back (unit 32)


def test_five_wrong_passwords_for_secadmin_from_another_address_do_not_lock_secadmin_out(secadmin) -> None:
    attacker = Client(**ATTACKER)
    for n in range(5):
        login_page_error(attacker, "secadmin", f"guess-{n}")
    # the attacker's address is refused for this account, even with the right password …
    assert (
        "该账号从您所在地址登录失败次数过多，请 15 分钟后再试，或联系安全管理员解除限制。"
        in login_page_error(attacker, "secadmin", PASSWORD)
    )
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.outcome == Outcome.REFUSED
    assert lockout.data == {
        "scope": "account_address",
        "username": "secadmin",
        "address": "203.0.113.66",
        "minutes": 15,
    }
    refused = AuditEvent.objects.get(action="auth.login_failed", outcome=Outcome.REFUSED)
    assert refused.data["refused"] == "account_address_limit"
    # … and the security administrator signs in from the office at once.
    assert form_login("secadmin", PASSWORD, **OFFICE_LAN)[0]
    assert AuditEvent.objects.filter(action="auth.login", actor=secadmin.user).count() == 1


def test_l3_ces1_02_spraying_across_accounts_from_one_address_is_limited(reference, office) -> None:
    attacker = Client(**ATTACKER)
    for n in range(20):
        login_page_error(attacker, f"user{n}", "Spring2026!")
    lockout = AuditEvent.objects.get(action="auth.lockout", data__scope="address")
    assert lockout.data == {"scope": "address", "address": "203.0.113.66", "minutes": 15}
    # the 21st attempt is refused whatever the account, before any password is checked
    assert "从您所在地址登录失败次数过多，请 15 分钟后再试。" in login_page_error(
        attacker, "office", PASSWORD
    )
    assert failures() == 20
    assert form_login("office", PASSWORD, **OFFICE_LAN)[0]  # other addresses are not affected


def test_l3_ces1_02_failures_from_many_addresses_slow_the_account_down_without_locking_it(
    district, _clock
) -> None:
    for n in range(10):
        login_page_error(Client(REMOTE_ADDR=f"198.51.100.{n}"), district.user.username, "guess")
    assert "该账号已多次登录失败，请 2 秒后再试。" in login_page_error(
        Client(**OFFICE_LAN), district.user.username, PASSWORD
    )
    _clock.shift(dt.timedelta(seconds=3))
    assert form_login(district.user.username, PASSWORD, **OFFICE_LAN)[0]


DELAY_60 = "该账号已多次登录失败，请 60 秒后再试。"
DEVICE = "phaseout_device"


def spray(username: str, clock, addresses: int = 8, each: int = 2) -> None:
    """An attacker failing for one account from many addresses, below each address's own limit, each
    attempt after the account's delay has passed (so that each counts): 16 failures, 60 s to wait."""
    from phaseout.identity import limits

    done = 0
    for n in range(addresses):
        attacker = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        for k in range(each):
            clock.shift(dt.timedelta(seconds=limits.account_delay(done) + 1))
            login_page_error(attacker, username, f"guess-{k}")
            done += 1


def with_cookie(value: str, **extra: str) -> Client:
    client = Client(**extra)
    client.cookies[DEVICE] = value
    return client


def test_l3_ces1_02_a_device_cookie_lets_the_owner_in_through_the_account_wide_delay(
    secadmin, district, settings, _clock
) -> None:
    settings.SESSION_COOKIE_SECURE = True  # as in production
    ok, owner = form_login("secadmin", PASSWORD, **OFFICE_LAN)
    assert ok
    cookie = owner.cookies[DEVICE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 30 * 24 * 3600
    district_cookie = form_login(district.user.username, PASSWORD, **OFFICE_LAN)[1].cookies[DEVICE].value
    _clock.shift(dt.timedelta(seconds=1))  # after the sign-in that started the count afresh
    spray("secadmin", _clock)  # 8 addresses x 2 failures: the account waits 60 s after the last
    assert failures(username="secadmin") == 16
    # without the cookie, the right password is refused with the delay …
    assert DELAY_60 in login_page_error(Client(**OFFICE_LAN), "secadmin", PASSWORD)
    # … and so with a forged cookie, or a genuine one of another account
    forged = cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")
    assert DELAY_60 in login_page_error(with_cookie(forged, **OFFICE_LAN), "secadmin", PASSWORD)
    assert DELAY_60 in login_page_error(with_cookie(district_cookie, **OFFICE_LAN), "secadmin", PASSWORD)
    # the owner's browser, with its cookie, signs in at once
    assert form_login("secadmin", PASSWORD, client=with_cookie(cookie.value, **OFFICE_LAN))[0]
    assert AuditEvent.objects.filter(action="auth.login", actor=secadmin.user).count() == 2


def test_l3_ces1_02_a_device_cookie_with_too_many_failures_is_no_longer_honoured(secadmin, _clock) -> None:
    ok, owner = form_login("secadmin", PASSWORD, **OFFICE_LAN)
    assert ok
    cookie = owner.cookies[DEVICE].value
    _clock.shift(dt.timedelta(seconds=1))
    spray("secadmin", _clock)
    # the cookie is stolen and tried from five addresses (each below the per-address limit)
    for n in range(5):
        thief = with_cookie(cookie, REMOTE_ADDR=f"192.0.2.{n + 1}")
        assert "请输入一个正确的用户名和密码" in login_page_error(thief, "secadmin", f"stolen-{n}")
    stolen = AuditEvent.objects.filter(action="auth.login_failed", data__username="secadmin", ip="192.0.2.1")
    nonce = stolen.get().data["device"]
    assert stolen.get().data == {"username": "secadmin", "address": "192.0.2.1", "device": nonce}
    assert failures(device=nonce) == 5
    # the cookie no longer exempts anyone from the delay, the owner included
    assert DELAY_60 in login_page_error(with_cookie(cookie, **OFFICE_LAN), "secadmin", PASSWORD)
    refused = AuditEvent.objects.filter(action="auth.login_failed", outcome=Outcome.REFUSED).last()
    assert refused.data["refused"] == "account_delay"


def test_l3_ces1_02_an_expired_device_cookie_is_not_honoured(secadmin, _clock, settings) -> None:
    settings.LOGIN_DEVICE_COOKIE_DAYS = 1
    cookie = form_login("secadmin", PASSWORD, **OFFICE_LAN)[1].cookies[DEVICE].value
    _clock.shift(dt.timedelta(days=1, seconds=1))
    spray("secadmin", _clock)
    assert DELAY_60 in login_page_error(with_cookie(cookie, **OFFICE_LAN), "secadmin", PASSWORD)


def test_sign_in_is_recorded_when_the_second_factor_completes_it(district, _clock) -> None:
    """A password alone is auth.password_ok; auth.login, which starts the account's count afresh, comes
    only with the second factor, and wrong codes count as failures."""
    TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
    username = district.user.username
    spray(username, _clock, addresses=10, each=1)  # 10 failures: the account waits 2 s
    _clock.shift(dt.timedelta(seconds=3))
    thief = Client(**ATTACKER)  # knows the password, not the code
    assert thief.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    ok = AuditEvent.objects.get(action="auth.password_ok")
    assert (ok.actor, ok.outcome, ok.data) == (
        district.user,
        Outcome.SUCCESS,
        {"username": username, "second_factor": "pending"},
    )
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    wrong = "000000" if otp_code(district.user) != "000000" else "111111"
    assert "验证码错误或已过期。" in page(thief.post("/accounts/second-factor/", {"token": wrong}))
    failed = AuditEvent.objects.get(action="auth.otp_failed")
    assert (failed.actor, failed.outcome, failed.ip) == (district.user, Outcome.FAILURE, "203.0.113.66")
    # the password step did not start the count afresh, and the wrong code counted: 11 failures, 4 s
    assert "该账号已多次登录失败，请 4 秒后再试。" in login_page_error(
        Client(**OFFICE_LAN), username, PASSWORD
    )
    _clock.shift(dt.timedelta(seconds=5))
    assert form_login(username, PASSWORD, **OFFICE_LAN)[0]
    login = AuditEvent.objects.get(action="auth.login")
    assert (login.actor, login.outcome, login.data) == (
        district.user,
        Outcome.SUCCESS,
        {"username": username, "second_factor": "totp"},
    )
    from phaseout.identity import limits

    assert limits.account_failures(username, T0 + dt.timedelta(seconds=8))[0] == 0  # the completed one


def test_wrong_codes_count_toward_the_limit_for_the_account_from_one_address(district, _clock) -> None:
    TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
    username = district.user.username
    thief = Client(**ATTACKER)
    thief.post("/accounts/login/", {"username": username, "password": PASSWORD})
    wrong = "000000" if otp_code(district.user) != "000000" else "111111"
    for _ in range(5):
        _clock.shift(dt.timedelta(seconds=20))  # past django-otp's own doubling wait
        assert "验证码错误或已过期。" in page(thief.post("/accounts/second-factor/", {"token": wrong}))
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.data["scope"] == "account_address" and lockout.data["username"] == username
    limited = "该账号从您所在地址登录失败次数过多，请 15 分钟后再试，或联系安全管理员解除限制。"
    _clock.shift(dt.timedelta(seconds=20))
    right = thief.post("/accounts/second-factor/", {"token": otp_code(district.user)})
    assert limited in page(right)  # the right code too, from this address
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    refused = AuditEvent.objects.get(action="auth.login_failed", outcome=Outcome.REFUSED)
    assert (refused.actor, refused.data["refused"], refused.data["stage"]) == (
        district.user,
        "account_address_limit",
        "second_factor",
    )
    assert limited in login_page_error(Client(**ATTACKER), username, PASSWORD)
    assert form_login(username, PASSWORD, **OFFICE_LAN)[0]  # elsewhere, the person signs in


def test_the_limits_page_counts_in_a_bounded_number_of_queries(
    secadmin, _clock, django_assert_max_num_queries
) -> None:
    from phaseout.audit.record import record, set_request_ip
    from phaseout.identity import limits

    for n in range(50):
        set_request_ip(f"198.51.100.{n}")
        for _ in range(1 + n % 3):
            record(
                actor=None,
                action="auth.login_failed",
                data={"username": f"user{n % 7}", "address": f"198.51.100.{n}"},
                outcome=Outcome.FAILURE,
            )
    set_request_ip(None)
    _clock.shift(dt.timedelta(seconds=1))
    record(actor=secadmin.user, action="auth.unlock", data={"username": "", "address": "198.51.100.0"})
    record(actor=secadmin.user, action="auth.login", data={"username": "user1"})
    _clock.shift(dt.timedelta(seconds=1))
    set_request_ip("198.51.100.1")
    record(
        actor=None,
        action="auth.login_failed",
        data={"username": "user1", "address": "198.51.100.1"},
        outcome=Outcome.FAILURE,
    )
    set_request_ip(None)
    now = T0 + dt.timedelta(seconds=3)
    with django_assert_max_num_queries(3):
        shown = limits.blocked(now)
    expected_addresses = {f"198.51.100.{n}": 1 + n % 3 for n in range(1, 50)}
    expected_addresses["198.51.100.1"] += 1
    assert {a["address"]: a["failures"] for a in shown["addresses"]} == expected_addresses
    assert [a["failures"] for a in shown["addresses"]] == sorted(expected_addresses.values(), reverse=True)
    # the same counts as the per-account and per-address functions the sign-in uses
    assert {a["username"]: a["failures"] for a in shown["accounts"]} == {
        name: limits.account_failures(name, now)[0]
        for name in (f"user{k}" for k in range(7))
        if limits.account_failures(name, now)[0]
    }
    assert {a["username"] for a in shown["accounts"]} == {f"user{k}" for k in range(7)}
    assert next(a for a in shown["accounts"] if a["username"] == "user1")["failures"] == 1
    for row in shown["addresses"]:
        assert row["failures"] == limits.address_failures(str(row["address"]), now)
    assert [a["username"] for a in shown["accounts"]] == sorted(a["username"] for a in shown["accounts"])


def test_l3_ces1_02_the_security_admin_lifts_a_limit_on_a_page_and_it_is_recorded(secadmin, district) -> None:
    attacker = Client(**ATTACKER)
    for _ in range(5):
        login_page_error(attacker, district.user.username, "guess")
    admin = client_for(secadmin.user)
    listing = page(admin.get("/people/sign-in-limits/"))
    assert district.user.username in listing and "203.0.113.66" in listing
    assert (
        page(admin.post("/people/sign-in-limits/", {"username": "nobody"}, follow=True)).count(
            "该账号不存在。"
        )
        == 1
    )
    bad = admin.post("/people/sign-in-limits/", {"address": "203.0.113.999"}, follow=True)
    assert "这不是有效的 IP 地址。" in page(bad)
    assert not AuditEvent.objects.filter(action="auth.unlock").exists()
    response = admin.post("/people/sign-in-limits/", {"username": district.user.username}, follow=True)
    assert "登录限制已解除。" in page(response)
    unlock = AuditEvent.objects.get(action="auth.unlock")
    assert (unlock.actor, unlock.data) == (secadmin.user, {"username": district.user.username, "address": ""})
    assert form_login(district.user.username, PASSWORD, **ATTACKER)[0]


def test_the_security_admin_lifts_an_address_limit(secadmin, office) -> None:
    attacker = Client(**ATTACKER)
    for n in range(20):
        login_page_error(attacker, f"user{n}", "guess")
    assert "从您所在地址登录失败次数过多" in login_page_error(attacker, "office", PASSWORD)
    admin = client_for(secadmin.user)
    assert "203.0.113.66" in page(admin.get("/people/sign-in-limits/"))
    admin.post("/people/sign-in-limits/", {"address": "203.0.113.66"})
    unlock = AuditEvent.objects.get(action="auth.unlock")
    assert (unlock.actor, unlock.data) == (secadmin.user, {"username": "", "address": "203.0.113.66"})
    assert form_login("office", PASSWORD, **ATTACKER)[0]


def test_anyone_cannot_lift_a_limit(district) -> None:
    assert client_for(district.user).post("/people/sign-in-limits/", {"username": "x"}).status_code == 403
    assert not AuditEvent.objects.filter(action="auth.unlock").exists()


def test_l3_ces1_02_an_idle_session_ends_and_the_login_page_says_why(district, _clock) -> None:
    c = client_for(district.user)
    _clock.shift(dt.timedelta(minutes=14))
    assert c.get("/cases/").status_code == 200
    _clock.shift(dt.timedelta(minutes=14))  # 14 minutes after the last request: still on
    assert c.get("/cases/").status_code == 200
    _clock.shift(dt.timedelta(minutes=16))
    response = c.get("/cases/")
    assert response["Location"] == "/accounts/login/?expired=idle"
    assert "您已超过 15 分钟未操作，系统已自动退出登录，请重新登录。" in page(c.get(response["Location"]))
    assert c.get("/cases/")["Location"].startswith("/accounts/login/")
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert (event.actor, event.data) == (
        district.user,
        {"username": district.user.username, "reason": "idle"},
    )


def test_l3_ces1_02_a_session_ends_after_its_maximum_age_however_busy(district, _clock) -> None:
    c = client_for(district.user)
    for _ in range(47):  # a request every 10 minutes: 7 h 50 min
        _clock.shift(dt.timedelta(minutes=10))
        assert c.get("/cases/").status_code == 200
    _clock.shift(dt.timedelta(minutes=11))
    response = c.get("/cases/")
    assert response["Location"] == "/accounts/login/?expired=max_age"
    assert "您的登录已超过 8 小时的最长时限，系统已自动退出登录，请重新登录。" in page(
        c.get(response["Location"])
    )
    assert AuditEvent.objects.get(action="auth.session_expired").data["reason"] == "max_age"


# ── 04 two factors, one of them cryptographic ────────────────────────────────────────────


def test_l3_ces1_04_a_password_alone_reaches_no_page(district, _clock) -> None:
    TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
    c = Client()
    assert (
        c.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD}).status_code
        == 302
    )
    assert AuditEvent.objects.get(action="auth.password_ok").data == {
        "username": district.user.username,
        "second_factor": "pending",
    }
    assert not AuditEvent.objects.filter(action="auth.login").exists()  # the sign-in is not complete
    for url in ("/", "/cases/", "/enterprises/", "/accounts/password/"):
        assert c.get(url)["Location"].startswith("/accounts/second-factor/"), url
    wrong = c.post(
        "/accounts/second-factor/", {"token": "000000" if otp_code(district.user) != "000000" else "111111"}
    )
    assert "验证码错误或已过期。" in page(wrong)
    failed = AuditEvent.objects.get(action="auth.otp_failed")
    assert (failed.actor, failed.outcome, failed.data) == (
        district.user,
        Outcome.FAILURE,
        {"kind": "totp", "username": district.user.username, "address": "127.0.0.1"},
    )
    device = TOTPDevice.objects.get(user=district.user)
    right = f"{TOTP(device.bin_key).token():06d}"
    # the wrong code made django-otp wait a second before the next try, even with the right code …
    assert "验证码错误次数过多，请 1 秒后再试。" in page(c.post("/accounts/second-factor/", {"token": right}))
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/")
    _clock.shift(dt.timedelta(seconds=1))  # … then it passes
    response = c.post("/accounts/second-factor/", {"token": right, "next": "/cases/"})
    assert response["Location"] == "/cases/"


def test_l3_ces1_04_the_right_code_signs_in(district, _clock) -> None:
    TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
    c = Client()
    c.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD})
    response = c.post("/accounts/second-factor/", {"token": otp_code(district.user), "next": "/cases/"})
    assert response["Location"] == "/cases/"
    assert c.get("/cases/").status_code == 200
    assert AuditEvent.objects.get(action="auth.otp_verified").actor == district.user


def test_l3_ces1_04_enrolment_shows_a_qr_code_and_the_secret_and_confirms_with_a_code(district) -> None:
    c = Client()
    c.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD})
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/new/")
    shown = page(c.get("/accounts/second-factor/new/"))
    assert '<div class="qr" id="totp-qr"><svg' in shown  # drawn on the server, inline: nothing fetched
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', shown).group(1)
    assert page(c.get("/accounts/second-factor/new/")).count(secret) == 1  # a reload shows the same secret
    import base64

    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    code = f"{TOTP(key).token():06d}"
    bad = c.post("/accounts/second-factor/new/", {"token": "12345"})
    assert "验证码错误或已过期：请核对手机时间后输入当前验证码。" in page(bad)
    assert AuditEvent.objects.get(action="auth.otp_failed").data == {
        "kind": "totp",
        "username": district.user.username,
        "address": "127.0.0.1",
        "stage": "enrolment",
    }
    assert c.post("/accounts/second-factor/new/", {"token": code})["Location"] == "/"
    assert c.get("/cases/").status_code == 200
    device = TOTPDevice.objects.get(user=district.user)
    assert device.confirmed and device.bin_key == key
    assert AuditEvent.objects.get(action="auth.otp_enrolled").actor == district.user


def test_l3_ces1_04_the_security_admin_resets_a_second_factor(secadmin, district) -> None:
    person = client_for(district.user)
    admin = client_for(secadmin.user)
    assert "重置第二认证因素" in page(admin.get(f"/people/{district.pk}/"))
    admin.post(f"/people/{district.pk}/", {"reset_second_factor": "1"})
    assert not TOTPDevice.objects.filter(user=district.user).exists()
    event = AuditEvent.objects.get(action="auth.otp_reset")
    assert event.actor == secadmin.user
    assert event.data == {"username": district.user.username, "devices": 1, "sessions_ended": 1}
    assert person.get("/cases/")["Location"].startswith("/accounts/login/")  # their session is gone
    again = Client()
    again.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD})
    assert again.get("/cases/")["Location"].startswith("/accounts/second-factor/new/")


def test_l3_ces1_04_the_second_factor_is_an_adapter(district, settings) -> None:
    """A certificate (SM2) factor replaces TOTP by registering a class with the same methods."""

    class Certificate(factors.TotpFactor):
        kind = "sm2-certificate"
        answers: list[str] = []

        def verify(self, user, response):
            self.answers.append(response)
            return super().verify(user, otp_code(user))  # stands in for a checked SM2 signature

    factors.FACTORS["sm2-certificate"] = Certificate()
    settings.SECOND_FACTOR = "sm2-certificate"
    try:
        TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
        c = Client()
        c.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD})
        assert c.post("/accounts/second-factor/", {"token": "424242"})["Location"] == "/"
        assert Certificate.answers == ["424242"]
        assert AuditEvent.objects.get(action="auth.otp_verified").data == {"kind": "sm2-certificate"}
    finally:
        del factors.FACTORS["sm2-certificate"]


def test_two_factors_are_required_unless_explicitly_configured_off(district, settings) -> None:
    from phaseout import settings as defaults

    assert defaults.OTP_REQUIRED is True  # the shipped default
    settings.OTP_REQUIRED = False
    c = Client()
    c.post("/accounts/login/", {"username": district.user.username, "password": PASSWORD})
    assert c.get("/cases/").status_code == 200
    # the password completed the sign-in: recorded as such, and the browser is the person's device
    login = AuditEvent.objects.get(action="auth.login")
    assert (login.actor, login.data) == (
        district.user,
        {"username": district.user.username, "second_factor": "none"},
    )
    assert not AuditEvent.objects.filter(action="auth.password_ok").exists()
    assert c.cookies["phaseout_device"]["httponly"]


def test_totp_command_prints_the_current_code_in_the_demo_only(district, settings) -> None:
    settings.DEBUG = True
    out = io.StringIO()
    with pytest.raises(CommandError, match="该账号尚未绑定第二认证因素。"):
        call_command("totp", district.user.username, stdout=out)
    device = TOTPDevice.objects.create(user=district.user, name="totp", confirmed=True)
    call_command("totp", district.user.username, stdout=out)
    assert out.getvalue().strip() == f"{TOTP(device.bin_key).token():06d}"
    settings.DEBUG = False
    with pytest.raises(CommandError, match="此命令仅可在演示和开发环境"):
        call_command("totp", district.user.username, stdout=out)


# ── 06 default accounts and passwords ────────────────────────────────────────────────────


def test_l3_ces1_06_no_default_account_and_no_password_left_as_set_by_someone_else(secadmin) -> None:
    # The platform ships no account: a fresh database has only the ones a test made.
    assert set(get_user_model().objects.values_list("username", flat=True)) == {"secadmin"}
    # Every password the security administrator sets (new account or reset) must be changed at first use.
    c = client_for(secadmin.user)
    c.post("/people/new/", {**NEW, "username": "admin2", "password": "Initial-pw-2026"})
    other = Person.objects.get(user__username="admin2")
    assert Credentials.objects.get(user=other.user).must_change_password
    Credentials.objects.filter(user=other.user).update(must_change_password=False)
    c.post(f"/people/{other.pk}/", {"password": "Reset-pw-2026"})
    assert Credentials.objects.get(user=other.user).must_change_password
    event = AuditEvent.objects.get(action="auth.password_reset")
    assert (event.actor, event.data) == (secadmin.user, {"username": "admin2", "sessions_ended": 0})


# ── 07 disabled accounts, no shared accounts ─────────────────────────────────────────────


def test_l3_ces1_07_a_disabled_accounts_sessions_end_at_once(secadmin, district) -> None:
    person = client_for(district.user)
    assert person.get("/cases/").status_code == 200
    key = person.session.session_key
    admin = client_for(secadmin.user)
    admin.post(
        f"/people/{district.pk}/",
        {"display_name": "蓬江", "role": "district", "territory": "440703", "confirm": "on"},
    )
    assert not Session.objects.filter(session_key=key).exists()
    assert person.get("/cases/")["Location"].startswith("/accounts/login/")
    event = AuditEvent.objects.get(action="person.update")
    assert event.data["after"]["active"] is False and event.data["sessions_ended"] == 1
    assert not form_login(district.user.username, PASSWORD)[0]


def test_l3_ces1_07_no_shared_accounts_each_sign_in_is_one_named_person(district, office) -> None:
    # one account, one person: the sign-in and every entry after it name the person, not a group
    form_login(district.user.username, PASSWORD, **OFFICE_LAN)
    form_login(office.user.username, PASSWORD, **OFFICE_LAN)
    logins = AuditEvent.objects.filter(action="auth.login").order_by("id")
    assert [e.actor.person for e in logins] == [district, office]
    # the database refuses a second person on one account
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(user=district.user, role=Role.OFFICE, display_name="共用")


# ── 32 residual information: authentication data cleared ─────────────────────────────────


def test_l3_ces1_32_logout_clears_the_session(district) -> None:
    c = client_for(district.user)
    key = c.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    assert c.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies["sessionid"] = key
    assert replay.get("/cases/")["Location"].startswith("/accounts/login/")
    event = AuditEvent.objects.get(action="auth.logout")
    assert (event.actor, event.data) == (district.user, {"username": district.user.username})


# ── the address: the proxy's header only from a trusted proxy ───────────────────────────


def test_x_forwarded_for_from_an_untrusted_client_is_not_the_audit_address(district) -> None:
    c = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.0.0.1")
    login_page_error(c, district.user.username, "guess")
    assert AuditEvent.objects.get(action="auth.login_failed").ip == "198.51.100.7"


def test_behind_a_trusted_proxy_each_client_has_its_own_address_and_limits(district, settings) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    for n in range(5):
        c = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=f"evil-{n}, 198.51.100.9")
        login_page_error(c, district.user.username, "guess")
    assert set(AuditEvent.objects.filter(action="auth.login_failed").values_list("ip", flat=True)) == {
        "198.51.100.9"
    }
    # the limit hit that client, not the proxy's other clients
    assert form_login(
        district.user.username, PASSWORD, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.10"
    )[0]


def test_the_public_throttle_counts_each_client_behind_the_proxy(reference, settings) -> None:
    from django.test import RequestFactory

    from phaseout.web import throttled

    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    settings.PUBLIC_POSTS_PER_HOUR = 2
    rf = RequestFactory()

    def post(client_address: str):
        return rf.post("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=client_address)

    assert [throttled(post("198.51.100.1"), "t") for _ in range(3)] == [False, False, True]
    assert throttled(post("198.51.100.2"), "t") is False  # another person behind the same proxy


def test_the_django_admin_signs_in_through_the_platforms_login_and_second_factor(reference) -> None:
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    PersonFactory(user=root, role=Role.SYSTEM_ADMIN)
    c = Client(**ATTACKER)
    assert c.get("/admin/login/?next=/admin/")["Location"] == "/accounts/login/?next=/admin/"
    # the admin's own login form is gone: a post there goes nowhere near a password check
    c.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    c.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert c.get("/admin/")["Location"].startswith("/accounts/second-factor/")  # password alone: no admin
    assert client_for(root).get("/admin/").status_code == 200


def test_second_factor_secrets_are_not_in_the_django_admin() -> None:
    from django.contrib import admin

    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(PasswordHistory)
    assert not admin.site.is_registered(Credentials)
