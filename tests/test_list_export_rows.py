"""The list exports (enterprises, production lines, cases, inspections) read plain `values()` rows from the
database cursor, no model instance made per row (phaseout.web.lists, `Column.path` / `Column.row`), and
write exactly what the same columns give from the model instances: every row and every cell."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from openpyxl import load_workbook

from phaseout.audit.models import AuditEvent
from phaseout.cases.models import Case, Inspection
from phaseout.cases.views import CASES, INSPECTIONS
from phaseout.orgs.models import Person, Territory
from phaseout.registry.models import Enterprise, ProductionLine
from phaseout.registry.views import ENTERPRISES, LINES
from phaseout.web import lists
from tests.conftest import client_for
from tests.factories import CaseFactory, EnterpriseFactory, InspectionFactory, LineFactory

CLOCK = {"order_date": dt.date(2026, 2, 2), "deadline": dt.date(2026, 8, 3), "rectification_months": 6}


@pytest.fixture
def records(office: Person) -> None:
    taishan = Territory.objects.get(code="440781")
    with_contact = EnterpriseFactory(
        name="台山水泥", territory=taishan, contact_name="李工", contact_phone="0750-1"
    )
    EnterpriseFactory(name='=HYPERLINK("x")厂', address="")
    exited = LineFactory(
        enterprise=with_contact, name="2号窑", status="exited", exited_on=dt.date(2026, 2, 1), size_value=None
    )
    LineFactory(name="1号高炉", capacity=Decimal("12.5"))
    CaseFactory(state="rectifying", **CLOCK)
    CaseFactory(state="finding", dimension="environment", enterprise=with_contact, line=exited)
    CaseFactory(state="overdue", **CLOCK)
    InspectionFactory(enterprise=with_contact, line=exited, method="evaluation")
    InspectionFactory(dimension="energy", inspectors="王五")


def _cells(body: bytes) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(body)).active.values)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a model instance was made for an exported row")


LISTS = [
    ("/enterprises/", ENTERPRISES, Enterprise, "export.enterprises"),
    ("/lines/", LINES, ProductionLine, "export.lines"),
    ("/cases/", CASES, Case, "export.cases"),
    ("/inspections/", INSPECTIONS, Inspection, "export.inspections"),
]


@pytest.mark.parametrize(("url", "spec", "model", "action"), LISTS, ids=[u for u, *_ in LISTS])
def test_each_list_exports_plain_rows_equal_to_its_columns_over_the_records(
    records: None,
    office: Person,
    url: str,
    spec: lists.ListSpec,
    model: type[models.Model],
    action: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert spec.values() is not None  # every column reads a plain row
    # The same rows through the columns' model-instance values (a list, not a query set: instances).
    ordered = model._default_manager.order_by(*spec.default_order)
    expected_handle, expected_count = lists.xlsx_file(list(ordered), spec, "x")
    expected = _cells(expected_handle.read())
    assert expected_count == model._default_manager.count() >= 2
    client = client_for(office.user)
    monkeypatch.setattr(model, "from_db", classmethod(_boom))  # no instance of the listed model
    response = client.get(url, {"format": "xlsx"})
    assert response.status_code == 200
    assert _cells(b"".join(response.streaming_content)) == expected
    assert AuditEvent.objects.get(action=action).data["rows"] == expected_count
