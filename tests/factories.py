from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from stdnum.cn import uscc

from phaseout.cases.models import Case, Finding, Inspection
from phaseout.monitoring.models import MonitoringPoint
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.registry.models import CapacityUnit, Enterprise, EquipmentType, Industry, ProductionLine


def valid_uscc(n: int) -> str:
    body = f"91440700MA{n:07d}"
    return body + uscc.calc_check_digit(body)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-Secret-123")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    user = factory.SubFactory(UserFactory)
    role = Role.OFFICE
    display_name = factory.LazyAttribute(lambda p: p.user.username)


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    uscc = factory.Sequence(lambda n: valid_uscc(n + 1000))
    name = factory.Sequence(lambda n: f"测试钢铁有限公司{n}")
    territory = factory.LazyFunction(lambda: Territory.objects.get(code="440703"))
    industry = factory.LazyFunction(lambda: Industry.objects.get(code="steel"))
    address = "江门市蓬江区工业路1号"


class LineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductionLine

    enterprise = factory.SubFactory(EnterpriseFactory)
    name = factory.Sequence(lambda n: f"{n}号高炉")
    equipment_type = EquipmentType.BLAST_FURNACE
    size_value = Decimal("1080")
    size_unit = "m3"
    capacity = Decimal("100")
    capacity_unit = CapacityUnit.TEN_THOUSAND_TONNES_PER_YEAR
    commissioning_year = 2010


class InspectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inspection

    department = factory.LazyFunction(lambda: Department.objects.get(code="jm-fgj"))
    enterprise = factory.SubFactory(EnterpriseFactory)
    dimension = "energy"
    inspected_on = dt.date(2026, 1, 5)
    inspectors = "李明"
    recorded_by = factory.SubFactory(UserFactory)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    inspection = factory.SubFactory(InspectionFactory)
    rule_id = "energy.steel.blast-furnace"
    rule_title = "高炉工序单位产品能耗 3级限额"
    rule_source = "GB 21256-2025"
    measured_value = Decimal("430")
    limit_value = Decimal("415")
    unit = "kgce/t"
    conclusion = "non_compliant"


class CaseFactory(factory.django.DjangoModelFactory):
    """A case put straight into any state, for the transition matrix."""

    class Meta:
        model = Case

    enterprise = factory.SubFactory(EnterpriseFactory)
    territory = factory.LazyAttribute(lambda c: c.enterprise.territory)
    industry = factory.LazyAttribute(lambda c: c.enterprise.industry)
    dimension = "energy"
    finding = factory.SubFactory(
        FindingFactory, inspection__enterprise=factory.SelfAttribute("...enterprise")
    )
    rule_id = "energy.steel.blast-furnace"
    consequence = "rectify"


class MonitoringPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonitoringPoint

    enterprise = factory.SubFactory(EnterpriseFactory)
    mn = factory.Sequence(lambda n: f"88888880{n:06d}")
    outlet_code = factory.Sequence(lambda n: f"DA{n:03d}")
    outlet_name = factory.Sequence(lambda n: f"{n}号烧结机头排口")
    kind = "gas"
    password = "123456"
