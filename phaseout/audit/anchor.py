"""Anchors of the audit chain outside the database (等保 L3-CES1-12: the record protected from deletion).

The chain catches an entry edited, removed or reordered in the middle; what it cannot catch alone is the
newest entries deleted together with the chain head set back to the last one kept — someone with the
database owner's rights can do both. So the head is written out, regularly, to a place the database does
not hold: one line per anchor appended to AUDIT_ANCHOR_FILE, which production puts on another host or a
write-once volume (or ships to the log server). Each line carries the head's number and MAC, the time,
and its own HMAC-SM3 under the audit key, so a line cannot be forged without the key either.

`phaseout audit verify` reads the anchors: the entry each one names must still be in the chain with the
MAC it had; an anchor past the last entry means entries at the end were removed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy

from phaseout.audit import chain, sequencer
from phaseout.audit.models import ChainHead

SUMMARY = gettext_lazy("Audit chain anchored at entry %(anchored)d.")


@dataclass(frozen=True)
class Anchor:
    seq: int
    mac: str
    at: str
    key_version: int
    line_mac: str

    def content(self) -> bytes:
        return json.dumps(
            {"seq": self.seq, "mac": self.mac, "at": self.at, "key_version": self.key_version},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def genuine(self) -> bool:
        return chain.mac(self.key_version, chain.GENESIS, self.content()) == self.line_mac


def path() -> Path:
    return Path(settings.AUDIT_ANCHOR_FILE)


def write(*, now: dt.datetime) -> Anchor | None:
    """Link what waits, then append the chain head (its last link's position and MAC; nothing before the
    first entry); fsync'd before returning."""
    sequencer.run(wait=True)
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return None
    version = chain.current_version()
    draft = Anchor(head.seq, head.mac, chain.timestamp(now), version, "")
    anchor = Anchor(
        draft.seq, draft.mac, draft.at, version, chain.mac(version, chain.GENESIS, draft.content())
    )
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {**json.loads(anchor.content()), "line_mac": anchor.line_mac}
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def read() -> Iterator[Anchor | str]:
    """Every anchor line in order; a line that cannot be read is yielded as its text."""
    target = path()
    if not target.exists():
        return
    with target.open(encoding="utf-8", errors="replace") as fh:
        for text in fh:
            if not text.strip():
                continue
            try:
                raw = json.loads(text)
                yield Anchor(
                    int(raw["seq"]),
                    str(raw["mac"]),
                    str(raw["at"]),
                    int(raw["key_version"]),
                    str(raw["line_mac"]),
                )
            except (ValueError, KeyError, TypeError):
                yield text.strip()[:200]


def job(*, now: dt.datetime, today: dt.date) -> dict[str, int]:
    """The periodic job: anchor the head (with the sweep, every 15 minutes under Celery beat). The line is
    written once the sweep's transaction has committed, so an anchor never names an entry that was rolled
    back (which verify would then report as removed). Links what waits first (the sequencer's periodic run
    as well, where Celery beat does not run it more often)."""
    sequencer.run(wait=True)
    head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    transaction.on_commit(lambda: write(now=now))
    return {"anchored": head}
