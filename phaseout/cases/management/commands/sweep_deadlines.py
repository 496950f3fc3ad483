import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from phaseout.jobs import run_jobs


class Command(BaseCommand):
    help = (
        "Run every periodic job (overdue orders and measures, submissions, referrals, tip-offs); "
        "each in its own transaction; idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_jobs(today=options["today"])
        self.stdout.write(str(report))
        if report.failed:
            raise CommandError(_("These jobs failed: %(jobs)s.") % {"jobs": ", ".join(report.failed)})
