"""Register import: preview first, nothing written until accepted, no duplicates on a re-run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc

from phaseout.registry.importer import RegisterFileError, apply_register, read_register
from phaseout.registry.models import Enterprise, ImportBatch
from tests.conftest import client_for, upload
from tests.factories import valid_uscc

GOOD = [
    [valid_uscc(1), "江门市甲钢铁有限公司", "蓬江区", "钢铁", "蓬江区工业路1号", "张三", "0750-1234567"],
    [valid_uscc(2), "江门市乙水泥有限公司", "440705", "水泥", "", "", ""],
    [valid_uscc(3), "开平市丙玻璃有限公司", "开平市", "平板玻璃", "", "", ""],
]


def _bad_check_char(code: str) -> str:
    last = "0" if code[-1] != "0" else "1"
    return code[:-1] + last


def test_good_register_imports_and_rerun_creates_no_duplicates(reference, xlsx_bytes) -> None:
    register = read_register(xlsx_bytes(GOOD))
    assert (register.total, len(register.rows), register.errors) == (3, 3, [])
    assert not Enterprise.objects.exists()  # reading writes nothing
    result = apply_register(register.rows)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    again = apply_register(read_register(xlsx_bytes(GOOD)).rows)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = [row[:] for row in GOOD]
    changed[0][1] = "江门市甲钢铁集团有限公司"
    third = apply_register(read_register(xlsx_bytes(changed)).rows)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert Enterprise.objects.count() == 3
    assert Enterprise.objects.get(uscc=valid_uscc(1)).name == "江门市甲钢铁集团有限公司"
    assert Enterprise.objects.get(uscc=valid_uscc(2)).territory_id == "440705"


def test_every_bad_row_is_listed_with_its_reason(reference, xlsx_bytes) -> None:
    rows = [
        GOOD[0],
        [_bad_check_char(valid_uscc(5)), "坏校验码公司", "蓬江区", "钢铁"],
        ["12345", "太短公司", "蓬江区", "钢铁"],
        [valid_uscc(1), "重复公司", "蓬江区", "钢铁"],
        [valid_uscc(6), "", "火星区", "造船"],
        [valid_uscc(7), "名" * 121, "蓬江区", "钢铁"],
    ]
    register = read_register(xlsx_bytes(rows))
    assert register.total == 6 and len(register.rows) == 1
    by_row = {}
    for e in register.errors:
        by_row.setdefault(e.row, []).append((e.column, e.message))
    assert by_row[3] == [("统一社会信用代码", "统一社会信用代码校验码错误。")]
    assert by_row[4][0][0] == "统一社会信用代码"
    assert "第 2 行" in by_row[5][0][1]
    assert {c for c, _ in by_row[6]} == {"企业名称", "所属区县", "行业"}
    assert by_row[7] == [("企业名称", "超过 120 个字符。")]


@pytest.mark.parametrize(
    "content",
    [b"this is not a workbook", b"PK\x03\x04broken zip", b""],
)
def test_malformed_files_are_refused(reference, content) -> None:
    with pytest.raises(RegisterFileError):
        read_register(content)


def test_a_spreadsheet_that_is_not_a_register_is_refused(reference, xlsx_bytes) -> None:
    with pytest.raises(RegisterFileError, match="统一社会信用代码"):
        read_register(xlsx_bytes([["a", "b"]], header=["姓名", "电话"]))


def test_district_may_import_only_its_own_territory(reference, xlsx_bytes, district) -> None:
    register = read_register(xlsx_bytes(GOOD), territories_allowed={"440703"})
    assert len(register.rows) == 1
    assert {e.row for e in register.errors} == {3, 4}


def test_web_flow_preview_then_accept(office, xlsx_bytes, django_capture_on_commit_callbacks) -> None:
    c = client_for(office.user)
    bad = upload("名录.xlsx", b"garbage", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = c.post("/enterprises/import/", {"file": bad}, follow=True)
    assert "无法按 .xlsx 工作簿读取" in response.content.decode()
    assert not ImportBatch.objects.exists()

    rows = [*GOOD, [_bad_check_char(valid_uscc(9)), "坏码公司", "蓬江区", "钢铁"]]
    response = c.post("/enterprises/import/", {"file": upload("名录.xlsx", xlsx_bytes(rows))})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/enterprises/import/{batch.pk}/"
    page = c.get(response["Location"]).content.decode()
    assert "共读取 4 行：有效 3 行，发现 1 处问题" in page
    assert "统一社会信用代码校验码错误" in page
    assert not Enterprise.objects.exists()  # nothing before acceptance

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        c.post(f"/enterprises/import/{batch.pk}/accept/")  # the task runs in-process without a broker
    assert len(callbacks) == 1
    batch.refresh_from_db()
    assert (batch.status, batch.created_count, batch.progress_percent) == ("done", 3, 100)
    assert Enterprise.objects.count() == 3
    page = c.get(f"/enterprises/import/{batch.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "新增 3 家" in page

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        c.post(f"/enterprises/import/{batch.pk}/accept/")  # accepting twice imports once
    assert not callbacks
    assert Enterprise.objects.count() == 3
    c.post("/enterprises/import/", {"file": upload("名录.xlsx", xlsx_bytes(rows))})
    second = ImportBatch.objects.latest("id")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/enterprises/import/{second.pk}/accept/")
    second.refresh_from_db()
    assert (second.created_count, second.unchanged_count) == (0, 3)
    assert Enterprise.objects.count() == 3


def test_enterprise_form_refuses_bad_uscc(office) -> None:
    c = client_for(office.user)
    data = {
        "uscc": _bad_check_char(valid_uscc(11)),
        "name": "某公司",
        "territory": "440703",
        "industry": "steel",
    }
    response = c.post("/enterprises/new/", data)
    assert response.status_code == 200
    assert "校验码错误" in response.content.decode()
    assert not Enterprise.objects.exists()
    data["uscc"] = valid_uscc(11).lower()
    response = c.post("/enterprises/new/", data)
    assert response.status_code == 302
    assert Enterprise.objects.get().uscc == valid_uscc(11)


def test_line_form_refuses_negative_or_unitless_capacity(office) -> None:
    from tests.factories import EnterpriseFactory

    enterprise = EnterpriseFactory()
    c = client_for(office.user)
    base = {
        "name": "3号高炉",
        "equipment_type": "blast_furnace",
        "size_value": "450",
        "size_unit": "m3",
        "capacity": "-5",
        "capacity_unit": "10kt/a",
        "status": "operating",
    }
    assert c.post(f"/enterprises/{enterprise.pk}/lines/new/", base).status_code == 200
    assert (
        c.post(
            f"/enterprises/{enterprise.pk}/lines/new/", {**base, "capacity": "50", "capacity_unit": ""}
        ).status_code
        == 200
    )
    page = c.post(
        f"/enterprises/{enterprise.pk}/lines/new/", {**base, "capacity": "50", "size_unit": "t"}
    ).content.decode()
    assert "m3" in page or "m³" in page
    assert not enterprise.lines.exists()
    assert c.post(f"/enterprises/{enterprise.pk}/lines/new/", {**base, "capacity": "50"}).status_code == 302
    assert enterprise.lines.get().capacity == 50


ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
bodies = st.builds(
    lambda digits, tail: digits + tail,
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet=ALPHABET, min_size=9, max_size=9),
)
# Canonical codes: with a random check character (mostly wrong) or with the right one.
codes = st.builds(lambda body, check: body + check, bodies, st.sampled_from(ALPHABET)) | bodies.map(
    lambda body: body + uscc.calc_check_digit(body)
)


@given(codes)
def test_bulk_uscc_check_agrees_with_python_stdnum(code: str) -> None:
    from phaseout.registry.importer import fast_uscc_check

    assert fast_uscc_check(code) == uscc.is_valid(code)


@given(st.text(max_size=20))
def test_anything_not_canonical_is_left_to_python_stdnum(text: str) -> None:
    from phaseout.registry.importer import fast_uscc_check

    verdict = fast_uscc_check(text)
    assert verdict is None or verdict == uscc.is_valid(text)


def test_licences_are_recorded_and_a_duplicate_number_is_refused(office) -> None:
    from phaseout.audit.models import AuditEvent
    from tests.factories import EnterpriseFactory

    a, b = EnterpriseFactory(), EnterpriseFactory()
    c = client_for(office.user)
    data = {
        "kind": "pollutant_discharge",
        "number": "91440700MA0001X001P",
        "valid_until": "2027-06-30",
        "status": "valid",
    }
    assert c.post(f"/enterprises/{a.pk}/licences/new/", data).status_code == 302
    assert a.licences.get().number == data["number"]
    assert AuditEvent.objects.filter(action="licence.create").count() == 1
    page = c.post(f"/enterprises/{b.pk}/licences/new/", data).content.decode()
    assert "已经存在" in page or "已存在" in page
    assert not b.licences.exists()
    assert "排污许可证" in c.get(f"/enterprises/{a.pk}/").content.decode()
