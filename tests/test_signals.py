"""Power use, the induction-furnace register and resumed-production signals (phaseout.signals)."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from openpyxl import Workbook

from phaseout import jobs
from phaseout.audit.models import AuditEvent
from phaseout.messaging.models import Message
from phaseout.orgs.models import Department, Person, Role
from phaseout.registry.models import LineStatus, ProductionLine
from phaseout.rules.furnaces import (
    PERMITTED_USES,
    FurnaceUse,
    judge_use,
    night_heavy,
    night_to_day_ratio,
    over_threshold,
)
from phaseout.rules.rulebook import Verification
from phaseout.signals import actions
from phaseout.signals.importer import PowerFileError
from phaseout.signals.models import (
    ElectricityAccount,
    Event,
    FurnaceState,
    InductionFurnace,
    PowerImport,
    PowerReading,
    Signal,
    SignalKind,
    SignalStatus,
)
from phaseout.signals.screening import job
from tests.conftest import _person, client_for, upload
from tests.factories import CaseFactory, EnterpriseFactory, LineFactory

NOW = dt.datetime(2026, 8, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in Jiangmen
TODAY = dt.date(2026, 8, 10)


def _audit(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("seq")


def _csv(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    lines = [",".join(header or ["户号", "日期", "用电量", "谷段电量"])]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header or ["户号", "月份", "用电量(kWh)"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def gxj_dept(reference: None) -> Person:
    """A department account of the city's 工信局 (the department that hosts the office)."""
    return _person("gxj", Role.DEPARTMENT, department=Department.objects.get(code="jm-gxj"))


@pytest.fixture
def exited_line(reference: None) -> ProductionLine:
    line = LineFactory(status=LineStatus.EXITED, exited_on=dt.date(2026, 5, 31))
    assert line.territory_id == "440703"
    return line


@pytest.fixture
def account(office: Person, exited_line: ProductionLine) -> ElectricityAccount:
    return actions.match_account(
        number="0440703001", enterprise=exited_line.enterprise, line=exited_line, by=office.user, now=NOW
    )


def _archived_case(line: ProductionLine, dimension: str) -> Any:
    return CaseFactory(
        enterprise=line.enterprise,
        line=line,
        dimension=dimension,
        state="archived",
        exit_ordered_on=dt.date(2026, 3, 1),
        accepted_on=dt.date(2026, 6, 1),
        acceptance_record="验收合格",
    )


def _import(person: Person, content: bytes, name: str = "power.csv") -> Any:
    return actions.import_power(upload=io.BytesIO(content), name=name, by=person.user, now=NOW, today=TODAY)


# ── the scope rule (pure) ──


@pytest.mark.parametrize(
    ("use", "permitted", "prohibited"),
    [
        (FurnaceUse.CASTING, True, False),
        (FurnaceUse.SPECIAL_ALLOY, True, False),
        (FurnaceUse.FERROALLOY_MELTING, True, False),
        (FurnaceUse.CARBON_STEEL, False, True),
        (FurnaceUse.CONSTRUCTION_STEEL, False, True),
        (FurnaceUse.OTHER, False, False),
    ],
)
def test_each_use_is_judged_against_the_scope_and_marked_partly_confirmed(
    use: FurnaceUse, permitted: bool, prohibited: bool
) -> None:
    judgement = judge_use(use.value)
    assert (judgement.permitted, judgement.prohibited) == (permitted, prohibited)
    assert judgement.partly_confirmed is True
    assert judgement.verification is Verification.SECONDARY
    assert "钢协〔2017〕23号" in judgement.basis
    assert {FurnaceUse.CASTING, FurnaceUse.SPECIAL_ALLOY, FurnaceUse.FERROALLOY_MELTING} == PERMITTED_USES


def test_an_unknown_use_is_refused() -> None:
    with pytest.raises(ValueError):
        judge_use("billets")


def test_the_power_rules() -> None:
    assert over_threshold(kwh=Decimal("50.01"), days=1, per_day=Decimal(50))
    assert not over_threshold(kwh=Decimal("50"), days=1, per_day=Decimal(50))
    assert not over_threshold(kwh=Decimal("1500"), days=31, per_day=Decimal(50))
    assert over_threshold(kwh=Decimal("1550.01"), days=31, per_day=Decimal(50))
    assert not over_threshold(kwh=Decimal("100"), days=0, per_day=Decimal(50))
    assert night_heavy(total_kwh=Decimal(1000), valley_kwh=Decimal("600.01"))
    assert not night_heavy(total_kwh=Decimal(1000), valley_kwh=Decimal(600))
    assert not night_heavy(total_kwh=Decimal(1000), valley_kwh=None)
    assert not night_heavy(total_kwh=Decimal(0), valley_kwh=Decimal(0))
    # 600 kWh in 8 night hours against 400 in 16 day hours: three times the power at night.
    assert night_to_day_ratio(total_kwh=Decimal(1000), valley_kwh=Decimal(600)) == Decimal(3)
    assert night_to_day_ratio(total_kwh=Decimal(1000), valley_kwh=Decimal(1000)) is None


# ── electricity accounts ──


def test_matching_an_account_writes_history_and_audit(office: Person, exited_line: ProductionLine) -> None:
    account = actions.match_account(
        number="0440703001", enterprise=exited_line.enterprise, line=exited_line, by=office.user, now=NOW
    )
    assert (account.enterprise_id, account.line_id, account.territory_id) == (
        exited_line.enterprise_id,
        exited_line.pk,
        "440703",
    )
    event = Event.objects.get(account=account)
    assert (event.action, event.by, event.data["line"], event.data["before"]) == (
        "account_match",
        office.user,
        exited_line.pk,
        None,
    )
    entry = _audit("signals.account_match")
    assert (entry.object_id, entry.actor) == (str(account.pk), office.user)
    other = LineFactory(enterprise=exited_line.enterprise)
    actions.match_account(
        number="0440703001", enterprise=other.enterprise, line=other, by=office.user, now=NOW
    )
    assert ElectricityAccount.objects.get().line == other
    assert Event.objects.filter(account=account).last().data["before"] == {
        "enterprise": exited_line.enterprise_id,
        "line": exited_line.pk,
    }


def test_account_matching_refusals(
    office: Person, env_dept: Person, district: Person, exited_line: ProductionLine
) -> None:
    enterprise = exited_line.enterprise
    with pytest.raises(actions.SignalsError, match="只有协调办或能耗主管部门"):
        actions.match_account(number="0440703001", enterprise=enterprise, by=env_dept.user, now=NOW)
    with pytest.raises(actions.SignalsError, match="只有协调办或能耗主管部门"):
        actions.match_account(number="0440703001", enterprise=enterprise, by=district.user, now=NOW)
    other = LineFactory()
    with pytest.raises(actions.SignalsError, match="该生产线不属于该企业"):
        actions.match_account(number="0440703001", enterprise=enterprise, line=other, by=office.user, now=NOW)
    with pytest.raises(actions.SignalsError, match="户号为 4 至 20 位数字或字母"):
        actions.match_account(number="12", enterprise=enterprise, by=office.user, now=NOW)
    heyuan = EnterpriseFactory(territory_id="441602")
    with pytest.raises(actions.SignalsError, match="该企业不在您的城市"):
        actions.match_account(number="0441602001", enterprise=heyuan, by=office.user, now=NOW)
    assert not ElectricityAccount.objects.exists()


# ── the power-use import ──


def test_every_row_error_is_named_and_nothing_bad_is_written(
    office: Person, account: ElectricityAccount
) -> None:
    content = _csv(
        [
            ["0440703001", "2026-08-01", "120.5", "20"],  # row 2: good
            ["9999999999", "2026-08-01", "10", ""],  # 3: unknown account
            ["0440703001", "2026-08-02", "abc", ""],  # 4: bad number
            ["0440703001", "2026-08-03", "-5", ""],  # 5: negative
            ["0440703001", "2026-08-01", "120.5", ""],  # 6: duplicate period in the file
            ["0440703001", "2026-08-11", "10", ""],  # 7: future
            ["0440703001", "2026-13-40", "10", ""],  # 8: not a date
            ["", "2026-08-04", "10", ""],  # 9: empty account
            ["0440703001", "2026-08-05", "10", "11"],  # 10: night above total
            ["0440703001", "2026-08-06", "1e12", ""],  # 11: too large
            ["0440703001", "2026-08", "3000", ""],  # 12: a month not yet ended
            ["0440703001", "2026-07", "3000", ""],  # 13: good, monthly
        ]
    )
    batch = _import(office, content)
    messages = {(e["row"], e["message"]) for e in batch.errors}
    assert messages == {
        (3, "未知的户号 9999999999：未与本市企业匹配。"),
        (4, "不是有效的用电量数字（千瓦时）。"),
        (5, "用电量不能为负数。"),
        (6, "同一户号、同一期间重复出现（首次在第 2 行）。"),
        (7, "期间尚未结束：只能导入已过去期间的用电量。"),
        (8, "不是日期：日写作 2026-08-03，月写作 2026-08。"),
        (9, "此列不能为空。"),
        (10, "谷段（夜间）电量不能大于总电量。"),
        (11, "该数字过大，不像一个户号一个期间的用电量。"),
        (12, "期间尚未结束：只能导入已过去期间的用电量。"),
    }
    assert (batch.total_rows, batch.created_count, batch.unchanged_count) == (12, 2, 0)
    stored = list(
        PowerReading.objects.order_by("period_start").values_list("granularity", "kwh", "valley_kwh")
    )
    assert stored == [("month", Decimal("3000.00"), None), ("day", Decimal("120.50"), Decimal("20.00"))]
    entry = _audit("signals.power_import")
    assert (entry.data["created"], entry.data["errors"], entry.actor) == (2, 10, office.user)


def test_the_same_file_twice_changes_nothing(office: Person, account: ElectricityAccount) -> None:
    content = _csv([["0440703001", "2026-08-01", "120.5", ""], ["0440703001", "2026-08-02", "99", ""]])
    first = _import(office, content)
    second = _import(office, content)
    assert (first.created_count, first.unchanged_count) == (2, 0)
    assert (second.created_count, second.unchanged_count, second.errors) == (0, 2, [])
    assert PowerReading.objects.count() == 2
    changed = _import(office, _csv([["0440703001", "2026-08-01", "130", ""]]))
    assert [e["message"] for e in changed.errors] == [
        "该户号该期间此前已导入 120.50 千瓦时；保留已存数据。如供电单位更正了数据，请联系协调办更正。"
    ]
    assert PowerReading.objects.get(period_start=dt.date(2026, 8, 1)).kwh == Decimal("120.50")


def test_xlsx_monthly_data_with_real_dates_and_numbers(office: Person, account: ElectricityAccount) -> None:
    content = _xlsx([["0440703001", "2026-06", 4200.0], ["0440703001", dt.date(2026, 7, 31), 300]])
    batch = _import(office, content, "utility.xlsx")
    assert (batch.created_count, batch.errors) == (2, [])
    assert set(PowerReading.objects.values_list("granularity", "period_start", "period_end")) == {
        ("month", dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
        ("day", dt.date(2026, 7, 31), dt.date(2026, 7, 31)),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("power.txt", b"x", "请上传 .xlsx 工作簿或 .csv 文件。"),
        ("power.csv", b"", "文件是空的。"),
        ("power.csv", "名称,数量\n甲,1\n".encode(), "不是用电量数据：缺少列 户号、日期、用电量"),
        ("power.csv", b"\xff\xfe\x00\x00bad", "CSV 文件既不是 UTF-8 也不是 GBK 文本。"),
        ("power.csv", "户号,日期,用电量\n".encode(), "文件中没有用电量数据行。"),
        ("power.xlsx", b"not a zip", "无法按 .xlsx 工作簿读取该文件。"),
    ],
)
def test_a_file_that_is_not_power_data_is_refused_whole(
    office: Person, account: ElectricityAccount, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(PowerFileError) as refused:
        _import(office, content, name)
    assert message in str(refused.value)
    assert not PowerReading.objects.exists()


def test_a_gbk_csv_with_nul_bytes_and_long_cells(office: Person, account: ElectricityAccount) -> None:
    text = "户号,日期,用电量\n0440703001,2026-08-01,10\n0440703001,2026-08-02," + "9" * 50 + "\n"
    batch = _import(office, text.encode("gb18030"))
    assert [(e["row"], e["message"]) for e in batch.errors] == [(3, "该值过长。")]
    with pytest.raises(PowerFileError, match="NUL"):
        _import(office, b"\xe6\x88\xb7\xe5\x8f\xb7,\x00\n")


def test_too_many_rows_are_refused(office: Person, account: ElectricityAccount, settings: Any) -> None:
    settings.POWER_IMPORT_MAX_ROWS = 2
    rows = [["0440703001", f"2026-08-0{d}", "1", ""] for d in range(1, 4)]
    with pytest.raises(PowerFileError, match="超过 2 行"):
        _import(office, _csv(rows))


# ── the furnace register ──


def _register(district: Person, enterprise: Any, use: str = "casting", **extra: Any) -> InductionFurnace:
    fields: dict[str, Any] = {
        "name": "1号中频炉",
        "kind": "medium_frequency",
        "capacity_t": Decimal("1.5"),
        "transformer_kva": 1250,
        "use": use,
        "status": "in_use",
    }
    fields.update(extra)
    return actions.register_furnace(enterprise=enterprise, by=district.user, now=NOW, **fields)


def test_a_district_registers_and_the_gxj_verifies(district: Person, office: Person) -> None:
    enterprise = EnterpriseFactory()
    furnace = _register(district, enterprise)
    assert (furnace.state, furnace.territory_id) == (FurnaceState.REGISTERED, "440703")
    event = Event.objects.get(furnace=furnace)
    assert (event.action, event.by, event.data["within_scope"]) == ("furnace_register", district.user, True)
    assert _audit("signals.furnace_register").object_id == str(furnace.pk)
    assert not Signal.objects.exists()  # casting is within the scope
    verified = actions.verify_furnace(
        furnace=furnace, by=office.user, confirmed=True, note="现场核实", now=NOW, expected_version=1
    )
    assert (verified.state, verified.verified_by, verified.version) == (FurnaceState.VERIFIED, office.user, 2)
    assert Event.objects.filter(furnace=furnace).last().action == "furnace_verify"
    assert _audit("signals.furnace_verify").reason == "现场核实"


def test_a_furnace_outside_the_scope_is_itself_a_signal(district: Person, office: Person) -> None:
    furnace = _register(district, EnterpriseFactory(), use="construction_steel")
    signal = Signal.objects.get()
    assert (signal.kind, signal.furnace, signal.status, signal.dimension) == (
        SignalKind.FURNACE_OUT_OF_SCOPE,
        furnace,
        SignalStatus.OPEN,
        "technology",
    )
    assert signal.evidence["partly_confirmed"] is True and signal.evidence["prohibited"] is True
    assert Event.objects.get(signal=signal).action == "raise"
    assert _audit("signals.raise").object_id == str(signal.pk)
    assert Message.objects.filter(recipient=office, key=f"signal:{signal.pk}").exists()
    assert Message.objects.filter(recipient=district, key=f"signal:{signal.pk}").exists()


def test_register_refusals(
    district: Person, other_district: Person, office: Person, gxj_dept: Person
) -> None:
    enterprise = EnterpriseFactory()
    with pytest.raises(actions.SignalsError, match="由设备所在县（区）登记"):
        _register(office, enterprise)
    with pytest.raises(actions.SignalsError, match="该企业不在您的辖区"):
        _register(other_district, enterprise)
    _register(district, enterprise)
    with pytest.raises(actions.SignalsError, match="该企业已有同名的炉"):
        _register(district, enterprise)
    with pytest.raises(actions.SignalsError, match="该生产线不属于该企业"):
        _register(district, enterprise, name="2号炉", line=LineFactory())
    furnace = InductionFurnace.objects.get()
    with pytest.raises(actions.SignalsError, match="由市工业和信息化局核实"):
        actions.verify_furnace(furnace=furnace, by=district.user, confirmed=True, note="", now=NOW)
    with pytest.raises(actions.SignalsError, match="请说明县（区）需要更正的内容"):
        actions.verify_furnace(furnace=furnace, by=gxj_dept.user, confirmed=False, note=" ", now=NOW)
    returned = actions.verify_furnace(
        furnace=furnace, by=gxj_dept.user, confirmed=False, note="容量不符", now=NOW
    )
    assert returned.state == FurnaceState.RETURNED
    with pytest.raises(actions.SignalsError, match="只有待核实的炉"):
        actions.verify_furnace(furnace=returned, by=gxj_dept.user, confirmed=True, note="", now=NOW)
    corrected = actions.update_furnace(furnace=returned, by=district.user, now=NOW, capacity_t=Decimal(2))
    assert (corrected.state, corrected.capacity_t, corrected.version) == (
        FurnaceState.REGISTERED,
        Decimal(2),
        3,
    )
    assert Event.objects.filter(furnace=furnace).last().data["before"] == {"capacity_t": "1.50"}
    with pytest.raises(actions.SignalsError, match="有人修改了这台炉"):
        actions.verify_furnace(
            furnace=corrected, by=gxj_dept.user, confirmed=True, note="", now=NOW, expected_version=1
        )


# ── screening ──


def _reading(account: ElectricityAccount, day: dt.date, kwh: str, valley: str | None = None) -> None:
    content = _csv([[account.number, day.isoformat(), kwh, valley or ""]])
    batch = actions.import_power(
        upload=io.BytesIO(content), name="p.csv", by=account.matched_by, now=NOW, today=TODAY
    )
    assert batch.errors == []


def test_an_exited_line_over_the_threshold_raises_one_signal(
    office: Person, district: Person, account: ElectricityAccount, exited_line: ProductionLine
) -> None:
    _reading(account, dt.date(2026, 8, 1), "860.00")
    _reading(account, dt.date(2026, 8, 2), "50.00")  # at the threshold: nothing
    _reading(account, dt.date(2026, 5, 30), "900.00")  # before the line exited: nothing
    counts = job(now=NOW, today=TODAY)
    assert counts == {"resumed": 1, "night": 0, "stopped": 0}
    signal = Signal.objects.get()
    assert (signal.kind, signal.line, signal.observed_from, signal.observed_to) == (
        SignalKind.RESUMED_POWER,
        exited_line,
        dt.date(2026, 8, 1),
        dt.date(2026, 8, 1),
    )
    assert signal.evidence["reading"]["kwh"] == "860.00"
    assert signal.evidence["threshold_kwh"] == "50"
    assert signal.evidence["exited_on"] == "2026-05-31"
    assert Event.objects.get(signal=signal).action == "raise"
    assert AuditEvent.objects.filter(action="signals.raise", object_id=str(signal.pk)).count() == 1
    messages = Message.objects.filter(key=f"signal:{signal.pk}")
    told = set(messages.values_list("recipient__user__username", flat=True))
    assert {"office", "pengjiang"} <= told
    assert job(now=NOW + dt.timedelta(hours=1), today=TODAY) == {"resumed": 0, "night": 0, "stopped": 0}
    assert Signal.objects.count() == 1
    assert Message.objects.filter(key=f"signal:{signal.pk}").count() == len(told)


def test_the_sweep_registry_runs_the_screening(account: ElectricityAccount) -> None:
    _reading(account, dt.date(2026, 8, 1), "860.00")
    report = jobs.run_jobs(now=NOW, today=TODAY)
    assert report["signals"].counts == {"resumed": 1, "night": 0, "stopped": 0}
    assert not report.failed


def test_below_the_threshold_or_an_operating_line_raises_nothing(
    office: Person, account: ElectricityAccount, exited_line: ProductionLine
) -> None:
    _reading(account, dt.date(2026, 8, 1), "49.99")
    operating = LineFactory()
    other = actions.match_account(
        number="0440703002", enterprise=operating.enterprise, line=operating, by=office.user, now=NOW
    )
    _reading(other, dt.date(2026, 8, 1), "5000")
    assert job(now=NOW, today=TODAY)["resumed"] == 0


def test_a_sealed_line_month_is_judged_on_its_own_length(office: Person, settings: Any) -> None:
    settings.SIGNALS_RESIDUAL_KWH_PER_DAY = Decimal(10)
    sealed = LineFactory(status=LineStatus.SEALED)
    _archived_case(sealed, "environment")
    account = actions.match_account(
        number="0440703003", enterprise=sealed.enterprise, line=sealed, by=office.user, now=NOW
    )
    rows = [["0440703003", "2026-07", "310", ""], ["0440703003", "2026-06", "300.01", ""]]
    batch = _import(office, _csv(rows, ["户号", "月份", "用电量", "谷段电量"]))
    assert batch.created_count == 2
    assert job(now=NOW, today=TODAY)["resumed"] == 1  # June (30 days, > 300) yes; July (31 days, ≤ 310) no
    signal = Signal.objects.get()
    assert (signal.observed_from, signal.dimension) == (dt.date(2026, 6, 1), "environment")
    assert account.pk


def test_night_use_and_a_stopped_furnace_drawing_power(office: Person, district: Person) -> None:
    enterprise = EnterpriseFactory()
    night = actions.match_account(number="0440703010", enterprise=enterprise, by=office.user, now=NOW)
    idle = actions.match_account(number="0440703011", enterprise=enterprise, by=office.user, now=NOW)
    foundry = _register(district, enterprise, account=night)
    stopped = _register(district, enterprise, name="2号炉", status="stopped", account=idle)
    _reading(night, dt.date(2026, 8, 1), "1000", "650")  # 65 % at night: a signal
    _reading(night, dt.date(2026, 8, 2), "1000", "400")  # 40 %: none
    _reading(idle, dt.date(2026, 8, 1), "400")
    assert job(now=NOW, today=TODAY) == {"resumed": 0, "night": 1, "stopped": 1}
    by_kind = {s.kind: s for s in Signal.objects.all()}
    assert by_kind[SignalKind.FURNACE_NIGHT_USE].furnace == foundry
    assert by_kind[SignalKind.FURNACE_NIGHT_USE].evidence["night_share"] == "0.650"
    assert by_kind[SignalKind.FURNACE_NIGHT_USE].evidence["night_to_day_ratio"] == "3.71"
    assert by_kind[SignalKind.FURNACE_STOPPED_DRAWING].furnace == stopped
    assert job(now=NOW, today=TODAY) == {"resumed": 0, "night": 0, "stopped": 0}


def test_raise_signal_is_idempotent_for_the_same_evidence(exited_line: ProductionLine) -> None:
    kwargs: dict[str, Any] = {
        "kind": "resumed_emission",
        "line": exited_line,
        "evidence": {"mn": "MN0001", "hours": 5},
        "observed_from": dt.date(2026, 8, 1),
        "observed_to": dt.date(2026, 8, 1),
    }
    first = actions.raise_signal(now=NOW, **kwargs)
    second = actions.raise_signal(now=NOW + dt.timedelta(minutes=5), **kwargs)
    assert first.pk == second.pk and Signal.objects.count() == 1
    assert Event.objects.filter(signal=first).count() == 1
    with pytest.raises(actions.SignalsError, match="未知的信号类型"):
        actions.raise_signal(now=NOW, **{**kwargs, "kind": "nonsense"})
    with pytest.raises(actions.SignalsError, match="信号的证据过大"):
        actions.raise_signal(now=NOW, **{**kwargs, "evidence": {"x": "y" * 30_000}})


# ── confirm / dismiss ──


@pytest.fixture
def signal(account: ElectricityAccount) -> Signal:
    _reading(account, dt.date(2026, 8, 1), "860.00")
    job(now=NOW, today=TODAY)
    return Signal.objects.get()


def test_confirm_asks_for_a_reinspection_and_two_confirms_one_wins(
    signal: Signal, office: Person, district: Person, energy_dept: Person
) -> None:
    stale = Signal.objects.get(pk=signal.pk)
    done = actions.confirm_signal(signal=signal, by=energy_dept.user, reason="现场复查", now=NOW)
    assert (done.status, done.decided_by) == (SignalStatus.CONFIRMED, energy_dept.user)
    event = Event.objects.filter(signal=signal).last()
    assert (event.action, event.by, event.reason) == ("confirm", energy_dept.user, "现场复查")
    assert _audit("signals.confirm").object_id == str(signal.pk)
    assert Message.objects.filter(recipient=district, key=f"signal-confirmed:{signal.pk}").exists()
    with pytest.raises(actions.SignalsError, match="该信号已有人作出决定"):
        actions.confirm_signal(signal=stale, by=office.user, now=NOW)
    assert Signal.objects.get(pk=signal.pk).decided_by == energy_dept.user
    assert AuditEvent.objects.filter(action="signals.confirm").count() == 1


def test_dismiss_needs_a_reason_and_a_competent_person(
    signal: Signal, district: Person, env_dept: Person, energy_dept: Person
) -> None:
    with pytest.raises(actions.SignalsError, match="请说明驳回信号的理由"):
        actions.dismiss_signal(signal=signal, by=energy_dept.user, reason="  ", now=NOW)
    with pytest.raises(actions.SignalsError, match="只有主管部门或协调办"):
        actions.dismiss_signal(signal=signal, by=district.user, reason="门卫用电", now=NOW)
    done = actions.dismiss_signal(signal=signal, by=energy_dept.user, reason="门卫室用电", now=NOW)
    assert (done.status, done.reason) == (SignalStatus.DISMISSED, "门卫室用电")
    assert Event.objects.filter(signal=signal).last().action == "dismiss"
    assert _audit("signals.dismiss").reason == "门卫室用电"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_confirming_at_once_one_wins(reference: None) -> None:
    import threading

    from django.db import connection

    from tests.conftest import _person as make

    office = make("office", Role.OFFICE, department=Department.objects.get(code="jm-gxj"))
    dept = make("fgj", Role.DEPARTMENT, department=Department.objects.get(code="jm-fgj"))
    line = LineFactory(status=LineStatus.EXITED, exited_on=dt.date(2026, 5, 31))
    signal = actions.raise_signal(
        kind="resumed_power", line=line, evidence={}, observed_from=TODAY, observed_to=TODAY, now=NOW
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def confirm(person: Person) -> None:
        try:
            barrier.wait()
            actions.confirm_signal(signal=Signal.objects.get(pk=signal.pk), by=person.user, now=NOW)
            outcomes.append("ok")
        except actions.SignalsError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(p,)) for p in (office, dept)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "该信号已有人作出决定。"]
    assert AuditEvent.objects.filter(action="signals.confirm").count() == 1


# ── pages, every role ──

ROLE_FIXTURES = ["office", "energy_dept", "env_dept", "gxj_dept", "district", "other_district"]


def _preview_token(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, "the preview page has no confirm form"
    return found[1]


@pytest.mark.parametrize(
    ("role", "status"),
    [("office", 200), ("energy_dept", 200), ("env_dept", 403), ("gxj_dept", 200), ("district", 403)],
)
def test_power_import_page_by_role(request: Any, role: str, status: int, account: ElectricityAccount) -> None:
    person = request.getfixturevalue(role)
    client = client_for(person.user)
    assert client.get("/power/import/").status_code == status
    audit_before = AuditEvent.objects.filter(action="signals.power_import").count()
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/power/import/", {"file": upload("p.csv", _csv([["0440703001", "2026-08-01", "70", ""]]))}
        )
    assert response.status_code == status
    # The preview writes nothing: no reading, no import, no history, no audit row.
    assert (PowerReading.objects.count(), PowerImport.objects.count()) == (0, 0)
    assert not Event.objects.filter(action="power_import").exists()
    assert AuditEvent.objects.filter(action="signals.power_import").count() == audit_before
    if status == 403:
        assert AuditEvent.objects.filter(action="access.refused", actor=person.user).exists()
        assert client.post("/power/import/confirm/", {"token": "x"}).status_code == 403
        return
    page = response.content.decode()
    assert "用电数据导入预览" in page and "将写入 1 条新读数" in page and "尚未写入任何数据" in page
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        response = client.post("/power/import/confirm/", {"token": _preview_token(page)})
    batch = PowerImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/power/import/{batch.pk}/"
    reading = PowerReading.objects.get()
    assert (reading.account, reading.kwh, reading.source) == (account, Decimal("70.00"), batch)
    assert (batch.uploaded_by, batch.created_count, batch.total_rows) == (person.user, 1, 1)
    event = Event.objects.get(action="power_import")
    assert (event.account, event.by, event.at) == (account, person.user, NOW + dt.timedelta(minutes=5))
    assert event.data == {"import": batch.pk, "file": "p.csv", "readings": 1, "from": "2026-08-01",
                          "until": "2026-08-01"}  # fmt: skip
    entry = _audit("signals.power_import")
    assert (entry.actor, entry.object_id, entry.data["created"], entry.data["accounts"]) == (
        person.user, str(batch.pk), 1, 1,
    )  # fmt: skip


def test_the_preview_shows_what_would_be_written_and_every_problem(
    office: Person, account: ElectricityAccount
) -> None:
    _import(office, _csv([["0440703001", "2026-08-01", "50", ""]]))
    client = client_for(office.user)
    content = _csv(
        [
            ["0440703001", "2026-08-01", "50", ""],  # stored before, the same: unchanged
            ["0440703001", "2026-08-02", "61.5", "20"],  # new
            ["0440703001", "2026-08-03", "-1", ""],  # refused
        ]
    )
    with time_machine.travel(NOW, tick=False):
        response = client.post("/power/import/", {"file": upload("p.csv", content)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "共读取 3 行：将写入 1 条新读数，1 条已存在且未变，发现 1 处问题。" in page
    assert "61.50" in page and "2026-08-02" in page and "用电量不能为负数。" in page
    assert PowerReading.objects.count() == 1 and PowerImport.objects.count() == 1


def test_a_preview_is_confirmed_once_and_only_by_its_uploader(
    office: Person, energy_dept: Person, account: ElectricityAccount
) -> None:
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        page = client.post(
            "/power/import/", {"file": upload("p.csv", _csv([["0440703001", "2026-08-01", "70", ""]]))}
        ).content.decode()
    token = _preview_token(page)
    other = client_for(energy_dept.user)
    with time_machine.travel(NOW, tick=False):
        response = other.post("/power/import/confirm/", {"token": token}, follow=True)
        assert "该预览已过期或无效，请重新上传文件。" in response.content.decode()
        assert PowerReading.objects.count() == 0 and PowerImport.objects.count() == 0
        response = client.post("/power/import/confirm/", {"token": token[:-2] + "xx"}, follow=True)
        assert "该预览已过期或无效，请重新上传文件。" in response.content.decode()
        assert PowerImport.objects.count() == 0
        assert client.post("/power/import/confirm/", {"token": token}).status_code == 302
        response = client.post("/power/import/confirm/", {"token": token}, follow=True)
    assert "该文件已经导入，或其预览已过期，请重新上传。" in response.content.decode()
    assert (PowerImport.objects.count(), PowerReading.objects.count()) == (1, 1)
    assert AuditEvent.objects.filter(action="signals.power_import").count() == 1
    # The kept file is gone.
    assert not list((Path(django_settings.MEDIA_ROOT) / actions.PREVIEW_DIR).iterdir())


def test_a_preview_expires_after_a_day(office: Person, account: ElectricityAccount) -> None:
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        page = client.post(
            "/power/import/", {"file": upload("p.csv", _csv([["0440703001", "2026-08-01", "70", ""]]))}
        ).content.decode()
    later = NOW + dt.timedelta(seconds=actions.PREVIEW_MAX_AGE + 1)
    with time_machine.travel(later, tick=False):
        response = client.post("/power/import/confirm/", {"token": _preview_token(page)}, follow=True)
    assert "该预览已过期或无效，请重新上传文件。" in response.content.decode()
    assert (PowerImport.objects.count(), PowerReading.objects.count()) == (0, 0)


def test_stale_previews_are_deleted_by_the_next_upload(office: Person, account: ElectricityAccount) -> None:
    client = client_for(office.user)
    folder = Path(django_settings.MEDIA_ROOT) / actions.PREVIEW_DIR
    content = _csv([["0440703001", "2026-08-01", "70", ""]])
    with time_machine.travel(NOW, tick=False):
        client.post("/power/import/", {"file": upload("p.csv", content)})
    (stale,) = folder.iterdir()
    with time_machine.travel(NOW + dt.timedelta(seconds=actions.PREVIEW_MAX_AGE + 60), tick=False):
        client.post("/power/import/", {"file": upload("p.csv", content)})
    left = list(folder.iterdir())
    assert len(left) == 1 and stale not in left


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "p.csv",
            "户号,日期,用电量\n0440703001,2026-08-01,7\x00\n".encode(),
            "CSV 文件含有 NUL 字节，不是文本文件。",
        ),
        ("p.csv", b"\xff\xfe\x80\x81,\x80\n", "CSV 文件既不是 UTF-8 也不是 GBK 文本。"),
        ("p.xlsx", b"PK not a workbook", "无法按 .xlsx 工作簿读取该文件。"),
        ("p.csv", "日期,用电量\n2026-08-01,7\n".encode(), "不是用电量数据：缺少列 户号（第一行应为列名）。"),
        ("p.doc", b"x", "请上传 .xlsx 工作簿或 .csv 文件。"),
    ],
)
def test_a_bad_upload_is_refused_with_its_reason_and_nothing_kept(
    office: Person, account: ElectricityAccount, name: str, content: bytes, message: str
) -> None:
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post("/power/import/", {"file": upload(name, content)}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and 'name="token"' not in page
    assert message in page
    assert not (Path(django_settings.MEDIA_ROOT) / actions.PREVIEW_DIR).exists() or not list(
        (Path(django_settings.MEDIA_ROOT) / actions.PREVIEW_DIR).iterdir()
    )
    assert (PowerImport.objects.count(), PowerReading.objects.count()) == (0, 0)


def test_an_upload_over_the_size_limit_is_refused(
    office: Person, account: ElectricityAccount, settings: Any
) -> None:
    settings.POWER_IMPORT_MAX_BYTES = 40
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/power/import/", {"file": upload("p.csv", _csv([["0440703001", "2026-08-01", "70", ""]] * 3))},
            follow=True,
        )  # fmt: skip
    assert "文件过大，上限为 40\xa0字节。" in response.content.decode()
    with pytest.raises(actions.SignalsError, match=re.escape("文件过大，上限为 40\xa0字节。")):
        actions.preview_power(upload=io.BytesIO(b"x" * 41), name="p.csv", by=office.user, today=TODAY)
    assert PowerImport.objects.count() == 0


def test_power_import_page_says_what_is_wrong(office: Person, account: ElectricityAccount) -> None:
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post("/power/import/", {"file": upload("p.doc", b"x")}, follow=True)
        assert "请上传 .xlsx 工作簿或 .csv 文件。" in response.content.decode()
        response = client.post(
            "/power/import/",
            {"file": upload("p.csv", _csv([["0440703001", "2026-08-01", "-1", ""]]))},
            follow=True,
        )
    page = response.content.decode()
    assert "用电量不能为负数。" in page and PowerReading.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "may"),
    [("office", True), ("energy_dept", True), ("env_dept", False), ("district", False)],
)
def test_matching_accounts_by_role(request: Any, role: str, may: bool, exited_line: ProductionLine) -> None:
    person = request.getfixturevalue(role)
    client = client_for(person.user)
    assert client.get("/power/accounts/").status_code == 200
    response = client.post(
        "/power/accounts/",
        {"number": "0440703009", "uscc": exited_line.enterprise.uscc, "line_name": exited_line.name},
    )
    assert response.status_code == (302 if may else 403)
    assert ElectricityAccount.objects.filter(number="0440703009", line=exited_line).exists() is may


def _furnace_post(enterprise: Any, **extra: str) -> dict[str, str]:
    return {
        "uscc": enterprise.uscc,
        "line_name": "",
        "name": "1号中频炉",
        "kind": "medium_frequency",
        "capacity_t": "1.5",
        "transformer_kva": "1250",
        "use": "casting",
        "status": "in_use",
        "account_number": "",
        **extra,
    }


@pytest.mark.parametrize(
    ("role", "status"),
    [("office", 403), ("energy_dept", 403), ("gxj_dept", 403), ("district", 302), ("other_district", 200)],
)
def test_registering_a_furnace_by_role(request: Any, role: str, status: int) -> None:
    person = request.getfixturevalue(role)
    enterprise = EnterpriseFactory()
    response = client_for(person.user).post("/furnaces/new/", _furnace_post(enterprise), follow=status == 200)
    assert response.status_code == status
    assert InductionFurnace.objects.exists() is (status == 302)
    if status == 200:  # another district: the enterprise is not in its territory
        assert "您辖区内没有该统一社会信用代码的企业。" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [("office", 302), ("gxj_dept", 302), ("energy_dept", 403), ("env_dept", 403), ("district", 403)],
)
def test_verifying_a_furnace_by_role(request: Any, role: str, status: int, district: Person) -> None:
    furnace = _register(district, EnterpriseFactory())
    person = request.getfixturevalue(role)
    client = client_for(person.user)
    data = {"decision": "verify", "note": "", "version": "1", "confirm": "on"}
    response = client.post(f"/furnaces/{furnace.pk}/verify/", data)
    assert response.status_code == status
    furnace.refresh_from_db()
    assert (furnace.state == FurnaceState.VERIFIED) is (status == 302)


def test_verifying_without_confirmation_is_refused(office: Person, district: Person) -> None:
    furnace = _register(district, EnterpriseFactory())
    response = client_for(office.user).post(
        f"/furnaces/{furnace.pk}/verify/", {"decision": "verify", "note": "", "version": "1"}, follow=True
    )
    assert "请勾选确认后再执行此操作。" in response.content.decode()
    furnace.refresh_from_db()
    assert furnace.state == FurnaceState.REGISTERED


def test_furnace_list_filters_exports_and_shows_the_scope_partly_confirmed(
    district: Person, other_district: Person, office: Person
) -> None:
    _register(district, EnterpriseFactory(), name="铸造炉")
    _register(district, EnterpriseFactory(), name="钢坯炉", use="construction_steel")
    page = client_for(office.user).get("/furnaces/?within_scope=no").content.decode()
    assert "钢坯炉" in page and "铸造炉" not in page and "部分核实" in page
    assert "钢坯炉" not in client_for(other_district.user).get("/furnaces/").content.decode()
    export = client_for(office.user).get("/furnaces/?format=xlsx")
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxml")
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 3 and any("钢协〔2017〕23号" in str(c) for c in rows[1])
    assert AuditEvent.objects.filter(action="export.furnaces").exists()


@pytest.mark.parametrize(
    ("role", "sees", "may_decide"),
    [
        ("office", True, True),
        ("energy_dept", False, False),  # an environment case's line: not its dimension
        ("env_dept", True, True),
        ("district", True, False),
        ("other_district", False, False),
    ],
)
def test_signal_pages_by_role(request: Any, role: str, sees: bool, may_decide: bool, office: Person) -> None:
    line = LineFactory(status=LineStatus.EXITED, exited_on=dt.date(2026, 5, 31))
    _archived_case(line, "environment")
    signal = actions.raise_signal(
        kind="resumed_power",
        line=line,
        evidence={"kwh": "860"},
        observed_from=TODAY,
        observed_to=TODAY,
        now=NOW,
    )
    assert signal.dimension == "environment"
    person = request.getfixturevalue(role)
    client = client_for(person.user)
    listing = client.get("/signals/").content.decode()
    assert (line.enterprise.name in listing) is sees
    home = client.get("/").content.decode()
    assert (f"/signals/{signal.pk}/" in home) is sees
    detail = client.get(f"/signals/{signal.pk}/")
    assert detail.status_code == (200 if sees else 404)
    response = client.post(
        f"/signals/{signal.pk}/", {"decision": "dismiss", "reason": "门卫室用电", "confirm": "on"}
    )
    signal.refresh_from_db()
    assert (signal.status == SignalStatus.DISMISSED) is may_decide
    if sees and not may_decide:
        assert response.status_code == 403


def test_message_centre_shows_the_signal(district: Person, signal: Signal) -> None:
    page = client_for(district.user).get("/messages/").content.decode()
    assert "回头看" in page and signal.enterprise.name in page


def test_confirming_on_the_page_needs_confirmation(signal: Signal, office: Person) -> None:
    client = client_for(office.user)
    response = client.post(f"/signals/{signal.pk}/", {"decision": "confirm", "reason": ""}, follow=True)
    assert "请勾选确认后再执行此操作。" in response.content.decode()
    signal.refresh_from_db()
    assert signal.status == SignalStatus.OPEN
    client.post(f"/signals/{signal.pk}/", {"decision": "confirm", "reason": "", "confirm": "on"})
    signal.refresh_from_db()
    assert signal.status == SignalStatus.CONFIRMED
    again = client.post(f"/signals/{signal.pk}/", {"decision": "confirm", "confirm": "on"}, follow=True)
    assert "该信号已有人作出决定。" in again.content.decode()


def test_the_remaining_refusals(
    office: Person, heyuan_office: Person, district: Person, gxj_dept: Person
) -> None:
    enterprise = EnterpriseFactory()
    with pytest.raises(actions.SignalsError, match="请填写户号"):
        actions.match_account(number=" ", enterprise=enterprise, by=office.user, now=NOW)
    actions.match_account(number="0440703020", enterprise=enterprise, by=office.user, now=NOW)
    heyuan = EnterpriseFactory(territory_id="441602")
    with pytest.raises(actions.SignalsError, match="该户号已匹配到其他城市的企业"):
        actions.match_account(number="0440703020", enterprise=heyuan, by=heyuan_office.user, now=NOW)
    with pytest.raises(actions.SignalsError, match="只有协调办或能耗主管部门可以导入用电数据"):
        actions.import_power(upload=io.BytesIO(b""), name="p.csv", by=district.user, now=NOW, today=TODAY)
    furnace = _register(district, enterprise)
    with pytest.raises(actions.SignalsError, match="说明过长"):
        actions.verify_furnace(furnace=furnace, by=gxj_dept.user, confirmed=True, note="长" * 501, now=NOW)
    with pytest.raises(actions.SignalsError, match="该电力户号不属于该企业"):
        other = actions.match_account(
            number="0440703021", enterprise=EnterpriseFactory(), by=office.user, now=NOW
        )
        _register(district, enterprise, name="3号炉", account=other)
    kwargs: dict[str, Any] = {"kind": "resumed_power", "evidence": {}, "now": NOW}
    with pytest.raises(actions.SignalsError, match="信号须指明所涉生产线或企业"):
        actions.raise_signal(observed_from=TODAY, observed_to=TODAY, **kwargs)
    with pytest.raises(actions.SignalsError, match="信号的期间结束早于开始"):
        actions.raise_signal(
            enterprise=enterprise, observed_from=TODAY, observed_to=dt.date(2026, 8, 1), **kwargs
        )
    with pytest.raises(actions.SignalsError, match="信号的证据须为有名称的数值记录"):
        actions.raise_signal(
            enterprise=enterprise, observed_from=TODAY, observed_to=TODAY, **{**kwargs, "evidence": []}
        )
    assert not Signal.objects.exists()


def test_a_district_corrects_its_entry_over_http(
    district: Person, other_district: Person, office: Person
) -> None:
    furnace = _register(district, EnterpriseFactory())
    actions.verify_furnace(furnace=furnace, by=office.user, confirmed=True, note="", now=NOW)
    post = _furnace_post(furnace.enterprise, capacity_t="3", use="carbon_steel")
    assert client_for(other_district.user).post(f"/furnaces/{furnace.pk}/edit/", post).status_code == 404
    assert client_for(office.user).post(f"/furnaces/{furnace.pk}/edit/", post).status_code == 403
    response = client_for(district.user).post(f"/furnaces/{furnace.pk}/edit/", post, follow=True)
    assert "登记信息已修改，由主管部门重新核实。" in response.content.decode()
    furnace.refresh_from_db()
    assert (furnace.state, furnace.capacity_t, furnace.use) == (
        FurnaceState.REGISTERED,
        Decimal(3),
        "carbon_steel",
    )
    event = Event.objects.filter(furnace=furnace).last()
    assert (event.action, event.data["changed"]["use"]) == ("furnace_update", "carbon_steel")
    assert _audit("signals.furnace_update").actor == district.user
    assert Signal.objects.get().kind == SignalKind.FURNACE_OUT_OF_SCOPE  # the new use is outside the scope
    page = client_for(office.user).get(f"/furnaces/{furnace.pk}/").content.decode()
    assert "超出允许使用范围" in page and "部分核实" in page
