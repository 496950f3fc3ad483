"""`phaseout doctor`: check a running installation (database and migrations, replica, broker, worker, the
periodic jobs, disk, media storage, `check --deploy`, keys); exit 1 when something is wrong."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from phaseout.operations import doctor


class Command(BaseCommand):
    help = "Check a running installation and say what is wrong; exit status 1 when something is."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--worker-timeout", type=float, default=3.0, help="seconds to wait for a Celery worker's answer"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timeout = options["worker_timeout"]
        if not 0 < timeout <= 60:
            raise CommandError(_("The worker timeout must be between 0 and 60 seconds."))
        findings = doctor.run(worker_timeout=timeout)
        for finding in findings:
            mark = "!" if finding.warning else ("✓" if finding.ok else "✗")
            self.stdout.write(f"{mark} {finding.name}：{finding.message}")
        failed = [f for f in findings if not f.ok]
        if failed:
            raise CommandError(_("%(count)d problems found.") % {"count": len(failed)})
        self.stdout.write(_("No problem found."))
