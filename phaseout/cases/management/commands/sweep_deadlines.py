import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from phaseout.cases.sweep import sweep


class Command(BaseCommand):
    help = "Mark overdue rectification orders and exit measures and escalate them (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(sweep(today=options["today"])))
