from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phaseout.registry.importer import RegisterFileError, apply_register, read_register


class Command(BaseCommand):
    help = "Check an enterprise register (.xlsx) and, with --accept, import its valid rows by USCC."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--accept", action="store_true", help="write the valid rows")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with options["path"].open("rb") as fh:
                register = read_register(fh)
        except (OSError, RegisterFileError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"rows: {register.total}, valid: {len(register.rows)}, bad: {len(register.errors)}")
        for error in register.errors[:200]:
            self.stdout.write(f"  row {error.row} [{error.column}]: {error.message}")
        if options["accept"]:
            result = apply_register(register.rows)
            self.stdout.write(
                f"created: {result.created}, updated: {result.updated}, unchanged: {result.unchanged}"
            )
