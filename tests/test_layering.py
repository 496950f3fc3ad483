"""The apps are layered: no import cycle between them, and none uses another's private names.

Imports are read from the source as /work/shared/tools/app_cycles.py reads them (module-level and
in-function alike: an import moved into a function is still a tie). The intended order, bottom to
top: rules, audit < orgs < web < messaging, registry < standards < cases < {plans, credit, complaints,
disclosure, prices} < reports < province; top-level modules (phaseout/*.py) may import anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "phaseout"
APPS = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _imports() -> Iterator[tuple[str, Path, ast.Import | ast.ImportFrom, str]]:
    """(importing app, file, import node, imported app) for every import of another app."""
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if "migrations" in parts or len(parts) < 2 or parts[0] not in APPS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                bits = module.split(".")
                if len(bits) >= 2 and bits[0] == "phaseout" and bits[1] in APPS and bits[1] != parts[0]:
                    yield parts[0], path, node, bits[1]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one app (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_apps() -> None:
    edges: dict[str, set[str]] = {app: set() for app in APPS}
    for source, _path, _node, target in _imports():
        edges[source].add(target)
    assert {"cases", "orgs", "registry", "web"} <= APPS  # the walk sees the apps
    assert edges["reports"]  # and their imports
    assert _cycles(edges) == []


def test_no_app_imports_a_private_name_of_another() -> None:
    private = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno} {alias.name}"
        for _source, path, node, _target in _imports()
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


LAYER = {
    "crypto": -1,  # below the audit trail, whose chain is HMAC-SM3 through it
    "rules": 0,
    "audit": 0,
    "orgs": 1,
    "web": 2,
    "identity": 3,
    "messaging": 3,  # the message centre: the apps above tell people through it
    "registry": 3,
    "standards": 4,
    "cases": 5,
    "plans": 6,
    "credit": 6,
    "complaints": 6,
    "disclosure": 8,  # the public lists read the cases and the data checks
    "prices": 6,
    "signals": 6,  # power use, furnaces, signals: reads cases; monitoring raises signals through it
    "monitoring": 7,  # online monitoring: its data checks open cases and raise signals
    "reports": 8,
    "province": 9,  # the year summary up the chain: reads the reports' figures, the plans' approval rule
    "operations": 10,  # backup, restore, doctor: they read the whole installation
}


def test_every_app_imports_only_apps_below_it() -> None:
    assert set(LAYER) == APPS  # a new app takes its place here
    upward = sorted(
        f"{path.relative_to(ROOT.parent)}:{node.lineno} {source} -> {target}"
        for source, path, node, target in _imports()
        if LAYER[target] >= LAYER[source]
    )
    assert upward == []
