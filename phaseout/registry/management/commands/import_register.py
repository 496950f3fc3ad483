from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phaseout.registry.importer import RegisterFileError, import_register, read_register


class Command(BaseCommand):
    help = "Check an enterprise register (.xlsx) and, with --accept, import its valid rows by USCC."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--accept", action="store_true", help="write the valid rows")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with options["path"].open("rb") as fh:
                if options["accept"]:
                    register, result = import_register(fh)
                else:
                    register, result = read_register(fh), None
        except (OSError, RegisterFileError) as exc:
            raise CommandError(str(exc)) from None
        valid = result.written if result else len(register.rows)
        self.stdout.write(f"rows: {register.total}, valid: {valid}, bad: {len(register.errors)}")
        for error in register.errors[:200]:
            self.stdout.write(f"  row {error.row} [{error.column}]: {error.message}")
        if result:
            self.stdout.write(
                f"created: {result.created}, updated: {result.updated}, unchanged: {result.unchanged}"
            )
