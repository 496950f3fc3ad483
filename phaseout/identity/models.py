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
    challenge: models.CharField[str, str] = models.CharField(max_length=64, blank=True)  # hex; single use
    challenge_at: models.DateTimeField[dt.datetime | None, dt.datetime | None] = models.DateTimeField(
        null=True, blank=True
    )

    class Meta:
        verbose_name = _("SM2 key")
        verbose_name_plural = _("SM2 keys")

    def get_throttle_factor(self) -> int:
        return int(settings.OTP_TOTP_THROTTLE_FACTOR)
