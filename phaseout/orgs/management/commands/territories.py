"""phaseout territories load [--province 44] [--file PATH]: load a province's administrative divisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phaseout.orgs import territories


class Command(BaseCommand):
    help = "Load a province's territories (GB/T 2260) from phaseout/data/territories/ or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["load"])
        parser.add_argument(
            "--province", default="44", help="the province's two-digit prefix (44: Guangdong)"
        )
        parser.add_argument("--file", help="a territories file of the same format instead of the shipped one")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = Path(options["file"]) if options["file"] else territories.file_for(options["province"])
        except territories.TerritoryFileError as exc:
            raise CommandError(str(exc)) from None
        if not path.is_file():
            raise CommandError(f"no territories file {path}")
        try:
            rows = territories.read(path)
        except territories.TerritoryFileError as exc:
            raise CommandError(str(exc)) from None
        counted = territories.load(rows, source=path.name)
        self.stdout.write(
            f"{rows[0].name} {rows[0].code}: " + ", ".join(f"{level} {n}" for level, n in counted.items())
        )
