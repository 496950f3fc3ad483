"""`phaseout audit verify` — check the whole chain (archive files, table, head) and report the first
broken link; exit status 1 when broken.
`phaseout audit archive [--now ISO-8601]` — move entries past the retention to a write-once archive file.
`phaseout audit anchor` — append the chain head to AUDIT_ANCHOR_FILE now (the sweep does it regularly).
`phaseout audit grant-app-role ROLE` — (PostgreSQL, as the owner) grant the application's own role what it
needs: the business tables, and only SELECT and INSERT on the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit import anchor, archive, maintenance, verify


class Command(BaseCommand):
    help = "The audit trail: verify the HMAC-SM3 chain, or archive entries past the retention."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="task", required=True)
        sub.add_parser("verify", help="check every link of the chain, archives included")
        sub.add_parser("anchor", help="append the chain head to AUDIT_ANCHOR_FILE, outside the database")
        role_parser = sub.add_parser("grant-app-role", help="grant the application's role (PostgreSQL)")
        role_parser.add_argument("role", help="an existing role that does not own the tables")
        archive_parser = sub.add_parser("archive", help="archive entries older than AUDIT_RETENTION_MONTHS")
        archive_parser.add_argument("--now", type=dt.datetime.fromisoformat, help="the moment to count from")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["task"] == "verify":
            report = verify.verify()
            if not report.ok:
                raise CommandError(str(report))
            self.stdout.write(str(report))
            return
        if options["task"] == "grant-app-role":
            try:
                statements = maintenance.grant_app_role(options["role"])
            except maintenance.RoleError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write("\n".join(f"{sql};" for sql in statements))
            return
        if options["task"] == "anchor":
            written = anchor.write(now=timezone.now())
            if written is None:
                self.stdout.write(_("The audit trail has no entry to anchor yet."))
            else:
                self.stdout.write(
                    _("Entry %(seq)d anchored in %(file)s.") % {"seq": written.seq, "file": anchor.path()}
                )
            return
        now = options.get("now") or timezone.now()
        if timezone.is_naive(now):
            now = timezone.make_aware(now)
        try:
            segment = archive.archive(now=now)
        except archive.RetentionTooShort as exc:
            raise CommandError(str(exc)) from exc
        if segment is None:
            self.stdout.write(_("No audit entries are past the retention."))
        else:
            self.stdout.write(
                _("%(count)d audit entries (numbers %(first)d to %(last)d) archived to %(file)s.")
                % {
                    "count": segment.count,
                    "first": segment.first_seq,
                    "last": segment.last_seq,
                    "file": segment.path,
                }
            )
