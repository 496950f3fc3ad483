"""Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a browser where a
person completed a sign-in (both factors) carries a signed cookie naming them, so that failures of
others for their account cannot hold them up.

The cookie is `signing.dumps({"u": username, "n": nonce})` with its own salt, so it cannot be made or
altered without SECRET_KEY, and read with a maximum age of LOGIN_DEVICE_COOKIE_DAYS; HttpOnly, Secure
whenever the session cookie is (production), SameSite=Lax. A new one, with a new random nonce, is issued
at each completed sign-in. What it exempts from, and when it stops counting, is in `limits`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

SALT = "phaseout.identity.device-cookie"


def max_age() -> int:
    return int(settings.LOGIN_DEVICE_COOKIE_DAYS) * 24 * 3600


def issue(response: HttpResponse, username: str) -> str:
    """Set a new device cookie for the person on the response; the nonce it carries."""
    nonce = secrets.token_urlsafe(16)
    response.set_cookie(
        settings.LOGIN_DEVICE_COOKIE_NAME,
        signing.dumps({"u": username, "n": nonce}, salt=SALT),
        max_age=max_age(),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return nonce


def nonce(request: HttpRequest, username: str) -> str | None:
    """The nonce of the request's device cookie when it is genuine, not expired and for this username."""
    value = request.COOKIES.get(settings.LOGIN_DEVICE_COOKIE_NAME, "")
    if not value or not username:
        return None
    try:
        data = signing.loads(value, salt=SALT, max_age=max_age())
    except signing.BadSignature:  # forged, altered or expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(data, dict) or data.get("u") != username or not isinstance(data.get("n"), str):
        return None
    return str(data["n"])
