from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "phaseout.identity"
    verbose_name = _("Identity")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.identity import dormant

        jobs.register("identity-dormant", dormant.job, summary=dormant.SUMMARY, label=self.verbose_name)
