from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from phaseout.demo import DEMO_PASSWORD, load_demo
from phaseout.orgs import territories
from phaseout.reference import load_reference


class Command(BaseCommand):
    help = "Load the reference data and the demo data set (once) and print the demo accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        load_reference()
        # Guangdong's 21 cities and their counties (GB/T 2260), for the provincial office's page.
        territories.load(territories.read(territories.file_for("44")), source="440000.csv")
        accounts = load_demo()
        self.stdout.write("")
        self.stdout.write(_("Demo accounts (password for all: %(password)s):") % {"password": DEMO_PASSWORD})
        self.stdout.write(
            _(
                "Each account also needs its one-time code: add the secret shown to an authenticator app, "
                "or print the current code with `phaseout totp USERNAME`."
            )
        )
        for username, role, unit, secret in accounts:
            self.stdout.write(f"  {username:<20} {role:<14} {unit}  TOTP: {secret}")
