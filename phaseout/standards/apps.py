from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StandardsConfig(AppConfig):
    name = "phaseout.standards"
    verbose_name = _("Standards")

    def ready(self) -> None:
        from phaseout.standards import checks  # noqa: F401  (registers the rulebook check)
