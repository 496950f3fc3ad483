"""A department's dimensions set its people's data scope: the security administrator changes them on their
own page, recorded; nobody else can, and the department's people see the new scope at once."""

from __future__ import annotations

import pytest

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.orgs.models import Department, Person, Role
from tests.conftest import client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory


@pytest.fixture
def secadmin(reference: None) -> Person:
    return PersonFactory(
        user=UserFactory(username="secadmin"), role=Role.SECURITY_ADMIN, display_name="安全管理员"
    )


def _post(person: Person, department: Department, dimensions: list[str]):
    return client_for(person.user).post(
        "/people/departments/", {"department": department.pk, "dimensions": dimensions}
    )


def test_the_security_administrator_sets_a_departments_dimensions_and_it_is_recorded(
    secadmin: Person, energy_dept: Person
) -> None:
    department = Department.objects.get(code="jm-fgj")
    assert department.dimensions == ["energy", "technology"]
    safety_case = CaseFactory(dimension="safety", rule_id="safety.general")
    staff = client_for(energy_dept.user)
    assert staff.get(f"/cases/{safety_case.pk}/").status_code == 404  # outside its scope
    admin = client_for(secadmin.user)
    page = admin.get("/people/departments/").content.decode()
    assert "江门市发展和改革局" in page and 'value="safety"' in page
    response = admin.post(
        "/people/departments/",
        {"department": department.pk, "dimensions": ["safety", "energy", "technology"]},
        follow=True,
    )
    assert response.redirect_chain == [("/people/departments/", 302)]
    department.refresh_from_db()
    assert department.dimensions == ["energy", "safety", "technology"]  # in the platform's order
    entry = AuditEvent.objects.get(action="department.dimensions")
    assert (entry.actor_id, entry.outcome, entry.object_id, entry.data) == (
        secadmin.user.pk,
        Outcome.SUCCESS,
        str(department.pk),
        {"before": ["energy", "technology"], "after": ["energy", "safety", "technology"]},
    )
    assert "江门市发展和改革局 现负责的维度：能耗、安全、技术。" in response.content.decode()
    assert staff.get(f"/cases/{safety_case.pk}/").status_code == 200  # the new scope, at once


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.OFFICE, Role.AUDITOR])
def test_nobody_else_changes_them(secadmin: Person, role: Role) -> None:
    other = PersonFactory(
        user=UserFactory(username=f"x-{role}", is_staff=role == Role.SYSTEM_ADMIN),
        role=role,
        department=Department.objects.get(code="jm-gxj") if role == Role.OFFICE else None,
    )
    department = Department.objects.get(code="jm-fgj")
    assert _post(other, department, ["safety"]).status_code == 403
    department.refresh_from_db()
    assert department.dimensions == ["energy", "technology"]
    assert not AuditEvent.objects.filter(action="department.dimensions").exists()
    assert (
        AuditEvent.objects.filter(action="access.refused", actor=other.user, outcome=Outcome.REFUSED).count()
        == 1
    )


def test_an_unknown_dimension_is_refused_and_changes_nothing(secadmin: Person) -> None:
    department = Department.objects.get(code="jm-fgj")
    response = client_for(secadmin.user).post(
        "/people/departments/",
        {"department": department.pk, "dimensions": ["energy", "finance"]},
        follow=True,
    )
    assert "执法维度：选择一个有效的选项。 finance 不在可用的选项中。" in response.content.decode()
    department.refresh_from_db()
    assert department.dimensions == ["energy", "technology"]
    assert not AuditEvent.objects.filter(action="department.dimensions").exists()


def test_the_action_itself_refuses_anyone_but_the_security_administrator(office: Person) -> None:
    from phaseout import accounts

    department = Department.objects.get(code="jm-fgj")
    with pytest.raises(accounts.AccountError) as refused:
        accounts.set_department_dimensions(department=department, dimensions=["safety"], by=office.user)
    assert str(refused.value) == "只有安全管理员可以管理账号和角色。"
    entry = AuditEvent.objects.get(action="department.dimensions")
    assert (entry.outcome, entry.data) == (Outcome.REFUSED, {"attempt": ["safety"]})
    department.refresh_from_db()
    assert department.dimensions == ["energy", "technology"]
