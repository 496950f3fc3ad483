from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "phaseout.plans"
    verbose_name = _("Plans")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.plans.jobs import SUMMARY, job

        jobs.register("plans", job, summary=SUMMARY, label=self.verbose_name)
