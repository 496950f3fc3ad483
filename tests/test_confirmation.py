"""The irreversible steps outside the case (publishing a list, withdrawing it, confirming a plan,
deactivating an account) ask for confirmation on the page, saying what will follow; without the box
ticked the request is refused and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest

from phaseout.audit.models import AuditEvent
from phaseout.cases.forms import confirmation as cases_confirmation
from phaseout.disclosure import actions as list_actions
from phaseout.disclosure.models import Snapshot
from phaseout.orgs.models import Person, Role
from phaseout.plans import actions as plan_actions
from phaseout.plans.models import Plan, Submission
from phaseout.web.forms import confirmation
from tests.conftest import SEEDS, client_for
from tests.factories import PersonFactory, UserFactory

ON = dt.date(2026, 3, 2)
REFUSED = "请勾选确认后再执行此操作。"


def test_one_helper_for_every_app() -> None:
    assert cases_confirmation is confirmation
    field = confirmation("我确认")
    assert field.required and field.error_messages["required"] == "请勾选确认后再执行此操作。"


def _approved(office: Person) -> Snapshot:
    return list_actions.approve(
        snapshot=list_actions.draft(kind="licences", by=office.user, today=ON), by=office.user
    )


def test_publishing_a_list_needs_the_box_ticked(office: Person) -> None:
    snapshot = _approved(office)
    client = client_for(office.user)
    page = client.get(f"/lists/{snapshot.pk}/").content.decode()
    assert "我确认：发布后名单即在公众门户公开，只能以撤回（须说明理由）的方式更正。" in page
    response = client.post(f"/lists/{snapshot.pk}/publish/", {}, follow=True)
    assert REFUSED in response.content.decode()
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.published_at) == ("approved", None)
    assert not AuditEvent.objects.filter(action="list.publish").exists()
    client.post(f"/lists/{snapshot.pk}/publish/", {"confirm": "on"})
    snapshot.refresh_from_db()
    assert snapshot.status == "published"
    assert AuditEvent.objects.filter(action="list.publish", object_id=str(snapshot.pk)).count() == 1


def test_withdrawing_a_list_needs_the_box_ticked(office: Person) -> None:
    snapshot = list_actions.publish(snapshot=_approved(office), by=office.user)
    client = client_for(office.user)
    page = client.get(f"/lists/{snapshot.pk}/").content.decode()
    assert "我确认：名单即从公众门户撤回" in page
    response = client.post(f"/lists/{snapshot.pk}/withdraw/", {"reason": "数据核对中"}, follow=True)
    assert REFUSED in response.content.decode()
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.withdrawal_reason) == ("published", "")
    assert not AuditEvent.objects.filter(action="list.withdraw").exists()
    # Ticked, but without a reason: still refused, with the reason why.
    response = client.post(f"/lists/{snapshot.pk}/withdraw/", {"reason": " ", "confirm": "on"}, follow=True)
    assert "请填写撤回名单的理由。" in response.content.decode()
    snapshot.refresh_from_db()
    assert snapshot.status == "published"
    client.post(f"/lists/{snapshot.pk}/withdraw/", {"reason": "数据核对中", "confirm": "on"})
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.withdrawal_reason) == ("withdrawn", "数据核对中")
    assert AuditEvent.objects.filter(action="list.withdraw", reason="数据核对中").count() == 1


def test_confirming_a_plan_needs_the_box_ticked(office: Person) -> None:
    plan = plan_actions.import_plan(
        name="jiangmen-2021-plan.txt", data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(), by=office.user
    )
    for expression in plan.times.filter(needs_review=True):
        plan_actions.review_time(expression=expression, date=None, by=office.user)
    client = client_for(office.user)
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "我确认：确认后，计划要求报送的材料即按期限跟踪和提醒" in page
    response = client.post(f"/plans/{plan.pk}/confirm/", {}, follow=True)
    assert REFUSED in response.content.decode()
    plan.refresh_from_db()
    assert (plan.status, plan.confirmed_at) == (Plan.Status.DRAFT, None)
    assert not Submission.objects.exists()
    assert not AuditEvent.objects.filter(action="plan.confirm").exists()
    client.post(f"/plans/{plan.pk}/confirm/", {"confirm": "on"})
    plan.refresh_from_db()
    assert plan.status == Plan.Status.CONFIRMED and Submission.objects.exists()
    assert AuditEvent.objects.filter(action="plan.confirm", object_id=str(plan.pk)).count() == 1


@pytest.fixture
def secadmin(reference: None) -> Person:
    return PersonFactory(
        user=UserFactory(username="sec"), role=Role.SECURITY_ADMIN, display_name="安全管理员"
    )


def test_deactivating_an_account_needs_the_box_ticked(secadmin: Person, district: Person) -> None:
    client = client_for(secadmin.user)
    page = client.get(f"/people/{district.pk}/").content.decode()
    assert "如停用该账号，我确认：此人即被登出，不能再登录" in page
    form = {"display_name": "蓬江区", "role": "district", "territory": "440703"}  # "active" left off
    response = client.post(f"/people/{district.pk}/", form)
    assert response.status_code == 200 and REFUSED in response.content.decode()
    district.user.refresh_from_db()
    assert district.user.is_active
    assert not AuditEvent.objects.filter(action="person.update").exists()
    # Other changes to an active account need no confirmation.
    response = client.post(
        f"/people/{district.pk}/", {**form, "display_name": "蓬江区工信局", "active": "on"}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="person.update").count() == 1
    response = client.post(f"/people/{district.pk}/", {**form, "confirm": "on"})
    assert response.status_code == 302
    district.user.refresh_from_db()
    assert not district.user.is_active
    event = AuditEvent.objects.filter(action="person.update").latest("id")
    assert event.data["after"]["active"] is False and event.actor == secadmin.user
