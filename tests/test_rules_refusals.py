"""The rules package refuses facts it cannot read, each refusal with its exact words (these are what
`phaseout check-line` and the registry import show a person)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from phaseout.rules.engine import FactsError, LineFacts, Quantity, check_facts, evaluate_rule, facts_from_json
from phaseout.rules.rulebook import library

LIB = library()
VOCABULARY = LIB.vocabulary
SIZE = {"value": "1080", "unit": "m3"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the line must be a JSON object"),
        ({"colour": "red", "size": SIZE}, "unknown field 'colour'"),
        ({"size": 5}, '"size" must be {"value": number, "unit": text}'),
        ({"size": {"value": 5}}, '"size" must be {"value": number, "unit": text}'),
        ({"size": {"value": True, "unit": "m3"}}, "size needs a number"),
        ({"size": {"value": None, "unit": "m3"}}, "size needs a number"),
        ({"size": {"value": "abc", "unit": "m3"}}, "size needs a number, not 'abc'"),
        ({"size": {"value": "NaN", "unit": "m3"}}, "size needs a finite number"),
        ({"size": {"value": "Infinity", "unit": "m3"}}, "size needs a finite number"),
        ({"attributes": {"colour": "red"}}, "unknown attribute 'colour'"),
        ({"attributes": {"clinker_ratio": "many"}}, "clinker_ratio needs a number, not 'many'"),
        ({"measurements": {"clinker_energy": 5}},
         "measurement 'clinker_energy' must be {\"value\": number, \"unit\": text}"),
        ({"measurements": {"clinker_energy": {"value": "x", "unit": "kgce/t"}}},
         "clinker_energy needs a number, not 'x'"),
        ({"equipment_type": "blast_furnace", "size": {"value": "0", "unit": "m3"}},
         "the size must be greater than zero"),
        ({"equipment_type": "blast_furnace", "size": {"value": "-3", "unit": "m3"}},
         "the size must be greater than zero"),
        ({"size": SIZE}, "equipment type '(none)' has no size parameter"),
        ({"equipment_type": "blast_furnace", "size": {"value": "1080", "unit": "t"}},
         "unit mismatch: the size of 'blast_furnace' is measured in m3, not t"),
        ({"equipment_type": "blast_furnace", "size": {"value": "1080", "unit": ""}},
         "unit mismatch: the size of 'blast_furnace' is measured in m3, not (none)"),
        ({"process": "alchemy"}, "unknown process 'alchemy'"),
        ({"product": "gold"}, "unknown product 'gold'"),
        ({"measurements": {"happiness": {"value": "1", "unit": "%"}}}, "unknown indicator 'happiness'"),
        ({"measurements": {"clinker_energy": {"value": "100", "unit": "kWh/t"}}},
         "unit mismatch: 'clinker_energy' is measured in kgce/t, not kWh/t"),
        ({"attributes": {"steel_grade": "gold"}}, "'steel_grade' has no category 'gold'"),
    ],
)  # fmt: skip
def test_facts_it_cannot_read_are_refused_in_these_words(data: Any, message: str) -> None:
    with pytest.raises(FactsError) as refused:
        facts_from_json(data, VOCABULARY)
    assert str(refused.value) == message


def test_a_numeric_attribute_given_as_text_is_refused() -> None:
    facts = LineFacts(industry="cement", equipment_type="clinker_line", attributes={"clinker_ratio": "80"})
    with pytest.raises(FactsError) as refused:
        check_facts(VOCABULARY, facts)
    assert str(refused.value) == "'clinker_ratio' needs a number"


def test_a_rule_refuses_a_measurement_in_another_unit() -> None:
    rule = LIB.rule("energy.cement.clinker-energy", dt.date(2026, 8, 1))
    assert rule is not None
    facts = LineFacts(
        industry="cement", equipment_type="clinker_line", size=D(2500), size_unit="t/d",
        measurements={"clinker_energy": Quantity(D(100), "kWh/t")},
    )  # fmt: skip
    with pytest.raises(FactsError) as refused:
        evaluate_rule(rule, facts)
    assert str(refused.value) == "unit mismatch: 'clinker_energy' is measured in kgce/t, not kWh/t"


# ── rulebooks: what their authors are told, line and words ────────────────────────────────

from tests.test_rules_engine import GOOD, _load_error, books  # noqa: E402, F401 (the fixture)

ADD = 'verification = "secondary"\n'


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (('id = "energy.test.kiln"', 'id = "Energy.Test"'), 6,
         "rule id 'Energy.Test' may hold only a-z, 0-9, '.', '-' and '_'"),
        (('equipment_types = ["clinker_line"]', 'equipment_types = ["kiln"]'), 14,
         "unknown equipment type 'kiln'"),
        ((ADD, ADD + 'processes = ["alchemy"]\n'), 22, "unknown process 'alchemy'"),
        ((ADD, ADD + 'except_processes = ["alchemy"]\n'), 22, "unknown process 'alchemy'"),
        ((ADD, ADD + 'products = ["gold"]\n'), 22, "unknown product 'gold'"),
        (('comparison = "at_most"', 'comparison = "about"'), 17,
         "'comparison' is 'about'; expected one of: at_most, at_least, eliminated"),
        (('indicator = "clinker_energy"', 'indicator = "  "'), 15, "'indicator' must not be empty"),
        (('title = "熟料综合能耗"', 'title = ""'), 8, "'title' must not be empty"),
        ((ADD, ADD + "grade = 4\n"), 22, "'grade' must be 1, 2 or 3"),
        (("limits = [100, 107, 117]", 'limits = [100, 107, "x"]'), 18,
         "'limits' has 'x'; expected a number or \"-\""),
        (("limits = [100, 107, 117]", 'limits = [100, 107, "-"]'), 18, "the enforced grade 3 has no limit"),
        (("limits = [100, 107, 117]", "limits = 100"), 18, "'limits' has the wrong kind of value: 100"),
        (('comparison = "at_most"', 'comparison = "eliminated"'), 18, "an elimination rule has no limits"),
        (('consequence = "rectify"', 'consequence = "exit_at_once"\nrectification_months = 6'), 20,
         "elimination has no rectification period"),
        (('departments = ["industry_it"]', 'departments = ["police"]'), 20, "unknown department 'police'"),
        (('departments = ["industry_it"]', "departments = []"), 20, "name the enforcing department"),
        (('departments = ["industry_it"]', 'departments = ["industry_it", ""]'), 20,
         "'departments' must be a list of names"),
        ((ADD, ADD + 'when_attribute = "steel_grade"\nwhen_equals = "gold"\n'), 23,
         "'when_attribute' must name a category of a known attribute"),
        ((ADD, ADD + 'size_unit = "t/d"\n'), 22, "a size unit without a size range"),
        ((ADD, ADD + 'size_at_least = 1000\nsize_unit = "m3"\n'), 23,
         "unit mismatch: the size of 'clinker_line' is measured in t/d, not m3"),
        (("effective_from = 2020-01-01", "effective_from = 2020-01-01T08:00:00"), 11,
         "'effective_from' must be a date, not a date and time"),
        ((ADD, ADD + "size_at_least = true\nsize_unit = \"t/d\"\n"), 22, "'size_at_least' must be a number"),
    ],
)  # fmt: skip
def test_rulebook_load_errors_in_these_words(
    books: Path,  # noqa: F811
    change: tuple[str, str],
    line: int,
    reason: str,
) -> None:
    error = _load_error(books, GOOD.replace(*change))
    assert (error.reason, error.line) == (reason, line), error


def _correction(*lines: str) -> str:
    return GOOD + "\n[[rule.correction]]\n" + "\n".join(lines) + '\ndescription = "x"\n'


RATIO = ('kind = "per_point"', 'attribute = "clinker_ratio"')
ELIMINATION = GOOD.replace('comparison = "at_most"', 'comparison = "eliminated"').replace(
    "limits = [100, 107, 117]\n", ""
)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (_correction('kind = "category_add"', 'attribute = "clinker_ratio"', "categories = {}"), 25,
         "a category_add correction cannot read 'clinker_ratio'"),
        (_correction(*RATIO, 'unit = "t"', "coefficient = 1"), 26,
         "unit mismatch: 'clinker_ratio' is measured in %, not t"),
        (_correction(*RATIO, "grades = [4]", "coefficient = 1"), 26,
         "'grades' must list grades among 1, 2, 3"),
        (_correction(*RATIO, "grades = []", "coefficient = 1"), 26,
         "'grades' must list grades among 1, 2, 3"),
        (_correction(*RATIO, "coefficient = 1", 'only = "up"'), 27,
         "'only' must be \"below\" or \"above\""),
        (_correction('kind = "category_add"', 'attribute = "steel_grade"', 'categories = {gold = 1}'), 26,
         "'steel_grade' has no category 'gold'"),
        (_correction('kind = "step_add"', 'attribute = "clinker_ratio"', "steps = [[1, 2, 3]]"), 26,
         "'steps' must be pairs [threshold, amount]"),
        (_correction('kind = "linear_factor"', 'attribute = "clinker_ratio"', "intercept = 1", "slope = 1",
                     "divisor = 0"), 28, "'divisor' must not be zero"),
        (_correction(*RATIO, "coefficient = 1",
                     'when_attribute = "steel_grade"', "when_above = 1"), 27,
         "unknown numeric attribute 'steel_grade'"),
        (_correction(*RATIO, "coefficient = 1").replace(GOOD, ELIMINATION),
         5, "an elimination rule has no corrections"),  # the line of the rule itself
        (GOOD.replace("limits = [100, 107, 117]", "[[rule.band]]\nlimits = [1, 2, 3]")
         .replace('verification = "secondary"\n', ""), 18, "a band needs a size range"),
    ],
)  # fmt: skip
def test_correction_and_band_errors_in_these_words(
    books: Path,  # noqa: F811
    text: str,
    line: int,
    reason: str,
) -> None:
    error = _load_error(books, text)
    assert (error.reason, error.line) == (reason, line), error


def test_a_rulebook_without_rules_or_with_an_unknown_section(books: Path) -> None:  # noqa: F811
    error = _load_error(books, GOOD.split("[[rule]]")[0])
    assert (error.reason, error.line) == ("a rulebook without rules", 1)
    error = _load_error(books, GOOD + "\n[extra]\nkey = 1\n")
    assert (error.reason, error.line) == ("unknown section 'extra'", 1)


def test_two_books_one_id_and_a_rule_defined_twice(books: Path) -> None:  # noqa: F811
    (books / "other.toml").write_text(GOOD, encoding="utf-8")
    error = _load_error(books, GOOD)
    assert error.reason == "rulebook id 'test' is also used by other.toml"  # the books load by name
    (books / "other.toml").write_text(GOOD.replace('id = "test"', 'id = "other"'), encoding="utf-8")
    error = _load_error(books, GOOD)
    assert error.reason.startswith("energy.test.kiln@A is defined twice (also ") and error.line == 5
    moved = GOOD.replace('id = "test"', 'id = "other"').replace('version = "A"', 'version = "B"')
    moved = moved.replace("2020-01-01", "2023-01-01").replace("2022-12-31", "2024-12-31")
    (books / "other.toml").write_text(
        moved.replace('dimension = "energy"', 'dimension = "technology"'), "utf-8"
    )
    error = _load_error(books, GOOD)
    assert error.reason == "rule 'energy.test.kiln' changes dimension between versions"


def test_looking_up_what_is_not_there() -> None:
    with pytest.raises(KeyError) as missing:
        LIB.version("energy.cement.clinker-energy", "Z")
    assert missing.value.args[0] == "unknown rule version energy.cement.clinker-energy@Z"
    with pytest.raises(KeyError) as missing:
        LIB.latest("no.such.rule")
    assert missing.value.args[0] == "unknown rule 'no.such.rule'"
    with pytest.raises(KeyError) as missing:
        LIB.rulebook("no-such-book")
    assert missing.value.args[0] == "unknown rulebook 'no-such-book'"
