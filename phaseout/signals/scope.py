"""Who does what with power data, furnaces and signals, and what each person sees (the rule by role is in
phaseout.orgs.scope; this module applies it to this app's records).

Who, per the Heyuan plan (河工信函〔2021〕152号):
- Power-use data (二(三)3 "强化用电…监管"; 二(二) the energy side): the power utility (供电局) supplies the
  file but has no dimension and decides nothing; it is imported by the coordination office (at the
  city's 工业和信息化局, the lead unit of 二(三)) or by a department that enforces the energy dimension
  (the 发展和改革局, the lead of 二(二) and of the differential electricity prices). The same people match
  electricity accounts (户号) to enterprises and lines.
- The induction-furnace register (二(三)3 "加强专用设备的登记管理"): each county or district registers the
  furnaces of its own territory (属地管理); the city's 工业和信息化局 — the department that hosts the
  coordination office, the lead of 二(三) — verifies them (its office accounts, or its department
  accounts where it has any).
- Signals (二(三)1 回头看): the competent department decides — a department enforcing the signal's
  dimension in the city, or the office; the district where the line is sees them and is told.
"""

from __future__ import annotations

from django.db.models import QuerySet

from phaseout.orgs.models import Person, Role
from phaseout.orgs.scope import sees_all, territory_codes
from phaseout.rules.dimensions import Dimension
from phaseout.signals.models import ElectricityAccount, InductionFurnace, PowerImport, Signal

POWER_DIMENSION = Dimension.ENERGY.value
FURNACE_DIMENSION = Dimension.TECHNOLOGY.value


def may_import_power(person: Person) -> bool:
    if person.role == Role.OFFICE:
        return True
    return person.role == Role.DEPARTMENT and POWER_DIMENSION in person.dimensions


def may_register_furnace(person: Person) -> bool:
    return person.role == Role.DISTRICT and person.territory_id is not None


def may_verify_furnace(person: Person) -> bool:
    """The people of the department that hosts the coordination office (the city's 工信局)."""
    if person.role not in (Role.OFFICE, Role.DEPARTMENT) or person.department is None:
        return False
    return bool(person.department.is_office)


FURNACE_SIGNALS = ("furnace_night_use", "furnace_stopped_drawing", "furnace_out_of_scope")


def may_decide_signal(person: Person, signal: Signal) -> bool:
    """The office, or a department enforcing the signal's dimension in the city; a furnace's signal only
    the department that verifies the register (the 工信局)."""
    if signal.territory_id not in territory_codes(person):
        return False
    if person.role == Role.OFFICE:
        return True
    if signal.kind in FURNACE_SIGNALS:
        return may_verify_furnace(person)
    return person.role == Role.DEPARTMENT and signal.dimension in person.dimensions


def accounts(person: Person) -> QuerySet[ElectricityAccount]:
    qs = ElectricityAccount.objects.all()
    if person.role in (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT):
        return qs.filter(territory__in=territory_codes(person))
    return qs.none()


def imports(person: Person) -> QuerySet[PowerImport]:
    """The power-use imports of the person's city (they are the city's data, whoever uploaded them)."""
    if not may_import_power(person):
        return PowerImport.objects.none()
    codes = territory_codes(person)
    return PowerImport.objects.filter(uploaded_by__person__department__territory__in=codes)


def furnaces(person: Person) -> QuerySet[InductionFurnace]:
    qs = InductionFurnace.objects.all()
    if person.role in (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT):
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.ENTERPRISE and person.enterprise_id:
        return qs.filter(enterprise=person.enterprise_id)
    return qs.none()


def signals(person: Person) -> QuerySet[Signal]:
    """The office: its city's; a department: those of its dimensions in its city; a district: its
    territory's. Nobody else sees signals (an enterprise is not told it is suspected)."""
    qs = Signal.objects.all()
    if sees_all(person) or person.role == Role.DISTRICT:
        return qs.filter(territory__in=territory_codes(person))
    if person.role == Role.DEPARTMENT:
        qs = qs.filter(territory__in=territory_codes(person), dimension__in=person.dimensions)
        return qs if may_verify_furnace(person) else qs.exclude(kind__in=FURNACE_SIGNALS)
    return qs.none()
