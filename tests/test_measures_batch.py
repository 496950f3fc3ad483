"""Batch work (the working day, §4): several exit measures of a case recorded as done at once, one visit and
one set of evidence — each measure with its own record, event and audit row, the evidence kept with each;
all or none."""

from __future__ import annotations

import datetime as dt

import time_machine

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import actions
from phaseout.cases.models import Case, CaseEvent, Evidence, ExitMeasure
from phaseout.orgs.models import Person, Role
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import PNG, client_for, upload
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _ordered(office: Person) -> Case:
    case = CaseFactory(
        finding__inspection__inspected_on=dt.date(2025, 1, 2),
        dimension="technology",
        consequence="exit_at_once",
    )
    return actions.order_exit(
        case=case, plan=ExitPlan.SEAL_THEN_DISMANTLE, by=office.user, reason="淘汰", today=TODAY
    )


def _post(person: Person, case: Case, kinds: list[str], **fields: str):
    measures = [str(case.measures.get(kind=k).pk) for k in kinds]
    case.refresh_from_db()
    data = {
        "measures": measures,
        "done_on": "2026-03-02",
        "note": "同一次现场",
        "notice": "书面通知，提前24小时送达",
        "version": str(case.version),
        "attachments": upload("现场.png", PNG, "image/png"),
        **fields,
    }
    with time_machine.travel(NOW, tick=False):
        return client_for(person.user).post(f"/cases/{case.pk}/measures/done/", data, follow=True)


def test_several_measures_done_with_one_set_of_evidence(office: Person) -> None:
    case = _ordered(office)
    kinds = ["power_cut", "water_cut", "equipment_sealing"]
    response = _post(office, case, kinds)
    assert "已登记：断电、断水、封存主体设备。" in response.content.decode()
    done = ExitMeasure.objects.filter(case=case, kind__in=kinds)
    assert {(m.done_on, m.done_by_id, m.note, m.notice) for m in done} == {
        (TODAY, office.user.pk, "同一次现场", "书面通知，提前24小时送达")
    }
    evidence = Evidence.objects.filter(measure__in=done)
    assert evidence.count() == 3 and len({(e.file.name, e.sha256) for e in evidence}) == 1  # stored once
    assert all(e.measure.evidence.count() == 1 for e in evidence)
    events = CaseEvent.objects.filter(case=case, action="measure_done").order_by("pk")
    assert [e.data["measure"] for e in events] == kinds
    audits = AuditEvent.objects.filter(action="case.measure_done", object_id=str(case.pk)).order_by("seq")
    assert [(a.actor_id, a.data["measure"]) for a in audits] == [(office.user.pk, k) for k in kinds]
    assert not ExitMeasure.objects.filter(case=case, done_on__isnull=True, kind__in=kinds).exists()


def test_a_power_cut_without_its_notice_refuses_the_whole_batch(office: Person) -> None:
    case = _ordered(office)
    version = Case.objects.get(pk=case.pk).version
    response = _post(office, case, ["equipment_sealing", "power_cut"], notice=" ")
    assert "停止供电、供水属于强制措施：请登记向企业发出的通知情况。" in response.content.decode()
    assert not ExitMeasure.objects.filter(case=case, done_on__isnull=False).exists()
    assert Case.objects.get(pk=case.pk).version == version
    assert not Evidence.objects.filter(measure__case=case).exists()


def test_a_date_before_the_exit_order_refuses_the_whole_batch(office: Person) -> None:
    case = _ordered(office)
    response = _post(office, case, ["equipment_sealing", "power_equipment_removal"], done_on="2026-03-01")
    assert "措施落实日期不能早于关停退出决定日期。" in response.content.decode()
    assert not ExitMeasure.objects.filter(case=case, done_on__isnull=False).exists()


def test_a_measure_already_done_or_of_another_case_cannot_be_chosen(office: Person) -> None:
    case = _ordered(office)
    other = _ordered(office)
    _post(office, case, ["equipment_sealing"])
    again = _post(office, case, ["equipment_sealing", "water_cut"])
    assert "不在可用的选项中" in again.content.decode()
    assert ExitMeasure.objects.get(case=case, kind="water_cut").done_on is None
    foreign = other.measures.get(kind="water_cut")
    case.refresh_from_db()
    with time_machine.travel(NOW, tick=False):
        response = client_for(office.user).post(
            f"/cases/{case.pk}/measures/done/",
            {"measures": [str(foreign.pk)], "done_on": "2026-03-02", "version": str(case.version),
             "attachments": upload("现场.png", PNG, "image/png")},
            follow=True,
        )  # fmt: skip
    assert "不在可用的选项中" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.done_on is None


def test_the_action_refuses_an_empty_batch_and_measures_of_another_case(office: Person) -> None:
    import pytest

    from phaseout.cases.errors import CaseActionError

    case, other = _ordered(office), _ordered(office)
    with pytest.raises(CaseActionError) as empty:
        actions.complete_measures(case=case, measures=[], by=office.user, done_on=TODAY, today=TODAY)
    assert empty.value.message == "请选择已落实的措施。"
    with pytest.raises(CaseActionError) as foreign:
        actions.complete_measures(
            case=case, measures=[other.measures.get(kind="equipment_sealing")], by=office.user,
            done_on=TODAY, today=TODAY, files=[upload("现场.png", PNG, "image/png")],
        )  # fmt: skip
    assert foreign.value.message == "所选措施并非都属于本案件。"


def test_only_the_roles_that_record_measures_may_batch_them(office: Person) -> None:
    case = _ordered(office)
    firm = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=case.enterprise)
    response = _post(firm, case, ["equipment_sealing"])
    assert response.status_code == 403
    assert (
        AuditEvent.objects.filter(action="access.refused", actor=firm.user, outcome=Outcome.REFUSED).count()
        == 1
    )
    assert ExitMeasure.objects.get(case=case, kind="equipment_sealing").done_on is None


def test_the_case_page_offers_the_batch_to_those_who_record_measures(office: Person) -> None:
    case = _ordered(office)
    with time_machine.travel(NOW, tick=False):
        page = client_for(office.user).get(f"/cases/{case.pk}/").content.decode()
    assert 'id="measures-batch"' in page and 'name="measures"' in page
    assert page.count('name="measures" value=') == case.measures.count()
