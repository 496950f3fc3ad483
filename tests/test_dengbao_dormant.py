"""等保 2.0 level 3, L3-CES1-07 (及时删除或停用多余的、过期的账户): accounts unused for
ACCOUNT_DORMANT_DAYS are turned off by the periodic job, each with its audit entry; re-enabled by the
security administrator they count afresh; the last security administrator is never turned off. `now` is
passed: no real clock."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User

from phaseout import accounts, jobs
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.identity import dormant
from phaseout.orgs.models import Credentials, Person, Role
from tests.factories import PersonFactory, UserFactory

NOW = dt.datetime(2027, 6, 1, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 6, 1)


def _account(
    username: str, *, joined_days: int, login_days: int | None = None, role: Role = Role.OFFICE
) -> User:
    person = PersonFactory(user=UserFactory(username=username), role=role, display_name=username)
    User.objects.filter(pk=person.user.pk).update(
        date_joined=NOW - dt.timedelta(days=joined_days),
        last_login=None if login_days is None else NOW - dt.timedelta(days=login_days),
    )
    return User.objects.get(pk=person.user.pk)


def _active(*users: User) -> list[bool]:
    return [User.objects.get(pk=u.pk).is_active for u in users]


def test_l3_ces1_07_an_account_idle_past_the_period_is_turned_off_and_audited(db: None) -> None:
    idle = _account("idle", joined_days=400, login_days=91)
    recent = _account("recent", joined_days=400, login_days=89)
    never = _account("never", joined_days=100)
    new = _account("new", joined_days=10)
    report = jobs.run_jobs(now=NOW, today=TODAY)
    assert str(report["identity-dormant"]) == "长期未使用而停用的账户：2 个。"
    assert _active(idle, recent, never, new) == [False, True, False, True]
    entries = AuditEvent.objects.filter(action="account.dormant_disabled").order_by("seq")
    assert [(e.data["username"], e.actor_id, e.outcome, e.object_type) for e in entries] == [
        ("never", None, Outcome.SUCCESS, "orgs.person"),
        ("idle", None, Outcome.SUCCESS, "orgs.person"),
    ]
    assert entries[1].data == {
        "username": "idle",
        "last_active": (NOW - dt.timedelta(days=91)).isoformat(),
        "days": 90,
    }
    assert jobs.run_jobs(now=NOW, today=TODAY)["identity-dormant"].counts == {"disabled": 0}


def test_l3_ces1_07_a_recent_password_change_counts_as_use(db: None) -> None:
    user = _account("changed", joined_days=400, login_days=200)
    Credentials.objects.create(user=user, password_changed_at=NOW - dt.timedelta(days=5))
    assert dormant.disable_dormant(now=NOW) == 0
    assert _active(user) == [True]


def test_l3_ces1_07_reenabled_by_the_security_administrator_it_counts_afresh(db: None) -> None:
    admin = _account("secadmin", joined_days=1, login_days=0, role=Role.SECURITY_ADMIN)
    user = _account("idle", joined_days=400, login_days=200)
    assert dormant.disable_dormant(now=NOW) == 1
    person = Person.objects.get(user=user)
    with time_machine.travel(NOW, tick=False):
        accounts.update_person(
            person=person, display_name="idle", role=Role.OFFICE, department=person.department,
            territory=None, enterprise=None, active=True, by=admin,
        )  # fmt: skip
    assert Credentials.objects.get(user=user).reactivated_at == NOW
    assert dormant.disable_dormant(now=NOW + dt.timedelta(days=89)) == 0
    assert dormant.disable_dormant(now=NOW + dt.timedelta(days=91)) == 1
    assert _active(user) == [False]


def test_l3_ces1_07_the_last_security_administrator_is_kept(db: None) -> None:
    first = _account("secadmin1", joined_days=400, login_days=300, role=Role.SECURITY_ADMIN)
    second = _account("secadmin2", joined_days=400, login_days=200, role=Role.SECURITY_ADMIN)
    assert dormant.disable_dormant(now=NOW) == 0
    assert _active(first, second) == [True, True]
    third = _account("secadmin3", joined_days=400, login_days=1, role=Role.SECURITY_ADMIN)
    assert dormant.disable_dormant(now=NOW) == 2
    assert _active(first, second, third) == [False, False, True]


def test_l3_ces1_07_the_longest_idle_go_first_a_batch_a_run(db: None, monkeypatch) -> None:
    monkeypatch.setattr(dormant, "DORMANT_BATCH", 2)
    users = [_account(f"u{days}", joined_days=500, login_days=days) for days in (100, 300, 200)]
    assert dormant.disable_dormant(now=NOW) == 2
    assert _active(*users) == [True, False, False]
    assert dormant.disable_dormant(now=NOW) == 1
    assert _active(*users) == [False, False, False]


def test_l3_ces1_07_the_period_is_a_setting_and_zero_turns_it_off(db: None, settings) -> None:
    user = _account("idle", joined_days=400, login_days=40)
    settings.ACCOUNT_DORMANT_DAYS = 0
    assert dormant.disable_dormant(now=NOW) == 0
    settings.ACCOUNT_DORMANT_DAYS = 30
    assert dormant.disable_dormant(now=NOW) == 1
    assert AuditEvent.objects.get(action="account.dormant_disabled").data["days"] == 30
    assert _active(user) == [False]


@pytest.mark.parametrize("login_days", [90])
def test_l3_ces1_07_exactly_the_period_is_not_yet_dormant(db: None, login_days: int) -> None:
    user = _account("edge", joined_days=400, login_days=login_days)
    assert dormant.disable_dormant(now=NOW) == 0
    assert dormant.disable_dormant(now=NOW + dt.timedelta(microseconds=1)) == 1
    assert _active(user) == [False]
