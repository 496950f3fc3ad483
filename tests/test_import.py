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


# --- Reading and writing in one pass; the block-wise check; the bulk load ----------------------------------


def _constraints() -> dict[str, tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Enterprise._meta.db_table)
    return {
        name: (tuple(c["columns"]), c["unique"], c["index"], c["foreign_key"], c.get("type"))
        for name, c in found.items()
    }


def test_import_in_one_pass_writes_what_preview_and_accept_would(reference, xlsx_bytes) -> None:
    from phaseout.registry.importer import import_register

    rows = [*GOOD, [_bad_check_char(valid_uscc(9)), "坏码公司", "蓬江区", "钢铁"], GOOD[0]]
    preview = read_register(xlsx_bytes(rows))
    seen: list[int] = []
    register, result = import_register(xlsx_bytes(rows), progress=seen.append)
    assert register.errors == preview.errors and register.total == preview.total == 5
    assert (result.created, result.updated, result.unchanged, seen) == (3, 0, 0, [3])
    written = sorted(Enterprise.objects.values_list("uscc", flat=True))
    assert written == sorted(r["uscc"] for r in preview.rows)
    _, again = import_register(xlsx_bytes(rows))
    assert (again.created, again.unchanged) == (0, 3)


def test_a_file_the_reader_thread_refuses_is_refused_in_chinese_and_writes_nothing(reference) -> None:
    from phaseout.registry.importer import import_register

    with pytest.raises(RegisterFileError, match=r"无法按 \.xlsx 工作簿读取"):
        import_register(b"PK\x03\x04broken zip")
    assert not Enterprise.objects.exists()


def test_values_with_tabs_line_breaks_and_backslashes_are_stored_as_written(reference, xlsx_bytes) -> None:
    from phaseout.registry.importer import import_register

    address = "蓬江区\t工业路\\1号\n二期"
    rows = [[valid_uscc(1), "江门市甲钢铁有限公司", "蓬江区", "钢铁", address, "张三", "0750"]]
    import_register(xlsx_bytes(rows))
    assert Enterprise.objects.get().address == address.strip()
    rows[0][4] = "新会区\\2号\r\n"
    _, result = import_register(xlsx_bytes(rows))  # an update goes through COPY too
    assert result.updated == 1 and Enterprise.objects.get().address == "新会区\\2号"


def test_copy_text_escapes_only_when_a_value_needs_it() -> None:
    from phaseout.registry.importer import copy_text

    plain = [{"a": "x", "b": "y"}, {"a": "1", "b": "2"}]
    assert copy_text(plain, ("a", "b"), "\tT") == "x\ty\tT\n1\t2\tT\n"
    odd = [{"a": "x\ty", "b": "a\\b"}, {"a": "l\nm", "b": "c\rd"}]
    assert copy_text(odd, ("a", "b")) == "x\\ty\ta\\\\b\nl\\nm\tc\\rd\n"
    assert copy_text([{"a": "only"}], ("a",)) == "only\n"
    assert copy_text([], ("a", "b")) == ""


# One row of a register: good, or wrong in one of the ways a register goes wrong.
def _row(n: int, fault: str) -> list[object]:
    row: list[object] = [valid_uscc(n), f"企业{n}", "蓬江区", "钢铁", f"地址{n}", "联系人", "0750"]
    if fault == "check":
        row[0] = _bad_check_char(str(row[0]))
    elif fault == "lowercase":  # not canonical: python-stdnum decides (valid once upper-cased)
        row[0] = str(row[0]).lower()
    elif fault == "short":
        row[0] = "12345"
    elif fault == "duplicate":
        row[0] = valid_uscc(1)
    elif fault == "no_name":
        row[1] = ""
    elif fault == "territory":
        row[2] = "火星区"
    elif fault == "outside":
        row[2] = "开平市"
    elif fault == "industry":
        row[3] = "造船"
    elif fault == "long":
        row[4] = "址" * 201
    elif fault == "number":
        row[6] = 7503800000
    elif fault == "spaces":
        row[1] = f"  企业{n} "
    elif fault == "empty":
        row = [None] * 7
    return row


FAULTS = ["", "check", "lowercase", "short", "duplicate", "no_name", "territory", "outside", "industry"]
FAULTS += ["long", "number", "spaces", "empty"]


@given(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=40), st.booleans())
def test_block_check_agrees_with_the_row_by_row_check(faults: list[str], district_only: bool) -> None:
    from phaseout.registry.importer import COLUMNS, Register, _Checker

    lookups = ({"蓬江区": "440703", "开平市": "440783"}, {"钢铁": "steel"})
    allowed = {"440703"} if district_only else None
    positions = {f: i for i, f in enumerate(COLUMNS.values())}
    raws = [_row(n, fault) for n, fault in enumerate(faults, start=2)]
    by_block, by_row = Register(), Register()
    a = _Checker(positions, lookups, allowed, by_block).block(raws, 2)
    b = _Checker(positions, lookups, allowed, by_row)._row_by_row(raws, 2)
    assert (a, by_block.errors, by_block.total) == (b, by_row.errors, by_row.total)


def test_a_clean_block_takes_the_column_wise_path() -> None:
    from phaseout.registry.importer import COLUMNS, Register, _Checker

    positions = {f: i for i, f in enumerate(COLUMNS.values())}
    checker = _Checker(positions, ({"蓬江区": "440703"}, {"钢铁": "steel"}), None, Register())
    rows = checker._fast([_row(n, "") for n in range(2, 50)], 2)
    assert rows is not None and len(rows) == 48 and rows[0]["territory_id"] == "440703"
    assert checker._fast([_row(60, "check")], 60) is None  # and a block with a bad row does not


@given(st.lists(codes | st.text(max_size=20), min_size=1, max_size=20))
def test_block_uscc_check_agrees_with_the_code_by_code_check(block: list[str]) -> None:
    from phaseout.registry.importer import _uscc_block_valid, fast_uscc_check

    assert _uscc_block_valid(block) == all(fast_uscc_check(code) for code in block)


def test_a_bulk_load_builds_indexes_and_foreign_keys_again(reference, xlsx_bytes, settings) -> None:
    """On PostgreSQL, a large file into a small registry drops the secondary indexes and foreign
    keys, loads, and creates them again in the same transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from phaseout.registry.importer import import_register

    settings.REGISTER_BULK_LOAD_MIN_ROWS = 3
    before = _constraints()
    with CaptureQueriesContext(connection) as queries:
        _, result = import_register(xlsx_bytes(GOOD))
    assert result.created == 3 and Enterprise.objects.count() == 3
    assert _constraints() == before
    dropped = [q["sql"] for q in queries if q["sql"].startswith(("DROP INDEX", "ALTER TABLE"))]
    if connection.vendor == "postgresql":
        assert any("enterprise_name_trgm" in sql for sql in dropped)
        assert sum("DROP CONSTRAINT" in sql for sql in dropped) == 2
        assert sum("ADD CONSTRAINT" in sql for sql in dropped) == 2
    else:
        assert dropped == []
    # A registry already holding more than half of the file's rows is written row by row.
    with CaptureQueriesContext(connection) as queries:
        import_register(xlsx_bytes([*GOOD, [valid_uscc(4), "新企业", "蓬江区", "钢铁"]]))
    assert not [q for q in queries if q["sql"].startswith("DROP INDEX")]


def test_a_failed_bulk_load_leaves_the_table_as_it_was(reference, settings, monkeypatch) -> None:
    """A failure half-way through: the bulk load (PostgreSQL) writes nothing and keeps every index;
    chunk-by-chunk (SQLite) keeps the chunks written before it, which a re-run completes."""
    from django.db import connection

    from phaseout.registry import importer

    settings.REGISTER_BULK_LOAD_MIN_ROWS = 2
    rows = _checked_rows(12)
    before = _constraints()

    def fail_after_first_chunk(done: int) -> None:
        if done > 5:
            raise RuntimeError("stopped")

    monkeypatch.setattr(importer, "CHUNK", 5)
    with pytest.raises(RuntimeError):
        importer.apply_register(rows, progress=fail_after_first_chunk)
    assert _constraints() == before
    written = Enterprise.objects.count()
    assert written == (0 if connection.vendor == "postgresql" else 10)
    assert importer.apply_register(rows).created == 12 - written


def _checked_rows(n: int) -> list[dict[str, str]]:
    """Rows as the check hands them to the writer."""
    return [
        {
            "uscc": valid_uscc(i),
            "name": f"企业{i}",
            "territory_id": "440703",
            "industry_id": "steel",
            "address": "",
            "contact_name": "",
            "contact_phone": "",
        }
        for i in range(1, n + 1)
    ]


def test_when_writing_fails_the_reading_thread_stops_with_it(reference, xlsx_bytes, monkeypatch) -> None:
    import threading

    from phaseout.registry import importer
    from phaseout.registry.importer import import_register

    # Twenty chunks of two rows: the reader is still handing chunks over when the writer fails.
    monkeypatch.setattr(importer, "FIRST_CHUNK", 2)
    monkeypatch.setattr(importer, "CHUNK", 2)
    monkeypatch.setattr(importer, "BLOCK", 2)

    def fail(done: int) -> None:
        raise RuntimeError("stopped")

    rows = [[valid_uscc(n), f"企业{n}", "蓬江区", "钢铁"] for n in range(1, 40)]
    with pytest.raises(RuntimeError) as failure:  # kept, as a task's failure report keeps it
        import_register(xlsx_bytes(rows), progress=fail)
    assert not [t for t in threading.enumerate() if t.name == "register-reader"]
    assert failure.value.args == ("stopped",)


def test_the_lines_of_an_enterprise_that_moves_follow_it(reference, xlsx_bytes) -> None:
    """A line keeps its enterprise's territory (the scope's index): when created, when the enterprise is
    saved in another territory, and when a register import moves it (on either database's path)."""
    from tests.factories import LineFactory

    apply_register(read_register(xlsx_bytes(GOOD)).rows)
    first = Enterprise.objects.get(uscc=valid_uscc(1))
    line, other = LineFactory(enterprise=first), LineFactory()
    assert (line.territory_id, other.territory_id) == ("440703", other.enterprise.territory_id)
    moved = [row[:] for row in GOOD]
    moved[0][2] = "江海区"
    result = apply_register(read_register(xlsx_bytes(moved)).rows)
    assert result.updated == 1
    line.refresh_from_db()
    assert line.territory_id == "440704"
    first.refresh_from_db()
    first.territory_id = "440705"
    first.save()
    line.refresh_from_db()
    other.refresh_from_db()
    assert (line.territory_id, other.territory_id) == ("440705", other.enterprise.territory_id)


def test_the_lines_of_an_enterprise_that_changes_industry_follow_it(reference, xlsx_bytes) -> None:
    """A line keeps its enterprise's industry too (the exit ledger's totals read it from the lines): when
    created, when a register import changes it (on either database's path), when the enterprise is saved."""
    from tests.factories import LineFactory

    apply_register(read_register(xlsx_bytes(GOOD)).rows)
    first = Enterprise.objects.get(uscc=valid_uscc(1))
    line, other = LineFactory(enterprise=first), LineFactory()
    assert (line.industry_id, other.industry_id) == (first.industry_id, other.enterprise.industry_id)
    assert first.industry_id != "cement"
    changed = [row[:] for row in GOOD]
    changed[0][3] = "水泥"
    result = apply_register(read_register(xlsx_bytes(changed)).rows)
    assert result.updated == 1
    line.refresh_from_db()
    assert line.industry_id == "cement"
    first.refresh_from_db()
    first.industry_id = "flat_glass"
    first.save()
    line.refresh_from_db()
    other.refresh_from_db()
    assert (line.industry_id, other.industry_id) == ("flat_glass", other.enterprise.industry_id)
