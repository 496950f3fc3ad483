"""Reference data shipped with the product (phaseout/data/*.json), loaded idempotently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from phaseout.credit.models import Measure
from phaseout.orgs.models import Department, Territory
from phaseout.prices.models import PriceRate
from phaseout.registry.models import Industry

DATA_DIR = Path(__file__).resolve().parent / "data"


def _load(name: str) -> list[dict[str, Any]]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        data: list[dict[str, Any]] = json.load(fh)
    return data


@transaction.atomic
def load_reference() -> dict[str, int]:
    territories = _load("territories.json")
    for row in territories:
        Territory.objects.update_or_create(
            code=row["code"],
            defaults={"name": row["name"], "level": row["level"], "parent_id": row["parent"]},
        )
    industries = _load("industries.json")
    for row in industries:
        Industry.objects.update_or_create(
            code=row["code"], defaults={"name": row["name"], "sort_order": row["sort_order"]}
        )
    departments = _load("departments.json")
    for row in departments:
        Department.objects.update_or_create(
            code=row["code"],
            defaults={
                "name": row["name"],
                "territory_id": row["territory"],
                "dimensions": row["dimensions"],
                "is_office": row["is_office"],
                "doc_prefix": row.get("doc_prefix", ""),
            },
        )
    rates = _load("price_rates.json")
    for row in rates:
        PriceRate.objects.update_or_create(
            kind=row["kind"],
            industry_id=row["industry"],
            catalogue_class=row["catalogue_class"],
            effective_from=row["effective_from"],
            entered_by=None,
            defaults={"rate": row["rate"], "source": row["source"], "verification": row["verification"]},
        )
    measures = _load("joint_punishment.json")
    for row in measures:
        Measure.objects.update_or_create(
            code=row["code"],
            defaults={
                "domain": row["domain"],
                "legal_basis": row["legal_basis"],
                "executing_suffix": row["executing"],
                "months": row["months"],
            },
        )
    return {
        "joint-punishment measures": len(measures),
        "territories": len(territories),
        "industries": len(industries),
        "departments": len(departments),
        "price rates": len(rates),
    }
