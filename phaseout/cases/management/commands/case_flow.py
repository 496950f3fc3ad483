"""`phaseout case-flow [--json] [--dimension D]`: every dimension's legal path — states, actions, who may
take each, the clocks with their source and verification, and which steps need whose approval."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from phaseout.rules import case_flow


class Command(BaseCommand):
    help = "Print every dimension's case path: states, steps, roles, clocks and approvals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--dimension", choices=[d.value for d in case_flow.Dimension])

    def handle(self, *args: Any, **options: Any) -> None:
        described = case_flow.describe()
        if options["dimension"]:
            described["paths"] = [p for p in described["paths"] if p["dimension"] == options["dimension"]]
        if options["json"]:
            self.stdout.write(json.dumps(described, ensure_ascii=False, indent=1))
            return
        for path in described["paths"]:
            self.stdout.write(path["dimension"])
            for step in path["steps"]:
                target = step["to"] or "(unchanged)"
                line = (
                    f"  {step['action']}: {', '.join(step['from'])} -> {target} [{', '.join(step['roles'])}]"
                )
                if step["approval"]:
                    line += f" approval: {step['approval']}"
                if step["clock"]:
                    clock = step["clock"]
                    line += f" clock: {clock['months'] or 'until lifted'} months ({clock['verification']})"
                self.stdout.write(line)
