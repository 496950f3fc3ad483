"""Data checks (超标数据核查): the screening of online monitoring data into proposals for the environment
department, and a person's confirmation (a finding and a case on the environment path) or dismissal, with
audit rows, messages, refusals, pages per role and the over-emission lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, CaseEvent, Inspection
from phaseout.disclosure.lists import rows_for
from phaseout.disclosure.models import ListKind
from phaseout.messaging.models import Message
from phaseout.monitoring import actions, checks, partitions
from phaseout.monitoring.models import CheckKind, CheckStatus, DataCheck, MonitoringPoint, Reading
from phaseout.orgs.models import Department, Person, Role
from phaseout.registry.models import EquipmentType
from tests.conftest import _person, client_for, readable
from tests.factories import EnterpriseFactory, LineFactory, MonitoringPointFactory

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2027, 3, 10, 12, 5, tzinfo=TZ)
TODAY = NOW.date()
SO2 = "a21026"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    """The whole test at NOW, its people and passwords made then too (no test reads the real clock)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def sinter(reference: None) -> MonitoringPoint:
    enterprise = EnterpriseFactory(name="江门烧结测试厂")
    line = LineFactory(
        enterprise=enterprise,
        name="1号烧结机",
        equipment_type=EquipmentType.SINTERING_MACHINE,
        size_value=D("90"),
        size_unit="m2",
    )
    point = MonitoringPointFactory(enterprise=enterprise, mn="88888880000001", outlet_name="烧结机头排口")
    point.lines.set([line])
    MonitoringPoint.objects.filter(pk=point.pk).update(
        last_seen_at=NOW - dt.timedelta(minutes=30), created_at=NOW - dt.timedelta(days=2)
    )  # registered two days ago: too new for the 7-day completeness
    return MonitoringPoint.objects.get(pk=point.pk)


def _hourly(point: MonitoringPoint, start: dt.datetime, so2: list[Any], flags: str | None = None) -> None:
    flags = flags or "N" * len(so2)
    partitions.ensure({partitions.month_of(start + dt.timedelta(hours=i)) for i in range(len(so2))})
    for i, value in enumerate(so2):
        fields: dict[str, Any] = {"Flag": flags[i]}
        if value is not None:
            fields["ZsAvg"] = value
            fields["Avg"] = value
        Reading.objects.create(
            point=point,
            cn="2061",
            data_time=start + dt.timedelta(hours=i),
            values={SO2: fields},
            qn=f"{i:020d}"[:20],
            received_at=start + dt.timedelta(hours=i, minutes=5),
        )


def _screen(now: dt.datetime = NOW) -> dict[str, int]:
    with time_machine.travel(now, tick=False):
        return checks.screen(now=now, today=now.date())


@pytest.fixture
def raised(sinter: MonitoringPoint, env_dept: Person) -> DataCheck:
    _hourly(sinter, NOW.replace(minute=0) - dt.timedelta(hours=6), [100, 250, 260, 270], "NNCN")
    counts = _screen()
    assert counts["exceedance"] == 1
    return DataCheck.objects.get()


def test_an_exceedance_episode_becomes_one_open_check_with_its_hours(
    raised: DataCheck, env_dept: Person
) -> None:
    check = raised
    assert (check.kind, check.status, check.pollutant, check.rule_id) == (
        CheckKind.EXCEEDANCE,
        CheckStatus.OPEN,
        SO2,
        "environment.steel.sinter-head-so2",
    )
    assert (check.limit_value, check.peak, check.count, check.averaging) == (D(200), D(270), 2, "hour")
    start = NOW.replace(minute=0) - dt.timedelta(hours=5)
    assert (check.period_start, check.period_end) == (start, start + dt.timedelta(hours=2))
    assert [row[1:] for row in check.evidence] == [
        ["250", "N", True],
        ["260", "C", False],
        ["270", "N", True],
    ]
    assert check.unconfirmed  # GB 28662 limits are recollection
    event = AuditEvent.objects.get(action="monitoring.check_raise")
    assert event.object_id == str(check.pk) and event.data["mn"] == "88888880000001"
    message = Message.objects.get(recipient=env_dept, key=f"monitoring.check:{check.pk}")
    assert message.kind == "proposal" and "江门烧结测试厂" in message.title


def test_screening_twice_raises_nothing_more_and_a_continuing_episode_grows(
    raised: DataCheck, sinter: MonitoringPoint
) -> None:
    assert _screen() == {"exceedance": 0, "offline": 0, "incomplete": 0, "extended": 0, "resumed": 0}
    assert DataCheck.objects.count() == 1
    later = NOW + dt.timedelta(hours=3)
    _hourly(sinter, NOW.replace(minute=0) - dt.timedelta(hours=2), [280, 100])  # 10:00 goes on, 11:00 ends it
    MonitoringPoint.objects.filter(pk=sinter.pk).update(last_seen_at=later)
    counts = _screen(later)
    assert (counts["exceedance"], counts["extended"]) == (0, 1)
    check = DataCheck.objects.get()
    assert (check.peak, check.count, check.period_end) == (
        D(280),
        3,
        NOW.replace(minute=0) - dt.timedelta(hours=2),
    )
    assert AuditEvent.objects.filter(action="monitoring.check_extend", object_id=str(check.pk)).count() == 1


def test_invalid_hours_and_values_without_oxygen_are_not_judged(sinter: MonitoringPoint) -> None:
    start = NOW.replace(minute=0) - dt.timedelta(hours=4)
    _hourly(sinter, start, [900, 900, 900], "CDM")
    Reading.objects.create(  # an Avg needing correction to 16 % O2 without the hour's O2: not judged
        point=sinter, cn="2061", data_time=start + dt.timedelta(hours=3),
        values={SO2: {"Avg": 900, "Flag": "N"}}, qn="x", received_at=start,
    )  # fmt: skip
    assert _screen()["exceedance"] == 0
    Reading.objects.filter(qn="x").update(values={SO2: {"Avg": 150, "Flag": "N"}, "a19001": {"Avg": 18}})
    assert _screen()["exceedance"] == 1  # 150 x (21-16)/(21-18) = 250 > 200
    assert DataCheck.objects.get().peak == D(250)


def test_a_silent_monitor_and_incomplete_data_are_checks_too(sinter: MonitoringPoint) -> None:
    MonitoringPoint.objects.filter(pk=sinter.pk).update(
        last_seen_at=NOW - dt.timedelta(hours=25), created_at=NOW - dt.timedelta(days=30)
    )
    midnight = NOW.replace(hour=0, minute=0)
    _hourly(sinter, midnight - dt.timedelta(days=7), [10] * 100)  # 100 of 168 hours: 59.5 %
    counts = _screen()
    assert (counts["offline"], counts["incomplete"]) == (1, 1)
    incomplete = DataCheck.objects.get(kind=CheckKind.INCOMPLETE)
    assert (incomplete.count, incomplete.evidence[0][1]) == (68, "59.5")
    assert _screen()["offline"] == 0  # one open check per point
    MonitoringPoint.objects.filter(pk=sinter.pk).update(last_seen_at=NOW - dt.timedelta(hours=23))
    DataCheck.objects.all().delete()
    assert _screen()["offline"] == 0


def test_the_ultra_low_share_is_judged_on_the_month_before(reference: None) -> None:
    enterprise = EnterpriseFactory()
    line = LineFactory(enterprise=enterprise)  # a blast furnace: ultra-low rules only
    point = MonitoringPointFactory(enterprise=enterprise)
    point.lines.set([line])
    MonitoringPoint.objects.filter(pk=point.pk).update(
        last_seen_at=NOW, created_at=NOW - dt.timedelta(days=90)
    )
    february = dt.datetime(2027, 2, 1, tzinfo=TZ)
    _hourly(point, february, [60] * 90 + [40] * 10)  # NOx ultra-low 200 is met; SO2 50: 10 % of hours above
    first_of_march = dt.datetime(2027, 3, 2, 9, tzinfo=TZ)
    assert _screen(first_of_march)["exceedance"] == 1
    check = DataCheck.objects.get(kind=CheckKind.EXCEEDANCE)
    assert (check.averaging, check.peak, check.count, check.limit_value) == (
        "hours_share",
        D("10.00"),
        90,
        D(50),
    )
    assert _screen(first_of_march)["exceedance"] == 0


def test_the_environment_officer_confirms_an_exceedance_into_a_case(
    raised: DataCheck, env_dept: Person
) -> None:
    check = actions.confirm_check(
        check=raised, by=env_dept.user, decided_on=TODAY, notes="现场核实", serious=True, today=TODAY
    )
    assert (check.status, check.decided_by, check.decided_on, check.serious) == (
        CheckStatus.CONFIRMED,
        env_dept.user,
        TODAY,
        True,
    )
    finding = check.finding
    assert finding is not None and finding.inspection.method == Inspection.Method.MONITORING
    assert (finding.measured_value, finding.limit_value, finding.rule_id) == (
        D(270),
        D(200),
        "environment.steel.sinter-head-so2",
    )
    assert "88888880000001" in finding.basis and "270" in finding.inspection.notes
    case = Case.objects.get(finding=finding)
    assert (case.dimension, case.enterprise_id) == ("environment", check.enterprise_id)
    assert CaseEvent.objects.filter(case=case, action="open").exists()
    confirm = AuditEvent.objects.get(action="monitoring.check_confirm")
    assert confirm.data["serious"] is True and confirm.data["case"] == case.pk
    assert AuditEvent.objects.filter(action="finding.record").exists()
    rows = rows_for(ListKind.SERIOUS_OVER_EMISSION, TODAY)
    assert [(r["enterprise"], r["measured"], r["limit"], r["case"]) for r in rows] == [
        ("江门烧结测试厂", "270", "200", case.number)
    ]
    assert [r["case"] for r in rows_for(ListKind.OVER_EMISSION, TODAY)] == [case.number]
    with pytest.raises(actions.MonitoringError, match="已"):
        actions.confirm_check(check=raised, by=env_dept.user, decided_on=TODAY, today=TODAY)


def test_a_check_not_confirmed_serious_stays_off_the_serious_list(
    raised: DataCheck, env_dept: Person
) -> None:
    actions.confirm_check(check=raised, by=env_dept.user, decided_on=TODAY, today=TODAY)
    assert rows_for(ListKind.SERIOUS_OVER_EMISSION, TODAY) == []


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("energy", "does not enforce the environment dimension"),
        ("district", "Only an officer of the environment department"),
        ("office", "Only an officer of the environment department"),
        ("heyuan", "outside your city"),
    ],
)
def test_who_may_not_decide_a_data_check(raised: DataCheck, who: str, message: str, request: Any) -> None:
    person = {
        "energy": lambda: request.getfixturevalue("energy_dept"),
        "district": lambda: request.getfixturevalue("district"),
        "office": lambda: request.getfixturevalue("office"),
        "heyuan": lambda: _person(
            "hy-sthjj", Role.DEPARTMENT, department=Department.objects.get(code="hy-sthjj")
        ),
    }[who]()
    from django.utils import translation

    with translation.override("en"), pytest.raises(actions.MonitoringError, match=message):
        actions.dismiss_check(
            check=raised, by=person.user, decided_on=TODAY, reason="calibration", today=TODAY
        )
    raised.refresh_from_db()
    assert raised.status == CheckStatus.OPEN
    assert not AuditEvent.objects.filter(action="monitoring.check_dismiss").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decided_on": TODAY + dt.timedelta(days=1)}, "cannot be in the future"),
        ({"decided_on": TODAY - dt.timedelta(days=1)}, "before the data check was raised"),
        ({"reason": ""}, "Choose the reason"),
        ({"reason": "other"}, "Explain the reason"),
        ({"notes": "a\x00b"}, "not allowed"),
        ({"notes": "长" * 2001}, "too long"),
    ],
)
def test_a_dismissal_is_refused_on_bad_input(
    raised: DataCheck, env_dept: Person, kwargs: dict[str, Any], message: str
) -> None:
    from django.utils import translation

    arguments = {"decided_on": TODAY, "reason": "calibration", "notes": "", **kwargs}
    with translation.override("en"), pytest.raises(actions.MonitoringError, match=message):
        actions.dismiss_check(check=raised, by=env_dept.user, today=TODAY, **arguments)
    raised.refresh_from_db()
    assert raised.status == CheckStatus.OPEN


def test_the_officer_dismisses_with_a_reason(raised: DataCheck, env_dept: Person) -> None:
    check = actions.dismiss_check(
        check=raised, by=env_dept.user, decided_on=TODAY, reason="start_up", notes="开炉", today=TODAY
    )
    assert (check.status, check.reason, check.notes, check.finding) == (
        CheckStatus.DISMISSED,
        "start_up",
        "开炉",
        None,
    )
    event = AuditEvent.objects.get(action="monitoring.check_dismiss")
    assert event.data["reason"] == "start_up"
    assert not Case.objects.exists()


def test_pages_per_role(raised: DataCheck, env_dept: Person, office: Person, district: Person,
                        energy_dept: Person, other_district: Person) -> None:  # fmt: skip
    for person, sees in ((env_dept, True), (office, True), (district, True), (energy_dept, False),
                         (other_district, False)):  # fmt: skip
        client = client_for(person.user)
        page = client.get("/monitoring/checks/")
        assert page.status_code == 200
        assert ("江门烧结测试厂" in readable(page)) is sees
        assert client.get(f"/monitoring/checks/{raised.pk}/").status_code == (200 if sees else 404)
    enterprise = _person("firm", Role.ENTERPRISE, enterprise=raised.enterprise)
    assert client_for(enterprise.user).get("/monitoring/checks/").status_code == 403
    officer = client_for(env_dept.user)
    detail = readable(officer.get(f"/monitoring/checks/{raised.pk}/"))
    assert "确认" in detail and "260" in detail
    home = readable(officer.get("/"))
    assert "江门烧结测试厂" in home
    assert client_for(office.user).post(f"/monitoring/checks/{raised.pk}/confirm/", {}).status_code == 403
    assert officer.post(f"/monitoring/checks/{raised.pk}/other/", {}).status_code == 404
    refused = officer.post(
        f"/monitoring/checks/{raised.pk}/confirm/", {"decided_on": TODAY.isoformat()}, follow=True
    )
    assert "请勾选确认后再执行此操作" in readable(refused)
    raised.refresh_from_db()
    assert raised.status == CheckStatus.OPEN
    done = officer.post(
        f"/monitoring/checks/{raised.pk}/confirm/",
        {"decided_on": TODAY.isoformat(), "confirm": "on"},
        follow=True,
    )
    assert done.status_code == 200
    raised.refresh_from_db()
    assert raised.status == CheckStatus.CONFIRMED
    xlsx = client_for(office.user).get("/monitoring/checks/?format=xlsx")
    assert xlsx.status_code == 200
    assert AuditEvent.objects.filter(action="export.data_checks").exists()


def test_an_exited_line_still_emitting_raises_one_re_inspection_signal(sinter: MonitoringPoint) -> None:
    from phaseout.registry.models import LineStatus
    from phaseout.signals.models import Signal, SignalKind

    start = NOW.replace(minute=0) - dt.timedelta(hours=4)
    _hourly(sinter, start, [0, 0], "NN")  # discharging nothing: no signal
    line = sinter.lines.get()
    line.status = LineStatus.EXITED
    line.exited_on = dt.date(2027, 1, 15)
    line.save()
    assert _screen()["resumed"] == 0
    _hourly(sinter, start + dt.timedelta(hours=2), [35, 40], "CN")  # one valid hour above zero
    assert _screen()["resumed"] == 1
    signal = Signal.objects.get()
    assert (signal.kind, signal.line_id, signal.observed_from, signal.observed_to) == (
        SignalKind.RESUMED_EMISSION,
        line.pk,
        dt.date(2027, 3, 1),
        dt.date(2027, 3, 31),
    )
    assert signal.evidence["hours_emitting"] == 1 and signal.evidence["mn"] == "88888880000001"
    assert _screen()["resumed"] == 0
    assert Signal.objects.count() == 1
