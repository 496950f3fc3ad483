"""The first security administrator of a fresh installation, from the command line, once.

Instead of `createsuperuser` (whose account has no person and is refused everywhere): the security
administrator then makes every other account, the system administrator and the auditor included, on the
platform's people pages. Refused once an active security administrator exists.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from phaseout.accounts import create_person
from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.orgs.models import Person, Role


class Command(BaseCommand):
    help = (
        "Create the first security administrator (once); the password is read from "
        "PHASEOUT_ADMIN_PASSWORD or asked for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="安全管理员", help="display name")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        if Person.objects.filter(role=Role.SECURITY_ADMIN, user__is_active=True).exists():
            message = _(
                "A security administrator exists already: further accounts are made on the accounts page."
            )
            record(
                actor=None,
                action="person.create",
                reason=message,
                data={"username": username, "role": Role.SECURITY_ADMIN.value},
                outcome=Outcome.REFUSED,
            )
            raise CommandError(message)
        if get_user_model().objects.filter(username=username).exists():
            raise CommandError(_("This username is taken."))
        password = os.environ.get("PHASEOUT_ADMIN_PASSWORD") or getpass.getpass()
        try:
            password_validation.validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        person = create_person(
            username=username,
            password=password,
            display_name=options["name"],
            role=Role.SECURITY_ADMIN,
            by=None,
        )
        self.stdout.write(_("Security administrator %(name)s created.") % {"name": person.user.username})
