"""`phaseout backup [--dated] DIR`: the database, the media and audit archive files, the keys' check values
and a sealed manifest of SHA-256 sums, into a new directory (phaseout/operations/backup.py)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.operations import actions
from phaseout.operations.backup import BackupError, backup

PATH_MAX = 1000


class Command(BaseCommand):
    help = "Back up the database, the media files and the audit archive (never the keys) into DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "dir", help="a new or empty directory (with --dated: the directory to create it in)"
        )
        parser.add_argument(
            "--dated", action="store_true", help="write into a new sub-directory of DIR named by the time"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = str(options["dir"])
        if not text or len(text) > PATH_MAX or "\x00" in text:
            raise CommandError(_("The directory name is empty, too long or contains a NUL byte."))
        now = timezone.now()
        target = Path(text)
        if options["dated"]:
            target = target / timezone.localtime(now).strftime("%Y%m%dT%H%M%S")
        try:
            manifest = backup(target, now=now)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        actions.record_backup(by=None, target=str(target), manifest=manifest, os_user=getpass.getuser())
        self.stdout.write(
            _("Backup written to %(dir)s: %(files)d files, %(rows)d rows, seal %(seal)s.")
            % {
                "dir": target,
                "files": len(manifest["files"]),
                "rows": sum(manifest["rows"].values()),
                "seal": manifest["seal"][:16],
            }
        )
