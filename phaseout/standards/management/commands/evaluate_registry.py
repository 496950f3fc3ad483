"""phaseout evaluate: evaluate the registry against the rulebooks, with progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from phaseout.orgs.models import Person, Role, Territory
from phaseout.standards.actions import preview_evaluation, run_evaluation


class Command(BaseCommand):
    help = "Evaluate every operating line against the rulebooks; open findings and cases for breaches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="evaluation date (default today)")
        parser.add_argument("--territory", help="division code; default the whole registry")
        parser.add_argument("--by", help="account the findings are recorded under (default: the office)")
        parser.add_argument(
            "--dry-run", action="store_true", help="count the breaches by rule and write nothing at all"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("zh-hans")
        territory = None
        if options["territory"]:
            territory = Territory.objects.filter(code=options["territory"]).first()
            if territory is None:
                raise CommandError(_("Unknown division code %(code)s.") % {"code": options["territory"]})
        on = options["date"] or timezone.localdate()
        if options["dry_run"]:
            self._preview(on, territory)
            return
        if options["by"]:
            user = User.objects.filter(username=options["by"], is_active=True).first()
        else:
            person = (
                Person.objects.filter(role=Role.OFFICE, user__is_active=True).select_related("user").first()
            )
            user = person.user if person else None
        if user is None:
            raise CommandError(_("No account to record the findings under; give one with --by."))
        run = run_evaluation(
            on=on,
            by=user,
            territory=territory,
            progress=lambda message: self.stdout.write(message),
        )
        self.stdout.write(
            _(
                "Evaluation run #%(run)d: %(lines)d lines evaluated, %(refused)d refused, "
                "%(breaches)d breaches, %(opened)d new findings, %(known)d already on record."
            )
            % {
                "run": run.pk,
                "lines": run.lines_evaluated,
                "refused": run.lines_refused,
                "breaches": run.breaches,
                "opened": run.findings_opened,
                "known": run.already_known,
            }
        )

    def _preview(self, on: dt.date, territory: Territory | None) -> None:
        preview = preview_evaluation(
            on=on, territory=territory, progress=lambda message: self.stdout.write(message)
        )
        for key, count in sorted(preview.by_rule.items(), key=lambda item: (-item[1], item[0])):
            self.stdout.write(f"{count:>9}  {preview.titles[key]}（{key}）")
        self.stdout.write(
            _(
                "Dry run, nothing written: %(lines)d lines evaluated, %(refused)d refused, "
                "%(breaches)d breaches would be recorded."
            )
            % {
                "lines": preview.lines_evaluated,
                "refused": preview.lines_refused,
                "breaches": preview.breaches,
            }
        )
