"""pytest plugin for `make mutation` only (loaded by [tool.mutmut] pytest_add_cli_args with -p).

mutmut 3 runs pytest in its own process over the copy in mutants/ (recording which tests reach which
function), then forks one child per mutant, two at a time here, each running only those tests.

- Test database: the runs before the mutants keep the SQLite test database (--reuse-db). Each mutant's
  child copies that file and works on its own copy: two children never share one SQLite file (a
  transactional test of one would flush the other's rows, and write locks would stall both), and no
  child spends seconds running the migrations again.
- Hypothesis: no deadline (every call into mutated code goes through mutmut's trampoline, which is
  slower, and two children share two cores), and derandomised, so that a mutant's verdict does not
  depend on the examples drawn that time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

_own_copy: Path | None = None


def _in_a_mutant_child() -> bool:
    # mutmut names the mutant under test in this variable; outside the children it holds
    # "stats", "fail", "list_all_tests" or nothing.
    return "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", "")


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    settings.register_profile("mutmut", deadline=None, derandomize=True, database=None)
    settings.load_profile("mutmut")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _own_copy
    if not _in_a_mutant_child():
        return
    from django.conf import settings

    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("sqlite3"):
        return
    test = database.setdefault("TEST", {})
    kept = Path(test["NAME"])
    _own_copy = kept.with_name(f"{kept.stem}-{os.getpid()}{kept.suffix}")
    if kept.exists():
        shutil.copyfile(kept, _own_copy)
    # The same dictionary is the connection's settings, so the test database is now the copy.
    test["NAME"] = str(_own_copy)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _own_copy is not None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{_own_copy}{suffix}").unlink(missing_ok=True)
