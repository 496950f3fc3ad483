from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin


class Sm2Device(ThrottlingMixin, Device):
    """An SM2 key (a USB key, or a software key file in the demo) enrolled as a person's second factor
    (phaseout.identity.factors.Sm2Factor): its public key, and the one challenge outstanding."""

    public_key: models.CharField[str, str] = models.CharField(
        _("SM2 public key"), max_length=128, blank=True
    )  # x || y, hex
    # The certificate (GM/T 0015) that binds the key to its holder, when the deployment trusts CAs
    # (CERTIFICATE_AUTHORITIES): DER in base64, checked again at every sign-in (validity, revocation).
    certificate: models.TextField[str, str] = models.TextField(_("certificate"), blank=True)
    certificate_serial: models.CharField[str, str] = models.CharField(
        _("certificate serial number"), max_length=64, blank=True
    )
    certificate_subject: models.CharField[str, str] = models.CharField(
        _("certificate holder"), max_length=500, blank=True
    )
    certificate_issuer: models.CharField[str, str] = models.CharField(
        _("certificate authority"), max_length=500, blank=True
    )
    certificate_not_after: models.DateTimeField[dt.datetime | None, dt.datetime | None] = (
        models.DateTimeField(_("certificate valid until"), null=True, blank=True)
    )
    challenge: models.CharField[str, str] = models.CharField(max_length=64, blank=True)  # hex; single use
    challenge_at: models.DateTimeField[dt.datetime | None, dt.datetime | None] = models.DateTimeField(
        null=True, blank=True
    )

    class Meta:
        verbose_name = _("SM2 key")
        verbose_name_plural = _("SM2 keys")

    def get_throttle_factor(self) -> int:
        return int(settings.OTP_TOTP_THROTTLE_FACTOR)
