"""The online-monitoring registry pages: key discharge units, monitoring points and their data completeness,
every role over HTTP, the numbers against a hand count, the export and bad periods."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from openpyxl import load_workbook

from phaseout.audit.models import AuditEvent
from phaseout.monitoring import completeness, partitions
from phaseout.monitoring.completeness import Period
from phaseout.monitoring.models import KeyDischargeUnit, MonitoringPoint, Reading
from phaseout.orgs.models import Person, Role, Territory
from tests.conftest import client_for
from tests.factories import EnterpriseFactory, MonitoringPointFactory, PersonFactory, UserFactory

LOCAL = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=LOCAL)  # 34 whole hours since 1 March 00:00 have ended
PERIOD = {"from": "2026-03-01", "to": "2026-03-02"}


def _at(day: int, hour: int) -> dt.datetime:
    return (
        dt.datetime(2026, 3, day, hour, tzinfo=LOCAL)
        if day > 0
        else dt.datetime(2026, 2, 28, hour, tzinfo=LOCAL)
    )


def _reading(point: MonitoringPoint, moment: dt.datetime, values: dict[str, Any], cn: str = "2061") -> None:
    Reading.objects.create(point=point, cn=cn, data_time=moment, values=values, qn="1", received_at=NOW)


def _normal(flag: str | None = "N") -> dict[str, Any]:
    fields: dict[str, Any] = {"Avg": 10.0}
    if flag is not None:
        fields["Flag"] = flag
    return {"a21026": fields, "a34013": {"Avg": 3.0, "Flag": "N"}}


@pytest.fixture
def world(reference: None) -> dict[str, Any]:
    """Pengjiang: unit A must monitor flue gas and wastewater, has both (gas online, water offline).
    Taishan: unit B must monitor flue gas, has no monitor. Heyuan: unit C with one online point.
    Readings of A's gas point counted by hand: on 1 March 24 hourly readings of which 21 valid (20 N,
    one of them without a flag, one T; two with a C flag, one empty), on 2 March 5 valid; a minute
    reading, an hourly one of 28 February and one of 2 March 11:00 (not ended) are not counted."""
    partitions.forget()  # a test's rollback took away the partitions an earlier one made
    partitions.ensure([(2026, 2), (2026, 3)])
    a = EnterpriseFactory(name="甲钢铁", territory=Territory.objects.get(code="440703"))
    b = EnterpriseFactory(name="乙水泥", territory=Territory.objects.get(code="440781"))
    c = EnterpriseFactory(name="丙玻璃", territory=Territory.objects.get(code="441602"))
    KeyDischargeUnit.objects.create(enterprise=a, listed_year=2026, flue_gas=True, wastewater=True)
    KeyDischargeUnit.objects.create(enterprise=b, listed_year=2026, flue_gas=True, wastewater=False)
    KeyDischargeUnit.objects.create(enterprise=c, listed_year=2026, flue_gas=True, wastewater=False)
    gas = MonitoringPointFactory(
        enterprise=a, mn="MNGAS01", kind="gas", last_seen_at=NOW - dt.timedelta(minutes=10)
    )
    water = MonitoringPointFactory(
        enterprise=a, mn="MNWATER01", kind="water", last_seen_at=NOW - dt.timedelta(hours=2)
    )
    heyuan = MonitoringPointFactory(enterprise=c, mn="MNHY01", kind="gas", last_seen_at=NOW)
    for hour in range(24):
        if hour in (3, 4):
            values = {**_normal(), "a21002": {"Avg": 1.0, "Flag": "C"}}
        elif hour == 5:
            values = {}
        elif hour == 6:
            values = _normal("T")
        elif hour == 7:
            values = _normal(None)
        else:
            values = _normal()
        _reading(gas, _at(1, hour), values)
    for hour in range(5):
        _reading(gas, _at(2, hour), _normal())
    _reading(gas, _at(2, 5), _normal(), cn="2051")
    _reading(gas, _at(0, 23), _normal())
    for hour in range(3):
        _reading(water, _at(1, hour), {"w01018": {"Avg": 30.0, "Flag": "N"}})
    _reading(heyuan, _at(1, 1), _normal())
    return {"a": a, "b": b, "c": c, "gas": gas, "water": water, "heyuan": heyuan}


def _enterprise_person(enterprise: Any) -> Person:
    return PersonFactory(
        user=UserFactory(username="ent"), role=Role.ENTERPRISE, enterprise=enterprise, display_name="ent"
    )


def _auditor() -> Person:
    return PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR, display_name="auditor")


def _get(client: Client, url: str, **query: str) -> Any:
    with time_machine.travel(NOW, tick=False):
        return client.get(url, query)


# ── the numbers ──


def test_valid_hours_counted_by_hand_in_one_query(
    world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    ids = [world["gas"].pk, world["water"].pk, world["heyuan"].pk]
    with django_assert_num_queries(1):
        found = completeness.valid_hours(ids, period)
    assert found == {world["gas"].pk: 26, world["water"].pk: 3, world["heyuan"].pk: 1}
    assert period.expected_hours(NOW) == 34
    assert completeness.valid_hours_by_day(world["gas"].pk, period) == {
        dt.date(2026, 3, 1): 21,
        dt.date(2026, 3, 2): 5,
    }
    # 28 February alone: the reading at 23:00 local (15:00 UTC) is that day's, not 1 March's.
    assert completeness.valid_hours(
        [world["gas"].pk], Period(dt.date(2026, 2, 28), dt.date(2026, 2, 28))
    ) == {world["gas"].pk: 1}
    assert completeness.valid_hours([], period) == {}


def test_expected_hours_stop_at_now_and_at_the_period_end() -> None:
    assert Period(dt.date(2026, 3, 1), dt.date(2026, 3, 1)).expected_hours(NOW) == 24
    assert Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5)).expected_hours(NOW) == 10
    assert Period(dt.date(2026, 3, 3), dt.date(2026, 3, 5)).expected_hours(NOW) == 0


# ── every role over HTTP ──

URLS = ["/monitoring/", "/monitoring/points/"]


@pytest.mark.parametrize("url", URLS)
def test_office_environment_department_and_districts_see_their_own(
    world: dict[str, Any], office: Person, env_dept: Person, district: Person, other_district: Person,
    heyuan_office: Person, url: str,
) -> None:  # fmt: skip
    units = url == "/monitoring/"  # the units page lists 乙 (no monitor); the points page its points only
    seen = {
        "office": (office, {"甲钢铁", "乙水泥"} if units else {"甲钢铁"}),
        "env": (env_dept, {"甲钢铁", "乙水泥"} if units else {"甲钢铁"}),
        "pengjiang": (district, {"甲钢铁"}),
        "taishan": (other_district, {"乙水泥"} if units else set()),
        "heyuan": (heyuan_office, {"丙玻璃"}),
    }
    for who, (person, names) in seen.items():
        response = _get(client_for(person.user), url)
        assert response.status_code == 200, who
        body = response.content.decode()
        shown = {n for n in ("甲钢铁", "乙水泥", "丙玻璃") if n in body}
        assert shown == names, who


@pytest.mark.parametrize("url", [*URLS, "/monitoring/points/{gas}/"])
def test_other_departments_enterprises_and_administrators_are_refused(
    world: dict[str, Any], energy_dept: Person, url: str
) -> None:
    url = url.format(gas=world["gas"].pk)
    for person in (energy_dept, _enterprise_person(world["a"]), _auditor()):
        response = _get(client_for(person.user), url)
        assert response.status_code == 403, (person.role, url)
        assert AuditEvent.objects.filter(action="access.refused", actor=person.user).exists()


def test_the_menu_shows_monitoring_to_the_environment_department_only(
    world: dict[str, Any], env_dept: Person, energy_dept: Person, district: Person
) -> None:
    for person, shown in ((env_dept, True), (energy_dept, False), (district, True)):
        body = _get(client_for(person.user), "/").content.decode()
        assert ('href="/monitoring/points/"' in body) is shown, person.display_name


def test_key_units_page_counts_installed_and_online(world: dict[str, Any], office: Person) -> None:
    client = client_for(office.user)
    body = _get(client, "/monitoring/").content.decode()
    assert "共 2 条" in body
    row_a = body[body.index("甲钢铁") : body.index("</tr>", body.index("甲钢铁"))]
    assert "1/1" in row_a  # gas: 1 online of 1
    assert "0/1" in row_a  # water: none online of 1
    assert "1 个离线" in row_a
    row_b = body[body.index("乙水泥") : body.index("</tr>", body.index("乙水泥"))]
    assert "缺少废气监测设备" in row_b
    missing = _get(client, "/monitoring/", status="missing").content.decode()
    assert "乙水泥" in missing and "甲钢铁" not in missing
    offline = _get(client, "/monitoring/", status="offline").content.decode()
    assert "甲钢铁" in offline and "乙水泥" not in offline
    assert "共 1 条" in _get(client, "/monitoring/", territory="440781").content.decode()
    complete = _get(client, "/monitoring/", status="complete").content.decode()
    assert "甲钢铁" not in complete and "乙水泥" not in complete


def test_points_page_shows_completeness_against_the_hand_count(
    world: dict[str, Any], env_dept: Person, django_assert_max_num_queries: Any
) -> None:
    client = client_for(env_dept.user)
    with django_assert_max_num_queries(40):
        body = _get(client, "/monitoring/points/", **PERIOD).content.decode()
    gas = body[body.index("MNGAS01") : body.index("</tr>", body.index("MNGAS01"))]
    assert ">26<" in gas and ">34<" in gas and "76.5%" in gas and "是" in gas
    water = body[body.index("MNWATER01") : body.index("</tr>", body.index("MNWATER01"))]
    assert ">3<" in water and "8.8%" in water and "<strong>否</strong>" in water
    online = _get(client, "/monitoring/points/", online="yes", **PERIOD).content.decode()
    assert "MNGAS01" in online and "MNWATER01" not in online
    offline = _get(client, "/monitoring/points/", online="no", **PERIOD).content.decode()
    assert "MNGAS01" not in offline and "MNWATER01" in offline


def test_the_completeness_of_a_page_is_one_query_however_many_points(
    world: dict[str, Any], office: Person, django_assert_num_queries: Any
) -> None:
    client = client_for(office.user)
    with time_machine.travel(NOW, tick=False):
        client.get("/monitoring/points/", PERIOD)  # warm the session and caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def readings_queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            _get(client, "/monitoring/points/", **PERIOD)
        return sum(1 for q in seen.captured_queries if "monitoring_reading" in q["sql"])

    before = readings_queries()
    for n in range(5):
        MonitoringPointFactory(enterprise=world["a"], mn=f"MNMORE{n}")
    assert before == readings_queries() == 1


def test_point_page_shows_days_and_latest_hours(world: dict[str, Any], district: Person) -> None:
    client = client_for(district.user)
    body = _get(client, f"/monitoring/points/{world['gas'].pk}/", **PERIOD).content.decode()
    assert "26 个有效小时，应有 34 个" in body and "76.5%" in body
    days = body[body.index('id="days"') :]
    assert "2026-03-01" in days and ">21<" in days and "87.5%" in days
    assert ">5<" in days and ">10<" in days and "50.0%" in days
    assert "2026-03-02 04:00" in body  # the latest hourly reading first


def test_a_district_cannot_open_another_territorys_point(
    world: dict[str, Any], other_district: Person
) -> None:
    response = _get(client_for(other_district.user), f"/monitoring/points/{world['gas'].pk}/")
    assert response.status_code == 404


def test_the_enterprise_page_shows_its_points(
    world: dict[str, Any], office: Person, energy_dept: Person
) -> None:
    body = _get(client_for(office.user), f"/enterprises/{world['a'].pk}/").content.decode()
    assert f'href="/monitoring/points/{world["gas"].pk}/"' in body and "MNWATER01" in body
    own = _get(client_for(_enterprise_person(world["a"]).user), f"/enterprises/{world['a'].pk}/")
    assert "MNGAS01" in own.content.decode() and "/monitoring/points/" not in own.content.decode()
    other = _get(client_for(energy_dept.user), f"/enterprises/{world['a'].pk}/").content.decode()
    assert "MNGAS01" not in other


# ── the export ──


def test_points_export_holds_every_row_with_completeness_and_is_audited(
    world: dict[str, Any], office: Person
) -> None:
    response = _get(client_for(office.user), "/monitoring/points/", format="xlsx", **PERIOD)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "设备唯一标识（MN）"
    by_mn = {r[0]: r for r in rows[1:]}
    assert set(by_mn) == {"MNGAS01", "MNWATER01"}
    assert by_mn["MNGAS01"][-3:] == (26, 34, "76.5%")
    assert by_mn["MNWATER01"][-3:] == (3, 34, "8.8%")
    event = AuditEvent.objects.get(action="export.monitoring_points")
    assert event.actor == office.user
    assert event.data == {
        "format": "xlsx",
        "rows": 2,
        "from": "2026-03-01",
        "to": "2026-03-02",
        "filter": PERIOD,
    }


def test_units_export_is_audited(world: dict[str, Any], district: Person) -> None:
    response = _get(client_for(district.user), "/monitoring/", format="xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["甲钢铁"]
    assert rows[1][-1] == "1 个离线"
    assert AuditEvent.objects.get(action="export.monitoring_units").data["rows"] == 1


# ── bad periods ──


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-03-05", "to": "2026-03-01"}, "时段的开始晚于结束。"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "时段最长为一年（366 天）。"),
        ({"from": "1900-01-01", "to": "1900-01-02"}, "日期须在 2000 年至 2099 年之间。"),
        ({"from": "9999-12-31"}, "日期须在 2000 年至 2099 年之间。"),
        ({"from": "2026-13-01"}, "输入一个有效的日期。"),
        ({"to": "x" * 5000}, "输入一个有效的日期。"),
    ],
)
def test_a_bad_period_is_refused_with_its_message_and_shows_nothing(
    world: dict[str, Any], office: Person, query: dict[str, str], message: str
) -> None:
    client = client_for(office.user)
    body = _get(client, "/monitoring/points/", **query).content.decode()
    assert message in body
    assert "MNGAS01" not in body and "共 0 条" in body
    detail = _get(client, f"/monitoring/points/{world['gas'].pk}/", **query)
    assert detail.status_code == 200 and message in detail.content.decode()
    export = _get(client, "/monitoring/points/", format="xlsx", **query)
    rows = list(
        load_workbook(io.BytesIO(b"".join(export.streaming_content))).active.iter_rows(values_only=True)
    )
    assert len(rows) == 1  # the headings only


def test_a_huge_page_number_is_an_empty_page(world: dict[str, Any], office: Person) -> None:
    response = _get(client_for(office.user), "/monitoring/points/", page="9" * 40)
    assert response.status_code == 200 and "MNGAS01" not in response.content.decode()
