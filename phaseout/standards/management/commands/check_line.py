"""Read one line's description as JSON and print what it breaks, as JSON.

Input (a file or standard input):
    {"industry": "steel", "equipment_type": "blast_furnace", "size": {"value": 380, "unit": "m3"},
     "process": "", "product": "", "attributes": {"feed_iron_grade": 60},
     "measurements": {"blast_furnace_energy": {"value": 430, "unit": "kgce/t"}}}
Output: {"date": ..., "findings": [...breaches...], "not_assessed": [...rules lacking a value...]}
A description the engine cannot read exits with status 2 and {"error": "..."} on standard output.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from phaseout.rules.engine import FactsError, Status, evaluate, facts_from_json, outcome_json
from phaseout.rules.rulebook import library


class Command(BaseCommand):
    help = "What does this line break? One line's description as JSON in, its findings as JSON out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="-", help="JSON file, or - for standard input")
        parser.add_argument("--date", type=dt.date.fromisoformat, help="judge by the rules in force that day")

    def handle(self, *args: Any, **options: Any) -> None:
        on = options["date"] or timezone.localdate()
        try:
            if options["file"] == "-":
                text = sys.stdin.read()
            else:
                with open(options["file"], encoding="utf-8") as handle:
                    text = handle.read()
            data = json.loads(text)
            lib = library()
            outcomes = evaluate(lib, facts_from_json(data, lib.vocabulary), on)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, FactsError) as exc:
            self.stdout.write(json.dumps({"error": str(exc)}, ensure_ascii=False))
            sys.exit(2)
        report = {
            "date": on.isoformat(),
            "findings": [outcome_json(o, lib) for o in outcomes if o.status is Status.BREACH],
            "not_assessed": [outcome_json(o, lib) for o in outcomes if o.status is Status.NOT_ASSESSED],
        }
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
