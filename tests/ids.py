"""Test ids that survive a second pytest run in the same process.

pytest escapes non-ASCII characters of an explicit id (given by `ids=`) and, when `pytest.main` runs a
second time in one process, escapes the escaped id again (`\\u76ee` becomes `\\\\u76ee`). mutmut runs the
suite that way (its stats run, then the clean run of the same ids), so an escaped id is "not found" and
`make mutation` stops. Explicit ids are therefore kept ASCII, the other characters written as their code
points.
"""

from __future__ import annotations

import re

_OUTSIDE_ASCII = re.compile(r"[^\x20-\x7e]|\\")


def ascii_id(text: object) -> str:
    """`text` as an id pytest leaves as it is: 空.xlsx -> u7a7a.xlsx."""
    return _OUTSIDE_ASCII.sub(lambda m: f"u{ord(m[0]):04x}", str(text))
