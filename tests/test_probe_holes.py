"""Holes a probe of the platform found (issue 13), each reproduced by a test that failed on the code
before its fix: the Django admin's redirect loop for a signed-in account of another role, a lockout an
attacker at the owner's address could cause, a non-ASCII bearer token, the year summary's out-of-range
year, confusable usernames, decision documents under any extension, and a backup seal in non-ASCII."""

from __future__ import annotations

import pytest

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.orgs.models import Role
from tests.conftest import client_for
from tests.factories import PersonFactory, UserFactory

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
