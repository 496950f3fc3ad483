"""`phaseout sm2-key`: a software SM2 key for the demo's second factor, standing in for a USB key.

phaseout sm2-key generate FILE     a new private key in FILE (mode 600); prints the public key
phaseout sm2-key enrol FILE TEXT   the enrolment answer for the text shown: "<public key>.<signature>";
                                   with --certificate CERT (PEM or DER, where the platform trusts CAs):
                                   "<certificate, base64 of DER>.<signature>"
phaseout sm2-key sign FILE TEXT    the sign-in answer for the text shown: "<signature>"
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phaseout.crypto import certs, sm2


class Command(BaseCommand):
    help = "A software SM2 key for the second factor (demo): generate, enrol, sign."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("task", choices=["generate", "enrol", "sign"])
        parser.add_argument("file", type=Path)
        parser.add_argument("text", nargs="?", default="")
        parser.add_argument("--certificate", type=Path, help="the key's certificate, for enrol")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if options["task"] == "generate":
            if path.exists():
                raise CommandError(f"{path} exists; a key is never overwritten")
            private = sm2.generate_private_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{private:064x}\n")
            self.stdout.write(sm2.public_key(private).hex())
            return
        try:
            private = int(path.read_text(encoding="ascii").strip(), 16)
            sm2.check_private_key(private)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path} is not an SM2 private key ({exc})") from None
        if not options["text"]:
            raise CommandError("give the text the sign-in page shows")
        signature = sm2.sign(private, options["text"].encode("utf-8")).hex()
        if options["task"] == "enrol" and options["certificate"]:
            try:
                certificate = certs.load(options["certificate"].read_bytes())
            except (OSError, certs.CertificateRefused) as exc:
                raise CommandError(f"{options['certificate']} is not an SM2 certificate ({exc})") from None
            info = certificate["tbs_certificate"]["subject_public_key_info"]
            if info["public_key"].native[1:] != sm2.public_key(private):
                raise CommandError("the certificate is not this key's")
            self.stdout.write(f"{base64.b64encode(certificate.dump()).decode('ascii')}.{signature}")
        elif options["task"] == "enrol":
            self.stdout.write(f"{sm2.public_key(private).hex()}.{signature}")
        else:
            self.stdout.write(signature)
