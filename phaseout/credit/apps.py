from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "phaseout.credit"
    verbose_name = _("Credit sanctions")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.credit.jobs import SUMMARY, job

        jobs.register("credit", job, summary=SUMMARY, label=self.verbose_name)
