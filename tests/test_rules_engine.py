"""The standards engine: shipped rules at, below and above their limits, corrections, versions,
rulebook load errors, and the column-wise batch agreeing with the exact evaluation."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from phaseout.rules.batch import ColumnsBuilder, evaluate_columns
from phaseout.rules.engine import FactsError, LineFacts, Quantity, Status, evaluate, evaluate_rule
from phaseout.rules.equipment import SIZE_UNITS
from phaseout.rules.rulebook import (
    RULEBOOK_DIR,
    Comparison,
    Rule,
    RulebookError,
    Verification,
    library,
    load_library,
)
from tests.ids import ascii_id

LIB = library()
STEP = D("0.0001")


def _facts_for(rule: Rule, *, size: D | None = None, value: D | None = None) -> LineFacts:
    """Facts of a line that the rule is about, with no correction inputs."""
    kind = rule.equipment_types[0] if rule.equipment_types else ""
    if size is None and rule.bands:
        band = rule.bands[0].size
        size = band.at_least or band.at_most or (band.above + 1 if band.above else None) or D(1)
        if band.below is not None and size >= band.below:
            size = band.below - 1
    if size is None and kind in SIZE_UNITS:
        size = D(100000)  # larger than every elimination threshold
    attributes: dict[str, D | str] = {}
    if rule.when_attribute:
        attributes[rule.when_attribute] = rule.when_equals
    measurements = {}
    if value is not None:
        measurements[rule.indicator] = Quantity(value, rule.unit)
    return LineFacts(
        industry=rule.industries[0] if rule.industries else "other",
        equipment_type=kind,
        size=size,
        size_unit=SIZE_UNITS.get(kind, "") if size is not None else "",
        process=rule.processes[0] if rule.processes else "",
        product=rule.products[0] if rule.products else "",
        attributes=attributes,
        measurements=measurements,
    )


def _status(rule: Rule, facts: LineFacts) -> Status | None:
    outcome = evaluate_rule(rule, facts)
    return outcome.status if outcome else None


def _batch_breaks(rule: Rule, facts: LineFacts) -> bool:
    builder = ColumnsBuilder(LIB)
    builder.add(facts)
    return (0, rule.key) in evaluate_columns(LIB, builder.build(), rule.effective_from).pairs()


MEASURED = [r for r in LIB.rules if r.comparison is not Comparison.ELIMINATED]
ELIMINATION = [r for r in LIB.rules if r.comparison is Comparison.ELIMINATED]


@pytest.mark.parametrize("rule", MEASURED, ids=lambda r: ascii_id(r.key))
def test_every_measured_rule_at_just_below_and_just_above_its_limit(rule: Rule) -> None:
    bands = rule.bands or (None,)
    for band in bands:
        size = None
        if band is not None:
            size = (
                band.size.at_least or band.size.at_most or (band.size.above + 1 if band.size.above else None)
            )
            if size is None:
                size = band.size.below - 1 if band.size.below is not None else D(1)
        limit = (band.limits if band else rule.limits)[rule.grade - 1]
        assert limit is not None
        worse, better = (limit + STEP, limit - STEP)
        if rule.comparison is Comparison.AT_LEAST:
            worse, better = better, worse
        expected = {limit: Status.COMPLIANT, better: Status.COMPLIANT, worse: Status.BREACH}
        for value, status in expected.items():
            facts = _facts_for(rule, size=size, value=value)
            assert _status(rule, facts) is status, (rule.key, band, value)
            assert _batch_breaks(rule, facts) is (status is Status.BREACH), (rule.key, band, value)
        # Without the measured value the rule cannot conclude.
        assert _status(rule, _facts_for(rule, size=size)) is Status.NOT_ASSESSED


@pytest.mark.parametrize("rule", ELIMINATION, ids=lambda r: ascii_id(r.key))
def test_every_elimination_rule_at_just_below_and_just_above_its_size(rule: Rule) -> None:
    if rule.size is None:
        assert _status(rule, _facts_for(rule)) is Status.BREACH
        assert _batch_breaks(rule, _facts_for(rule))
    else:
        inside, outside = {
            "at_most": (rule.size.at_most, (rule.size.at_most or D(0)) + STEP),
            "below": ((rule.size.below or D(0)) - STEP, rule.size.below),
        }["at_most" if rule.size.at_most is not None else "below"]
        assert _status(rule, _facts_for(rule, size=inside)) is Status.BREACH
        assert _batch_breaks(rule, _facts_for(rule, size=inside))
        assert _status(rule, _facts_for(rule, size=outside)) is None
        assert not _batch_breaks(rule, _facts_for(rule, size=outside))
        # An unknown size cannot be judged: it is reported, not guessed.
        unknown = replace(_facts_for(rule), size=None, size_unit="")
        assert _status(rule, unknown) is Status.NOT_ASSESSED
    # Equipment of another type is not concerned.
    other = LineFacts(industry=rule.industries[0], equipment_type="other")
    assert _status(rule, other) is None


# The grade-3 limits of the reference data (docs/reference-data.md), pinned here so that an edit
# to a rulebook that changes a shipped value fails a test.
PINNED = {
    ("energy.cement.cement-energy", "GB 16780-2021"): D(94),
    ("energy.cement.clinker-energy", "GB 16780-2021"): D(117),
    ("energy.cement.clinker-power", "GB 16780-2021"): D(61),
    ("energy.cement.clinker-coal", "GB 16780-2021"): D(109),
    ("energy.cement.grinding-power", "GB 16780-2021"): D(34),
    ("energy.steel.sintering", "GB 21256-2025"): D(52),
    ("energy.steel.pelletizing", "GB 21256-2025"): D(33),
    ("energy.steel.blast-furnace", "GB 21256-2025"): D(415),
    ("energy.steel.converter", "GB 21256-2025"): D(-12),
    ("energy.steel.blast-furnace", "GB 21256-2013"): D(435),
    ("energy.glass.cast-stone", "GB 21340-2019"): D(800),
    ("energy.carbide.calcium-carbide", "GB 21343-2023"): D(940),
    ("energy.aluminium.ingot-energy", "GB 21346-2022"): D(1720),
    ("energy.caustic.solid", "GB 21257-2024"): D(685),
    ("environment.cement.kiln-pm", "GB 4915-2013"): D(30),
    ("environment.steel.sinter-head-ultra-low-nox", "环大气〔2019〕35号"): D(50),
}


def test_shipped_values_match_the_reference() -> None:
    for (rule_id, version), limit in PINNED.items():
        assert LIB.version(rule_id, version).limits[2] == limit, rule_id
    glass = LIB.version("energy.glass.flat-glass", "GB 21340-2019")
    assert [b.limits for b in glass.bands] == [
        (None, None, D("14.0")),
        (D("9.5"), D("11.5"), D("13.5")),
        (D("8.0"), D("10.0"), D("12.0")),
    ]


def test_unconfirmed_values_ship_marked() -> None:
    assert LIB.version("energy.steel.blast-furnace", "GB 21256-2013").verification is Verification.UNCONFIRMED
    assert LIB.version("energy.cement.clinker-energy", "GB 16780-2012").uses_unconfirmed
    assert LIB.version("energy.cement.clinker-energy", "GB 16780-2021").verification is Verification.SECONDARY
    # Nothing in the reference is checked against an official text yet.
    assert not any(rule.verification is Verification.OFFICIAL for rule in LIB.rules)


def _limit(rule_id: str, on: dt.date, facts: LineFacts) -> D:
    outcome = next(o for o in evaluate(LIB, facts, on) if o.rule.id == rule_id)
    assert outcome.limit is not None
    return outcome.limit


def _line(kind: str, industry: str, size: str, unit: str, **attributes: D | str) -> LineFacts:
    return LineFacts(
        industry=industry, equipment_type=kind, size=D(size), size_unit=unit, attributes=attributes
    )


AFTER_2026 = dt.date(2026, 8, 1)


def test_clinker_ratio_correction_of_gb16780_2021() -> None:
    line = _line("clinker_line", "cement", "2500", "t/d", clinker_ratio=D(80))
    assert _limit("energy.cement.cement-energy", AFTER_2026, line) == D("100.00")  # 94 + 5 × 1.20
    line = _line("clinker_line", "cement", "2500", "t/d", clinker_ratio=D(70))
    assert _limit("energy.cement.cement-energy", AFTER_2026, line) == D("88.00")  # 94 − 5 × 1.20


def test_altitude_correction_applies_above_1500_m_only() -> None:
    high = _line("clinker_line", "cement", "2500", "t/d", altitude=D(2000), atmospheric_pressure=D(80000))
    factor = D("1.179") - D("0.211") * D(80000) / D(101325)
    assert _limit("energy.cement.clinker-energy", AFTER_2026, high) == D(117) * factor
    low = _line("clinker_line", "cement", "2500", "t/d", altitude=D(1500), atmospheric_pressure=D(80000))
    assert _limit("energy.cement.clinker-energy", AFTER_2026, low) == D(117)


def test_ore_and_feed_grade_corrections_of_gb21256_2025() -> None:
    furnace = _line("blast_furnace", "steel", "1200", "m3", rare_earth_ore_share=D(10), feed_iron_grade=D(60))
    assert _limit("energy.steel.blast-furnace", AFTER_2026, furnace) == D("415") + D("3.0") + D("7.22")
    capped = _line("blast_furnace", "steel", "1200", "m3", feed_iron_grade=D(50))
    assert _limit("energy.steel.blast-furnace", AFTER_2026, capped) == D("415") + D("18.05")  # 5 points
    rich = _line("blast_furnace", "steel", "1200", "m3", feed_iron_grade=D(65))
    assert _limit("energy.steel.blast-furnace", AFTER_2026, rich) == D("415")


def test_scrap_and_steel_grade_corrections_of_gb21256_2025() -> None:
    converter = _line("converter", "steel", "120", "t", scrap_ratio=D(20), steel_grade="quality_carbon")
    assert _limit("energy.steel.converter", AFTER_2026, converter) == D("-12") + D("4.60") + D("0.8")
    eaf = _line("electric_furnace", "steel", "40", "t", hot_metal_ratio=D(30))
    assert _limit("energy.steel.eaf", AFTER_2026, eaf) == D("86") - D("24.0")
    stainless = _line("electric_furnace", "steel", "80", "t", steel_grade="stainless")
    assert _limit("energy.steel.eaf", AFTER_2026, stainless) == D("72") * D("1.10")


def test_flat_glass_factors_and_coke_corrections() -> None:
    glass = _line(
        "flat_glass_line",
        "flat_glass",
        "900",
        "t/d",
        line_utilisation=D(90),
        glass_thickness_factor=D("1.05"),
    )
    assert _limit("energy.glass.flat-glass", AFTER_2026, glass) == D("12.0") * D("1.1") * D("1.05")
    oven = LineFacts(
        industry="coke",
        equipment_type="coke_oven",
        process="top_charging",
        attributes={"quenching": "wet", "oven_age": D(20)},
    )
    assert _limit("energy.coke.top-charging", AFTER_2026, oven) == D("135") + D("46.46") + D("2.5")


def test_the_version_in_force_on_the_day_is_used() -> None:
    furnace = LineFacts(
        industry="steel",
        equipment_type="blast_furnace",
        size=D(1200),
        size_unit="m3",
        measurements={"blast_furnace_energy": Quantity(D(420), "kgce/t")},
    )
    before = [
        o for o in evaluate(LIB, furnace, dt.date(2026, 6, 30)) if o.rule.id == "energy.steel.blast-furnace"
    ]
    after = [
        o for o in evaluate(LIB, furnace, dt.date(2026, 7, 1)) if o.rule.id == "energy.steel.blast-furnace"
    ]
    assert [(o.rule.version, o.status) for o in before] == [("GB 21256-2013", Status.COMPLIANT)]
    assert [(o.rule.version, o.status) for o in after] == [("GB 21256-2025", Status.BREACH)]
    # A 2021 clinker line is judged by the 2012 edition, a 2023 one by the 2021 edition.
    assert LIB.rule("energy.cement.clinker-energy", dt.date(2021, 6, 1)).version == "GB 16780-2012"  # type: ignore[union-attr]
    assert LIB.rule("energy.cement.clinker-energy", dt.date(2022, 11, 1)).version == "GB 16780-2021"  # type: ignore[union-attr]
    assert LIB.rule("energy.steel.eaf", dt.date(2021, 6, 1)) is None


def test_exemptions_by_process() -> None:
    foundry = LineFacts(
        industry="steel", equipment_type="blast_furnace", size=D(300), size_unit="m3", process="foundry_iron"
    )
    ids = {o.rule.id for o in evaluate(LIB, foundry, dt.date(2021, 6, 1)) if o.breach}
    assert "technology.steel.blast-furnace-400" not in ids
    ordinary = LineFacts(industry="steel", equipment_type="blast_furnace", size=D(300), size_unit="m3")
    ids = {o.rule.id for o in evaluate(LIB, ordinary, dt.date(2021, 6, 1)) if o.breach}
    assert "technology.steel.blast-furnace-400" in ids


def test_facts_in_the_wrong_unit_are_refused() -> None:
    wrong = LineFacts(
        industry="cement",
        equipment_type="clinker_line",
        measurements={"clinker_energy": Quantity(D(100), "kWh/t")},
    )
    with pytest.raises(FactsError, match="unit mismatch"):
        evaluate(LIB, wrong, AFTER_2026)
    with pytest.raises(FactsError, match="unit mismatch"):
        evaluate(LIB, _line("blast_furnace", "steel", "300", "t"), AFTER_2026)
    with pytest.raises(FactsError, match="no category"):
        evaluate(LIB, _line("converter", "steel", "30", "t", steel_grade="gold"), AFTER_2026)


def test_batch_agrees_with_the_exact_evaluation_on_random_lines() -> None:
    rng = random.Random(20261122)
    kinds = {
        "clinker_line": ("cement", ["clinker_energy", "cement_energy", "clinker_power", "pm_concentration"]),
        "cement_mill": ("cement", ["cement_energy", "cement_grinding_power"]),
        "blast_furnace": ("steel", ["blast_furnace_energy", "pm_concentration", "ultra_low_hours_share"]),
        "converter": ("steel", ["converter_energy"]),
        "electric_furnace": ("steel", ["eaf_energy"]),
        "sintering_machine": ("steel", ["sintering_energy", "nox_concentration", "so2_concentration"]),
        "flat_glass_line": ("flat_glass", ["flat_glass_energy"]),
        "coke_oven": ("coke", ["coke_energy"]),
        "other": ("calcium_carbide", ["calcium_carbide_energy", "unqualified_batches"]),
    }
    vocabulary = LIB.vocabulary
    lines = []
    for _ in range(3000):
        kind = rng.choice(list(kinds))
        industry, indicators = kinds[kind]
        attributes: dict[str, D | str] = {}
        for name in rng.sample(sorted(vocabulary.attributes), 4):
            attribute = vocabulary.attributes[name]
            if attribute.categorical:
                attributes[name] = rng.choice(sorted(attribute.categories))
            else:
                attributes[name] = D(rng.randint(0, 2000)) / 10
        if rng.random() < 0.3:
            attributes["altitude"] = D(2000)
            attributes["atmospheric_pressure"] = D(rng.randint(70000, 100000))
        measurements = {}
        for code in indicators:
            if rng.random() < 0.8:
                # Often exactly on a round limit, to test the boundary.
                value = D(rng.choice([0, 12, 30, 61, 94, 95, 117, 415, 435, 940, 50, 200, -12]))
                value += D(rng.choice([0, 0, 1, -1])) * STEP * rng.choice([1, 1000, 100000])
                measurements[code] = Quantity(value, vocabulary.measurements[code].unit)
        unit = SIZE_UNITS.get(kind, "")
        lines.append(
            LineFacts(
                industry=industry,
                equipment_type=kind,
                size=D(rng.choice([3, 20, 30, 50, 90, 200, 400, 500, 800, 1000, 2500, 4000]))
                if unit
                else None,
                size_unit=unit,
                process=rng.choice(
                    ["", "", "foundry_iron", "top_charging", "vertical_kiln", "ferroalloy_converter"]
                ),
                attributes=attributes,
                measurements=measurements,
            )
        )
    builder = ColumnsBuilder(LIB)
    for facts in lines:
        builder.add(facts)
    columns = builder.build()
    for day in (dt.date(2010, 5, 1), dt.date(2021, 6, 1), dt.date(2024, 3, 1), AFTER_2026):
        exact = {
            (i, o.rule.key) for i, facts in enumerate(lines) for o in evaluate(LIB, facts, day) if o.breach
        }
        assert exact, day
        assert evaluate_columns(LIB, columns, day).pairs() == exact, day


# --- load errors ------------------------------------------------------------------------------------


@pytest.fixture
def books(tmp_path: Path) -> Path:
    shutil.copy(RULEBOOK_DIR / "vocabulary.toml", tmp_path / "vocabulary.toml")
    return tmp_path


GOOD = """[rulebook]
id = "test"
title = "测试"

[[rule]]
id = "energy.test.kiln"
version = "A"
title = "熟料综合能耗"
dimension = "energy"
source = "GB 0000"
effective_from = 2020-01-01
effective_until = 2022-12-31
industries = ["cement"]
equipment_types = ["clinker_line"]
indicator = "clinker_energy"
unit = "kgce/t"
comparison = "at_most"
limits = [100, 107, 117]
consequence = "rectify"
departments = ["industry_it"]
verification = "secondary"
"""


def _load_error(books: Path, text: str) -> RulebookError:
    (books / "test.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as caught:
        load_library(books)
    return caught.value


def test_a_good_rulebook_loads(books: Path) -> None:
    (books / "test.toml").write_text(GOOD, encoding="utf-8")
    assert [r.key for r in load_library(books).rules] == ["energy.test.kiln@A"]


def test_malformed_toml_names_file_and_line(books: Path) -> None:
    error = _load_error(books, GOOD.replace('title = "熟料综合能耗"', 'title = "熟料综合能耗'))
    assert (error.file, error.line) == ("test.toml", 8)
    assert "not valid TOML" in error.reason


def test_a_unit_mismatch_is_refused_at_load(books: Path) -> None:
    error = _load_error(books, GOOD.replace('unit = "kgce/t"', 'unit = "kWh/t"'))
    assert (error.file, error.line) == ("test.toml", 16)
    assert "unit mismatch" in error.reason and "kgce/t" in error.reason
    assert str(error).startswith("test.toml:16: ")


def test_two_versions_in_force_on_one_day_are_refused(books: Path) -> None:
    second = GOOD.split("[[rule]]")[1].replace('version = "A"', 'version = "B"')
    second = second.replace("effective_until = 2022-12-31\n", "")
    second = second.replace("effective_from = 2020-01-01", "effective_from = 2022-12-31")
    error = _load_error(books, GOOD + "\n[[rule]]" + second)
    assert error.line == 23
    assert "two versions" in error.reason and "test.toml:5" in error.reason
    # The day after, it is a clean succession.
    (books / "test.toml").write_text(
        GOOD + "\n[[rule]]" + second.replace("2022-12-31", "2023-01-01", 1), encoding="utf-8"
    )
    assert [r.version for r in load_library(books).versions["energy.test.kiln"]] == ["A", "B"]


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("limits = [100, 107, 117]", "limits = [100, 107]"), 18, "one value per grade"),
        (('verification = "secondary"', 'verification = "sure"'), 21, "expected one of"),
        (('indicator = "clinker_energy"', 'indicator = "clinker_energi"'), 15, "unknown indicator"),
        (
            ('industries = ["cement"]', 'industries = ["cement"]\nsize_at_most = 400\nsize_unit = "m3"'),
            15,
            "unit mismatch",
        ),
        (
            ('departments = ["industry_it"]', 'departments = ["industry_it"]\nlimit = 3'),
            21,
            "unknown key 'limit'",
        ),
        (('source = "GB 0000"\n', ""), 5, "missing key 'source'"),
        (("effective_until = 2022-12-31", "effective_until = 2019-12-31"), 12, "before"),
    ],
)
def test_load_errors_name_the_line_and_reason(
    books: Path, change: tuple[str, str], line: int, reason: str
) -> None:
    error = _load_error(books, GOOD.replace(*change))
    assert error.line == line, error
    assert reason in error.reason, error


def test_a_correction_reading_an_unknown_attribute_is_refused(books: Path) -> None:
    text = (
        GOOD
        + '\n[[rule.correction]]\nkind = "per_point"\nattribute = "clinker"\n'
        + 'coefficient = 1\ndescription = "x"\n'
    )
    error = _load_error(books, text)
    assert error.line == 25 and "unknown attribute" in error.reason


_ALTITUDE = {"altitude": D(2000), "atmospheric_pressure": D(80000)}
_FACTOR = D("1.179") - D("0.211") * D(80000) / D(101325)
_KILN = ("clinker_line", "cement", "2500", "t/d")
_SINTER = ("sintering_machine", "steel", "180", "m2")
_PELLET = ("pellet_shaft_furnace", "steel", "16", "m2")
_FURNACE = ("blast_furnace", "steel", "1200", "m3")

# Every correction of every shipped rule, one input at a time, with the limit worked out by hand.
CORRECTIONS = [
    ("energy.cement.cement-energy", _KILN, _ALTITUDE, D(94) * _FACTOR),
    ("energy.cement.clinker-power", _KILN, _ALTITUDE, D(61) * _FACTOR),
    ("energy.cement.clinker-coal", _KILN, _ALTITUDE, D(109) * _FACTOR),
    ("energy.steel.sintering", _SINTER, {"rare_earth_ore_share": D(10)}, D("53.5")),
    ("energy.steel.sintering", _SINTER, {"vti_ore_share": D(10)}, D("54")),
    ("energy.steel.sintering", _SINTER, {"laterite_ore_share": D(10)}, D("64")),
    ("energy.steel.pelletizing", _PELLET, {"rare_earth_ore_share": D(10)}, D("34.5")),
    ("energy.steel.pelletizing", _PELLET, {"vti_ore_share": D(10)}, D("35")),
    ("energy.steel.pelletizing", _PELLET, {"laterite_ore_share": D(10)}, D("45")),
    ("energy.steel.blast-furnace", _FURNACE, {"vti_ore_share": D(10)}, D("419.5")),
    ("energy.steel.blast-furnace", _FURNACE, {"laterite_ore_share": D(10)}, D("420")),
    (
        "energy.steel.converter",
        ("converter", "steel", "120", "t"),
        {"steel_grade": "deep_drawing_pipeline"},
        D("-10.5"),
    ),
    (
        "energy.steel.converter",
        ("converter", "steel", "120", "t"),
        {"steel_grade": "bearing_gear_tool"},
        D("-10.8"),
    ),
    (
        "energy.steel.eaf",
        ("electric_furnace", "steel", "40", "t"),
        {"steel_grade": "quality_carbon"},
        D("94"),
    ),
    (
        "energy.steel.eaf",
        ("electric_furnace", "steel", "60", "t"),
        {"steel_grade": "bearing_gear_tool"},
        D("87"),
    ),
    (
        "energy.glass.flat-glass",
        ("flat_glass_line", "flat_glass", "600", "t/d"),
        {"glass_iron_factor": D("1.02")},
        D("13.77"),
    ),
    (
        "energy.glass.flat-glass",
        ("flat_glass_line", "flat_glass", "400", "t/d"),
        {"line_utilisation": D(85)},
        D("14.0"),
    ),
]


@pytest.mark.parametrize(("rule_id", "line", "inputs", "expected"), CORRECTIONS)
def test_each_correction_by_hand(
    rule_id: str, line: tuple[str, str, str, str], inputs: dict[str, D | str], expected: D
) -> None:
    facts = _line(*line, **inputs)
    assert _limit(rule_id, AFTER_2026, facts) == expected
    # The column-wise evaluation breaks at the same point: on the limit is not a breach, just above is.
    # (A limit with more than four decimals, from the altitude factor, is bracketed instead.)
    rule = LIB.rule(rule_id, AFTER_2026)
    assert rule is not None
    exact = expected == expected.quantize(STEP)
    below = expected if exact else expected.quantize(STEP, rounding="ROUND_FLOOR")
    above = expected + STEP if exact else expected.quantize(STEP, rounding="ROUND_CEILING")
    for value, breaks in ((below, False), (above, True)):
        measured = replace(facts, measurements={rule.indicator: Quantity(value, rule.unit)})
        assert _batch_breaks(rule, measured) is breaks, (rule_id, value)


def test_stamp_charged_coke_corrections() -> None:
    oven = LineFacts(
        industry="coke",
        equipment_type="coke_oven",
        process="stamp_charging",
        attributes={"quenching": "wet", "oven_age": D(30)},
    )
    assert _limit("energy.coke.stamp-charging", AFTER_2026, oven) == D("140") + D("46.46") + D("5.5")
    dry = replace(oven, attributes={"quenching": "dry", "oven_age": D(15)})
    assert _limit("energy.coke.stamp-charging", AFTER_2026, dry) == D("140")  # 15 years is not over 15
