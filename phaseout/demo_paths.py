"""The demo's year of enforcement: in each city (Jiangmen and Heyuan), at least one case in every state
each dimension's path reaches, each driven there through the real case actions by the people the path
names, with dates of inspection, issue and service a real year has.

The route to a state is read from the path table (phaseout/rules/case_flow.py), not written by hand: the
shortest chain of a person's steps from the finding. The machine's own step (the sweep marking a case
overdue) is left out — a department officer records that the rectification still fails — and so is the
at-once exit where the finding is not elimination class. Each act is dated after the one before it by
what the act takes (a period runs out before it is verified), and every chain ends within this year.

Every enterprise is registered with its licences through the registry's actions; quality cases start
from a sampling result kept as a measurement; a compliant sampling and a compliant safety inspection
leave a finding and no case."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from stdnum.cn import uscc

from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case, Decision, Finding
from phaseout.orgs.models import Department, Person, Territory
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
from phaseout.rules import case_flow, deadlines, exit_plans
from phaseout.rules.case_flow import Action, Actor, Guard, State

# A 1×1 PNG, the demo's photograph.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

# The two cities of the reference data, with the prefix of their demo accounts.
CITIES = (("440700", ""), ("441600", "hy-"))

# The enterprise serials of this part of the demo (the legacy Jiangmen register uses 1–99).
FIRST_SERIAL = 1000


def _png(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def make_uscc(serial: int, region: str) -> str:
    body = f"91{region}MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def marker_uscc() -> str:
    """The first enterprise this part creates: present once it has run."""
    return make_uscc(FIRST_SERIAL, Territory.objects.filter(parent_id=CITIES[0][0]).order_by("code")[0].code)


# ── routes read from the path table ─────────────────────────────────────────────────────


def person_steps(dimension: str, *, at_once: bool) -> Iterator[case_flow.Step]:
    """The steps of the path a person takes on a case of this kind (elimination class or not)."""
    for step in case_flow.steps_for(dimension):
        if step.roles == frozenset({Actor.SYSTEM}):
            continue
        if step.guard is Guard.ELIMINATION_OR_RESUMED and not at_once:
            continue
        if step.guard is Guard.NOT_ELIMINATION and at_once:
            continue
        yield step


def routes(dimension: str, *, at_once: bool) -> dict[State, tuple[Action, ...]]:
    """For every state a person can bring a case of this dimension to: the shortest chain of steps from
    the finding (breadth first over the path table, in the table's order)."""
    found: dict[State, tuple[Action, ...]] = {State.FINDING: ()}
    queue = deque([State.FINDING])
    steps = list(person_steps(dimension, at_once=at_once))
    while queue:
        state = queue.popleft()
        for step in steps:
            if state in step.sources and step.target is not None and step.target not in found:
                found[step.target] = (*found[state], step.action)
                queue.append(step.target)
    return found


# ── what each dimension's demo case is made of ──────────────────────────────────────────


@dataclass(frozen=True)
class Kind:
    """The enterprise, equipment and rule a dimension's demo cases rest on."""

    dimension: str
    industry: str
    word: str  # the enterprise name's industry word
    equipment: str
    line_name: str
    size: str | None
    capacity: str
    unit: str
    rule: str
    values: tuple[str | None, ...]  # measured values that breach the rule, used in turn
    at_once: bool = False
    exit_plan: exit_plans.ExitPlan = exit_plans.ExitPlan.CLOSE_ENTERPRISE
    department_suffix: str = ""  # the competent department (its code's suffix); "" the office


KINDS = (
    Kind("energy", "cement", "水泥", EquipmentType.CLINKER_LINE, "熟料生产线", "2500", "2500",
         CapacityUnit.TONNES_PER_DAY, "energy.cement.clinker-energy", ("123.5", "126", "131.2", "119.8"),
         exit_plan=exit_plans.ExitPlan.DISMANTLE_AT_ONCE, department_suffix="fgj"),
    Kind("environment", "cement", "建材", EquipmentType.CLINKER_LINE, "熟料生产线（新型干法窑）", "1500",
         "1500", CapacityUnit.TONNES_PER_DAY, "environment.cement.kiln-pm", ("45", "38.6", "52", "41.3"),
         department_suffix="sthjj"),
    Kind("quality", "flat_glass", "玻璃", EquipmentType.FLAT_GLASS_LINE, "浮法玻璃生产线", "600", "600",
         CapacityUnit.TONNES_PER_DAY, "quality.general.mandatory-standard", ("2", "1", "3"),
         department_suffix="scjgj"),
    Kind("safety", "steel", "钢铁", EquipmentType.ELECTRIC_FURNACE, "50吨电弧炉", "50", "30",
         CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR, "safety.general.conditions", ("3", "5", "2", "4"),
         department_suffix="yjglj"),
    Kind("technology", "steel", "特钢", EquipmentType.INDUCTION_FURNACE, "中频感应炉", "5", "3",
         CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR, "technology.steel.induction-furnace", (None,),
         at_once=True, exit_plan=exit_plans.ExitPlan.SEAL_THEN_DISMANTLE),
)  # fmt: skip

TRADE_NAMES = (
    "宏达", "金鼎", "华兴", "粤海", "振华", "永盛", "鸿运", "广源", "新兴", "顺发", "恒通", "德润", "联创",
    "信达", "嘉禾", "安达", "隆盛", "利华", "合兴", "万丰", "南粤", "东江", "中和", "泰昌", "裕丰", "长兴",
    "润泰", "华盛", "荣达", "昌盛", "祥和", "宝丰", "汇源", "鼎新", "永利", "恒发", "兴业", "富源",
    "明珠", "骏达", "天成", "海利", "瑞丰", "金诚", "联合", "大成", "卓越", "盈科", "康华", "锦绣",
    "同益", "立信", "华南", "百川", "通达", "凯旋", "伟业", "鑫源", "建华", "光明", "银海", "嘉兴",
)  # fmt: skip

REASONS = {
    "energy": "可比熟料综合能耗超过国家限额标准",
    "environment": "水泥窑颗粒物排放浓度超过排放标准",
    "quality": "产品质量监督抽查不合格，达不到强制性标准要求",
    "safety": "不具备安全生产条件，存在重大事故隐患",
    "technology": "中频感应炉用于普碳钢冶炼，属产业结构调整指导目录淘汰类装备",
}
PASSED = {
    "energy": "整改期满复测，可比熟料综合能耗已达到限额标准",
    "environment": "复查监测，颗粒物排放浓度稳定达标，解除限制生产（停产整治）",
    "quality": "整改后复检合格，产品达到强制性标准要求",
    "safety": "停产停业整顿后复查验收，已具备安全生产条件，同意恢复生产",
}
STILL_FAILING = {
    "energy": "整改期限届满复测，能耗仍超过限额标准",
    "environment": "期满复查监测，排放浓度仍超过标准",
    "quality": "整改期满复检，产品仍不合格",
    "safety": "停产停业整顿后复查，仍不具备安全生产条件",
}
DISMISSALS = {
    "energy": "经复核，企业能源计量器具检定过期，原测算数据失实；委托复测结果达标，不予处理",
    "environment": "经复核，监测期间处于设备检修启炉阶段，不属正常工况；复测达标，不予处理",
    "quality": "企业对抽查结果提出异议，复检合格，原结论不予采信，不予处理",
    "safety": "经复查，所列隐患已当场整改完毕，不予处理",
    "technology": "经现场核实，铭牌及购置合同显示为40吨电弧炉，台账误登记为中频感应炉，不属淘汰类，不予处理",
}


# ── the people of a city ────────────────────────────────────────────────────────────────


@dataclass
class City:
    code: str
    prefix: str
    office: User
    counties: list[Territory]

    def officer(self, kind: Kind, second: bool = False) -> User:
        """The department officer competent for the dimension (the office's, for technology)."""
        if not kind.department_suffix:
            return self.office
        username = f"{self.prefix}dept-{kind.department_suffix}" + ("-2" if second else "")
        return Person.objects.select_related("user").get(user__username=username).user

    def department(self, kind: Kind) -> Department:
        person = Person.objects.select_related("department").get(user=self.officer(kind))
        assert person.department is not None
        return person.department

    def district(self, territory_id: str) -> User:
        return Person.objects.select_related("user").get(user__username=f"district-{territory_id}").user


def _city(code: str, prefix: str) -> City:
    return City(
        code=code,
        prefix=prefix,
        office=Person.objects.select_related("user").get(user__username=f"{prefix}office").user,
        counties=list(Territory.objects.filter(parent_id=code).order_by("code")),
    )


# ── the timetable: how long each act takes after the one before it ─────────────────────

GAP_DAYS = {
    Action.ORDER_RECTIFICATION: 4,
    Action.ORDER_RESTRICTION: 3,
    Action.ORDER_SUSPENSION: 2,
    Action.GRANT_EXTENSION: 45,
    Action.VERIFY_RECTIFIED: 5,
    Action.VERIFY_STILL_FAILING: 5,
    Action.CLOSE_COMPLIANT: 2,
    Action.PROPOSE_CLOSURE: 7,
    Action.APPROVE_CLOSURE: 21,
    Action.REJECT_CLOSURE: 21,
    Action.REVOKE_LICENCE: 10,
    Action.ORDER_EXIT: 3,
    Action.CONFIRM_EXIT: 20,
    Action.ACCEPT: 10,
    Action.ARCHIVE: 12,
    Action.RECORD_REINSPECTION: 30,
    Action.DISMISS: 6,
}
SERVICE_DAYS = 2  # a decision is served two days after it is issued
MEASURES_DAYS = 15  # the exit measures are carried out this long after the exit order
SUSPENSION_DAYS = 40  # a suspension is lifted on the completion report, after about this long
MONTH_DAYS = 31  # for the estimate only: a month at its longest


def _estimate(kind: Kind, route: tuple[Action, ...]) -> int:
    """Days from the inspection to the last act, about (months counted at 31 days; a move to the next
    working day is not counted, so a chain may run on to today)."""
    days = 0
    clock_end: int | None = None
    for action in route:
        days += GAP_DAYS[action]
        step = case_flow.step(kind.dimension, action)
        if action in (Action.ORDER_RECTIFICATION, Action.ORDER_RESTRICTION, Action.ORDER_SUSPENSION):
            assert step is not None and step.clock is not None
            days += SERVICE_DAYS
            clock_end = days + (step.clock.months * MONTH_DAYS if step.clock.months else SUSPENSION_DAYS)
        elif action is Action.GRANT_EXTENSION and clock_end is not None:
            clock_end += 2 * MONTH_DAYS
        elif action in (Action.VERIFY_RECTIFIED, Action.VERIFY_STILL_FAILING) and clock_end is not None:
            days = max(days, clock_end + 3)
        elif action is Action.APPROVE_CLOSURE:
            days += SERVICE_DAYS
    return days


# ── driving a case ──────────────────────────────────────────────────────────────────────


@dataclass
class Story:
    """One demo case: where it is, who acts on it, and the day of its last act."""

    city: City
    kind: Kind
    enterprise: Enterprise
    line: ProductionLine
    officer: User
    inspector: User
    district: User
    today: dt.date
    day: dt.date  # the day of the latest act

    def next_day(self, days: int) -> dt.date:
        """The day of the next act: `days` on, on a working day (officials act on working days), never
        after today."""
        self.day = working_day(self.day + dt.timedelta(days=days), self.today)
        return self.day


def working_day(day: dt.date, today: dt.date) -> dt.date:
    """The first working day from `day`; today at the latest."""
    rolled = deadlines.roll_to_working_day(day)
    return rolled if rolled <= today else min(day, today)


def _approval_number(story: Story, day: dt.date) -> str:
    """The county government's letter approving the closure: its own running number for the year."""
    body = f"{story.enterprise.territory.name}人民政府"
    count = Decision.objects.filter(issuer=body, year=day.year).count()
    return f"{story.enterprise.territory.name[:2]}府函〔{day.year}〕{count + 11}号"


def _do_measures(story: Story, case: Case, *, leave: frozenset[str] = frozenset()) -> None:
    """The district carries out the exit measures of the order (all but `leave`), with one visit's
    photographs and the notice the enterprise was given."""
    measures = [m for m in case.measures.filter(done_on__isnull=True).order_by("id") if m.kind not in leave]
    if not measures:
        return
    day = story.day
    case_actions.complete_measures(
        case=case,
        measures=measures,
        by=story.district,
        done_on=day,
        note="现场落实，拍照留存",
        notice="已提前书面通知企业，于实施前二十四小时送达",
        files=[_png("退出措施现场照片.png")],
        today=day,
    )
    if any(m.kind == exit_plans.MeasureKind.LICENCE_REVOCATION for m in measures):
        for licence in story.enterprise.licences.filter(status=Licence.Status.VALID):
            licence.status = Licence.Status.REVOKED
            registry_actions.save_enterprise_part(part=licence, by=story.officer)


def _take(story: Story, case: Case, action: Action) -> Case:
    """One step of the path, taken by the person the path names, on its day."""
    kind = story.kind
    reason = REASONS[kind.dimension]
    gap = GAP_DAYS[action]
    if action in (Action.ORDER_RECTIFICATION, Action.ORDER_RESTRICTION, Action.ORDER_SUSPENSION):
        issued = story.next_day(gap)
        served = story.next_day(SERVICE_DAYS)
        order = {
            Action.ORDER_RECTIFICATION: case_actions.order_rectification,
            Action.ORDER_SUSPENSION: case_actions.order_suspension,
        }.get(action)
        if order is None:
            return case_actions.order_restriction(
                case=case, by=story.officer, reason=reason, months=3, today=served, issued_on=issued,
                served_on=served,
            )  # fmt: skip
        return order(
            case=case, by=story.officer, reason=reason, today=served, issued_on=issued, served_on=served
        )
    if action is Action.GRANT_EXTENSION:
        day = story.next_day(gap)
        return case_actions.grant_extension(
            case=case, months=2, by=story.officer, today=day, issued_on=day,
            reason="企业提交整改方案及设备采购合同，因改造设备供货周期申请延期，经审查同意",
        )  # fmt: skip
    if action in (Action.VERIFY_RECTIFIED, Action.VERIFY_STILL_FAILING):
        story.next_day(gap)
        if case.deadline is not None:
            story.day = working_day(max(story.day, case.deadline + dt.timedelta(days=3)), story.today)
        elif case.order_date is not None:
            lifted = case.order_date + dt.timedelta(days=SUSPENSION_DAYS)
            story.day = working_day(max(story.day, lifted), story.today)
        passed = action is Action.VERIFY_RECTIFIED
        if kind.dimension == "quality":
            _sampling(story, "0" if passed else "1", "整改后复检")
        return case_actions.verify_rectification(
            case=case, passed=passed, by=story.officer, today=story.day,
            reason=(PASSED if passed else STILL_FAILING)[kind.dimension],
        )  # fmt: skip
    if action is Action.CLOSE_COMPLIANT:
        return case_actions.close_compliant(
            case=case, by=story.officer, today=story.next_day(gap), reason="整改达标，依法结案"
        )
    if action is Action.DISMISS:
        day = story.next_day(gap)
        if kind.dimension == "quality":
            _sampling(story, "0", "企业异议复检")
        case = case_actions.dismiss(case=case, by=story.officer, today=day, reason=DISMISSALS[kind.dimension])
        if kind.at_once:
            # The register was wrong: the furnace is an arc furnace above the elimination size.
            line = ProductionLine.objects.get(pk=story.line.pk)
            line.equipment_type, line.name = EquipmentType.ELECTRIC_FURNACE, "40吨电弧炉"
            line.size_value, line.size_unit = Decimal(40), SIZE_UNIT_FOR_TYPE[EquipmentType.ELECTRIC_FURNACE]
            registry_actions.save_enterprise_part(part=line, by=story.officer)
        return case
    if action is Action.PROPOSE_CLOSURE:
        return case_actions.propose_closure(
            case=case, by=story.officer, today=story.next_day(gap),
            reason=f"{STILL_FAILING[kind.dimension]}，提请人民政府责令关闭",
        )  # fmt: skip
    if action in (Action.APPROVE_CLOSURE, Action.REJECT_CLOSURE):
        day = story.next_day(gap)
        if action is Action.REJECT_CLOSURE:
            return case_actions.reject_closure(
                case=case, by=story.district, today=day,
                reason="县政府常务会议研究认为企业已启动技术改造，暂不予关闭，责成部门继续督促整改",
            )  # fmt: skip
        served = story.next_day(SERVICE_DAYS)
        return case_actions.approve_closure(
            case=case, by=story.district, plan=kind.exit_plan,
            approval_body=f"{story.enterprise.territory.name}人民政府",
            approval_number=_approval_number(story, day),
            approval_date=day, served_on=served, today=served, reason="经政府常务会议研究，同意关闭",
        )  # fmt: skip
    if action is Action.REVOKE_LICENCE:
        day = story.next_day(gap)
        return case_actions.revoke_licence(
            case=case, by=story.officer, today=day, issued_on=day, served_on=day,
            reason="经责令停产整改仍未达标，情节严重，依法吊销营业执照",
        )  # fmt: skip
    if action is Action.ORDER_EXIT:
        day = story.next_day(gap)
        return case_actions.order_exit(
            case=case, plan=kind.exit_plan, by=story.officer, today=day, issued_on=day, served_on=day,
            reason=f"{reason}，立即淘汰",
        )  # fmt: skip
    if action is Action.CONFIRM_EXIT:
        story.next_day(MEASURES_DAYS)
        may_follow = (
            exit_plans.MAY_FOLLOW_EXIT if kind.exit_plan is exit_plans.ExitPlan.SEAL_THEN_DISMANTLE else ()
        )
        _do_measures(story, case, leave=frozenset(may_follow))
        return case_actions.confirm_exit(
            case=case, by=story.district, today=story.next_day(gap - MEASURES_DAYS),
            reason="各项退出措施已落实，经属地核查确认",
        )  # fmt: skip
    if action is Action.ACCEPT:
        day = story.next_day(gap)
        department = story.city.department(kind)
        return case_actions.accept_exit(
            case=case, by=story.officer, accepted_on=day, today=day,
            team=f"{department.name}、{story.enterprise.territory.name}人民政府联合验收组",
            record_text="现场核查：退出措施已全部落实，企业已公开承诺不再恢复生产。验收合格。",
        )  # fmt: skip
    if action is Action.ARCHIVE:
        story.next_day(gap - 2)
        _do_measures(story, case)
        return case_actions.archive_case(
            case=case, by=story.city.office, today=story.next_day(2), reason="验收合格，材料齐全，归档"
        )
    if action is Action.RECORD_REINSPECTION:
        day = story.next_day(gap)
        case_actions.record_reinspection(
            case=case, by=story.district, inspected_on=day, resumed=False, today=day,
            notes="回头看：厂区无生产迹象，设备已拆除，电力未恢复",
        )  # fmt: skip
        return Case.objects.get(pk=case.pk)
    raise AssertionError(f"no demo step for {action}")  # pragma: no cover - every action is handled


def _sampling(story: Story, batches: str, note: str) -> Measurement:
    """A quality sampling result (unqualified batches), as the market regulator reports it."""
    return registry_actions.record_measurement(
        line=story.line, indicator="unqualified_batches", value=Decimal(batches), measured_on=story.day,
        source=Measurement.Source.SAMPLING, by=story.officer, note=f"产品质量监督抽查：{note}",
        today=story.today,
    )  # fmt: skip


# ── the register ────────────────────────────────────────────────────────────────────────


def _register(city: City, kind: Kind, serial: int, county: Territory, number: int) -> Enterprise:
    """An enterprise and its line, with its licences, through the registry's actions."""
    trade = TRADE_NAMES[(serial - FIRST_SERIAL) % len(TRADE_NAMES)]
    enterprise = registry_actions.create_enterprise(
        data={
            "uscc": make_uscc(serial, county.code),
            "name": f"{county.name}{trade}{kind.word}有限公司",
            "territory": county,
            "industry_id": kind.industry,
            "address": f"{county.name}{trade}工业园{number}号",
            "contact_name": "陈工" if serial % 2 else "黄经理",
            "contact_phone": f"13{serial % 10}{serial:08d}"[:11],
        },
        by=city.office,
    )
    line = ProductionLine(
        enterprise=enterprise,
        name=kind.line_name,
        equipment_type=kind.equipment,
        size_value=Decimal(kind.size) if kind.size else None,
        size_unit=SIZE_UNIT_FOR_TYPE[kind.equipment] if kind.size else "",
        capacity=Decimal(kind.capacity),
        capacity_unit=kind.unit,
        commissioning_year=2003 + serial % 15,
    )
    registry_actions.save_enterprise_part(part=line, by=city.office)
    region = county.code
    licences = [(Licence.Kind.POLLUTANT_DISCHARGE, f"{region}{serial:08d}001P")]
    if not kind.at_once:  # no production licence beside elimination-class equipment
        prefix = {"cement": "XK08-001", "flat_glass": "XK13-006", "steel": "XK05-001"}[kind.industry]
        licences.append((Licence.Kind.PRODUCTION, f"{prefix}-{serial:05d}"))
    if kind.dimension == "safety":
        licences.append((Licence.Kind.SAFETY_PRODUCTION, f"（粤）WH安许证字〔{serial:05d}〕"))
    for licence_kind, licence_number in licences:
        registry_actions.save_enterprise_part(
            part=Licence(
                enterprise=enterprise,
                kind=licence_kind,
                number=licence_number,
                valid_until=dt.date(2028 + serial % 4, 1 + serial % 12, 1),
            ),
            by=city.office,
        )
    return enterprise


def _story(city: City, kind: Kind, serial: int, number: int, today: dt.date) -> Story:
    county = city.counties[serial % len(city.counties)]
    enterprise = _register(city, kind, serial, county, number)
    line = enterprise.lines.get()
    officer = city.officer(kind)
    inspector = city.officer(kind, second=serial % 2 == 0)
    return Story(
        city=city, kind=kind, enterprise=enterprise, line=line, officer=officer, inspector=inspector,
        district=city.district(county.code), today=today, day=today,
    )  # fmt: skip


def _inspect(story: Story, value: str | None) -> Finding:
    kind = story.kind
    inspection = case_actions.record_inspection(
        department=story.city.department(kind),
        enterprise=story.enterprise,
        line=story.line,
        dimension=kind.dimension,
        inspected_on=story.day,
        inspectors="李明、王芳" if story.inspector == story.officer else "张强、刘洋",
        notes={
            "quality": "产品质量监督抽查：现场抽取样品送检，调阅出厂检验记录。",
            "safety": "安全生产执法检查：查看现场作业条件、特种作业人员持证及隐患排查台账。",
        }.get(kind.dimension, "现场检查，调阅台账并核对设备铭牌。"),
        files=[_png("现场检查照片.png")],
        by=story.inspector,
        today=story.day,
    )
    if kind.dimension == "quality" and value is not None:
        _sampling(story, value, "监督抽查")
    return case_actions.record_finding(
        inspection=inspection,
        rule_id=kind.rule,
        line=story.line,
        measured_value=Decimal(value) if value is not None else None,
        by=story.inspector,
    )


def _chains(today: dt.date) -> Iterator[tuple[Kind, State, tuple[Action, ...]]]:
    """Every (dimension, state, route), then a few chains a year also has: an extension granted, a
    closure the government did not approve, a re-inspection of an archived exit."""
    for kind in KINDS:
        for state, route in routes(kind.dimension, at_once=kind.at_once).items():
            yield kind, state, route
    energy = next(k for k in KINDS if k.dimension == "energy")
    technology = next(k for k in KINDS if k.dimension == "technology")
    yield energy, State.RECTIFYING, (Action.ORDER_RECTIFICATION, Action.GRANT_EXTENSION)
    yield (
        energy,
        State.OVERDUE,
        (
            Action.ORDER_RECTIFICATION,
            Action.VERIFY_STILL_FAILING,
            Action.PROPOSE_CLOSURE,
            Action.REJECT_CLOSURE,
        ),
    )
    archived = routes(technology.dimension, at_once=True)[State.ARCHIVED]
    yield technology, State.ARCHIVED, (*archived, Action.RECORD_REINSPECTION)


def load_paths(today: dt.date) -> int:
    """Create the cases of every state of every path in both cities; the number created."""
    serial = FIRST_SERIAL
    made = 0
    year_start = dt.date(today.year, 1, 1)
    for code, prefix in CITIES:
        city = _city(code, prefix)
        for number, (kind, state, route) in enumerate(_chains(today), start=1):
            story = _story(city, kind, serial, number, today)
            # Ends spread over the last weeks, within this year: the public lists of this year fill.
            end = max(today - dt.timedelta(days=(serial * 7) % 40), year_start)
            if state is State.FINDING:
                end = max(today - dt.timedelta(days=serial % 4), year_start)
            # Acts moved on to working days may run later than the estimate: the latest fall on today.
            story.day = working_day(end - dt.timedelta(days=_estimate(kind, route)), today)
            finding = _inspect(story, kind.values[serial % len(kind.values)])
            case = Case.objects.get(finding=finding)
            for action in route:
                case = _take(story, case, action)
            assert case.state == state, (kind.dimension, state, case.state)
            serial += 1
            made += 1
        _compliant_checks(city, today, serial)
        serial += 2
    return made


def _compliant_checks(city: City, today: dt.date, serial: int) -> None:
    """A quality sampling and a safety inspection that found nothing: a finding, no case."""
    for offset, dimension in enumerate(("quality", "safety")):
        kind = next(k for k in KINDS if k.dimension == dimension)
        story = _story(city, kind, serial + offset, 99, today)
        story.day = working_day(max(today - dt.timedelta(days=10 + offset), dt.date(today.year, 1, 1)), today)
        finding = _inspect(story, "0")
        assert finding.conclusion == Finding.Conclusion.COMPLIANT


def open_cases(
    *, count: int, serial: int, today: dt.date, days_ago: int = 0, route: tuple[Action, ...] = ()
) -> list[int]:
    """`count` more energy cases in Jiangmen (enterprises from `serial` on), each found `days_ago` days
    before today and taken along `route` as the demo takes its own: work for the topology and load tests
    (tools/topology_seed.py). The demo accounts must exist."""
    city = _city(*CITIES[0])
    kind = next(k for k in KINDS if k.dimension == "energy")
    made = []
    for number in range(count):
        story = _story(city, kind, serial + number, 900 + number, today)
        story.day = working_day(today - dt.timedelta(days=days_ago), today)
        case = Case.objects.get(finding=_inspect(story, kind.values[number % len(kind.values)]))
        for action in route:
            case = _take(story, case, action)
        made.append(case.pk)
    return made
