"""tools/mutation_score.py reads what `mutmut results --all true` prints and counts it as documented."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "mutation_score.py"
spec = importlib.util.spec_from_file_location("mutation_score", SCRIPT)
assert spec is not None and spec.loader is not None
mutation_score = importlib.util.module_from_spec(spec)
sys.modules["mutation_score"] = mutation_score  # dataclasses look their module up
spec.loader.exec_module(mutation_score)

RESULTS = """\
    phaseout.rules.case_flow.x_advance__mutmut_1: killed
    phaseout.rules.case_flow.x_advance__mutmut_2: timeout
    phaseout.rules.case_flow.x_advance__mutmut_3: survived
    phaseout.rules.deadlines.x_due__mutmut_1: no tests
    phaseout.rules.deadlines.x_due__mutmut_2: skipped
    phaseout.rules.engine.xǁEngineǁrun__mutmut_1: suspicious
    phaseout.cases.actions.x_open_case__mutmut_1: killed
    phaseout.cases.actions.x_open_case__mutmut_2: survived
"""


def test_killed_and_timeouts_count_as_killed_and_skipped_ones_are_left_out() -> None:
    result = mutation_score.score(RESULTS.splitlines())
    assert result.last_line() == "mutation: 3/7 killed (42.9%)"
    assert result.not_killed_by_file["phaseout/rules/engine.py"] == {"suspicious": 1}
    assert result.unfinished == 0


def test_paths_narrow_the_count_to_their_modules() -> None:
    assert mutation_score.score(RESULTS.splitlines(), ["phaseout/rules/case_flow.py"]).last_line() == (
        "mutation: 2/3 killed (66.7%)"
    )
    assert mutation_score.score(RESULTS.splitlines(), ["phaseout/cases/"]).last_line() == (
        "mutation: 1/2 killed (50.0%)"
    )
    # A module's name is not a prefix of another's: rules.case does not take rules.case_flow.
    assert not mutation_score.score(RESULTS.splitlines(), ["phaseout/rules/case.py"]).by_status


def test_an_unfinished_run_is_said_and_fails(capsys, monkeypatch) -> None:
    unfinished = RESULTS + "    phaseout.rules.batch.x_f__mutmut_1: not checked\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(unfinished))
    assert mutation_score.main([]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "the run did not finish: 1 mutants not checked" in out
    assert out[-1] == "mutation: 3/8 killed (37.5%)"
