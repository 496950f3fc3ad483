from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "phaseout.orgs"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from phaseout.audit.verify import register_integrity_check
        from phaseout.orgs.integrity import check_all

        register_integrity_check("orgs.person", check_all)
