"""Credit referrals for missed exit deadlines, joint punishment acknowledged and lifted after exit;
production licences cancelled after exit and refused to elimination-class equipment."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case
from phaseout.credit import actions
from phaseout.credit.models import Referral
from phaseout.orgs.models import Department, Person, Role
from phaseout.registry import actions as registry_actions
from phaseout.registry.models import Licence
from tests.conftest import PDF, _person, client_for, order_elimination_exit, upload
from tests.factories import LineFactory

ON = dt.date(2026, 3, 2)


def _elimination_case(office: Person) -> Case:
    line = LineFactory(size_value=Decimal("380"), enterprise__name="江门市小高炉钢铁有限公司")
    inspection = case_actions.record_inspection(
        department=office.department, enterprise=line.enterprise, line=line, dimension="technology",
        inspected_on=ON, inspectors="李明", files=[], by=office.user, today=ON,
    )  # fmt: skip
    finding = case_actions.record_finding(
        inspection=inspection,
        rule_id="technology.steel.blast-furnace-400",
        line=line,
        measured_value=None,
        by=office.user,
    )
    return order_elimination_exit(Case.objects.get(finding=finding), office.user, ON)


def test_missed_exit_deadline_referral_acknowledged_and_lifted(office: Person, reference: None) -> None:
    case = _elimination_case(office)
    assert actions.propose(today=ON) == 0  # nothing is late yet
    late = max(m.deadline for m in case.measures.exclude(kind="dismantling")) + dt.timedelta(days=1)
    assert actions.propose(today=late) == 1
    assert actions.propose(today=late) == 0  # once per case
    referral = Referral.objects.get()
    with pytest.raises(actions.CreditError):
        actions.approve(referral=referral, decision_number="", deciding_body="", content="", by=office.user)
    referral = actions.approve(
        referral=referral,
        decision_number="江淘汰办〔2026〕1号",
        deciding_body="江门市淘汰落后产能工作协调小组",
        content="",
        by=office.user,
        today=late,
    )
    assert referral.status == "approved" and referral.valid_from == late
    acks = list(referral.acknowledgements.select_related("department", "measure"))
    assert len(acks) == 9 and {a.measure_id for a in acks} >= {"land", "tax", "bidding", "financing"}
    land = next(a for a in acks if a.measure_id == "land")
    assert land.department is not None and land.department.code == "jm-zrzyj"
    zrzyj = _person("zrzyj", Role.DEPARTMENT, department=Department.objects.get(code="jm-zrzyj"))
    with pytest.raises(actions.CreditError):
        actions.acknowledge(
            acknowledgement=next(a for a in acks if a.measure_id == "tax"),
            by=zrzyj.user,
            department=zrzyj.department,
        )
    actions.acknowledge(acknowledgement=land, by=zrzyj.user, department=zrzyj.department)
    # The exit is completed: the sanction lifts, the record stays.
    for measure in case.measures.exclude(kind="dismantling"):
        case_actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=office.user,
            done_on=late,
            note="",
            files=[upload("m.pdf", PDF)],
            today=late,
        )
    case_actions.confirm_exit(case=Case.objects.get(pk=case.pk), by=office.user, today=late, reason="已退出")
    assert actions.lift_after_exit(today=late) == 1
    referral.refresh_from_db()
    assert (referral.status, referral.lifted_on, referral.decision_number) == (
        "lifted",
        late,
        "江淘汰办〔2026〕1号",
    )


def test_exports_carry_the_exchange_fields(office: Person, reference: None) -> None:
    case = _elimination_case(office)
    late = max(m.deadline for m in case.measures.all()) + dt.timedelta(days=1)
    actions.propose(today=late)
    actions.approve(
        referral=Referral.objects.get(),
        decision_number="=HYPERLINK(1)",
        deciding_body="江门市淘汰落后产能工作协调小组",
        content="",
        by=office.user,
    )
    client = client_for(office.user)
    data = json.loads(client.get("/credit/export.json").content)
    assert (
        data[0]["uscc"] == case.enterprise.uscc
        and data[0]["deciding_body"] == "江门市淘汰落后产能工作协调小组"
    )
    sheet = load_workbook(io.BytesIO(client.get("/credit/export.xlsx").content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["失信主体名称", "统一社会信用代码", "决定文书号"]
    assert rows[1][2] == "'=HYPERLINK(1)"  # formula injection neutralised


def test_licences_cancelled_after_exit_and_refused_to_elimination_class(
    office: Person, reference: None
) -> None:
    case = _elimination_case(office)
    licence = Licence(enterprise=case.enterprise, kind=Licence.Kind.PRODUCTION, number="XK05-001-00001")
    with pytest.raises(ValidationError, match="淘汰类"):
        registry_actions.save_enterprise_part(part=licence, by=office.user)
    assert not Licence.objects.exists()
    other = Licence.objects.create(
        enterprise=case.enterprise, kind=Licence.Kind.PRODUCTION, number="XK05-001-00002"
    )
    assert actions.licences_to_cancel() == []
    for measure in case.measures.exclude(kind="dismantling"):
        case_actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=office.user,
            done_on=ON,
            note="",
            files=[upload("m.pdf", PDF)],
            today=ON,
        )
    case_actions.confirm_exit(case=Case.objects.get(pk=case.pk), by=office.user, today=ON, reason="已退出")
    assert actions.licences_to_cancel() == [other]
    response = client_for(office.user).post(
        f"/licences/{other.pk}/cancel/", {"reason": "产能已退出，依法注销"}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == "cancelled"
