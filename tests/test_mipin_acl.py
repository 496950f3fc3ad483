"""密评 (GB/T 39786-2021 level 3) 访问控制信息完整性: each person's role and unit are sealed with HMAC-SM3;
a row changed behind the platform's back is refused at the door, recorded, and listed by
`phaseout audit verify`."""

from __future__ import annotations

import pytest

from phaseout.audit import verify
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.orgs import integrity
from phaseout.orgs.models import Department, Person, Role, Territory
from tests.conftest import client_for
from tests.factories import PersonFactory, UserFactory

TAMPERED = "您账户的角色和所属单位未通过完整性校验：它们在平台之外被修改过。请联系安全管理员。"


def _refusals(person: Person) -> list[tuple[int | None, str, str]]:
    return [
        (e.actor_id, e.outcome, e.data["role"])
        for e in AuditEvent.objects.filter(action="access.integrity_failed", object_id=str(person.pk))
    ]


def test_mipin_every_save_seals_the_role_and_unit(district: Person) -> None:
    assert district.acl_mac == integrity.seal(district) and len(district.acl_mac) == 64
    assert integrity.intact(district)
    district.territory = Territory.objects.get(code="440781")
    district.save(update_fields=["territory"])
    district.refresh_from_db()
    assert integrity.intact(district) and district.acl_mac == integrity.seal(district)
    # Each sealed field counts: any one changed alone breaks the seal.
    for field, value in (
        ("role", Role.OFFICE),
        ("territory_id", "440703"),
        ("department_id", Department.objects.get(code="jm-gxj").pk),
        ("enterprise_id", 1),
        ("user_id", district.user_id + 1),
    ):
        copy = Person.objects.get(pk=district.pk)
        setattr(copy, field, value)
        assert not integrity.intact(copy), field


def test_mipin_a_role_raised_in_sql_is_refused_and_recorded(district: Person) -> None:
    client = client_for(district.user)
    assert client.get("/cases/").status_code == 200
    Person.objects.filter(pk=district.pk).update(role=Role.OFFICE)  # behind the platform: no new seal
    response = client.get("/cases/")
    assert response.status_code == 403
    assert TAMPERED in response.content.decode()
    assert _refusals(district) == [(district.user.pk, Outcome.REFUSED, "office")]
    report = verify.verify()
    assert report.problems == [
        f"pengjiang（人员 {district.pk}）的角色和所属单位未通过完整性校验：在平台之外被修改过。"
    ]
    # The security administrator's save (the platform's own path) seals it again.
    person = Person.objects.get(pk=district.pk)
    person.role = Role.DISTRICT
    person.save()
    assert client.get("/cases/").status_code == 200
    assert verify.verify().ok


def test_mipin_a_unit_moved_in_sql_is_refused(district: Person) -> None:
    client = client_for(district.user)
    Person.objects.filter(pk=district.pk).update(territory=Territory.objects.get(code="440781"))
    assert client.get("/").status_code == 403
    assert len(_refusals(district)) == 1


def test_mipin_the_admin_refuses_a_system_administrator_whose_row_was_changed(db: None) -> None:
    user = UserFactory(username="sysadmin-acl", is_staff=True)
    person = PersonFactory(user=user, role=Role.SYSTEM_ADMIN, display_name="系统管理员")
    client = client_for(user)
    assert client.get("/admin/").status_code == 200
    other = PersonFactory(user=UserFactory(username="intake-acl"), role=Role.INTAKE, display_name="受理")
    # Someone with the database gives the intake officer the system administrator's role by SQL.
    Person.objects.filter(pk=other.pk).update(role=Role.SYSTEM_ADMIN)
    from django.contrib.auth.models import User

    User.objects.filter(pk=other.user.pk).update(is_staff=True)
    response = client_for(other.user).get("/admin/")
    assert response.status_code == 403
    assert _refusals(other) and all(r[1] == Outcome.REFUSED for r in _refusals(other))
    assert _refusals(person) == []


@pytest.mark.parametrize("count", [3])
def test_mipin_verify_lists_every_broken_row_and_nothing_else(reference: None, count: int) -> None:
    people = [
        PersonFactory(role=Role.OFFICE, department=Department.objects.get(code="jm-gxj"))
        for _ in range(count)
    ]
    assert verify.verify().ok
    Person.objects.filter(pk=people[1].pk).update(role=Role.SECURITY_ADMIN, department=None)
    problems = verify.verify().problems
    assert len(problems) == 1 and f"（人员 {people[1].pk}）" in problems[0]
