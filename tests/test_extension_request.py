"""The enterprise applies once for at most 3 more months; the department grants or refuses."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.models import Case, ExtensionRequest
from phaseout.orgs.models import Person, Role
from tests.conftest import client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def case(reference) -> Case:
    return CaseFactory(
        state="rectifying",
        order_date=dt.date(2026, 2, 2),
        deadline=dt.date(2026, 8, 3),
        rectification_months=6,
    )


@pytest.fixture
def company(case) -> Person:
    return PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=case.enterprise)


DATES = {"issued_on": "2026-03-02", "served_on": "2026-03-02"}


def test_request_then_grant_moves_the_deadline_once(case, company, energy_dept) -> None:
    with pytest.raises(CaseActionError, match="3"):
        actions.request_extension(case=case, months=5, reason="改造", by=company.user, today=TODAY)
    application = actions.request_extension(
        case=case, months=2, reason="余热发电改造", by=company.user, today=TODAY
    )
    with pytest.raises(CaseActionError, match="等待"):
        actions.request_extension(case=case, months=1, reason="再申请", by=company.user, today=TODAY)
    actions.decide_extension(request=application, grant=True, note="同意", by=energy_dept.user, today=TODAY)
    case.refresh_from_db()
    assert case.extension_months == 2
    assert case.deadline == dt.date(2026, 10, 8)  # 2026-10-02 falls in the National Day holiday
    with pytest.raises(StaleCase):
        actions.decide_extension(request=application, grant=False, note="x", by=energy_dept.user, today=TODAY)
    with pytest.raises(CaseActionError, match="只能延期一次"):
        actions.request_extension(case=case, months=1, reason="再延", by=company.user, today=TODAY)
    assert list(case.events.values_list("action", flat=True)) == ["extension_requested", "grant_extension"]


def test_refusal_needs_a_reason_and_changes_no_deadline(case, company, energy_dept) -> None:
    application = actions.request_extension(
        case=case, months=3, reason="资金未到位", by=company.user, today=TODAY
    )
    with pytest.raises(CaseActionError):
        actions.decide_extension(request=application, grant=False, note=" ", by=energy_dept.user, today=TODAY)
    application.refresh_from_db()
    assert application.status == "pending"  # the refused decision rolled back
    actions.decide_extension(
        request=application, grant=False, note="理由不充分", by=energy_dept.user, today=TODAY
    )
    case.refresh_from_db()
    assert (case.extension_months, case.deadline) == (0, dt.date(2026, 8, 3))
    application.refresh_from_db()
    assert (application.status, application.decided_by_id) == ("refused", energy_dept.user.pk)


@time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False)
def test_the_pages(case, company, energy_dept, district) -> None:
    firm = client_for(company.user)
    page = firm.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-action="extension_request"' in page
    response = firm.post(
        f"/cases/{case.pk}/extension-request/",
        {"version": case.version, "months": 2, "reason": "停窑改造"},
        follow=True,
    )
    assert "延期申请已提交主管部门" in response.content.decode()
    application = ExtensionRequest.objects.get()
    assert "等待您决定的延期申请" in client_for(energy_dept.user).get("/").content.decode()
    assert (
        client_for(district.user)
        .post(f"/extension-requests/{application.pk}/decide/", {"grant": "yes", **DATES})
        .status_code
        == 403
    )
    client_for(energy_dept.user).post(
        f"/extension-requests/{application.pk}/decide/", {"grant": "yes", "note": "同意", **DATES}
    )
    case.refresh_from_db()
    assert case.extension_months == 2
    assert 'data-action="extension_request"' not in firm.get(f"/cases/{case.pk}/").content.decode()
