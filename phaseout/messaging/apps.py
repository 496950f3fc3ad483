from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "phaseout.messaging"
    verbose_name = _("Messages")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.messaging.jobs import SUMMARY, job

        jobs.register("messaging", job, summary=SUMMARY, label=self.verbose_name)
