from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StandardsConfig(AppConfig):
    name = "phaseout.standards"
    verbose_name = _("Standards")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.standards import checks  # noqa: F401  (registers the rulebook check)
        from phaseout.standards.actions import LOST_SUMMARY, give_up_lost_runs

        jobs.register("standards", give_up_lost_runs, summary=LOST_SUMMARY, label=self.verbose_name)
