"""`phaseout territories load` refuses a file whole when a division sits under a parent of the wrong level
or outside its parent's code prefix (GB/T 2260), or when the file is not UTF-8; a byte-order mark is
read."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Territory

HEADER = (
    "code,name,level,parent\n440000,广东省,province,\n440700,江门市,city,440000\n441600,河源市,city,440000\n"
)


def _parents() -> dict[str, str | None]:
    return dict(Territory.objects.values_list("code", "parent_id"))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "440703,蓬江区,county,441600\n",
            "44.csv line 5: 440703 does not belong under 441600 (their first 4 digits differ)",
        ),
        (
            "440703,蓬江区,county,440000\n",
            "44.csv line 5: the parent of county 440703 must be a city, not the province 440000",
        ),
        (
            "441700,阳江市,city,440700\n",
            "44.csv line 5: the parent of city 441700 must be a province, not the city 440700",
        ),
    ],
)
def test_a_territories_file_moving_a_division_is_refused_whole(
    reference: None, tmp_path: Path, rows: str, message: str
) -> None:
    before = _parents()
    path = tmp_path / "44.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("territories", "load", "--file", str(path))
    assert str(refused.value) == message
    assert _parents() == before
    assert not AuditEvent.objects.filter(action="territories.load").exists()


def test_a_territories_file_not_in_utf8_is_refused_and_one_with_a_bom_is_read(
    reference: None, tmp_path: Path
) -> None:
    before = _parents()
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "440703,蓬江区,county,440700\n").encode("gbk"))
    with pytest.raises(CommandError) as refused:
        call_command("territories", "load", "--file", str(gbk))
    assert str(refused.value) == (
        "gbk.csv: not a UTF-8 text file (byte 30); save it as UTF-8 and load it again"
    )
    assert _parents() == before
    bom = tmp_path / "bom.csv"
    bom.write_text(HEADER + "440703,蓬江区,county,440700\n", encoding="utf-8-sig")
    call_command("territories", "load", "--file", str(bom))
    assert Territory.objects.get(code="440703").parent_id == "440700"
    assert AuditEvent.objects.get(action="territories.load").data == {
        "file": "bom.csv", "province": 1, "city": 2, "county": 1
    }  # fmt: skip
