from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "phaseout.monitoring"
    verbose_name = _("Online monitoring")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.monitoring.partitions import SUMMARY, job

        jobs.register("monitoring.partitions", job, summary=SUMMARY, label=self.verbose_name)

        from phaseout.monitoring import checks

        jobs.register("monitoring.checks", checks.screen, summary=checks.SUMMARY, label=self.verbose_name)
