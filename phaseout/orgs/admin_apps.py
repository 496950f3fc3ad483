"""django.contrib.admin with the system administrator's site as `admin.site` (the settings swap this
config in for django.contrib.admin). Apart from the site module, which imports models: an app config
module is imported before the models are ready."""

from django.contrib.admin.apps import AdminConfig


class PhaseoutAdminConfig(AdminConfig):
    default_site = "phaseout.orgs.adminsite.SystemAdminSite"
