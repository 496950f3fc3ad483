"""A case from finding to archive through the actions, with the legal rules they must keep."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from phaseout.audit.models import AuditEvent
from phaseout.cases import actions
from phaseout.cases.errors import CaseActionError, StaleCase
from phaseout.cases.models import Case, CaseEvent, Evidence, ExitMeasure, Finding, Inspection
from phaseout.orgs.models import Department, Person
from phaseout.registry.models import EquipmentType, LineStatus
from phaseout.rules.exit_plans import ExitPlan
from tests.conftest import PDF, PNG, client_for, order_elimination_exit, upload
from tests.factories import LineFactory

TODAY = dt.date(2026, 3, 2)


def _inspect(person: Person, line, dimension: str = "energy", on: dt.date = TODAY, files=()) -> Inspection:
    return actions.record_inspection(
        department=person.department,
        enterprise=line.enterprise,
        line=line,
        dimension=dimension,
        inspected_on=on,
        inspectors="李明、王芳",
        files=files,
        by=person.user,
        today=TODAY,
    )


def clinker_line():
    return LineFactory(
        enterprise__industry_id="cement",
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
    )


CLINKER = "energy.cement.clinker-energy"


@pytest.fixture
def energy_case(energy_dept: Person) -> Case:
    line = clinker_line()
    # Inspected before every order the tests below date (no decision can precede its inspection).
    inspection = _inspect(energy_dept, line, on=dt.date(2025, 1, 2))
    finding = actions.record_finding(
        inspection=inspection,
        rule_id=CLINKER,
        line=line,
        measured_value=Decimal("123.5"),
        by=energy_dept.user,
    )
    return finding.case


def test_compliant_finding_opens_no_case(energy_dept: Person) -> None:
    line = clinker_line()
    finding = actions.record_finding(
        inspection=_inspect(energy_dept, line),
        rule_id=CLINKER,
        line=line,
        measured_value=Decimal("117"),
        by=energy_dept.user,
    )
    assert finding.conclusion == Finding.Conclusion.COMPLIANT
    assert finding.limit_value == Decimal("117")
    assert not Case.objects.exists()


def test_energy_rectification_is_six_months_from_the_order(energy_case: Case, energy_dept: Person) -> None:
    assert energy_case.state == "finding"
    case = actions.order_rectification(case=energy_case, by=energy_dept.user, today=dt.date(2026, 3, 2))
    assert case.state == "rectifying"
    assert case.order_date == dt.date(2026, 3, 2)
    assert case.deadline == dt.date(2026, 9, 2)
    assert case.line.status == LineStatus.RECTIFYING


def test_one_extension_of_at_most_three_months(energy_case: Case, energy_dept: Person) -> None:
    user = energy_dept.user
    case = actions.order_rectification(case=energy_case, by=user, today=dt.date(2025, 8, 29))
    assert case.deadline == dt.date(2026, 2, 28)  # a Saturday, but a make-up working day in 2026
    with pytest.raises(CaseActionError, match="3"):
        actions.grant_extension(case=case, months=4, by=user, reason="改造", today=dt.date(2025, 9, 1))
    with pytest.raises(CaseActionError):
        actions.grant_extension(case=case, months=2, by=user, reason="  ", today=dt.date(2025, 9, 1))
    case = actions.grant_extension(
        case=case, months=3, by=user, reason="设备改造周期长", today=dt.date(2025, 9, 1)
    )
    assert case.extension_months == 3
    assert case.deadline == dt.date(2026, 5, 29)  # nine months from the order date
    with pytest.raises(CaseActionError, match="只能延期一次"):
        actions.grant_extension(case=case, months=1, by=user, reason="再延", today=dt.date(2025, 9, 2))
    case.refresh_from_db()
    assert case.deadline == dt.date(2026, 5, 29)


def test_no_extension_after_the_deadline(energy_case: Case, energy_dept: Person) -> None:
    case = actions.order_rectification(case=energy_case, by=energy_dept.user, today=dt.date(2025, 1, 6))
    with pytest.raises(CaseActionError):
        actions.grant_extension(
            case=case, months=1, by=energy_dept.user, reason="晚了", today=dt.date(2025, 7, 8)
        )


def test_still_failing_leads_to_exit(energy_case: Case, energy_dept: Person, office: Person) -> None:
    """Energy: the department proposes closure, the people's government decides (节约能源法 art. 72)."""
    user = energy_dept.user
    case = actions.order_rectification(case=energy_case, by=user, today=TODAY)
    with pytest.raises(CaseActionError):  # exit needs the rectification to have failed first
        actions.order_exit(case=case, plan=ExitPlan.DISMANTLE_AT_ONCE, by=user, reason="x", today=TODAY)
    case = actions.verify_rectification(
        case=case, passed=False, by=user, reason="复测 428 kgce/t，仍超限", today=TODAY
    )
    assert case.state == "overdue"
    with pytest.raises(CaseActionError, match=r"法定程序中没有这一步|案件当前状态"):
        actions.order_exit(case=case, plan=ExitPlan.DISMANTLE_AT_ONCE, by=user, reason="关停", today=TODAY)
    case = actions.propose_closure(case=case, by=user, reason="逾期未达标，情节严重", today=TODAY)
    assert case.state == "closure_proposed"
    with pytest.raises(CaseActionError, match="协调小组办公室决定"):  # not the department
        actions.approve_closure(
            case=case, by=user, plan=ExitPlan.DISMANTLE_AT_ONCE, approval_body="江门市人民政府",
            approval_number="江府〔2026〕3号", approval_date=TODAY, today=TODAY,
        )  # fmt: skip
    with pytest.raises(CaseActionError, match="批准机关、批准文号和批准日期"):
        actions.approve_closure(
            case=case, by=office.user, plan=ExitPlan.DISMANTLE_AT_ONCE, approval_body="江门市人民政府",
            approval_number="", approval_date=TODAY, today=TODAY,
        )  # fmt: skip
    case = actions.approve_closure(
        case=case, by=office.user, plan=ExitPlan.DISMANTLE_AT_ONCE, approval_body="江门市人民政府",
        approval_number="江府〔2026〕3号", approval_date=TODAY, today=TODAY,
    )  # fmt: skip
    assert case.state == "exit_ordered"
    assert sorted(case.measures.values_list("kind", flat=True)) == ["dismantling", "website_announcement"]
    decision = case.decisions.get(kind="closure_decision")
    assert (decision.number, decision.approval_body, decision.served_on) == (
        "江府〔2026〕3号",
        "江门市人民政府",
        TODAY,
    )
    proposal = case.decisions.get(kind="closure_proposal")
    assert proposal.number.startswith("江发改〔2026〕") and proposal.served_on is None


def test_rectified_case_closes_compliant(energy_case: Case, energy_dept: Person) -> None:
    user = energy_dept.user
    case = actions.order_rectification(case=energy_case, by=user, today=TODAY)
    case = actions.verify_rectification(
        case=case, passed=True, by=user, reason="复测 409 kgce/t", today=TODAY
    )
    case = actions.close_compliant(case=case, by=user, today=TODAY)
    assert case.state == "closed"
    assert case.line.status == LineStatus.OPERATING
    assert list(case.events.values_list("action", flat=True)) == [
        "open",
        "order_rectification",
        "verify_rectified",
        "close_compliant",
    ]


def test_elimination_class_equipment_exits_at_once(office: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.INDUCTION_FURNACE, size_value=Decimal("5"), size_unit="t")
    inspection = _inspect(office, line, dimension="technology")
    finding = actions.record_finding(
        inspection=inspection,
        rule_id="technology.steel.induction-furnace",
        line=line,
        measured_value=None,
        by=office.user,
    )
    case = finding.case
    assert finding.conclusion == "elimination"
    assert case.state == "finding"  # a proposal: no order until a person decides
    assert not case.measures.exists() and not case.decisions.exists()
    case = order_elimination_exit(case, office.user, TODAY)
    assert case.state == "exit_ordered"
    assert case.exit_ordered_on == TODAY
    with pytest.raises(CaseActionError):
        actions.order_rectification(case=case, by=office.user, today=TODAY)
    kinds = list(case.measures.values_list("kind", flat=True))
    assert kinds == [
        "power_cut",
        "water_cut",
        "power_equipment_removal",
        "equipment_sealing",
        "public_pledge",
        "website_announcement",
        "dismantling",
    ]
    power = case.measures.get(kind="power_cut")
    assert power.unit == "供电局"
    assert power.deadline >= TODAY + dt.timedelta(days=5)


def test_small_blast_furnace_is_judged_by_its_volume(office: Person) -> None:
    small = LineFactory(size_value=Decimal("380"))
    big = LineFactory(size_value=Decimal("1080"))
    rule = "technology.steel.blast-furnace-400"
    f_small = actions.record_finding(
        inspection=_inspect(office, small, "technology"),
        rule_id=rule,
        line=small,
        measured_value=None,
        by=office.user,
    )
    f_big = actions.record_finding(
        inspection=_inspect(office, big, "technology"),
        rule_id=rule,
        line=big,
        measured_value=None,
        by=office.user,
    )
    assert (f_small.conclusion, f_big.conclusion) == ("elimination", "compliant")


def test_bad_findings_are_refused_and_write_nothing(energy_dept: Person) -> None:
    line = LineFactory()
    inspection = _inspect(energy_dept, line)
    cases = [
        {"rule_id": "technology.steel.induction-furnace", "measured_value": None},  # other dimension
        {"rule_id": CLINKER, "measured_value": Decimal("130")},  # wrong equipment
        {"rule_id": "energy.steel.eaf", "measured_value": Decimal("90")},  # not yet in force (2026-07-01)
    ]
    for kwargs in cases:
        with pytest.raises(CaseActionError):
            actions.record_finding(inspection=inspection, line=line, by=energy_dept.user, **kwargs)
    line = clinker_line()
    inspection = _inspect(energy_dept, line)
    cases = [
        {"rule_id": CLINKER, "measured_value": None},  # no value
        {"rule_id": CLINKER, "measured_value": Decimal("-1")},
        {"rule_id": "no.such.rule", "measured_value": Decimal("1")},
    ]
    for kwargs in cases:
        with pytest.raises(CaseActionError):
            actions.record_finding(inspection=inspection, line=line, by=energy_dept.user, **kwargs)
    assert not Finding.objects.exists()


def test_department_cannot_inspect_another_dimension(energy_dept: Person) -> None:
    line = LineFactory()
    with pytest.raises(CaseActionError):
        _inspect(energy_dept, line, dimension="environment")
    assert not Inspection.objects.exists()


def test_exit_to_archive_with_case_file(office: Person, district: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.CONVERTER, size_value=Decimal("20"), size_unit="t")
    inspection = _inspect(office, line, "technology", files=[upload("现场.png", PNG, "image/png")])
    case = actions.record_finding(
        inspection=inspection,
        rule_id="technology.steel.converter-30",
        line=line,
        measured_value=None,
        by=office.user,
    ).case
    case = order_elimination_exit(case, office.user, TODAY)
    with pytest.raises(CaseActionError, match="断电"):
        actions.confirm_exit(case=case, by=district.user, today=TODAY)
    with pytest.raises(CaseActionError):  # a measure needs evidence
        actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=case.measures.get(kind="power_cut"),
            by=district.user,
            done_on=TODAY,
            today=TODAY,
        )
    for measure in case.measures.exclude(kind="dismantling"):
        actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=district.user,
            done_on=TODAY,
            note="已完成",
            today=TODAY,
            files=[upload(f"{measure.kind}.pdf", PDF, "application/pdf")],
        )
    case = actions.confirm_exit(
        case=case, by=district.user, today=TODAY
    )  # dismantling may follow by its deadline
    assert case.state == "exited"
    line.refresh_from_db()
    assert (line.status, line.exited_on) == (LineStatus.EXITED, TODAY)
    with pytest.raises(CaseActionError):
        actions.accept_exit(
            case=case, by=office.user, accepted_on=TODAY, team="", record_text="", today=TODAY
        )
    case = actions.accept_exit(
        case=case,
        by=office.user,
        accepted_on=TODAY,
        team="市工信局验收组",
        record_text="设备已封存，验收合格",
        today=TODAY,
    )
    with pytest.raises(CaseActionError, match="拆除"):  # archived only when every measure is done
        actions.archive_case(case=case, by=office.user, today=TODAY)
    case.refresh_from_db()
    assert case.state == "accepted"
    actions.complete_measure(
        notice="", measure=case.measures.get(kind="dismantling"), by=district.user, done_on=TODAY,
        today=TODAY, files=[upload("dismantled.pdf", PDF, "application/pdf")],
    )  # fmt: skip
    case = actions.archive_case(case=Case.objects.get(pk=case.pk), by=office.user, today=TODAY)
    assert case.state == "archived"
    assert case.reinspection_due == dt.date(2026, 9, 2)

    response = client_for(office.user).get(f"/cases/{case.pk}/file.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert names[0] == "案件卷宗.txt"
    assert names[4].startswith("001-检查/") and names[4].endswith("现场.png")
    assert sum(1 for n in names if "措施-" in n) == 7
    assert [n for n in names if n.startswith("000-决定文书/")] == [
        "000-决定文书/01-关停（关闭）决定书.docx",
        "000-决定文书/02-落后产能退出公告.docx",
        "000-决定文书/03-落后产能退出验收意见书.docx",
    ]
    announcement = case.decisions.get(kind="announcement")
    assert (announcement.number, announcement.content["issuer"]) == (
        "蓬江区公告〔2026〕1号",
        "蓬江区人民政府",
    )
    assert "不再恢复生产" in announcement.content["paragraphs"][0]
    events = json.loads(archive.read("events.json"))
    assert [e["action"] for e in events][:2] == ["open", "order_exit"]
    assert events[-1]["action"] == "archive"
    summary = archive.read("案件卷宗.txt").decode()
    assert "设备已封存，验收合格" in summary
    manifest = json.loads(archive.read("manifest.json"))
    assert all(len(m["sha256"]) == 64 for m in manifest)


def test_reinspection_finding_resumed_opens_a_new_case(office: Person, district: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.CONVERTER, size_value=Decimal("20"), size_unit="t")
    case = actions.record_finding(
        inspection=_inspect(office, line, "technology"),
        rule_id="technology.steel.converter-30",
        line=line,
        measured_value=None,
        by=office.user,
    ).case
    case = order_elimination_exit(case, office.user, TODAY)
    for measure in case.measures.all():
        actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=district.user,
            done_on=TODAY,
            today=TODAY,
            files=[upload("p.png", PNG, "image/png")],
        )
    case = actions.confirm_exit(case=case, by=district.user, today=TODAY)
    case = actions.accept_exit(
        case=case, by=office.user, accepted_on=TODAY, team="组", record_text="合格", today=TODAY
    )
    case = actions.archive_case(case=case, by=office.user, today=TODAY)
    later = dt.date(2026, 9, 3)
    visit = actions.record_reinspection(
        case=case, by=district.user, inspected_on=later, resumed=False, notes="仍封存", today=later
    )
    assert visit.new_case is None
    case.refresh_from_db()
    assert case.reinspection_due == dt.date(2027, 3, 3)
    visit = actions.record_reinspection(
        case=case, by=district.user, inspected_on=later, resumed=True, notes="发现私自启封生产", today=later
    )
    new = visit.new_case
    assert new is not None and new.parent_id == case.pk and new.state == "finding" and new.resumed
    assert new.line_id == line.pk
    line.refresh_from_db()
    assert line.status == LineStatus.RESUMED  # no longer counted as exited
    with pytest.raises(CaseActionError, match="法定程序中没有这一步"):
        actions.order_rectification(case=new, by=office.user, today=later)
    new = order_elimination_exit(new, office.user, later)  # closure at once, on the record
    assert new.state == "exit_ordered"


def test_evidence_of_the_wrong_type_or_too_large_changes_nothing(energy_dept: Person, settings) -> None:
    line = LineFactory()
    exe = upload("photo.png", b"MZ\x90\x00" + b"\x00" * 200, "image/png")  # named .png, is not
    with pytest.raises(ValidationError, match="不是照片"):
        _inspect(energy_dept, line, files=[upload("ok.png", PNG, "image/png"), exe])
    settings.EVIDENCE_MAX_BYTES = 50
    with pytest.raises(ValidationError, match="上限为"):
        _inspect(energy_dept, line, files=[upload("big.png", PNG, "image/png")])
    assert not Inspection.objects.exists()
    assert not Evidence.objects.exists()


def test_stale_version_is_refused(energy_case: Case, energy_dept: Person, office: Person) -> None:
    version = energy_case.version
    actions.order_rectification(case=energy_case, by=energy_dept.user, today=TODAY, expected_version=version)
    with pytest.raises(StaleCase):
        actions.order_exit(
            case=energy_case,
            plan=ExitPlan.DISMANTLE_AT_ONCE,
            by=office.user,
            reason="x",
            expected_version=version,
            today=TODAY,
        )


def test_history_and_audit_are_append_only(energy_case: Case) -> None:
    event = CaseEvent.objects.filter(case=energy_case).first()
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    audit = AuditEvent.objects.first()
    with pytest.raises(RuntimeError):
        audit.save()


def test_measure_deadlines_are_computed_not_typed(office: Person) -> None:
    line = LineFactory(equipment_type=EquipmentType.INDUCTION_FURNACE, size_value=Decimal("5"), size_unit="t")
    case = actions.record_finding(
        inspection=_inspect(office, line, "technology"),
        rule_id="technology.steel.induction-furnace",
        line=line,
        measured_value=None,
        by=office.user,
    ).case
    order_elimination_exit(case, office.user, TODAY)
    dismantling = ExitMeasure.objects.get(case=case, kind="dismantling")
    assert dismantling.deadline == dt.date(2026, 9, 2)
    assert Department.objects.filter(code="jm-gdj").exists()


def test_case_page_shows_values_as_officials_write_them(energy_case: Case, energy_dept: Person) -> None:
    page = client_for(energy_dept.user).get(f"/cases/{energy_case.pk}/").content.decode()
    assert "实测 123.5 kgce/t，限值 117 kgce/t" in page
    assert "123.5000" not in page
