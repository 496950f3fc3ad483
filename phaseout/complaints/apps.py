from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "phaseout.complaints"
    verbose_name = _("Tip-offs")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.complaints.jobs import SUMMARY, job

        jobs.register("complaints", job, summary=SUMMARY, label=self.verbose_name)
