"""`phaseout restore DIR`: a backup into an EMPTY installation, after checking every file's sum, the seal
and the keys; then the rows are counted and the audit trail verified (phaseout/operations/backup.py)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from phaseout.audit import verify as audit_verify
from phaseout.operations import actions
from phaseout.operations.backup import BackupError, read_manifest, restore, verify

PATH_MAX = 1000


class Command(BaseCommand):
    help = "Restore a backup into an empty installation (empty database, media and audit archive)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", help="the backup's directory (with manifest.json)")
        parser.add_argument(
            "--check", action="store_true", help="only check the backup (sums, seal, keys); restore nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = str(options["dir"])
        if not text or len(text) > PATH_MAX or "\x00" in text:
            raise CommandError(_("The directory name is empty, too long or contains a NUL byte."))
        source = Path(text)
        try:
            if options["check"]:
                manifest = verify(source)
                self.stdout.write(
                    _(
                        "The backup is intact: %(files)d files match their checksums and the keys are "
                        "this installation's."
                    )
                    % {"files": len(manifest["files"])}
                )
                return
            report = restore(source)
            manifest = read_manifest(source)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        trail = audit_verify.verify()
        if not trail.ok:
            raise CommandError(
                _("The backup was restored but its audit trail does not verify:") + "\n" + str(trail)
            )
        actions.record_restore(by=None, source=str(source), manifest=manifest, os_user=getpass.getuser())
        self.stdout.write(
            _(
                "Restored from %(dir)s: %(tables)d tables, %(rows)d rows, %(files)d files, all matching "
                "the backup."
            )
            % {"dir": source, "tables": report.tables, "rows": report.rows, "files": report.files}
        )
        self.stdout.write(str(trail))
        if report.pending_migrations:
            self.stdout.write(
                _(
                    "The backup is of an earlier version: run `phaseout migrate` (%(count)d migrations "
                    "to apply)."
                )
                % {"count": len(report.pending_migrations)}
            )
