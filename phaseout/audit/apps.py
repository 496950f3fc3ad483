from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "phaseout.audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from django.core import checks
        from django.db.backends.signals import connection_created

        from phaseout import jobs
        from phaseout.audit import anchor
        from phaseout.audit.archive import SUMMARY, job
        from phaseout.audit.maintenance import register_sqlite_function

        connection_created.connect(register_sqlite_function, dispatch_uid="audit-maintenance-function")
        jobs.register("audit", job, summary=SUMMARY, label=self.verbose_name)
        jobs.register("audit-anchor", anchor.job, summary=anchor.SUMMARY, label=self.verbose_name)
        checks.register(check_audit_settings)


def check_audit_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Refuse to run with no audit MAC key (outside DEBUG) or a retention under six months."""
    from django.conf import settings
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from phaseout.audit import archive, chain

    errors = []
    try:
        chain.source(chain.current_version())
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint='Give the keyring an "audit" key (`phaseout keys generate` makes one; `phaseout keys'
                " import-audit-key` moves AUDIT_MAC_KEY into it).",
                id="audit.E001",
            )
        )
    if settings.AUDIT_RETENTION_MONTHS < archive.MIN_RETENTION_MONTHS:
        errors.append(
            checks.Error(
                f"AUDIT_RETENTION_MONTHS is {settings.AUDIT_RETENTION_MONTHS}; "
                f"at least {archive.MIN_RETENTION_MONTHS} are required",
                id="audit.E002",
            )
        )
    return errors
