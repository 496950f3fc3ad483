"""The second factor behind one small interface, so that its kind can change without touching sign-in.

Today's kind is TOTP (django-otp's TOTPDevice, RFC 6238, an authenticator app). 等保 L3-CES1-04 asks
for two or more factors, one of them cryptographic; 密评 (GB/T 39786-2021) prefers a national-algorithm
one: a certificate on a USB key signing a server challenge with SM2. Such a factor is a class with the
same methods as `SecondFactor` below, registered in `FACTORS` and chosen with the SECOND_FACTOR setting:

- `enrolled(user)` — the person has a confirmed device of this kind;
- `begin_enrolment(user)` — what the enrolment page shows (for SM2: the challenge to sign and the
  certificate request; for TOTP: the QR code and the secret), as a template name and its context;
- `confirm_enrolment(user, response)` — the device that answered correctly, now confirmed (for SM2: the
  certificate checked against the trusted CAs, when the deployment names them, and the signature over
  the challenge with SM2/SM3), or None; `FactorRefused` with the reason when the answer is refused for
  a reason the person should be told (a certificate expired, revoked, from a CA not trusted);
- `verify(user, response)` — the device that accepted the response at sign-in, or None (or
  `FactorRefused`: the enrolled certificate has expired or been revoked since);
- `refusal(user)` — a message when verification is throttled, else None;
- `reset(user)` — remove every device of the person (the security administrator's reset).

The device returned must be a django-otp `Device` (a certificate device would subclass it), so that
`django_otp.login` marks the session verified and OTPMiddleware sees it on each request.
"""

from __future__ import annotations

import base64
import math
import secrets
from pathlib import Path
from typing import Any, Protocol

import segno
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from phaseout.crypto import certs, sm2
from phaseout.identity.models import Sm2Device

# Why a certificate is refused, as the person is told (codes from phaseout.crypto.certs, and this module's).
REFUSALS = {
    "unreadable": gettext_lazy("This is not a readable SM2 certificate (GM/T 0015)."),
    "too_large": gettext_lazy("The certificate is too large to be a certificate."),
    "not_sm2": gettext_lazy("The certificate is not an SM2 certificate signed with SM3withSM2."),
    "ca_certificate": gettext_lazy("This is a certificate authority's certificate, not a person's."),
    "key_usage": gettext_lazy("The certificate does not allow digital signatures."),
    "untrusted": gettext_lazy(
        "The certificate was not issued by a certificate authority this platform trusts."
    ),
    "bad_signature": gettext_lazy(
        "The certificate authority's signature on the certificate does not verify."
    ),
    "not_yet_valid": gettext_lazy("The certificate is not valid yet."),
    "expired": gettext_lazy("The certificate has expired: ask the certificate authority for a new one."),
    "authority_not_yet_valid": gettext_lazy("The certificate authority's own certificate is not valid yet."),
    "authority_expired": gettext_lazy("The certificate authority's own certificate has expired."),
    "revoked": gettext_lazy("The certificate has been revoked."),
    "list_expired": gettext_lazy(
        "The certificate authority's revocation list is out of date, so the certificate's status cannot "
        "be known: tell the security administrator."
    ),
    "store": gettext_lazy(
        "The platform's list of trusted certificate authorities cannot be read: tell the security "
        "administrator."
    ),
    "bare_key": gettext_lazy(
        "This platform needs a certificate from a certificate authority, not a bare public key."
    ),
    "enrolled_without_certificate": gettext_lazy(
        "Your key was set up without a certificate: ask the security administrator to reset it, then set "
        "it up again with your certificate."
    ),
}


class FactorRefused(Exception):
    """An answer refused for a reason the person is told (`message`); `code` goes into the audit entry."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def message(self) -> str:
        return str(REFUSALS[self.code])


class SecondFactor(Protocol):
    kind: str

    def enrolled(self, user: User) -> bool: ...

    def begin_verification(self, user: User) -> dict[str, Any]: ...

    def begin_enrolment(self, user: User) -> tuple[str, dict[str, Any]]: ...

    def confirm_enrolment(self, user: User, response: str) -> Device | None: ...

    def verify(self, user: User, response: str) -> Device | None: ...

    def refusal(self, user: User) -> str | None: ...

    def reset(self, user: User) -> int: ...


def base32_secret(device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it by hand: base32, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


class TotpFactor:
    """A TOTP authenticator app (RFC 6238: HMAC-SHA1, 6 digits, 30 seconds)."""

    kind = "totp"

    def enrolled(self, user: User) -> bool:
        return TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    def begin_verification(self, user: User) -> dict[str, Any]:
        return {}  # the app shows the code: nothing to give the person

    def begin_enrolment(self, user: User) -> tuple[str, dict[str, Any]]:
        # One pending device per person: reloading the page shows the same secret.
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="totp", confirmed=False)
        qr = segno.make(device.config_url, error="m")
        return "identity/enrol_totp.html", {
            "qr_svg": qr.svg_inline(scale=4, dark="#1f2933", light="#ffffff"),
            "secret": base32_secret(device),
        }

    def _digits(self, response: str) -> str | None:
        token = response.strip().replace(" ", "")
        return token if token.isdigit() and len(token) == 6 else None

    def confirm_enrolment(self, user: User, response: str) -> Device | None:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
        token = self._digits(response)
        if device is None or token is None or not device.verify_token(token):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return device

    def verify(self, user: User, response: str) -> Device | None:
        token = self._digits(response)
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            if token is not None and device.verify_token(token):
                return device
            if token is None:
                device.throttle_increment()  # a malformed answer counts as a wrong one
        return None

    def refusal(self, user: User) -> str | None:
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            allowed, info = device.verify_is_allowed()
            if not allowed and info and info.get("locked_until"):
                seconds = max(1, math.ceil((info["locked_until"] - timezone.now()).total_seconds()))
                return _("Too many wrong codes: try again in %(seconds)d seconds.") % {"seconds": seconds}
        return None

    def reset(self, user: User) -> int:
        count, _detail = TOTPDevice.objects.filter(user=user).delete()
        return count

    def install(self, user: User, key_hex: str) -> TOTPDevice:
        """A confirmed device with a given key (the demo's fixed, printed secrets)."""
        TOTPDevice.objects.filter(user=user).delete()
        return TOTPDevice.objects.create(user=user, name="totp", key=key_hex, confirmed=True)


class Sm2Factor:
    """An SM2 key (GB/T 32918.2 with SM3) signing a server challenge: a USB key in production, a software
    key file in the demo (`phaseout sm2-key`). The server issues 32 random bytes, single use, valid for
    CHALLENGE_SECONDS; the key signs `message(user, challenge)` (bound to this platform, the account and
    the challenge); the server verifies against the public key enrolled by signing a first challenge.

    Where the deployment names the certificate authorities it trusts (CERTIFICATE_AUTHORITIES, a
    directory of CA certificates and revocation lists), the key is enrolled by its certificate, which
    binds it to its holder: checked against those CAs at enrolment (phaseout.crypto.certs) and again at
    every sign-in, so that a certificate expired or revoked since stops the sign-in. Without that
    setting a bare public key is enrolled (the demo's way).

    Answers: at enrolment "<certificate, base64 of DER>.<signature hex>" (or "<public key hex>.<signature
    hex>" where no CA is named), at sign-in "<signature hex>"."""

    kind = "sm2"
    CHALLENGE_SECONDS = 300

    @staticmethod
    def message(user: User, challenge: str) -> bytes:
        return f"phaseout-sm2-factor:v1:{user.pk}:{challenge}".encode("ascii")

    def _device(self, user: User, *, confirmed: bool) -> Sm2Device | None:
        return Sm2Device.objects.filter(user=user, confirmed=confirmed).order_by("id").first()

    def _issue(self, device: Sm2Device) -> str:
        device.challenge, device.challenge_at = secrets.token_hex(32), timezone.now()
        device.save(update_fields=["challenge", "challenge_at"])
        return device.challenge

    def _take(self, device: Sm2Device) -> str | None:
        """The outstanding challenge, cleared (single use); None when there is none or it expired."""
        challenge, issued = device.challenge, device.challenge_at
        device.challenge, device.challenge_at = "", None
        device.save(update_fields=["challenge", "challenge_at"])
        if not challenge or issued is None:
            return None
        if (timezone.now() - issued).total_seconds() > self.CHALLENGE_SECONDS:
            return None
        return challenge

    @staticmethod
    def _hex(text: str, size: int) -> bytes | None:
        text = text.strip().lower()
        if size == sm2.PUBLIC_KEY_BYTES and len(text) == 2 * size + 2 and text.startswith("04"):
            text = text[2:]  # the uncompressed form
        if len(text) != 2 * size or any(c not in "0123456789abcdef" for c in text):
            return None
        return bytes.fromhex(text)

    def enrolled(self, user: User) -> bool:
        return Sm2Device.objects.filter(user=user, confirmed=True).exclude(public_key="").exists()

    @staticmethod
    def authorities() -> list[certs.Authority] | None:
        """The trusted CAs, or None where the deployment names none."""
        directory = settings.CERTIFICATE_AUTHORITIES
        if not directory:
            return None
        try:
            return certs.authorities(Path(directory))
        except (OSError, certs.CertificateRefused):
            raise FactorRefused("store") from None

    @staticmethod
    def _checked(certificate: str, trusted: list[certs.Authority]) -> certs.Checked:
        try:
            return certs.check(certificate, trusted, timezone.now())
        except certs.CertificateRefused as exc:
            raise FactorRefused(exc.code) from None

    def begin_enrolment(self, user: User) -> tuple[str, dict[str, Any]]:
        device = self._device(user, confirmed=False) or Sm2Device.objects.create(
            user=user, name="sm2", confirmed=False
        )
        challenge = self._issue(device)
        return "identity/enrol_sm2.html", {
            "challenge": challenge,
            "message": self.message(user, challenge).decode(),
        }

    def confirm_enrolment(self, user: User, response: str) -> Device | None:
        device = self._device(user, confirmed=False)
        if device is None:
            return None
        challenge = self._take(device)
        first, _dot, signature_hex = response.strip().rpartition(".")
        signature = self._hex(signature_hex, 64)
        trusted = self.authorities()
        checked = None
        if trusted is None:
            public = self._hex(first, sm2.PUBLIC_KEY_BYTES)
        elif self._hex(first, sm2.PUBLIC_KEY_BYTES) is not None:
            raise FactorRefused("bare_key")
        else:
            checked = self._checked(first, trusted)
            public = checked.public_key
        if challenge is None or public is None or signature is None:
            return None
        if not sm2.verify(public, self.message(user, challenge), signature):
            return None
        Sm2Device.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.public_key, device.confirmed = public.hex(), True
        if checked is not None:
            device.certificate = base64.b64encode(checked.der).decode("ascii")
            device.certificate_serial = checked.serial
            device.certificate_subject = checked.subject[:500]
            device.certificate_issuer = checked.issuer[:500]
            device.certificate_not_after = checked.not_after
        device.save()
        return device

    def begin_verification(self, user: User) -> dict[str, Any]:
        device = self._device(user, confirmed=True)
        if device is None:
            return {}
        challenge = self._issue(device)
        return {"challenge": challenge, "message": self.message(user, challenge).decode()}

    def verify(self, user: User, response: str) -> Device | None:
        device = self._device(user, confirmed=True)
        if device is None or not device.verify_is_allowed()[0]:
            return None
        trusted = self.authorities()
        if trusted is not None:
            if not device.certificate:
                raise FactorRefused("enrolled_without_certificate")
            self._checked(device.certificate, trusted)  # expired or revoked since enrolment: refused
        challenge = self._take(device)
        signature = self._hex(response, 64)
        public = bytes.fromhex(device.public_key)
        if (
            challenge is None
            or signature is None
            or not sm2.verify(public, self.message(user, challenge), signature)
        ):
            device.throttle_increment()
            return None
        device.throttle_reset()
        return device

    def refusal(self, user: User) -> str | None:
        device = self._device(user, confirmed=True)
        if device is not None:
            allowed, info = device.verify_is_allowed()
            if not allowed and info and info.get("locked_until"):
                seconds = max(1, math.ceil((info["locked_until"] - timezone.now()).total_seconds()))
                return _("Too many wrong codes: try again in %(seconds)d seconds.") % {"seconds": seconds}
        return None

    def reset(self, user: User) -> int:
        count, _detail = Sm2Device.objects.filter(user=user).delete()
        return count


FACTORS: dict[str, SecondFactor] = {"totp": TotpFactor(), "sm2": Sm2Factor()}


def second_factor() -> SecondFactor:
    """The kind of second factor this deployment uses (SECOND_FACTOR, default totp)."""
    return FACTORS[settings.SECOND_FACTOR]


def required() -> bool:
    """Whether every account must pass a second factor (OTP_REQUIRED; on unless configured off)."""
    return bool(settings.OTP_REQUIRED)
