"""Holes a probe of the platform found (issue 13), each reproduced by a test that failed on the code
before its fix: the Django admin's redirect loop for a signed-in account of another role, a lockout an
attacker at the owner's address could cause, a non-ASCII bearer token, the year summary's out-of-range
year, confusable usernames, decision documents under any extension, and a backup seal in non-ASCII."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from phaseout import accounts
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import actions as case_actions
from phaseout.cases.models import Decision, DecisionReceipt, Evidence
from phaseout.complaints.models import TipOff
from phaseout.orgs.models import Person, Role, Territory
from tests.conftest import PASSWORD, PNG, REPORT_PDF, client_for, form_login, upload
from tests.factories import CaseFactory, EnterpriseFactory, LineFactory, PersonFactory, UserFactory

REFUSED_PAGE = "您的角色无权访问此页面或记录。"


# ── 1. the Django admin: a plain 403 for a signed-in account of another role, never a loop ─────────


@pytest.mark.parametrize("path", ["/admin/", "/admin/registry/industry/", "/admin/login/?next=/admin/"])
def test_the_admin_refuses_a_signed_in_account_of_another_role_with_403_not_a_loop(reference, path) -> None:
    office = PersonFactory(user=UserFactory(username="o-admin"), role=Role.OFFICE)
    c = client_for(office.user)
    response = c.get(path)
    assert response.status_code == 403, (response.status_code, response.get("Location"))
    assert REFUSED_PAGE in response.content.decode()
    entry = AuditEvent.objects.get(action="access.refused")
    assert (entry.actor, entry.outcome) == (office.user, Outcome.REFUSED)
    assert entry.data == {"path": path.split("?")[0], "method": "GET", "role": "office"}
    assert entry.reason == REFUSED_PAGE


def test_the_admin_refuses_a_superuser_without_a_person_with_403(reference) -> None:
    root = UserFactory(username="root-x", is_staff=True, is_superuser=True)
    response = client_for(root).get("/admin/")
    assert response.status_code == 403
    entry = AuditEvent.objects.get(action="access.refused")
    assert entry.data == {"path": "/admin/", "method": "GET", "role": ""}


# ── 2. an attacker at the owner's address (shared NAT) cannot lock the owner's browser out ──────────

SHARED_NAT = {"REMOTE_ADDR": "10.20.30.40"}
ADDRESS_LIMITED = "从您所在地址登录失败次数过多，请 15 分钟后再试。"
ACCOUNT_ADDRESS_LIMITED = "该账号从您所在地址登录失败次数过多，请 15 分钟后再试，或联系安全管理员解除限制。"


@pytest.fixture
def _frozen():
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


def _login_page(client: Client, username: str, password: str) -> str:
    return client.post("/accounts/login/", {"username": username, "password": password}).content.decode()


def _owner_with_device_cookie(username: str, _frozen) -> str:
    ok, owner = form_login(username, PASSWORD, **SHARED_NAT)
    assert ok
    _frozen.shift(dt.timedelta(seconds=1))  # after the sign-in that started the account's count afresh
    return owner.cookies[settings.LOGIN_DEVICE_COOKIE_NAME].value


def _with_cookie(value: str) -> Client:
    client = Client(**SHARED_NAT)
    client.cookies[settings.LOGIN_DEVICE_COOKIE_NAME] = value
    return client


def test_an_attacker_at_the_owners_address_cannot_lock_the_owners_browser_out_of_the_account(
    reference, _frozen
) -> None:
    owner = PersonFactory(user=UserFactory(username="nat-owner"), role=Role.SECURITY_ADMIN)
    cookie = _owner_with_device_cookie("nat-owner", _frozen)
    attacker = Client(**SHARED_NAT)
    for n in range(5):
        _login_page(attacker, "nat-owner", f"guess-{n}")
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.data == {
        "scope": "account_address",
        "username": "nat-owner",
        "address": "10.20.30.40",
        "minutes": 15,
    }
    # a browser without the cookie, at that address, is refused even with the right password …
    assert ACCOUNT_ADDRESS_LIMITED in _login_page(Client(**SHARED_NAT), "nat-owner", PASSWORD)
    refused = AuditEvent.objects.get(action="auth.login_failed", outcome=Outcome.REFUSED)
    assert refused.data == {
        "username": "nat-owner",
        "address": "10.20.30.40",
        "refused": "account_address_limit",
    }
    assert AuditEvent.objects.filter(action="auth.login", actor=owner.user).count() == 1
    # … while the owner's browser, with its device cookie, signs in at once
    assert form_login("nat-owner", PASSWORD, client=_with_cookie(cookie))[0]
    assert AuditEvent.objects.filter(action="auth.login", actor=owner.user).count() == 2
    assert AuditEvent.objects.filter(action="auth.login_failed", outcome=Outcome.REFUSED).count() == 1


def test_an_attacker_spraying_from_the_owners_address_cannot_lock_the_owners_browser_out(
    reference, _frozen
) -> None:
    owner = PersonFactory(user=UserFactory(username="nat-office"), role=Role.OFFICE)
    cookie = _owner_with_device_cookie("nat-office", _frozen)
    attacker = Client(**SHARED_NAT)
    for n in range(20):
        _login_page(attacker, f"user{n}", "Spring2026!")
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.data == {"scope": "address", "address": "10.20.30.40", "minutes": 15}
    assert ADDRESS_LIMITED in _login_page(Client(**SHARED_NAT), "nat-office", PASSWORD)
    refused = AuditEvent.objects.get(action="auth.login_failed", outcome=Outcome.REFUSED)
    assert refused.data == {"username": "nat-office", "address": "10.20.30.40", "refused": "address_limit"}
    # the cookie is for its own account only: it opens nothing for another account at that address
    assert ADDRESS_LIMITED in _login_page(_with_cookie(cookie), "user1", PASSWORD)
    assert form_login("nat-office", PASSWORD, client=_with_cookie(cookie))[0]
    assert AuditEvent.objects.filter(action="auth.login", actor=owner.user).count() == 2


def test_a_device_cookie_with_too_many_failures_no_longer_passes_the_address_limits(
    reference, _frozen
) -> None:
    PersonFactory(user=UserFactory(username="nat-stolen"), role=Role.OFFICE)
    cookie = _owner_with_device_cookie("nat-stolen", _frozen)
    thief = _with_cookie(cookie)
    for n in range(5):
        assert "请输入一个正确的用户名和密码" in _login_page(thief, "nat-stolen", f"stolen-{n}")
    # the cookie has failed five times: it is treated as no cookie, and the address limit holds
    assert ACCOUNT_ADDRESS_LIMITED in _login_page(_with_cookie(cookie), "nat-stolen", PASSWORD)
    assert AuditEvent.objects.filter(action="auth.login").count() == 1  # the owner's first sign-in only
    refused = AuditEvent.objects.get(action="auth.login_failed", outcome=Outcome.REFUSED)
    assert refused.data["refused"] == "account_address_limit"


# ── 3. the hotline API: a non-ASCII bearer token is a 401, not a 500 ───────────────────────────────


@pytest.mark.parametrize(
    "header",
    [
        "Bearer 令牌-12345",  # as a client sends UTF-8, read by WSGI as Latin-1
        "Bearer token-12345é",
        "Bearer \u00e4\u00b8\u00a4",
        "令牌",
    ],
)
def test_a_non_ascii_bearer_token_is_refused_with_the_apis_401(reference, settings, header) -> None:
    settings.TIPOFF_API_TOKENS = {"12345": "token-12345"}
    order = {
        "external_id": "12345-2026-000777",
        "text": "某钢厂使用中频炉生产地条钢",
        "reporter_phone": "13900000000",
    }
    response = Client().post(
        "/api/tipoffs/",
        json.dumps(order),
        content_type="application/json",
        HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"),
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"error": "unauthorised"}
    assert not TipOff.objects.exists()
    assert not AuditEvent.objects.exists()


# ── 4. the year summary: a year out of range shows this year's figures, with a message ────────────

YEAR_OUT_OF_RANGE = "年份须在 2000 至 2100 之间，现显示今年的数据。"


@pytest.mark.parametrize(
    "year", ["0", "99999", "-1", "1e9", "abc", "1999", "2101", "99999999999999999999", " ", "２０２５"]
)
def test_the_year_summary_with_a_year_out_of_range_shows_this_years_figures(office, year) -> None:
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        response = client_for(office.user).get("/reports/summary/", {"year": year})
    assert response.status_code == 200
    assert response.context["s"]["year"] == 2026
    assert YEAR_OUT_OF_RANGE in response.content.decode()


@pytest.mark.parametrize(("year", "shown"), [("2000", 2000), ("2100", 2100), ("2025", 2025), ("", 2026)])
def test_the_year_summary_within_range_shows_that_year_without_a_message(office, year, shown) -> None:
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        response = client_for(office.user).get("/reports/summary/", {"year": year} if year else {})
    assert response.status_code == 200
    assert response.context["s"]["year"] == shown
    assert YEAR_OUT_OF_RANGE not in response.content.decode()


# ── 5. a new account's username: unique after NFKC and case folding, a form error otherwise ─────────

NEW_PERSON = {"display_name": "江海区工信局", "role": "district", "territory": "440704", "active": "on"}
CONFUSABLE = "该用户名与已有账号“%s”只差大小写、全角半角或空格，请另选一个。"


TAKEN = "该用户名已被使用。"


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("ZhangSan-JH", CONFUSABLE % "zhangsan-jh"),  # case
        # full-width: Django's create_user folds it to the existing name (an IntegrityError, a 500)
        ("ｚｈａｎｇｓａｎ－ｊｈ", TAKEN),
        ("  Zhangsan-jh  ", CONFUSABLE % "zhangsan-jh"),  # surrounding spaces and case
        ("\u3000zhangsan-jh\u3000", TAKEN),  # ideographic spaces
        ("ＺＨＡＮＧＳＡＮ-jh", CONFUSABLE % "zhangsan-jh"),
    ],
)
def test_a_username_confusable_with_an_existing_one_is_a_form_error_and_nothing_is_written(
    reference, username, message
) -> None:
    secadmin = PersonFactory(user=UserFactory(username="sec-names"), role=Role.SECURITY_ADMIN)
    PersonFactory(user=UserFactory(username="zhangsan-jh"), role=Role.OFFICE)
    c = client_for(secadmin.user)
    before = AuditEvent.objects.count()
    response = c.post("/people/new/", {**NEW_PERSON, "username": username, "password": "Strong-pw-2026"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(get_user_model().objects.order_by("username").values_list("username", flat=True)) == [
        "sec-names",
        "zhangsan-jh",
    ]
    assert AuditEvent.objects.count() == before  # nothing written, not even a refusal


def test_the_action_refuses_a_confusable_username_too(reference) -> None:
    secadmin = PersonFactory(user=UserFactory(username="sec-names2"), role=Role.SECURITY_ADMIN)
    PersonFactory(user=UserFactory(username="lisi-jh"), role=Role.OFFICE)
    with pytest.raises(accounts.AccountError, match="^" + re.escape(CONFUSABLE % "lisi-jh") + "$"):
        accounts.create_person(
            username="ＬＩＳＩ-jh",
            password="Strong-pw-2026",
            display_name="x",
            role=Role.OFFICE,
            by=secadmin.user,
        )
    assert (
        not get_user_model().objects.filter(username__iexact="lisi-jh").exclude(username="lisi-jh").exists()
    )
    refused = AuditEvent.objects.get(action="person.create", outcome=Outcome.REFUSED)
    assert refused.reason == CONFUSABLE % "lisi-jh"
    assert refused.data == {"username": "ＬＩＳＩ-jh", "role": "office"}


def test_a_new_username_is_stored_as_nfkc_and_its_creation_recorded(reference) -> None:
    secadmin = PersonFactory(user=UserFactory(username="sec-names3"), role=Role.SECURITY_ADMIN)
    c = client_for(secadmin.user)
    response = c.post(
        "/people/new/", {**NEW_PERSON, "username": " ｗａｎｇｗｕ-jh ", "password": "Strong-pw-2026"}
    )
    assert response.status_code == 302
    person = Person.objects.get(user__username="wangwu-jh")
    created = AuditEvent.objects.get(action="person.create", outcome=Outcome.SUCCESS)
    assert (created.actor, created.object_id, created.data) == (
        secadmin.user,
        str(person.pk),
        {"role": "district"},
    )


# ── 6. decision documents: served as .docx or .pdf only ─────────────────────────────────────────────


def _decision(dept: Person) -> Decision:
    case = case_actions.order_rectification(
        case=CaseFactory(),
        by=dept.user,
        today=dt.date(2026, 3, 2),
        issued_on=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 27),
    )
    return case.decisions.get()


@pytest.mark.parametrize("ext", ["html", "svg", "exe", "htm", "DOCX", "docx.html", "pdfx", "js", "xml"])
def test_a_decision_document_under_another_extension_is_not_found_and_nothing_is_written(
    energy_dept, ext
) -> None:
    decision = _decision(energy_dept)
    firm = PersonFactory(
        user=UserFactory(username="firm-ext"), role=Role.ENTERPRISE, enterprise=decision.case.enterprise
    )
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    for person in (energy_dept, firm):
        response = client_for(person.user).get(f"/decisions/{decision.pk}.{ext}")
        assert response.status_code == 404, (person, response.status_code)
        assert "Content-Disposition" not in response
    # only the two sign-ins' own entries: no export, no refusal, no receipt
    assert set(AuditEvent.objects.filter(pk__gt=before).values_list("action", flat=True)) <= {
        "auth.login",
        "auth.otp_verified",
    }
    assert not DecisionReceipt.objects.exists()


def test_a_decision_document_is_served_as_docx(energy_dept) -> None:
    decision = _decision(energy_dept)
    response = client_for(energy_dept.user).get(f"/decisions/{decision.pk}.docx")
    assert response.status_code == 200
    assert (
        response["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert response["Content-Disposition"].endswith(".docx")
    entry = AuditEvent.objects.get(action="export.decision_document")
    assert (entry.actor, entry.data["format"]) == (energy_dept.user, "docx")


# ── evidence downloads: a name whose extension matches what the file is, headers that keep it a file ──


def _evidence(energy_dept: Person, name: str, content: bytes) -> Evidence:
    line = LineFactory(enterprise=EnterpriseFactory(territory=Territory.objects.get(code="440703")))
    inspection = case_actions.record_inspection(
        department=energy_dept.department,
        enterprise=line.enterprise,
        line=line,
        dimension="energy",
        inspected_on=dt.date(2026, 3, 2),
        inspectors="李明",
        files=[upload(name, content, "text/html")],  # the browser's claimed type is ignored
        by=energy_dept.user,
        today=dt.date(2026, 3, 2),
    )
    return inspection.evidence.get()


@pytest.mark.parametrize(
    ("name", "content", "served_as", "disposition"),
    [
        ("现场.png", PNG, "image/png", "attachment; filename*=utf-8''%E7%8E%B0%E5%9C%BA.png"),
        ("x.html", PNG, "image/png", 'attachment; filename="x.html.png"'),
        ("x.svg", PNG, "image/png", 'attachment; filename="x.svg.png"'),
        ("x.png.exe", PNG, "image/png", 'attachment; filename="x.png.exe.png"'),
        ("photo.PNG", PNG, "image/png", 'attachment; filename="photo.PNG"'),
        ("report", REPORT_PDF, "application/pdf", 'attachment; filename="report.pdf"'),
        ("..\\..\\boot.ini.png", PNG, "image/png", 'attachment; filename="boot.ini.png"'),
        ('a"b\r\nSet-Cookie: x=1.png', PNG, "image/png", 'attachment; filename="abSet-Cookie x=1.png"'),
    ],
)
def test_evidence_is_served_as_a_file_of_its_real_type_under_a_safe_name(
    energy_dept, district, other_district, name, content, served_as, disposition
) -> None:
    evidence = _evidence(energy_dept, name, content)
    response = client_for(district.user).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == served_as
    assert response["Content-Disposition"] == disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response or "x=1" not in response["Set-Cookie"]
    entry = AuditEvent.objects.get(action="export.evidence")
    assert (entry.actor, entry.object_id, entry.data["sha256"]) == (
        district.user,
        str(evidence.pk),
        evidence.sha256,
    )
    # out of scope, or not a number: not found, nothing recorded
    assert client_for(other_district.user).get(f"/evidence/{evidence.pk}/").status_code == 404
    assert client_for(district.user).get(f"/evidence/{evidence.pk}/../{evidence.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="export.evidence").count() == 1


# ── the absolute session age (8 h) over HTTP, from the real login page ─────────────────────────────


def test_a_session_signed_in_on_the_login_page_ends_after_eight_hours_and_its_cookie_opens_nothing(
    district, _frozen
) -> None:
    ok, browser = form_login(district.user.username, PASSWORD, **SHARED_NAT)
    assert ok
    for _ in range(34):  # a request every 14 minutes: 7 h 56 min, never idle
        _frozen.shift(dt.timedelta(minutes=14))
        assert browser.get("/cases/").status_code == 200
    stolen = browser.cookies[settings.SESSION_COOKIE_NAME].value  # the cookie as it is now
    _frozen.shift(dt.timedelta(minutes=5))  # 8 h 1 min after signing in
    htmx = browser.get("/cases/", HTTP_HX_REQUEST="true")
    assert (htmx.status_code, htmx["HX-Redirect"]) == (204, "/accounts/login/?expired=max_age")
    assert browser.get("/cases/")["Location"].startswith("/accounts/login/")
    expired = AuditEvent.objects.get(action="auth.session_expired")
    assert (expired.actor, expired.data) == (
        district.user,
        {"username": district.user.username, "reason": "max_age"},
    )
    # the session is gone on the server: the cookie replayed from another browser opens nothing
    replay = Client(**SHARED_NAT)
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = replay.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert AuditEvent.objects.filter(action="auth.session_expired").count() == 1
