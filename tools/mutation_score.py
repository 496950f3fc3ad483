"""The share of mutants killed, from what `mutmut results --all true` prints (one `    name: status` line
per mutant), read on standard input:

    mutmut results --all true | python tools/mutation_score.py [PATH ...]

PATHs (files or folders, as given to `make mutation MUTATE=...`) narrow the count to those modules.

How the statuses are counted (mutmut 3.8's names):
- killed: "killed" and "timeout" (a mutant that makes the tests hang is noticed);
- not killed, in the total: "survived", "no tests" (no test reaches the function: a gap all the same),
  "suspicious" (the tests took far longer than usual, yet passed), "segfault" (the worker was killed
  by a signal other than the CPU limit's), "caught by type check" (not used here);
- left out of the total: "skipped" (mutmut's own badge leaves them out too);
- "not checked" or "check was interrupted by user": the run did not finish; they are in the total,
  shown, and the script exits 1.

The last line printed is `mutation: KILLED/TOTAL killed (P%)`.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

KILLED = {"killed", "timeout"}
LEFT_OUT = {"skipped"}
UNFINISHED = {"not checked", "check was interrupted by user"}


@dataclass
class Score:
    by_status: Counter[str] = field(default_factory=Counter)
    not_killed_by_file: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(self.by_status[s] for s in KILLED)

    @property
    def total(self) -> int:
        return sum(n for s, n in self.by_status.items() if s not in LEFT_OUT)

    @property
    def unfinished(self) -> int:
        return sum(self.by_status[s] for s in UNFINISHED)

    def last_line(self) -> str:
        share = 100.0 * self.killed / self.total if self.total else 0.0
        return f"mutation: {self.killed}/{self.total} killed ({share:.1f}%)"


def module_of(mutant: str) -> str:
    """phaseout.rules.case_flow.x_advance__mutmut_3 -> phaseout.rules.case_flow (methods read
    xǁClassǁmethod__mutmut_N: no dot either)."""
    return mutant.rpartition(".")[0]


def file_of(module: str) -> str:
    return module.replace(".", "/") + ".py"


def prefix_of(path: str) -> str:
    """phaseout/rules/ -> phaseout.rules; phaseout/cases/actions.py -> phaseout.cases.actions."""
    path = path.strip().rstrip("/").removeprefix("./")
    return path.removesuffix(".py").replace("/", ".")


def selected(module: str, prefixes: list[str]) -> bool:
    return not prefixes or any(module == p or module.startswith(p + ".") for p in prefixes)


def score(lines: Iterable[str], paths: Iterable[str] = ()) -> Score:
    prefixes = [prefix_of(p) for p in paths if p.strip()]
    result = Score()
    for line in lines:
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = module_of(name)
        if not selected(module, prefixes):
            continue
        result.by_status[status] += 1
        if status not in KILLED | LEFT_OUT | UNFINISHED:
            result.not_killed_by_file.setdefault(file_of(module), Counter())[status] += 1
    return result


def report(result: Score) -> list[str]:
    counts = ", ".join(f"{status} {n}" for status, n in sorted(result.by_status.items()))
    lines = [f"mutants by status: {counts}"]
    files = sorted(result.not_killed_by_file.items(), key=lambda item: (-item[1].total(), item[0]))
    if files:
        lines.append("not killed, by file (top 10):")
        for path, statuses in files[:10]:
            detail = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
            lines.append(f"  {statuses.total():5d}  {path}  ({detail})")
    if result.unfinished:
        lines.append(f"the run did not finish: {result.unfinished} mutants not checked")
    lines.append(result.last_line())
    return lines


def main(argv: list[str]) -> int:
    result = score(sys.stdin, argv)
    if not result.by_status:
        print("mutation: no mutants found (run `mutmut run` first, or check MUTATE)", file=sys.stderr)
        return 1
    print("\n".join(report(result)))
    return 1 if result.unfinished else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
