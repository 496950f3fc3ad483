"""phaseout rulebooks: load every rulebook and list them; a broken one is named with file, line and reason."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from phaseout.rules.rulebook import RULEBOOK_DIR, RulebookError, load_library


class Command(BaseCommand):
    help = "Check that the rulebooks load, and list them with their rules and versions."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lib = load_library(RULEBOOK_DIR)
        except RulebookError as exc:
            raise CommandError(str(exc)) from None
        for book in lib.rulebooks:
            unconfirmed = sum(rule.uses_unconfirmed for rule in book.rules)
            self.stdout.write(
                f"{book.file}: {book.title} — {len({r.id for r in book.rules})} 条规则，"
                f"{len(book.rules)} 个版本（含未经核实数值 {unconfirmed} 个）"
            )
