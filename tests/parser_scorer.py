"""Score the plan parser against the labelled corpus in tests/data/parser_corpus/.

Each document is a pair: NN-name.txt (the text as an official document prints it: 版头, 发文字号, 标题,
主送机关, 正文, 附件说明, 发文机关署名, 成文日期, 版记) and NN-name.json (its labels, written from what
the document says, not from what the parser returns):

    {"year": 2021 (optional: the year given at import),
     "metadata": {"doc_number", "title", "issuer", "recipients": [...], "issue_date", "kind"},
     "dates": ["YYYY-MM-DD", ...],       # every date the body states or resolves to (deadlines, ends of
                                          # periods), not the signature date and not dates inside citations
     "tasks": [{"key": "words of the task", "deadline": "YYYY-MM-DD" | null,
                "units": [["name as written", "lead|supporting|responsible|receiver"], ...]}]}

Four categories, precision and recall each:
- metadata: number, title, issuer, issue date and kind are one item each, each recipient one item; an
  item counts as found when the parser gives a value, right when it equals the label.
- dates: the set of dates the parser resolved (every time expression and task deadline) against the
  labelled set. A date that is neither labelled nor the issue date is *invented*: the document never says it.
- tasks: a labelled task is found when a parser task contains its key and has the same deadline (one parser
  task per labelled task); precision is the share of parser tasks that match a labelled one.
- units and roles: (task, name, role) triples. Recall over every labelled triple (a task not found loses its
  units); precision over the units of the parser tasks that matched, so a spurious task is counted once,
  under tasks.

Run it alone: `DEBUG=true .venv/bin/python -m tests.parser_scorer` (add -v for every miss).
"""

from __future__ import annotations

import json
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.plans.parser import NotAPlan, ParsedPlan, parse

CORPUS = Path(__file__).resolve().parent / "data" / "parser_corpus"
CATEGORIES = ("metadata", "dates", "units", "tasks")


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass
class Tally:
    right: int = 0  # found and right
    found: int = 0  # the parser gave it
    expected: int = 0  # the label has it

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0


@dataclass
class Score:
    documents: int = 0
    tallies: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    invented: list[tuple[str, str]] = field(default_factory=list)  # (document, date)
    refused: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"parser corpus: {self.documents} documents"]
        for name in CATEGORIES:
            t = self.tallies[name]
            lines.append(
                f"  {name:9} precision {t.precision:6.1%} ({t.right}/{t.found})"
                f"  recall {t.recall:6.1%} ({t.right}/{t.expected})"
            )
        lines.append(
            f"  invented dates: {len(self.invented)} {self.invented if self.invented else ''}".rstrip()
        )
        lines.append(f"  refused: {len(self.refused)} {self.refused if self.refused else ''}".rstrip())
        return "\n".join(lines)


def _metadata(doc: str, labels: dict[str, Any], plan: ParsedPlan | None, score: Score) -> None:
    tally = score.tallies["metadata"]
    got: dict[str, str] = {}
    if plan is not None:
        got = {
            "doc_number": plan.doc_number,
            "title": plan.title,
            "issuer": plan.issuer,
            "issue_date": plan.issue_date.isoformat() if plan.issue_date else "",
            "kind": plan.kind,
        }
    for key in ("doc_number", "title", "issuer", "issue_date", "kind"):
        want, have = norm(labels.get(key) or ""), norm(got.get(key, ""))
        tally.expected += bool(want)
        tally.found += bool(have)
        if want and have == want:
            tally.right += 1
        elif want or have:
            score.misses.append(f"{doc} metadata {key}: want {want!r}, got {have!r}")
    want_r = [norm(r) for r in labels.get("recipients", [])]
    have_r = [norm(r) for r in (plan.recipients if plan else [])]
    tally.expected += len(want_r)
    tally.found += len(have_r)
    right = len(set(want_r) & set(have_r))
    tally.right += right
    if right != len(want_r) or right != len(have_r):
        score.misses.append(f"{doc} recipients: want {want_r}, got {have_r}")


def _dates(doc: str, labels: dict[str, Any], plan: ParsedPlan | None, score: Score) -> None:
    tally = score.tallies["dates"]
    want = set(labels.get("dates", []))
    have: set[str] = set()
    if plan is not None:
        have = {t.date.isoformat() for t in plan.times if t.date}
        have |= {t.deadline.isoformat() for t in plan.tasks if t.deadline}
    tally.expected += len(want)
    tally.found += len(have)
    tally.right += len(want & have)
    for missing in sorted(want - have):
        score.misses.append(f"{doc} date missed: {missing}")
    issue = labels["metadata"].get("issue_date")
    for extra in sorted(have - want):
        if extra != issue:
            score.invented.append((doc, extra))
        score.misses.append(f"{doc} date not labelled: {extra}")


def _tasks(doc: str, labels: dict[str, Any], plan: ParsedPlan | None, score: Score) -> None:
    tasks, units = score.tallies["tasks"], score.tallies["units"]
    parsed = plan.tasks if plan is not None else []
    used: set[int] = set()
    tasks.expected += len(labels["tasks"])
    tasks.found += len(parsed)
    for task in labels["tasks"]:
        key, deadline = norm(task["key"]), task["deadline"]
        want_units = {(norm(n), r) for n, r in task["units"]}
        units.expected += len(want_units)
        match = next(
            (
                i
                for i, p in enumerate(parsed)
                if i not in used
                and key in norm(p.text)
                and (p.deadline.isoformat() if p.deadline else None) == deadline
            ),
            None,
        )
        if match is None:
            near = [(p.text[:40], p.deadline) for p in parsed if key in norm(p.text)]
            score.misses.append(f"{doc} task missed: {task['key']} ({deadline}); near: {near}")
            continue
        used.add(match)
        tasks.right += 1
        have_units = {(norm(u.name), u.role) for u in parsed[match].units}
        units.found += len(have_units)
        units.right += len(want_units & have_units)
        if want_units != have_units:
            score.misses.append(
                f"{doc} units of {task['key']}: missed {sorted(want_units - have_units)}, "
                f"extra {sorted(have_units - want_units)}"
            )
    for i, p in enumerate(parsed):
        if i not in used:
            score.misses.append(f"{doc} task not labelled: {p.text[:60]} ({p.deadline})")


def score_corpus(corpus: Path = CORPUS) -> Score:
    score = Score()
    for text_file in sorted(corpus.glob("*.txt")):
        doc = text_file.stem
        labels = json.loads(text_file.with_suffix(".json").read_text(encoding="utf-8"))
        plan: ParsedPlan | None
        try:
            plan = parse(text_file.read_text(encoding="utf-8"), year=labels.get("year"))
        except NotAPlan as exc:
            plan = None
            score.refused.append(f"{doc}: {exc.code}")
        score.documents += 1
        _metadata(doc, labels["metadata"], plan, score)
        _dates(doc, labels, plan, score)
        _tasks(doc, labels, plan, score)
    return score


def main(argv: list[str]) -> int:
    score = score_corpus()
    print(score.report())
    if "-v" in argv:
        print("\n".join(score.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
