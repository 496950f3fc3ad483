"""The demo data set: one account per role, a register of enterprises in Jiangmen, and cases in
every state, all made through the same actions the pages use (so every case has its history)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from stdnum.cn import uscc

from phaseout import demo_paths
from phaseout.accounts import create_person
from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case
from phaseout.demo_keys import demo_totp_key
from phaseout.identity.factors import TotpFactor, base32_secret
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.prices.actions import enter_rate
from phaseout.prices.models import PriceRate
from phaseout.registry import actions as registry_actions
from phaseout.registry.models import (
    SIZE_UNIT_FOR_TYPE,
    CapacityUnit,
    Enterprise,
    EquipmentType,
    Licence,
    Measurement,
    ProductionLine,
)
from phaseout.rules.exit_plans import ExitPlan
from phaseout.standards.actions import run_evaluation

DEMO_PASSWORD = "Phaseout-demo-2026"  # noqa: S105 - printed for the demo, never used in production


# A 1×1 PNG, used as demo evidence.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def make_uscc(serial: int, region: str = "440700") -> str:
    body = f"91{region}MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def _city_accounts(city: str, prefix: str, office_name: str) -> list[tuple[str, str, Role, dict[str, Any]]]:
    """A city's office, one officer per enforcing department, each county's government, and a second
    officer in each department (so that a random draw of inspectors draws)."""
    rows: list[tuple[str, str, Role, dict[str, Any]]] = [
        (
            f"{prefix}office",
            office_name,
            Role.OFFICE,
            {"department": Department.objects.get(territory_id=city, is_office=True)},
        ),
    ]
    departments = list(
        Department.objects.filter(territory_id=city).exclude(dimensions=[]).exclude(is_office=True)
    )
    for dept in departments:
        rows.append(
            (f"{prefix}dept-{dept.code.split('-')[1]}", dept.name, Role.DEPARTMENT, {"department": dept})
        )
    for t in Territory.objects.filter(parent_id=city):
        rows.append((f"district-{t.code}", f"{t.name}人民政府", Role.DISTRICT, {"territory": t}))
    for dept in departments:
        rows.append(
            (
                f"{prefix}dept-{dept.code.split('-')[1]}-2",
                f"{dept.name}（执法人员）",
                Role.DEPARTMENT,
                {"department": dept},
            )
        )
    return rows


def _accounts() -> list[tuple[str, str, Role, dict[str, Any]]]:
    rows = [
        *_city_accounts("440700", "", "江门市淘汰落后产能工作协调小组办公室"),
        *_city_accounts("441600", "hy-", "河源市淘汰落后产能工作协调小组办公室"),
    ]
    rows += [
        (
            "province",
            "广东省推动落后产能退出工作省级协调办公室",
            Role.PROVINCE,
            {"department": Department.objects.get(code="gd-gxt")},
        ),
        ("auditor", "审计管理员", Role.AUDITOR, {}),
        ("intake", "举报受理员", Role.INTAKE, {}),
        ("secadmin", "安全管理员", Role.SECURITY_ADMIN, {}),
        ("sysadmin", "系统管理员", Role.SYSTEM_ADMIN, {}),
    ]
    return rows


ENTERPRISES = [
    # (name, district code, industry, [(line name, type, size, capacity, unit, year)])
    (
        "江门市蓬江钢铁有限公司",
        "440703",
        "steel",
        [
            (
                "1号高炉",
                EquipmentType.BLAST_FURNACE,
                "380",
                "45",
                CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR,
                2004,
            ),
            (
                "2号高炉",
                EquipmentType.BLAST_FURNACE,
                "1080",
                "110",
                CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR,
                2012,
            ),
        ],
    ),
    (
        "江门江海特钢铸造有限公司",
        "440704",
        "steel",
        [
            (
                "中频感应炉",
                EquipmentType.INDUCTION_FURNACE,
                "5",
                "3",
                CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR,
                2010,
            ),
        ],
    ),
    (
        "新会华润水泥有限公司",
        "440705",
        "cement",
        [
            ("熟料生产线", EquipmentType.CLINKER_LINE, "2500", "2500", CapacityUnit.TONNES_PER_DAY, 2008),
        ],
    ),
    (
        "台山南方水泥有限公司",
        "440781",
        "cement",
        [
            ("熟料生产线", EquipmentType.CLINKER_LINE, "4000", "4000", CapacityUnit.TONNES_PER_DAY, 2011),
        ],
    ),
    (
        "开平信义平板玻璃有限公司",
        "440783",
        "flat_glass",
        [
            (
                "浮法玻璃生产线",
                EquipmentType.FLAT_GLASS_LINE,
                "900",
                "900",
                CapacityUnit.TONNES_PER_DAY,
                2013,
            ),
        ],
    ),
    (
        "鹤山市宏达钢铁有限公司",
        "440784",
        "steel",
        [
            (
                "20吨转炉",
                EquipmentType.CONVERTER,
                "20",
                "15",
                CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR,
                2003,
            ),
        ],
    ),
    (
        "恩平市恒丰水泥厂",
        "440785",
        "cement",
        [
            ("熟料生产线", EquipmentType.CLINKER_LINE, "1200", "1200", CapacityUnit.TONNES_PER_DAY, 2005),
        ],
    ),
    (
        "江门市新会区金鼎钢铁有限公司",
        "440705",
        "steel",
        [
            (
                "25吨电炉",
                EquipmentType.ELECTRIC_FURNACE,
                "25",
                "12",
                CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR,
                2006,
            ),
        ],
    ),
]


def _png(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def demo_accounts() -> None:
    """The demo's accounts (both cities' offices, departments and counties, the administrators), each
    with its fixed TOTP key; those already there are left as they are."""
    User = get_user_model()
    accounts = _accounts()
    existing = set(
        User.objects.filter(username__in=[a[0] for a in accounts]).values_list("username", flat=True)
    )
    missing = [a for a in accounts if a[0] not in existing]
    # One public password for every demo account: hashed once (at the configured cost), not forty times.
    hashed = make_password(DEMO_PASSWORD) if missing else ""
    for username, name, role, scope in missing:
        person = create_person(
            username=username,
            password=hashed,
            password_hashed=True,
            display_name=name,
            role=role,
            by=None,
            must_change_password=False,
            **scope,
        )
        TotpFactor().install(person.user, demo_totp_key(username))


@transaction.atomic
def load_demo(*, today: dt.date | None = None) -> list[tuple[str, str, str, str]]:
    """Create the demo set once; return (username, role, unit, TOTP secret) for every demo account."""
    today = today or timezone.localdate()
    demo_accounts()
    if not Enterprise.objects.filter(uscc=make_uscc(1)).exists():
        _register_and_cases(today)
        _sign_in_failures()
    _monitoring(today)
    return [
        (
            p.user.username,
            str(p.get_role_display()),
            p.display_name,
            " ".join(base32_secret(d) for d in TOTPDevice.objects.filter(user=p.user, confirmed=True)),
        )
        for p in Person.objects.select_related("user").order_by("id")
    ]


def _monitoring(today: dt.date) -> None:
    """Key discharge units and their monitors in both cities (`phaseout hj212 simulate` sends their data;
    `phaseout hj212 feed`, which `make demo` runs, replays the last hours through a receiver): normal ones,
    one exceeding (outlet DA002, on a cement clinker line: GB 4915's limits judge it), one going offline
    (DA003), one on an exited line still emitting, and a key unit with no monitor at all."""
    from phaseout.monitoring import actions as monitoring
    from phaseout.monitoring.models import MonitoringPoint, PointKind
    from phaseout.registry.models import LineStatus

    if MonitoringPoint.objects.exists():
        return
    office = Person.objects.get(user__username="office").user
    serial = 0

    def point(enterprise: Enterprise, outlet: str, name: str, lines: list[ProductionLine]) -> None:
        nonlocal serial
        serial += 1
        monitoring.register_point(
            enterprise=enterprise, mn=f"44{enterprise.territory_id[2:4]}0000DEMO{serial:04d}",
            outlet_code=outlet, outlet_name=name, kind=PointKind.FLUE_GAS,
            password="123456",  # noqa: S106 (the demo loggers' public password)
            lines=lines, by=office,
        )  # fmt: skip

    for city in ("4407", "4416"):
        chosen = list(Enterprise.objects.filter(territory__code__startswith=city).order_by("id")[:4])
        for n, enterprise in enumerate(chosen):
            monitoring.list_key_unit(
                enterprise=enterprise, year=today.year, flue_gas=True, wastewater=False, by=office
            )
            lines = list(enterprise.lines.exclude(status=LineStatus.EXITED)[:1])
            if n == 3:
                continue  # listed, no monitor
            point(enterprise, "DA001", "1号排气筒", lines)
            if n == 2:
                point(enterprise, "DA002", "2号排气筒（超标演示）", lines)
            if n == 1:
                point(enterprise, "DA003", "3号排气筒（离线演示）", lines)
    exited = ProductionLine.objects.filter(status=LineStatus.EXITED).select_related("enterprise").first()
    if exited is not None:
        point(exited.enterprise, "DA009", "已退出产线排口（仍有排放）", [exited])


def _sign_in_failures() -> None:
    """A morning's wrong passwords from one address, as the security administrator and auditor see them."""
    from phaseout.audit.record import set_request_ip
    from phaseout.identity import actions as identity

    set_request_ip("10.20.30.40")
    try:
        for username in ("office", "office", "district-440703"):
            identity.login_failed(username=username, address="10.20.30.40", now=timezone.now())
    finally:
        set_request_ip(None)


def _register_and_cases(today: dt.date) -> None:
    office = Person.objects.get(user__username="office").user
    enterprises = []
    for serial, (name, territory, industry, lines) in enumerate(ENTERPRISES, start=1):
        enterprise = registry_actions.create_enterprise(
            data={
                "uscc": make_uscc(serial),
                "name": name,
                "territory_id": territory,
                "industry_id": industry,
                "address": f"{Territory.objects.get(code=territory).name}工业园{serial}号",
                "contact_name": "张工",
                "contact_phone": f"0750-38{serial:05d}",
            },
            by=office,
        )
        for line_name, kind, size, capacity, unit, year in lines:
            registry_actions.save_enterprise_part(
                part=ProductionLine(
                    enterprise=enterprise,
                    name=line_name,
                    equipment_type=kind,
                    size_value=Decimal(size),
                    size_unit=SIZE_UNIT_FOR_TYPE[kind],
                    capacity=Decimal(capacity),
                    capacity_unit=unit,
                    commissioning_year=year,
                ),
                by=office,
            )
        enterprises.append(enterprise)
    # The cement works hold their production licences and discharge permits (the enterprise account's too).
    for index in (2, 3, 6):
        for licence_kind, number in (
            (Licence.Kind.PRODUCTION, f"XK08-001-{index + 1:05d}"),
            (Licence.Kind.POLLUTANT_DISCHARGE, f"{enterprises[index].uscc}001P"),
        ):
            registry_actions.save_enterprise_part(
                part=Licence(
                    enterprise=enterprises[index],
                    kind=licence_kind,
                    number=number,
                    valid_until=dt.date(today.year + 3, 6, 30),
                ),
                by=office,
            )
    enterprise_account = Person.objects.filter(role=Role.ENTERPRISE).first()
    if enterprise_account is None:
        firm = create_person(
            username="enterprise",
            password=DEMO_PASSWORD,
            display_name=enterprises[2].name,
            role=Role.ENTERPRISE,
            enterprise=enterprises[2],
            by=None,
            must_change_password=False,
        )
        TotpFactor().install(firm.user, demo_totp_key("enterprise"))

    fgj = Department.objects.get(code="jm-fgj")
    gxj = Department.objects.get(code="jm-gxj")
    dept_user = Person.objects.get(user__username="dept-fgj").user

    def inspect(
        enterprise: Enterprise, dept: Department, dimension: str, rule: str, value: str | None, on: dt.date
    ) -> Case | None:
        line = enterprise.lines.first()
        inspector = dept_user if dept == fgj else office
        inspection = case_actions.record_inspection(
            department=dept,
            enterprise=enterprise,
            line=line,
            dimension=dimension,
            inspected_on=on,
            inspectors="李明、王芳",
            notes="现场检查，调阅台账并核对设备铭牌。",
            files=[_png("现场照片.png")],
            by=inspector,
            today=on,
        )
        finding = case_actions.record_finding(
            inspection=inspection,
            rule_id=rule,
            line=line,
            measured_value=Decimal(value) if value is not None else None,
            by=inspector,
        )
        return Case.objects.filter(finding=finding).first()

    # An energy case still in rectification, due in about four months.
    case = inspect(
        enterprises[2],
        fgj,
        "energy",
        "energy.cement.clinker-energy",
        "123.5",
        today - dt.timedelta(days=60),
    )
    assert case
    case_actions.order_rectification(
        case=case, by=dept_user, today=today - dt.timedelta(days=58), reason="责令限期整改"
    )
    # An energy case whose deadline passed: the sweep will mark it overdue.
    case = inspect(
        enterprises[6],
        fgj,
        "energy",
        "energy.cement.clinker-energy",
        "131",
        today - dt.timedelta(days=220),
    )
    assert case
    case_actions.order_rectification(
        case=case, by=dept_user, today=today - dt.timedelta(days=210), reason="责令限期整改"
    )
    # A fresh finding awaiting its order.
    inspect(
        enterprises[4],
        fgj,
        "energy",
        "energy.glass.flat-glass",
        "13.1",
        today - dt.timedelta(days=3),
    )
    # A compliant finding (no case).
    inspect(
        enterprises[3],
        fgj,
        "energy",
        "energy.cement.clinker-energy",
        "109",
        today - dt.timedelta(days=20),
    )
    # Elimination-class equipment: the finding is a proposal; the office orders the exit at once.
    case = inspect(
        enterprises[1],
        gxj,
        "technology",
        "technology.steel.induction-furnace",
        None,
        today - dt.timedelta(days=10),
    )
    assert case
    case_actions.order_exit(
        case=case,
        plan=ExitPlan.SEAL_THEN_DISMANTLE,
        by=office,
        today=today,
        issued_on=today - dt.timedelta(days=9),
        served_on=today - dt.timedelta(days=8),
        reason="中频感应炉用于普碳钢冶炼，属淘汰类装备，立即淘汰",
    )
    # An elimination case carried through to archive.
    case = inspect(
        enterprises[5],
        gxj,
        "technology",
        "technology.steel.converter-30",
        None,
        today - dt.timedelta(days=90),
    )
    assert case
    case = case_actions.order_exit(
        case=case,
        plan=ExitPlan.SEAL_THEN_DISMANTLE,
        by=office,
        today=today,
        issued_on=today - dt.timedelta(days=89),
        served_on=today - dt.timedelta(days=88),
        reason="30吨转炉属淘汰类装备，立即淘汰",
    )
    for measure in case.measures.all():
        if measure.kind != "dismantling":
            case_actions.complete_measure(
                measure=measure,
                by=office,
                done_on=today - dt.timedelta(days=80),
                note="已完成",
                notice="已书面通知企业，提前二十四小时送达",
                files=[_png("措施照片.png")],
                today=today,
            )
    case = case_actions.confirm_exit(
        case=case, by=office, today=today - dt.timedelta(days=75), reason="各项退出措施已落实"
    )
    case = case_actions.accept_exit(
        case=case,
        by=office,
        accepted_on=today - dt.timedelta(days=70),
        team="市工信局、鹤山市政府联合验收组",
        record_text="现场核查：主体设备已封存，动力装置已拆除，企业已公开承诺。验收合格。",
        today=today,
    )
    case_actions.complete_measure(
        measure=case.measures.get(kind="dismantling"),
        by=office,
        done_on=today - dt.timedelta(days=70),
        note="主体设备已拆除",
        files=[_png("拆除照片.png")],
        today=today,
    )
    case_actions.archive_case(case=case, by=office, today=today - dt.timedelta(days=69))
    _other_paths(enterprises, today)
    # Both cities: a case in every state of every dimension's path, licences, sampling and inspections.
    demo_paths.load_paths(today)

    _measurements(enterprises, office, today)
    _office_rates(office)
    _plan_and_programme(office, today)
    _year_summaries(today)
    _public_side(office, today)
    _power_and_furnaces(enterprises, today)
    # The registry evaluated against the rulebooks: the exit-candidate list and automatic findings.
    run_evaluation(on=today, by=office)


def _power_and_furnaces(enterprises: list[Enterprise], today: dt.date) -> None:
    """Electricity accounts, the utility's power use and the furnace register: the archived exit's line
    still draws power last month (the demo's sweep raises a re-inspection signal for it), a foundry
    furnace verified, and a furnace registered for billets (outside the permitted scope: a signal)."""
    import io

    from phaseout.signals import actions as signal_actions

    office = Person.objects.get(user__username="office").user
    now = timezone.now()
    archived = Case.objects.filter(enterprise=enterprises[5], state="archived").select_related("line").first()
    assert archived is not None and archived.line is not None
    exited = signal_actions.match_account(
        number="0440784000501", enterprise=enterprises[5], line=archived.line, by=office, now=now
    )
    foundry = signal_actions.match_account(
        number="0440703000101", enterprise=enterprises[0], by=office, now=now
    )
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    rows = ["户号,日期,用电量,谷段电量", f"{exited.number},{last_month_end:%Y-%m},3680,"]
    for back in range(1, 15):
        day = today - dt.timedelta(days=back)
        rows.append(f"{foundry.number},{day.isoformat()},{1800 + 10 * back},{520 + back}")
    content = ("\n".join(rows) + "\n").encode()
    signal_actions.import_power(
        upload=io.BytesIO(content), name="供电局用电数据.csv", by=office, now=now, today=today
    )
    districts = {
        e.pk: Person.objects.get(user__username=f"district-{e.territory_id}").user for e in enterprises[:2]
    }
    registered = signal_actions.register_furnace(
        enterprise=enterprises[0],
        by=districts[enterprises[0].pk],
        now=now,
        name="1号中频炉（铸造车间）",
        kind="medium_frequency",
        capacity_t=Decimal("1.5"),
        transformer_kva=1250,
        use="casting",
        status="in_use",
        account=foundry,
    )
    signal_actions.verify_furnace(furnace=registered, by=office, confirmed=True, note="现场核实一致", now=now)
    signal_actions.register_furnace(
        enterprise=enterprises[1],
        by=districts[enterprises[1].pk],
        now=now,
        name="2号中频炉",
        kind="medium_frequency",
        capacity_t=Decimal("5"),
        transformer_kva=4000,
        use="construction_steel",
        status="stopped",
    )


def _other_paths(enterprises: list[Enterprise], today: dt.date) -> None:
    """An environment case under restricted production and a safety case suspended, each decided by its
    own department on its own path."""
    for username, code, dimension, rule, enterprise, step in (
        ("dept-sthjj", "jm-sthjj", "environment", "environment.cement.kiln-pm", enterprises[2], "restrict"),
        ("dept-yjglj", "jm-yjglj", "safety", "safety.general.conditions", enterprises[6], "suspend"),
    ):
        officer = Person.objects.get(user__username=username).user
        inspection = case_actions.record_inspection(
            department=Department.objects.get(code=code),
            enterprise=enterprise,
            line=enterprise.lines.first(),
            dimension=dimension,
            inspected_on=today - dt.timedelta(days=30),
            inspectors="张强、刘洋",
            notes="现场检查。",
            files=[_png("现场照片.png")],
            by=officer,
            today=today,
        )
        finding = case_actions.record_finding(
            inspection=inspection,
            rule_id=rule,
            line=enterprise.lines.first(),
            measured_value=Decimal("45") if dimension == "environment" else Decimal("3"),
            by=officer,
        )
        case = Case.objects.filter(finding=finding).first()
        if case is None:
            continue
        issued, served = today - dt.timedelta(days=25), today - dt.timedelta(days=23)
        if step == "restrict":
            case_actions.order_restriction(
                case=case,
                by=officer,
                months=3,
                today=today,
                reason="颗粒物超标排放",
                issued_on=issued,
                served_on=served,
            )
        else:
            case_actions.order_suspension(
                case=case,
                by=officer,
                today=today,
                reason="不具备安全生产条件",
                issued_on=issued,
                served_on=served,
            )


def _measurements(enterprises: list[Enterprise], office: Any, today: dt.date) -> None:
    """Measured values and correction inputs, as energy audits and monitoring report them."""
    measured_on = today - dt.timedelta(days=30)
    rows = [
        # (enterprise index, line name, attributes, {indicator: value}, source)
        (
            0,
            "2号高炉",
            {"feed_iron_grade": 61},
            {"blast_furnace_energy": "428"},
            Measurement.Source.ENERGY_AUDIT,
        ),
        (
            3,
            "熟料生产线",
            {"clinker_ratio": 78},
            {"cement_energy": "99", "pm_concentration": "24"},
            Measurement.Source.ENERGY_AUDIT,
        ),
        (
            4,
            "浮法玻璃生产线",
            {"line_utilisation": 90, "product": "flat_glass"},
            {"flat_glass_energy": "12.5"},
            Measurement.Source.ENERGY_AUDIT,
        ),
        (
            6,
            "熟料生产线",
            {},
            {"pm_concentration": "36.5", "nox_concentration": "310"},
            Measurement.Source.MONITORING,
        ),
    ]
    for index, line_name, attributes, values, source in rows:
        if index >= len(enterprises):
            continue
        line = enterprises[index].lines.filter(name=line_name).first()
        if line is None:
            continue
        line.attributes = attributes
        registry_actions.save_enterprise_part(part=line, by=office)
        for indicator, value in values.items():
            registry_actions.record_measurement(
                line=line,
                indicator=indicator,
                value=Decimal(value),
                measured_on=measured_on,
                source=source,
                by=office,
                today=today,
            )


def _office_rates(office: Any) -> None:
    """Rates the reference gives only as a local example, entered as the office would, citing it."""
    source = "某市超定额用水累进加价方案（地方示例，城市未具名：bbbaike.com/baike/techan/925807.html）"
    enter_rate(
        rate=PriceRate(
            kind=PriceRate.Kind.WATER,
            water_tier1=Decimal(20),
            water_tier2=Decimal(50),
            water_tier3=Decimal(100),
            effective_from=dt.date(2021, 1, 1),
            source=source,
            verification=PriceRate.Status.SECONDARY,
        ),
        by=office,
    )
    for catalogue_class in ("eliminated", "restricted"):
        enter_rate(
            rate=PriceRate(
                kind=PriceRate.Kind.WATER,
                catalogue_class=catalogue_class,
                water_tier1=Decimal(50),
                water_tier2=Decimal(100),
                water_tier3=Decimal(150),
                effective_from=dt.date(2021, 1, 1),
                source=source,
                verification=PriceRate.Status.SECONDARY,
            ),
            by=office,
        )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _closed_list_xlsx() -> bytes:
    """The department's list of closed capacity for the half year, as a workbook."""
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "关闭退出清单"
    sheet.append(["企业名称", "生产线（设备）", "产能", "关闭退出日期"])
    sheet.append(["江门市示例钢铁有限公司", "中频炉 1台", "钢铁 15万吨/年", "2021-05-20"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _year_summaries(today: dt.date) -> None:
    """The year summaries on their way up: Jiangmen's approved by its city government and handed up to the
    provincial office (awaiting its review); Heyuan's drawn up, awaiting its city government."""
    from phaseout.province import actions as summaries

    jiangmen = Person.objects.get(user__username="office").user
    heyuan = Person.objects.get(user__username="hy-office").user
    summary = summaries.draw_up_summary(
        city=Territory.objects.get(code="440700"), year=today.year, by=jiangmen
    )
    summary = summaries.approve_summary(
        summary=summary, body="江门市人民政府", doc_number=f"江府函〔{today.year}〕99号", approved_on=today,
        by=jiangmen,
    )  # fmt: skip
    summaries.hand_up_summary(summary=summary, by=jiangmen)
    summaries.draw_up_summary(city=Territory.objects.get(code="441600"), year=today.year, by=heyuan)


def _plan_and_programme(office: Any, today: dt.date) -> None:
    """The Jiangmen plan (a public 2021 document shipped as demo data, moved to this year) imported,
    reviewed and confirmed; one department report submitted; an energy-inspection programme drawn at
    random."""
    from phaseout.plans import actions as plan_actions

    # The Jiangmen 2021 plan's structure with this year's dates: the demo reads true on the day it is run.
    source = (Path(__file__).parent / "data" / "plans" / "jiangmen-2021-plan.txt").read_text(encoding="utf-8")
    year = today.year
    for old_year, new_year in (("2022", year + 1), ("2021", year), ("2020", year - 1), ("2019", year - 2)):
        source = source.replace(old_year, f"\x00{new_year}")
    text = source.replace("\x00", "").encode("utf-8")
    plan = plan_actions.import_plan(name=f"江工信发〔{year}〕30号.txt", data=text, by=office)
    for expression in plan.times.filter(needs_review=True):
        plan_actions.review_time(expression=expression, date=None, by=office)
    plan = plan_actions.confirm_plan(plan=plan, by=office)
    plan = plan_actions.approve_plan(
        plan=plan, body="江门市人民政府", doc_number=f"江府函〔{year}〕8号", approved_on=today, by=office
    )
    dept_user = Person.objects.get(user__username="dept-fgj").user
    report = plan.submissions.filter(department__code="jm-fgj").order_by("due_date").first()
    if report is not None:
        plan_actions.submit(
            submission=report,
            document=SimpleUploadedFile(
                f"{year}年上半年关闭退出情况.xlsx", _closed_list_xlsx(), content_type=XLSX_TYPE
            ),
            numbers={"enterprises": 1, "lines": 1, "capacity": "钢铁 15万吨/年"},
            note="",
            by=dept_user,
            today=report.due_date - dt.timedelta(days=2),
        )
        if report.due_date <= today:
            plan_actions.review_submission(
                submission=report, version=1, accept=True, comments="", by=office,
                now=timezone.make_aware(dt.datetime.combine(report.due_date, dt.time(10))),
            )  # fmt: skip
    # Districts: one handed in late, one returned with the office's comments (to be handed in again).
    districts = (
        plan.submissions.filter(territory__isnull=False)
        .select_related("territory")
        .order_by("due_date", "id")
    )
    late = districts.filter(due_date__lte=today - dt.timedelta(days=5)).first()
    returned = districts.filter(due_date__gt=today).first()
    chosen: list[tuple[Any, dt.date]] = []
    if late is not None:
        chosen.append((late, late.due_date + dt.timedelta(days=3)))
    if returned is not None:
        chosen.append((returned, today - dt.timedelta(days=2)))
    for submission, handed_in in chosen:
        district = (
            Person.objects.filter(role=Role.DISTRICT, territory=submission.territory).first()
            if submission is not None and submission.territory is not None
            else None
        )
        if district is None:
            continue
        plan_actions.submit(
            submission=submission,
            document=SimpleUploadedFile(
                f"{district.display_name}工作情况.xlsx", _closed_list_xlsx(), content_type=XLSX_TYPE
            ),
            numbers={}, note="", by=district.user, today=handed_in,
        )  # fmt: skip
        if submission is returned:
            plan_actions.review_submission(
                submission=submission, version=1, accept=False, by=office,
                comments="请补充关停生产线的设备编号和拆除照片后重新报送。",
                now=timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(15))),
            )  # fmt: skip
    plan_actions.create_programme(
        department=Department.objects.get(code="jm-fgj"),
        title=f"{today.year}年度节能监察任务（双随机）",
        dimension="energy",
        year=today.year,
        due_date=dt.date(today.year, 12, 31),
        method="random",
        count=3,
        per_target=1,
        by=dept_user,
    )


def _public_side(office: Any, today: dt.date) -> None:
    """Every public list drafted, approved and published; two tip-offs, one from a hotline work order."""
    from phaseout.complaints import actions as tipoff_actions
    from phaseout.disclosure import actions as list_actions
    from phaseout.disclosure.models import ListKind

    for kind in ListKind.values:
        snapshot = list_actions.draft(kind=kind, by=office, today=today)
        list_actions.approve_undecided(snapshot=snapshot, by=office)
        list_actions.publish(snapshot=list_actions.approve(snapshot=snapshot, by=office), by=office)
    tipoff_actions.receive(
        source="web",
        text="新会区某厂夜间使用中频炉熔炼废钢，疑似生产地条钢。",
        enterprise_name="江门市新会区金鼎钢铁有限公司",
        reporter_name="王先生",
        reporter_phone="13900000000",
        today=today,
    )
    tipoff_actions.receive(
        source="12345",
        external_id="12345-DEMO-0001",
        text="台山市某水泥厂粉尘排放严重。",
        enterprise_name="台山南方水泥有限公司",
        today=today,
    )
