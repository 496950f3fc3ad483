from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvinceConfig(AppConfig):
    name = "phaseout.province"
    verbose_name = _("Report to the province")
