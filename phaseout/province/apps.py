from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvinceConfig(AppConfig):
    name = "phaseout.province"
    verbose_name = _("Report to the province")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.province.sweep import SUMMARY, job

        jobs.register("province", job, summary=SUMMARY, label=self.verbose_name)
