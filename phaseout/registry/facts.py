"""What the standards engine is told about a registered line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from phaseout.registry.models import Measurement, ProductionLine
from phaseout.rules.engine import LineFacts, Quantity
from phaseout.rules.rulebook import Vocabulary, library


def read_attributes(raw: Mapping[str, Any], vocabulary: Vocabulary) -> tuple[str, dict[str, Decimal | str]]:
    """(product, attributes) from stored attributes, leaving out what the vocabulary does not know."""
    product = str(raw.get("product") or "")
    if product not in vocabulary.products:
        product = ""
    attributes: dict[str, Decimal | str] = {}
    for code, value in raw.items():
        known = vocabulary.attributes.get(code)
        if known is None or value in (None, ""):
            continue
        if known.categorical:
            if str(value) in known.categories:
                attributes[code] = str(value)
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            continue
        if number.is_finite():
            attributes[code] = number
    return product, attributes


def line_facts(
    line: ProductionLine,
    measurements: Iterable[Measurement] = (),
    *,
    extra: Mapping[str, Quantity] | None = None,
    industry: str | None = None,
) -> LineFacts:
    vocabulary = library().vocabulary
    product, attributes = read_attributes(line.attributes or {}, vocabulary)
    values: dict[str, Quantity] = {}
    for measurement in measurements:  # newest first: the first of each indicator wins
        if measurement.indicator in vocabulary.measurements and measurement.indicator not in values:
            values[measurement.indicator] = Quantity(measurement.value, measurement.unit)
    values.update(extra or {})
    return LineFacts(
        industry=industry if industry is not None else line.enterprise.industry_id,
        equipment_type=line.equipment_type,
        size=line.size_value,
        size_unit=line.size_unit if line.size_value is not None else "",
        process=line.process if line.process in vocabulary.processes else "",
        product=product,
        attributes=attributes,
        measurements=values,
    )
