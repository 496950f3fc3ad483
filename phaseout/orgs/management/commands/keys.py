"""`phaseout keys`: the encryption keys' versions, for the security administrator.

It lives here rather than in phaseout.crypto because the rotation is audited, and the audit trail
itself depends on phaseout.crypto (HMAC-SM3): the crypto package imports nothing of the audit app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.crypto import keyring, keys, rotation


class Command(BaseCommand):
    help = (
        "Encryption keys: `status` (values per key version), `rotate` (add a key version and re-encrypt"
        " every value to it; --resume re-encrypts to the current version without adding one),"
        " `generate FILE` (a new keyring file for PHASEOUT_KEYS_FILE), `add-signing-version` (a new SM2"
        " signing key version), `add-audit-version` (a new audit-chain key version), `import-audit-key`"
        " (AUDIT_MAC_KEY and AUDIT_MAC_OLD_KEYS into the keyring at their versions)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("status", help="how many values are on each key version")
        rotate = sub.add_parser("rotate", help="add a key version and re-encrypt every value to it")
        rotate.add_argument(
            "--resume",
            action="store_true",
            help="do not add a version: finish moving values to the current one (after an interruption,"
            " or when the keys are in PHASEOUT_KEYS or a cipher machine)",
        )
        rotate.add_argument("--batch", type=int, default=None, help="rows per transaction")
        rotate.add_argument("--by", help="the security administrator's account the audit entry names")
        generate = sub.add_parser("generate", help="write a new keyring file (mode 600)")
        generate.add_argument("path", type=Path)
        for name, text in (
            ("add-signing-version", "add an SM2 signing key version and make it current"),
            ("add-audit-version", "add an audit-chain key version and make it current"),
            ("import-audit-key", "copy AUDIT_MAC_KEY and AUDIT_MAC_OLD_KEYS into the keyring"),
        ):
            added = sub.add_parser(name, help=text)
            added.add_argument("--by", help="the security administrator's account the audit entry names")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, "_" + options["subcommand"].replace("-", "_"))
        handler(options)

    def _by(self, options: dict[str, Any]) -> User | None:
        if not options.get("by"):
            return None
        by = User.objects.filter(username=options["by"], is_active=True).first()
        if by is None:
            raise CommandError(f"no active account {options['by']!r}")
        return by

    def _key_change(self, options: dict[str, Any], action: str, change: Any) -> None:
        """One audited change of the key file: the entry says what was added, or why it was not."""
        by = self._by(options)
        try:
            result = change()
        except (keys.KeyManagementError, keyring.KeyringError) as exc:
            with transaction.atomic():
                record(actor=by, action=action, reason=str(exc), outcome=Outcome.FAILURE)
            raise CommandError(str(exc)) from None
        with transaction.atomic():
            record(
                actor=by, action=action, data={"versions": result if isinstance(result, list) else [result]}
            )
        self.stdout.write(f"{action}: {result}")

    def _add_signing_version(self, options: dict[str, Any]) -> None:
        self._key_change(options, "keys.add_signing_version", keys.add_signing_version)

    def _add_audit_version(self, options: dict[str, Any]) -> None:
        self._key_change(options, "keys.add_audit_version", keys.add_audit_version)

    def _import_audit_key(self, options: dict[str, Any]) -> None:
        self._key_change(options, "keys.import_audit_key", keys.import_audit_keys)

    def _status(self, options: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(rotation.status(), ensure_ascii=False, indent=2))

    def _generate(self, options: dict[str, Any]) -> None:
        path: Path = options["path"]
        if path.exists():
            raise CommandError(f"{path} exists; a keyring is never overwritten")
        keyring.write_file(path, keyring.generate())
        self.stdout.write(f"keyring written to {path} (mode 600); set PHASEOUT_KEYS_FILE={path}")

    def _rotate(self, options: dict[str, Any]) -> None:
        by = None
        if options["by"]:
            by = User.objects.filter(username=options["by"], is_active=True).first()
            if by is None:
                raise CommandError(f"no active account {options['by']!r}")
        if options["batch"] is not None and options["batch"] < 1:
            raise CommandError("--batch must be at least 1")

        def progress(column: rotation.Column, done: int) -> None:
            self.stdout.write(f"  {column.label}: {done}")

        try:
            result = keys.rotate(new_version=not options["resume"], batch=options["batch"], progress=progress)
        except (keys.KeyManagementError, keyring.KeyringError) as exc:
            with transaction.atomic():
                record(
                    actor=by,
                    action="keys.rotate",
                    reason=str(exc),
                    data={"resume": options["resume"]},
                    outcome=Outcome.FAILURE,
                )
            raise CommandError(str(exc)) from None
        summary = result.summary()
        with transaction.atomic():
            record(
                actor=by,
                action="keys.rotate",
                data=summary,
                outcome=Outcome.SUCCESS if not result.unreadable else Outcome.FAILURE,
            )
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        if result.unreadable:
            raise CommandError(f"{result.unreadable} values could not be decrypted and were left as they are")
