"""等保 2.0 level 3 (GB/T 28448-2019 安全计算环境): three roles enforced and least privilege.

Units L3-CES1-05 (accounts and rights assigned), 08 (least privilege, separation of privileged roles),
09 (the authorised subject configures access policy), 10 (granularity: user subject, record-level
object) and 11 (security labels), and the holes a probe found: the system administrator changed its
own role through the Django admin and then read a reporter's identity, and created an account, with
no audit entry; the auditor read every business record; the import page listed every unit's imports.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from phaseout import accounts
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import scope as case_scope
from phaseout.complaints import actions as tipoffs
from phaseout.complaints import scope as tipoff_scope
from phaseout.complaints.models import TipOff
from phaseout.orgs.adminsite import AuditedAdmin
from phaseout.orgs.labels import CLEARED, Label, label_of, may_read
from phaseout.orgs.models import ADMINISTRATOR_ROLES, Department, Person, Role, Territory
from phaseout.registry import scope as registry_scope
from phaseout.registry.models import Enterprise, ImportBatch, Industry
from tests.conftest import client_for, form_login, readable
from tests.factories import CaseFactory, EnterpriseFactory, PersonFactory, UserFactory

NAME, PHONE = "欧阳举报", "13912345678"
SECRET_FIRM = "江门市审计禁读钢铁有限公司"
TIPOFF_TEXT = "某厂夜间违规开炉生产（禁读举报）"

ONLY_SECADMIN = "只有安全管理员可以管理账号和角色。"
NOT_SELF = "不能停用自己的账号或修改自己的角色。"
LAST_SECADMIN = "不能移除最后一名安全管理员：请先将另一账号设为安全管理员。"
ADMIN_NO_UNIT = "管理员账号不设所属单位：管理员不查看业务记录。"
NOT_OWN_PASSWORD = "不能在此重置自己的密码：由另一名安全管理员重置。"
NOT_OWN_FACTOR = "不能在此重置自己的第二认证因素：由另一名安全管理员重置。"
ONLY_INTAKE = "只有举报受理员可以查看举报人身份。"
FIRST_EXISTS = "已有安全管理员：其他账号请在“账号与角色”页面创建。"


# ── people: one per role, a login without a person, and anonymous ─────────────────────────────────


def _make(username: str, role: Role, **unit: Any) -> Person:
    return PersonFactory(user=UserFactory(username=username), role=role, display_name=username, **unit)


@pytest.fixture
def firm(reference: None) -> Enterprise:
    return EnterpriseFactory(name=SECRET_FIRM, territory=Territory.objects.get(code="440703"))


@pytest.fixture
def cast(reference: None, firm: Enterprise) -> dict[str, Any]:
    """Every role, plus a superuser made with createsuperuser (no person) and anonymous."""
    people = {
        Role.OFFICE: _make("r-office", Role.OFFICE, department=Department.objects.get(code="jm-gxj")),
        Role.DEPARTMENT: _make("r-dept", Role.DEPARTMENT, department=Department.objects.get(code="jm-fgj")),
        Role.DISTRICT: _make("r-district", Role.DISTRICT, territory=Territory.objects.get(code="440703")),
        Role.ENTERPRISE: _make("r-firm", Role.ENTERPRISE, enterprise=firm),
        Role.AUDITOR: _make("r-auditor", Role.AUDITOR),
        Role.SECURITY_ADMIN: _make("r-secadmin", Role.SECURITY_ADMIN),
        Role.SYSTEM_ADMIN: _make("r-sysadmin", Role.SYSTEM_ADMIN),
        Role.INTAKE: _make("r-intake", Role.INTAKE),
        Role.PROVINCE: _make("r-province", Role.PROVINCE, department=Department.objects.get(code="gd-gxt")),
    }
    assert set(people) == set(Role)
    people[Role.SYSTEM_ADMIN].user.is_staff = True
    people[Role.SYSTEM_ADMIN].user.save()
    return {"people": people, "root": UserFactory(username="root", is_staff=True, is_superuser=True)}


def _tipoff() -> TipOff:
    tipoff, _new = tipoffs.receive(
        source="web", text=TIPOFF_TEXT, enterprise_name=SECRET_FIRM, reporter_name=NAME, reporter_phone=PHONE
    )
    return tipoff


def _refusal(action: str, actor: Any) -> AuditEvent:
    return AuditEvent.objects.get(action=action, actor=actor, outcome=Outcome.REFUSED)


# ── the holes ───────────────────────────────────────────────────────────────────────────────────


def test_hole_the_system_administrator_cannot_change_roles_or_create_accounts_in_the_admin(cast) -> None:
    """Reproduces the probe: through the admin, the system administrator made itself intake, then read a
    reporter's identity, and created an account; none of it reached the audit trail."""
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    tipoff = _tipoff()
    c = client_for(sysadmin.user)
    assert c.get("/admin/").status_code == 200
    # People, users and groups are not in the admin at all.
    assert c.get(f"/admin/orgs/person/{sysadmin.pk}/change/").status_code == 404
    response = c.post(
        f"/admin/orgs/person/{sysadmin.pk}/change/",
        {"user": sysadmin.user.pk, "role": "intake", "display_name": "x"},
    )
    assert response.status_code == 404
    sysadmin.refresh_from_db()
    assert sysadmin.role == Role.SYSTEM_ADMIN
    response = c.post(
        "/admin/auth/user/add/",
        {"username": "backdoor", "password1": "Xx-1234567890", "password2": "Xx-1234567890"},
    )
    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="backdoor").exists()
    # The tip-off and its reporter are out of the system administrator's reach, on the page and in the action.
    assert c.post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal"}).status_code == 403
    with pytest.raises(tipoffs.TipOffError, match=f"^{ONLY_INTAKE}$"):
        tipoffs.reveal(tipoff=tipoff, by=sysadmin.user, reason="核查")
    refused = _refusal("tipoff.identity_read", sysadmin.user)
    assert (refused.object_id, refused.reason) == (str(tipoff.pk), ONLY_INTAKE)
    assert not AuditEvent.objects.filter(action="tipoff.identity_read", outcome=Outcome.SUCCESS).exists()


def test_hole_no_account_model_nor_login_record_nor_business_record_is_in_the_admin(db: None) -> None:
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert registered == {"orgs.territory", "orgs.department", "registry.industry"}
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, AuditedAdmin), model
        assert label_of(model) == Label.REFERENCE, model


def test_hole_a_superuser_made_on_the_command_line_is_refused_everywhere(reference, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Root-pw-2026-x")
    call_command("createsuperuser", interactive=False, username="cli-root", email="", verbosity=0)
    root = get_user_model().objects.get(username="cli-root")
    assert root.is_superuser and not Person.objects.filter(user=root).exists()
    c = client_for(root)
    assert c.get("/admin/orgs/territory/").status_code == 403  # signed in: refused, not sent to sign in
    assert c.get("/admin/login/").status_code == 403
    assert AuditEvent.objects.filter(action="access.refused", actor=root).count() == 2
    for url in ("/people/", "/people/new/", "/audit/", "/cases/", "/enterprises/", "/tipoffs/"):
        assert c.get(url).status_code == 403, url
    # Nor can it pass for a security administrator in the actions.
    with pytest.raises(accounts.AccountError, match=f"^{ONLY_SECADMIN}$"):
        accounts.create_person(
            username="x1", password="Xx-1234567890", display_name="x", role=Role.OFFICE, by=root
        )
    assert not get_user_model().objects.filter(username="x1").exists()
    assert _refusal("person.create", root).reason == ONLY_SECADMIN


def test_hole_the_first_security_administrator_is_made_once_on_the_command_line(
    reference, monkeypatch
) -> None:
    from django.core.management.base import CommandError

    monkeypatch.setenv("PHASEOUT_ADMIN_PASSWORD", "First-admin-2026")
    call_command("first_security_admin", "sec-first", "--name", "首任安全管理员", stdout=StringIO())
    person = Person.objects.get(user__username="sec-first")
    assert (person.role, person.display_name, person.user.is_staff, person.user.is_superuser) == (
        Role.SECURITY_ADMIN,
        "首任安全管理员",
        False,
        False,
    )
    created = AuditEvent.objects.get(action="person.create", object_id=str(person.pk))
    assert (created.actor, created.outcome, created.data) == (
        None,
        Outcome.SUCCESS,
        {"role": "security_admin"},
    )
    with pytest.raises(CommandError, match=f"^{re.escape(FIRST_EXISTS)}$"):
        call_command("first_security_admin", "sec-second")
    assert not get_user_model().objects.filter(username="sec-second").exists()
    refused = AuditEvent.objects.get(action="person.create", outcome=Outcome.REFUSED)
    assert refused.data == {"username": "sec-second", "role": "security_admin"}


def test_hole_the_auditor_reads_no_business_record(cast, firm) -> None:
    auditor = cast["people"][Role.AUDITOR]
    case = CaseFactory(enterprise=firm)
    c = client_for(auditor.user)
    for url in (
        "/cases/",
        f"/cases/{case.pk}/",
        f"/cases/{case.pk}/file.zip",
        f"/enterprises/{firm.pk}/",
        "/dashboard/",
        "/reports/ledger/",
        "/plans/",
        "/credit/",
        "/lists/",
        "/standards/",
        "/prices/",
    ):
        assert c.get(url).status_code == 403, url
    assert c.get("/audit/").status_code == 200
    assert not case_scope.cases(auditor).exists()
    assert not registry_scope.enterprises(auditor).exists()
    assert not tipoff_scope.tipoffs(auditor).exists()


def _batch(user: Any, name: str) -> ImportBatch:
    return ImportBatch.objects.create(
        file=SimpleUploadedFile(name, b"x"), original_name=name, sha256="0" * 64, uploaded_by=user
    )


def test_hole_the_import_page_lists_only_the_units_own_imports(cast) -> None:
    people = cast["people"]
    pengjiang = people[Role.DISTRICT]
    colleague = _make("r-district-2", Role.DISTRICT, territory=Territory.objects.get(code="440703"))
    taishan = _make("r-taishan", Role.DISTRICT, territory=Territory.objects.get(code="440781"))
    energy = people[Role.DEPARTMENT]
    own = _batch(pengjiang.user, "蓬江名录.xlsx")
    theirs = _batch(taishan.user, "台山名录.xlsx")
    departments = _batch(energy.user, "发改名录.xlsx")

    def listed(person: Person) -> set[int]:
        response = client_for(person.user).get("/enterprises/import/")
        assert response.status_code == 200
        return {b.pk for b in response.context["batches"]}

    assert listed(pengjiang) == {own.pk}
    assert listed(colleague) == {own.pk}  # the unit's, not only the uploader's
    assert listed(taishan) == {theirs.pk}
    assert listed(energy) == {departments.pk}
    assert listed(people[Role.OFFICE]) == {own.pk, theirs.pk, departments.pk}
    page = client_for(pengjiang.user).get("/enterprises/import/").content.decode()
    assert "蓬江名录.xlsx" in page and "台山名录.xlsx" not in page and "发改名录.xlsx" not in page
    c = client_for(pengjiang.user)
    assert c.get(f"/enterprises/import/{theirs.pk}/").status_code == 404
    assert c.post(f"/enterprises/import/{theirs.pk}/accept/").status_code == 404
    assert client_for(colleague.user).get(f"/enterprises/import/{own.pk}/").status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == ImportBatch.Status.PREVIEW


# ── every admin URL, as every role ──────────────────────────────────────────────────────────────


def _admin_urls() -> list[tuple[str, str]]:
    """(kind, url) for every URL of the admin: the site's own and each registered model's changelist,
    add, change, delete and history, for an existing row."""
    urls = [("index", reverse("admin:index"))]
    for app_label in {m._meta.app_label for m in admin.site._registry}:
        urls.append(("index", reverse("admin:app_list", args=[app_label])))
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, model
        urls.append(("model", reverse("admin:{}_{}_changelist".format(*info))))
        urls.append(("model", reverse("admin:{}_{}_add".format(*info))))
        for view in ("change", "delete", "history"):
            urls.append(("model", reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk])))
    urls += [
        ("login", reverse("admin:login")),
        ("password", reverse("admin:password_change")),
        ("password", reverse("admin:password_change_done")),
        ("index", reverse("admin:jsi18n")),
        # Served to the system administrator only, and even then not found or refused: no model has a
        # page of its own on the site, and an autocomplete asks for parameters.
        ("other", reverse("admin:view_on_site", args=[1, 1])),
        ("other", reverse("admin:autocomplete")),
    ]
    return urls


def _every_admin_route_is_walked(urls: list[tuple[str, str]]) -> None:
    """Each route of the admin's URLconf is reached by one of `urls` (a route added later is walked
    too, or this fails)."""

    def routes(patterns: list[Any], prefix: str = "") -> list[str]:
        found: list[str] = []
        for p in patterns:
            if isinstance(p, URLResolver):
                found += routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.append(prefix + str(p.pattern))
        return found

    admin_routes = [r for r in routes(get_resolver().url_patterns) if r.startswith("admin/")]
    unwalkable = {"admin/logout/"}  # POST only; signing out opens nothing
    for route in admin_routes:
        if route in unwalkable or route.endswith("<path:url>"):
            continue
        if "(?P<" in route:  # a regular expression (the app index)
            pattern = "^/" + route.replace("^", "").replace("$", "") + "$"
        else:
            pattern = "^/" + re.sub(r"<[^>]+>", ".+", route) + "$"
        assert any(re.match(pattern, url) for _kind, url in urls), route


def test_l3_ces1_08_every_admin_url_as_every_role(cast) -> None:
    urls = _admin_urls()
    _every_admin_route_is_walked(urls)
    assert len(urls) >= 20
    people: dict[Role, Person] = cast["people"]
    clients: dict[str, Client] = {role.value: client_for(p.user) for role, p in people.items()}
    clients["superuser without a person"] = client_for(cast["root"])
    clients["anonymous"] = Client()
    served: dict[str, set[str]] = {who: set() for who in clients}
    for who, client in clients.items():
        for kind, url in urls:
            response = client.get(url)
            if response.status_code == 200:
                served[who].add(url)
            elif kind == "password" or (kind == "other" and who == Role.SYSTEM_ADMIN):
                assert response.status_code in (302, 403, 404), (who, url, response.status_code)
            elif who == "anonymous":
                assert response.status_code == 302, (who, url, response.status_code)
                assert "login" in response["Location"], (who, url)
            elif who != Role.SYSTEM_ADMIN:
                # signed in with another role: a plain refusal (sending it to sign in would loop)
                assert response.status_code == 403, (who, url, response.status_code)
            if kind == "login" and who in ("anonymous", Role.SYSTEM_ADMIN):
                # The admin's sign-in form is never served: signing in is the platform's page.
                assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    sysadmin_urls = {url for kind, url in urls if kind in ("index", "model")}
    assert served == {who: (sysadmin_urls if who == Role.SYSTEM_ADMIN else set()) for who in clients}
    # Not even the system administrator changes its password outside the policy's page.
    assert clients[Role.SYSTEM_ADMIN].get(reverse("admin:password_change")).status_code == 403


def test_l3_ces1_08_an_is_staff_flag_set_by_hand_opens_nothing(cast) -> None:
    office = cast["people"][Role.OFFICE]
    office.user.is_staff = office.user.is_superuser = True
    office.user.save()
    assert client_for(office.user).get("/admin/orgs/territory/").status_code == 403
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    sysadmin.user.is_active = False
    sysadmin.user.save()
    assert client_for(sysadmin.user).get("/admin/").status_code == 302


def test_hole_every_admin_change_is_audited(cast) -> None:
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    c = client_for(sysadmin.user)
    response = c.post(
        "/admin/registry/industry/add/", {"code": "glass-x", "name": "测试行业甲", "sort_order": "90"}
    )
    assert response.status_code == 302
    industry = Industry.objects.get(code="glass-x")
    added = AuditEvent.objects.get(action="admin.add", actor=sysadmin.user)
    assert (added.object_type, added.object_id) == ("registry.industry", "glass-x")
    assert added.data["after"]["name"] == "测试行业甲" and added.outcome == Outcome.SUCCESS

    response = c.post(
        f"/admin/registry/industry/{industry.pk}/change/",
        {"code": "glass-x", "name": "测试行业乙", "sort_order": "90"},
    )
    assert response.status_code == 302
    changed = AuditEvent.objects.get(action="admin.change", actor=sysadmin.user)
    assert changed.data == {"before": {"name": "测试行业甲"}, "after": {"name": "测试行业乙"}}

    territory = Territory.objects.get(code="440703")
    response = c.post(
        f"/admin/orgs/territory/{territory.pk}/change/",
        {"code": "440703", "name": "蓬江", "level": "county", "parent": "440700"},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="admin.change", object_type="orgs.territory").data == {
        "before": {"name": "蓬江区"},
        "after": {"name": "蓬江"},
    }

    response = c.post(f"/admin/registry/industry/{industry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Industry.objects.filter(code="glass-x").exists()
    deleted = AuditEvent.objects.get(action="admin.delete", actor=sysadmin.user)
    assert (deleted.object_id, deleted.data["deleted"]) == ("glass-x", "测试行业乙")

    Industry.objects.create(code="bulk-a", name="甲", sort_order=91)
    Industry.objects.create(code="bulk-b", name="乙", sort_order=92)
    response = c.post(
        "/admin/registry/industry/",
        {"action": "delete_selected", "_selected_action": ["bulk-a", "bulk-b"], "post": "yes"},
    )
    assert response.status_code == 302
    assert set(
        AuditEvent.objects.filter(action="admin.delete", object_id__startswith="bulk-").values_list(
            "object_id", flat=True
        )
    ) == {"bulk-a", "bulk-b"}


def test_hole_an_admin_change_that_cannot_be_audited_is_not_made(cast, monkeypatch) -> None:
    from phaseout.orgs import adminsite

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(adminsite, "record", broken)
    c = client_for(cast["people"][Role.SYSTEM_ADMIN].user)
    c.raise_request_exception = False
    response = c.post(
        "/admin/registry/industry/add/", {"code": "no-audit", "name": "无审计", "sort_order": "1"}
    )
    assert response.status_code == 500
    assert not Industry.objects.filter(code="no-audit").exists()


# ── every page, as the three administrators ─────────────────────────────────────────────────────

PUBLIC_PREFIXES = ("public/", "api/")
# What each administrator may open (everything else: 403).
ADMIN_PAGES = {
    Role.AUDITOR: {"", "audit/", "audit/export.xlsx"},
    Role.SECURITY_ADMIN: {
        "",
        "people/",
        "people/new/",
        "people/<int:pk>/",
        "people/sign-in-limits/",
        "people/departments/",
    },
    Role.SYSTEM_ADMIN: {""},
}


def _app_routes() -> list[str]:
    def walk(patterns: list[Any], prefix: str = "") -> list[str]:
        found: list[str] = []
        for p in patterns:
            if isinstance(p, URLResolver):
                found += walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.append(prefix + str(p.pattern))
        return found

    return [
        r
        for r in walk(get_resolver().url_patterns)
        if not r.startswith(("admin/", "accounts/", *PUBLIC_PREFIXES))
    ]


@pytest.mark.parametrize("role", ADMINISTRATOR_ROLES)
def test_l3_ces1_08_the_administrators_see_no_business_record_on_any_page(cast, firm, role: Role) -> None:
    case = CaseFactory(enterprise=firm)
    tipoff = _tipoff()
    person = cast["people"][role]
    routes = _app_routes()
    assert len(routes) > 60
    c = client_for(person.user)
    opened = set()
    for route in routes:
        for pk in {case.pk, firm.pk, tipoff.pk, person.pk}:
            url = "/" + re.sub(r"<int:\w+>", str(pk), route)
            url = re.sub(r"<slug:\w+>", "order_rectification", url)
            url = re.sub(r"<(?:str|docfmt):\w+>", "pdf", url)
            for method in (c.get, c.post):
                response = method(url)
                if response.status_code == 200:
                    opened.add(route)
                    body = readable(response)
                    secrets = [TIPOFF_TEXT, NAME, PHONE]
                    # An enterprise's account names its enterprise: the unit is part of the account,
                    # which the security administrator manages; the enterprise's records are not.
                    if not route.startswith("people/"):
                        secrets.append(SECRET_FIRM)
                    for secret in secrets:
                        assert secret not in body, (role, url, secret)
                else:
                    assert response.status_code in (302, 403, 404, 405), (role, url, response.status_code)
                    if route not in ADMIN_PAGES[role]:
                        assert response.status_code == 403, (role, url, response.status_code)
    assert opened == ADMIN_PAGES[role]


# ── L3-CES1-05: accounts and rights assigned to users ───────────────────────────────────────────


def test_l3_ces1_05_the_security_administrator_assigns_each_account_one_role(cast) -> None:
    secadmin = cast["people"][Role.SECURITY_ADMIN]
    c = client_for(secadmin.user)
    response = c.post(
        "/people/new/",
        {
            "username": "new-sysadmin",
            "password": "Sys-admin-2026-pw",
            "display_name": "新系统管理员",
            "role": "system_admin",
            "active": "on",
            # Flags a crafted form might send: not fields of the form, so nothing.
            "is_superuser": "on",
            "is_staff": "on",
            "territory": "440703",
        },
    )
    assert response.status_code == 302
    person = Person.objects.get(user__username="new-sysadmin")
    assert (person.role, person.territory_id) == (Role.SYSTEM_ADMIN, None)
    assert (person.user.is_staff, person.user.is_superuser) == (True, False)
    created = AuditEvent.objects.get(action="person.create", actor=secadmin.user)
    assert (created.object_id, created.data, created.outcome) == (
        str(person.pk),
        {"role": "system_admin"},
        "success",
    )
    # One role per account: a second Person for the same account cannot exist.
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(user=person.user, role=Role.AUDITOR, display_name="兼任审计")

    response = c.post(
        "/people/new/",
        {
            "username": "clerk",
            "password": "Banshi-pw-2026-xx",
            "display_name": "办事员",
            "role": "office",
            "active": "on",
            "is_superuser": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302
    clerk = get_user_model().objects.get(username="clerk")
    assert (clerk.is_staff, clerk.is_superuser) == (False, False)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SECURITY_ADMIN])
def test_l3_ces1_05_nobody_else_assigns_accounts(cast, role: Role) -> None:
    actor = cast["people"][role]
    target = cast["people"][Role.DISTRICT]
    c = client_for(actor.user)
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert c.post("/people/new/", {"username": "x", "role": "office"}).status_code == 403
    assert c.post(f"/people/{target.pk}/", {"role": "office", "display_name": "x"}).status_code == 403
    # Each page refused is recorded as such (tests/test_dengbao_exports.py); nothing else is written.
    assert [
        (e.action, e.outcome, e.actor, e.data["path"])
        for e in AuditEvent.objects.filter(seq__gt=before).order_by("seq")
    ] == [
        ("access.refused", Outcome.REFUSED, actor.user, "/people/new/"),
        ("access.refused", Outcome.REFUSED, actor.user, f"/people/{target.pk}/"),
    ]
    with pytest.raises(accounts.AccountError, match=f"^{ONLY_SECADMIN}$"):
        accounts.update_person(
            person=target,
            display_name="x",
            role=Role.OFFICE,
            department=None,
            territory=None,
            enterprise=None,
            active=True,
            by=actor.user,
        )
    target.refresh_from_db()
    assert target.role == Role.DISTRICT
    refused = _refusal("person.update", actor.user)
    assert (refused.reason, refused.object_id) == (ONLY_SECADMIN, str(target.pk))
    with pytest.raises(accounts.AccountError, match=f"^{ONLY_SECADMIN}$"):
        accounts.reset_password(person=target, password="Another-pw-2026", by=actor.user)
    assert _refusal("person.reset_password", actor.user).reason == ONLY_SECADMIN


# ── L3-CES1-08: least privilege, separation of the privileged roles ─────────────────────────────


def test_l3_ces1_08_an_administrator_holds_no_unit_and_no_second_role(cast) -> None:
    secadmin = cast["people"][Role.SECURITY_ADMIN]
    auditor = cast["people"][Role.AUDITOR]
    district = Territory.objects.get(code="440703")
    # In the database: an administrator with a unit cannot exist.
    for role in ADMINISTRATOR_ROLES:
        with pytest.raises(IntegrityError), transaction.atomic():
            Person.objects.create(user=UserFactory(username=f"both-{role}"), role=role, territory=district)
    # In the actions: refused with the reason, recorded, nothing changed.
    with pytest.raises(accounts.AccountError, match=f"^{ADMIN_NO_UNIT}$"):
        accounts.update_person(
            person=auditor,
            display_name=auditor.display_name,
            role=Role.AUDITOR,
            department=None,
            territory=district,
            enterprise=None,
            active=True,
            by=secadmin.user,
        )
    auditor.refresh_from_db()
    assert auditor.territory_id is None
    assert _refusal("person.update", secadmin.user).reason == ADMIN_NO_UNIT
    with pytest.raises(accounts.AccountError, match=f"^{ADMIN_NO_UNIT}$"):
        accounts.create_person(
            username="aud2",
            password="Xx-1234567890",
            display_name="x",
            role=Role.AUDITOR,
            territory=district,
            by=secadmin.user,
        )
    assert not get_user_model().objects.filter(username="aud2").exists()


def test_l3_ces1_08_a_security_administrator_cannot_change_their_own_role_or_password(cast) -> None:
    secadmin = cast["people"][Role.SECURITY_ADMIN]
    c = client_for(secadmin.user)
    for role in ("system_admin", "auditor", "intake"):
        response = c.post(f"/people/{secadmin.pk}/", {"display_name": "x", "role": role, "active": "on"})
        assert response.status_code == 200
        assert NOT_SELF in response.content.decode()
    secadmin.refresh_from_db()
    secadmin.user.refresh_from_db()
    assert (secadmin.role, secadmin.display_name, secadmin.user.is_staff) == (
        "security_admin",
        "r-secadmin",
        False,
    )
    assert (
        AuditEvent.objects.filter(action="person.update", outcome=Outcome.REFUSED, reason=NOT_SELF).count()
        == 3
    )
    response = c.post(f"/people/{secadmin.pk}/", {"password": "Self-chosen-2026"})
    assert NOT_OWN_PASSWORD in response.content.decode()
    secadmin.user.refresh_from_db()
    assert not secadmin.user.check_password("Self-chosen-2026")
    assert _refusal("person.reset_password", secadmin.user).reason == NOT_OWN_PASSWORD


def test_l3_ces1_08_a_security_administrator_cannot_reset_their_own_second_factor(cast) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from phaseout import accounts

    secadmin = cast["people"][Role.SECURITY_ADMIN]
    c = client_for(secadmin.user)
    device = TOTPDevice.objects.get(user=secadmin.user)
    response = c.post(f"/people/{secadmin.pk}/", {"reset_second_factor": "1"})
    assert response.status_code == 200
    assert NOT_OWN_FACTOR in response.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()  # nothing changed
    assert c.get("/people/").status_code == 200  # the session goes on
    refused = _refusal("person.reset_second_factor", secadmin.user)
    assert (refused.reason, refused.object_type, refused.object_id) == (
        NOT_OWN_FACTOR,
        "orgs.person",
        str(secadmin.pk),
    )
    assert not AuditEvent.objects.filter(action="auth.otp_reset").exists()
    with pytest.raises(accounts.AccountError, match=NOT_OWN_FACTOR):
        accounts.reset_second_factor(person=secadmin, by=secadmin.user)
    refusals = AuditEvent.objects.filter(action="person.reset_second_factor", outcome=Outcome.REFUSED)
    assert refusals.count() == 2
    # another security administrator does it
    other = _make("r-secadmin-2", Role.SECURITY_ADMIN)
    client_for(other.user).post(f"/people/{secadmin.pk}/", {"reset_second_factor": "1"})
    assert not TOTPDevice.objects.filter(user=secadmin.user).exists()
    reset = AuditEvent.objects.get(action="auth.otp_reset")
    assert (reset.actor, reset.outcome, reset.object_id) == (other.user, Outcome.SUCCESS, str(secadmin.pk))


def test_l3_ces1_08_the_last_security_administrator_stays(cast) -> None:
    first = cast["people"][Role.SECURITY_ADMIN]
    second = _make("r-secadmin-2", Role.SECURITY_ADMIN)

    def demote(person: Person, by: Any) -> Person:
        return accounts.update_person(
            person=person,
            display_name=person.display_name,
            role=Role.OFFICE,
            department=None,
            territory=None,
            enterprise=None,
            active=True,
            by=by,
        )

    demote(second, first.user)  # two of them: one may move the other
    second.refresh_from_db()
    assert second.role == Role.OFFICE
    # Now `first` is the last: not from the command line either.
    with pytest.raises(accounts.AccountError, match=f"^{LAST_SECADMIN}$"):
        demote(first, None)
    with pytest.raises(accounts.AccountError, match=f"^{LAST_SECADMIN}$"):
        accounts.update_person(
            person=first,
            display_name=first.display_name,
            role=Role.SECURITY_ADMIN,
            department=None,
            territory=None,
            enterprise=None,
            active=False,
            by=None,
        )
    first.refresh_from_db()
    first.user.refresh_from_db()
    assert (first.role, first.user.is_active) == (Role.SECURITY_ADMIN, True)
    assert (
        AuditEvent.objects.filter(
            action="person.update", outcome=Outcome.REFUSED, reason=LAST_SECADMIN
        ).count()
        == 2
    )
    # A security administrator who has been moved away can no longer manage anyone.
    with pytest.raises(accounts.AccountError, match=f"^{ONLY_SECADMIN}$"):
        demote(first, second.user)


# ── L3-CES1-09: the authorised subject configures the access policy ─────────────────────────────


def test_l3_ces1_09_only_the_security_administrator_sets_a_role_and_unit_and_it_is_recorded(cast) -> None:
    """The access policy is each person's role (what they may do) and unit (what they may see)."""
    secadmin = cast["people"][Role.SECURITY_ADMIN]
    district = cast["people"][Role.DISTRICT]
    c = client_for(secadmin.user)
    response = c.post(
        f"/people/{district.pk}/",
        {"display_name": "台山区", "role": "district", "territory": "440781", "active": "on"},
    )
    assert response.status_code == 302
    district.refresh_from_db()
    assert district.territory_id == "440781"
    event = AuditEvent.objects.get(action="person.update", actor=secadmin.user, outcome=Outcome.SUCCESS)
    assert event.data == {
        "before": {"role": "district", "active": True},
        "after": {"role": "district", "active": True},
        "sessions_ended": 0,
    }
    # The new policy applies at once: the district now sees Taishan's enterprises, not Pengjiang's.
    firm = Enterprise.objects.get(name=SECRET_FIRM)
    assert client_for(district.user).get(f"/enterprises/{firm.pk}/").status_code == 404
    # The system administrator cannot set it anywhere: not on the pages, not in the admin.
    sysadmin = client_for(cast["people"][Role.SYSTEM_ADMIN].user)
    assert sysadmin.post(f"/people/{district.pk}/", {"role": "office"}).status_code == 403
    assert sysadmin.get("/admin/orgs/person/").status_code == 404
    assert sysadmin.get("/admin/auth/group/").status_code == 404
    assert sysadmin.get("/admin/auth/permission/").status_code == 404


# ── L3-CES1-10: granularity — the subject is a person, the object a record ──────────────────────


def test_l3_ces1_10_access_is_decided_per_person_and_per_record(cast, firm) -> None:
    people = cast["people"]
    taishan_firm = EnterpriseFactory(name="台山另一家公司", territory=Territory.objects.get(code="440781"))
    own_case, other_case = CaseFactory(enterprise=firm), CaseFactory(enterprise=taishan_firm)
    district = client_for(people[Role.DISTRICT].user)
    assert district.get(f"/enterprises/{firm.pk}/").status_code == 200
    assert district.get(f"/enterprises/{taishan_firm.pk}/").status_code == 404
    assert district.get(f"/cases/{own_case.pk}/").status_code == 200
    assert district.get(f"/cases/{other_case.pk}/").status_code == 404
    company = client_for(people[Role.ENTERPRISE].user)
    assert company.get(f"/enterprises/{firm.pk}/").status_code == 200
    assert company.get(f"/enterprises/{taishan_firm.pk}/").status_code == 404
    # Two people with the same role and unit, one deactivated by the security administrator: the
    # decision is per person.
    twin = _make("r-district-twin", Role.DISTRICT, territory=Territory.objects.get(code="440703"))
    twin.user.is_active = False
    twin.user.save()
    signed_in, twin_client = form_login("r-district-twin", "pw-Secret-123")
    assert not signed_in
    assert twin_client.get(f"/enterprises/{firm.pk}/").status_code == 302


# ── L3-CES1-11: security labels ─────────────────────────────────────────────────────────────────


def test_l3_ces1_11_the_reporters_identity_is_labelled_and_read_only_by_intake(cast) -> None:
    assert label_of(TipOff, "reporter_name") == Label.REPORTER_IDENTITY
    assert label_of(TipOff, "reporter_phone") == Label.REPORTER_IDENTITY
    assert label_of(TipOff, "text") == Label.BUSINESS
    assert CLEARED[Label.REPORTER_IDENTITY] == {Role.INTAKE}
    tipoff = _tipoff()
    for role, person in cast["people"].items():
        if role == Role.INTAKE:
            assert tipoffs.reveal(tipoff=tipoff, by=person.user, reason="核查") == (NAME, PHONE)
            continue
        assert not may_read(person, Label.REPORTER_IDENTITY)
        with pytest.raises(tipoffs.TipOffError, match=f"^{ONLY_INTAKE}$"):
            tipoffs.reveal(tipoff=tipoff, by=person.user, reason="核查")
        assert _refusal("tipoff.identity_read", person.user).object_id == str(tipoff.pk)
    with pytest.raises(tipoffs.TipOffError, match=f"^{ONLY_INTAKE}$"):
        tipoffs.reveal(tipoff=tipoff, by=cast["root"], reason="核查")  # a superuser has no clearance
    assert AuditEvent.objects.filter(action="tipoff.identity_read", outcome=Outcome.SUCCESS).count() == 1
    # Over HTTP: the office sees the tip-off but not the reporter, and has no button for it.
    office = client_for(cast["people"][Role.OFFICE].user)
    page = office.get(f"/tipoffs/{tipoff.pk}/").content.decode()
    assert TIPOFF_TEXT in page and NAME not in page and 'value="reveal"' not in page
    assert office.post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal"}).status_code == 403
    intake = client_for(cast["people"][Role.INTAKE].user)
    assert 'value="reveal"' in intake.get(f"/tipoffs/{tipoff.pk}/").content.decode()


def test_l3_ces1_11_every_model_carries_a_label_and_each_administrator_reads_only_its_own(db: None) -> None:
    unlabelled = [
        m._meta.label_lower
        for m in apps.get_models()
        if m._meta.app_label not in ("contenttypes", "admin") and label_of(m) is None
    ]
    assert unlabelled == []
    assert {label for label in Label if may_read(PersonFactory.build(role=Role.AUDITOR), label)} == {
        Label.AUDIT_TRAIL,
        Label.REFERENCE,
    }
    assert {label for label in Label if may_read(PersonFactory.build(role=Role.SECURITY_ADMIN), label)} == {
        Label.ACCOUNTS,
        Label.REFERENCE,
    }
    assert {label for label in Label if may_read(PersonFactory.build(role=Role.SYSTEM_ADMIN), label)} == {
        Label.REFERENCE
    }
    assert not may_read(None, Label.REFERENCE)


def test_probe_an_admin_change_is_recorded_from_the_database_not_from_the_posted_initial_values(cast) -> None:
    """A probe posted the hidden initial value equal to the new one: the record must still show the change."""
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    department = Department.objects.get(code="jm-sthjj")
    before = department.name
    response = client_for(sysadmin.user).post(
        f"/admin/orgs/department/{department.pk}/change/",
        {
            "code": department.code,
            "name": "江门市生态环境局（改）",
            "initial-name": "江门市生态环境局（改）",
            "territory": department.territory_id,
            "doc_prefix": department.doc_prefix,
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.change", object_type="orgs.department")
    assert event.data == {"before": {"name": before}, "after": {"name": "江门市生态环境局（改）"}}


@pytest.mark.parametrize(
    "posted", [["energy", "environment", "safety"], [], "bogus", '{"a": 1}', "9" * 5000, "\u0000"]
)
def test_l3_ces1_08_the_system_administrator_cannot_change_a_departments_dimensions(cast, posted) -> None:
    """A department's dimensions are its people's data scope: not the system administrator's to change."""
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    department = Department.objects.get(code="jm-sthjj")
    before = list(department.dimensions)
    assert before and before != posted
    c = client_for(sysadmin.user)
    url = f"/admin/orgs/department/{department.pk}/change/"
    shown = c.get(url).content.decode()
    assert department.dimension_labels() in shown  # shown …
    assert 'name="dimensions"' not in shown  # … not offered
    response = c.post(
        url,
        {
            "code": department.code,
            "name": department.name,
            "territory": department.territory_id,
            "dimensions": posted,
            "doc_prefix": department.doc_prefix,
            "is_office": "",
        },
    )
    assert response.status_code == (400 if posted == "\u0000" else 302)
    department.refresh_from_db()
    assert department.dimensions == before
    assert not AuditEvent.objects.filter(action="admin.change", data__after__has_key="dimensions").exists()
    for event in AuditEvent.objects.filter(action="admin.change"):
        assert event.data == {"before": {}, "after": {}}  # saved, and nothing changed


def test_probe_the_delete_page_of_reference_data_names_no_business_record(cast) -> None:
    sysadmin = cast["people"][Role.SYSTEM_ADMIN]
    department = Department.objects.get(code="jm-fgj")
    people = Person.objects.filter(department=department)
    assert people.exists()  # a person of the department protects it from deletion
    body = client_for(sysadmin.user).get(f"/admin/orgs/department/{department.pk}/delete/").content.decode()
    assert "有业务记录依赖于它，不能删除。" in body
    assert not any(p.display_name in body for p in people)
