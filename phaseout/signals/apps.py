from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SignalsConfig(AppConfig):
    name = "phaseout.signals"
    verbose_name = _("Power use, furnaces and signals")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.signals.screening import SUMMARY, job

        jobs.register("signals", job, summary=SUMMARY, label=self.verbose_name)

        from phaseout.audit import labels
        from phaseout.signals.actions import EVENT_LABELS

        labels.register("signals.", EVENT_LABELS)
