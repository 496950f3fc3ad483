from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CryptoConfig(AppConfig):
    name = "phaseout.crypto"
    verbose_name = _("Cryptography")

    def ready(self) -> None:
        # Keys are checked at start: a missing or malformed keyring stops the platform here, with
        # the reason, rather than at the first encrypted value.
        from phaseout import crypto
        from phaseout.crypto.backends import self_test

        self_test()
        crypto.backend()
