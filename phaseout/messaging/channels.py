"""How a message leaves the platform: mail through Django's email backend, SMS through a gateway adapter.

Government SMS platforms differ, so the gateway is an adapter chosen by MESSAGING_SMS_GATEWAY:
"disabled" (no SMS; no SMS deliveries are queued), "console" (the demo: logged, counted as sent), "http"
(a JSON gateway over HTTP: URL, bearer credential and a body template from the settings) or the dotted path
of a class with the same two members. A send that fails raises SendError with what went wrong.
"""

from __future__ import annotations

import json
import logging
import string
import urllib.error
import urllib.request
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string

logger = logging.getLogger("phaseout.messaging")


class SendError(RuntimeError):
    """The channel did not take the message; the text says why (kept as the delivery's last error)."""


def send_mail(*, to: str, subject: str, body: str) -> None:
    connection = get_connection(settings.MESSAGING_MAIL_BACKEND, timeout=settings.EMAIL_TIMEOUT)
    mail = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to], connection=connection
    )
    try:
        mail.send()
    except Exception as exc:  # smtplib, socket and backend errors alike: the delivery is retried
        raise SendError(f"{type(exc).__name__}: {exc}") from exc


class SmsGateway(Protocol):
    enabled: bool

    def send(self, *, phone: str, text: str) -> None: ...


class DisabledGateway:
    enabled = False

    def send(self, *, phone: str, text: str) -> None:
        raise SendError("SMS is disabled")


class ConsoleGateway:
    """The demo's gateway: the SMS is written to the log and counted as sent."""

    enabled = True

    def send(self, *, phone: str, text: str) -> None:
        logger.warning("SMS to %s: %s", phone[-4:].rjust(len(phone), "*"), text)


class HttpJsonGateway:
    """POSTs a JSON body made from SMS_GATEWAY_TEMPLATE — a JSON object whose string values may hold $phone,
    $text and $sign — to SMS_GATEWAY_URL, with SMS_GATEWAY_TOKEN as a bearer credential when set. Any 2xx
    answer is taken as accepted; anything else, or no answer within SMS_GATEWAY_TIMEOUT, fails the send."""

    def __init__(self) -> None:
        self.url = settings.SMS_GATEWAY_URL
        self.token = settings.SMS_GATEWAY_TOKEN
        self.sign = settings.SMS_SIGN
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        # Without an address no SMS is queued: a half-set-up gateway never fails the action making a message.
        self.enabled = bool(self.url)

    def body(self, *, phone: str, text: str) -> dict[str, Any]:
        try:
            template = json.loads(settings.SMS_GATEWAY_TEMPLATE)
        except ValueError as exc:
            raise SendError(f"SMS_GATEWAY_TEMPLATE is not JSON: {exc}") from exc
        if not isinstance(template, dict):
            raise SendError("SMS_GATEWAY_TEMPLATE must be a JSON object")
        values = {"phone": phone, "text": text, "sign": self.sign}
        return {
            key: string.Template(value).safe_substitute(values) if isinstance(value, str) else value
            for key, value in template.items()
        }

    def send(self, *, phone: str, text: str) -> None:
        data = json.dumps(self.body(phone=phone, text=text), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            raise SendError(f"gateway answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SendError(f"gateway unreachable: {exc}") from exc


GATEWAYS: dict[str, type[SmsGateway]] = {
    "disabled": DisabledGateway,
    "console": ConsoleGateway,
    "http": HttpJsonGateway,
}


def sms_gateway() -> SmsGateway:
    """The gateway the settings name, made for each drain (cheap; a settings change takes effect at once)."""
    name = settings.MESSAGING_SMS_GATEWAY
    cls: type[SmsGateway] = GATEWAYS.get(name) or import_string(name)
    return cls()
