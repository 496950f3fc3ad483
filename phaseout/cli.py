"""`phaseout`: the one command for everything a user runs from a shell.

phaseout serve [ADDR:PORT]   serve the platform (and, without a broker, sweep deadlines in-process)
phaseout sweep [--today D]   run the periodic jobs (overdue orders and measures, submissions, tip-offs, ...)
phaseout audit verify        check the audit trail's HMAC-SM3 chain (archives, table, head); exit 1 if broken
phaseout audit anchor        append the chain head to AUDIT_ANCHOR_FILE, outside the database
phaseout audit grant-app-role ROLE   (PostgreSQL, as the owner) the application's role: business tables,
                             and only SELECT and INSERT on the audit trail
phaseout audit archive [--now T]   move audit entries past AUDIT_RETENTION_MONTHS to a write-once archive file
phaseout documents verify    check every decision's and receipt's SM2 signature; exit 1 at the first bad one
phaseout documents sign-unsigned   sign the decisions issued before signatures existed
phaseout keys add-signing-version | add-audit-version | import-audit-key   signing and audit key versions
phaseout import FILE [--accept]   check (and import) an enterprise register
phaseout demo                load reference and demo data and print the demo accounts
phaseout territories load [--province 44] [--file F]   a province's divisions (GB/T 2260) from
                             phaseout/data/territories/ (or a file of the same format); idempotent
phaseout evaluate [--date D] [--territory CODE] [--by USER] [--dry-run]
                             evaluate the registry against the rulebooks; open findings and cases
phaseout check-line [FILE|-] [--date D]   one line's description (JSON) in, its findings (JSON) out
phaseout rulebooks           check the rulebooks load and list them
phaseout plan-parse FILE [--year YYYY] [--json]   read an official plan document into tasks, units and dates
phaseout case-flow [--json]  every dimension's legal path: steps, roles, clocks, approvals
phaseout first-admin USERNAME [--name N]   the first security administrator (once; password from
                             PHASEOUT_ADMIN_PASSWORD or asked for), who then makes every other account
phaseout backup [--dated] DIR      database, media and audit archive files, keys' check values, sealed sums
phaseout restore [--check] DIR     a backup into an empty installation, everything checked first
phaseout doctor              check a running installation; say what is wrong; exit 1 when something is
phaseout <django command>    any other management command (migrate, createsuperuser, ...)

DEBUG is off unless given; `demo`, `serve` and `totp` on the embedded database (no DATABASE_URL) turn it on.
"""

from __future__ import annotations

import os
import sys
import threading

ALIASES = {
    "sweep": "sweep_deadlines",
    "import": "import_register",
    "demo": "load_demo",
    "reference": "load_reference",
    "evaluate": "evaluate_registry",
    "check-line": "check_line",
    "rulebooks": "check_rulebooks",
    "plan-parse": "plan_parse",
    "case-flow": "case_flow",
    "first-admin": "first_security_admin",
    "sm2-key": "sm2_key",
}


def _sweep_forever(interval: int, stop: threading.Event) -> None:
    from django.db import close_old_connections

    from phaseout.jobs import run_jobs

    while not stop.is_set():
        try:
            run_jobs()  # a failing job is logged by the runner; the others still run
        except Exception:  # keep the server up; the next run tries again
            import logging

            logging.getLogger("phaseout.sweep").exception("in-process sweep failed")
        finally:
            close_old_connections()
        stop.wait(interval)


def serve(args: list[str]) -> None:
    from django.conf import settings
    from django.core.management import call_command

    if settings.CELERY_TASK_ALWAYS_EAGER and settings.INPROCESS_SWEEP_SECONDS > 0:
        stop = threading.Event()
        threading.Thread(
            target=_sweep_forever, args=(settings.INPROCESS_SWEEP_SECONDS, stop), daemon=True, name="sweep"
        ).start()
    addr = args[0] if args else "127.0.0.1:8000"
    call_command("runserver", addr, use_reloader=False)


# The commands that start the embedded demo: on the embedded database (no DATABASE_URL) they turn DEBUG
# on unless it is set. Everything else, and anything on a configured database, keeps production's default.
DEMO_COMMANDS = {"demo", "serve", "totp"}


def demo_environment(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> bool:
    """Turn the embedded demo's DEBUG on for `phaseout demo` / `serve` / `totp` on the embedded database;
    True when it did."""
    command = argv[1] if len(argv) > 1 else ""
    if command in DEMO_COMMANDS and "DEBUG" not in environ and not environ.get("DATABASE_URL"):
        environ["DEBUG"] = "true"
        return True
    return False


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phaseout.settings")
    demo_environment(argv, os.environ)
    import django

    django.setup()
    if len(argv) > 1 and argv[1] == "serve":
        serve(argv[2:])
        return
    if len(argv) > 1 and argv[1] in ALIASES:
        argv[1] = ALIASES[argv[1]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
