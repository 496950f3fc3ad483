"""phaseout plan-parse FILE [--year YYYY] [--json]: what the parser reads in a plan document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from phaseout.plans.documents import UnreadableDocument, read_text
from phaseout.plans.parser import NotAPlan, parse


class Command(BaseCommand):
    help = "Parse an official plan document (.txt, .docx, .pdf): metadata, tasks, units and dates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--year", type=int, help="the plan's year, when the document does not say")
        parser.add_argument(
            "--json", action="store_true", help="print JSON (the default output is a summary)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            plan = parse(read_text(path.name, path.read_bytes()), year=options["year"])
        except (OSError, UnreadableDocument, NotAPlan) as exc:
            message = str(exc) if not isinstance(exc, OSError) else f"无法读取文件：{exc.strerror}"
            if options["json"]:
                self.stdout.write(json.dumps({"error": message}, ensure_ascii=False))
            else:
                self.stderr.write(message)
            sys.exit(2)
        if options["json"]:
            self.stdout.write(json.dumps(plan.as_json(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{plan.doc_number}  {plan.issuer}  {plan.title}  ({plan.year})")
        for task in plan.tasks:
            when = task.deadline.isoformat() if task.deadline else "—"
            units = "、".join(f"{u.name}[{u.role}]" for u in task.units)
            self.stdout.write(f"{task.number:10} {when:10}  {units}  {task.text[:40]}")
        for expr in plan.times:
            resolved = expr.date.isoformat() if expr.date else expr.reason
            self.stdout.write(f"  {expr.text} → {resolved}{'  [需复核]' if expr.needs_review else ''}")
