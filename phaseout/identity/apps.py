from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "phaseout.identity"
    verbose_name = "Identity"
