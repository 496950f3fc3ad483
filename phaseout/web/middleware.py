"""Input refused in one place: control characters in a query string or a form post.

No field of the platform takes a NUL or another C0 control character (tab, line feed and carriage
return excepted), DEL, a C1 control character (U+0080-U+009F), a bidirectional embedding, override
or isolate (U+202A-U+202E, U+2066-U+2069) or an invisible zero-width character (U+200B-U+200D, U+2060,
U+FEFF): PostgreSQL cannot store a NUL in text (a 500), and the others only hide or reorder text for
the person reading it (a name shown backwards, "Trojan Source", a document number that looks blank but
is not). The rule is `CONTROL_CHARACTERS`, read here and by the hotline API (phaseout.complaints.views).
Rather than each form cleaning each field, a request carrying one in a query parameter or a posted
field (names included; uploaded files are not text and are not looked at) is refused with a 400 page
before any view runs, so nothing changes. The page does not name the field: the middleware does not
know the form, and a raw parameter name ("doc_number") means nothing to the person who filled it in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from phaseout.web import StoredFileUnavailable, not_found

logger = logging.getLogger("django.request")

# The characters no text field takes, as the inside of a regular-expression class: C0 but tab, line feed
# and carriage return; DEL and C1; the zero-width space, non-joiner and joiner, the word joiner and the
# zero-width no-break space (BOM); the bidi embeddings and overrides, and the isolates.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069"
# Lone surrogates cannot be stored as UTF-8 (they reach Python only from JSON escapes).
CONTROL = re.compile(rf"[{CONTROL_CHARACTERS}\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_control(text: str) -> bool:
    return CONTROL.search(text) is not None


def refused(request: HttpRequest) -> HttpResponse:
    message = _(
        "What was submitted contains a control character or an invisible character (such as NUL or a "
        "zero-width space); nothing was saved."
    )
    return render(request, "400.html", {"message": message}, status=400)


class ControlCharacterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                sources.append(request.POST)
            except MultiPartParserError:
                return render(request, "400.html", {"message": _("The form could not be read.")}, status=400)
        for data in sources:
            for key, values in data.lists():
                if has_control(key) or any(has_control(v) for v in values):
                    return refused(request)
        return self.get_response(request)


class ChineseNotFoundMiddleware:
    """With DEBUG on (the embedded demo), Django answers an unknown address with its technical page, in
    English, listing every address of the platform, and a view's error with its technical 500 page.
    Officials and the public get the platform's own Chinese 404 and 500 pages instead, as in production
    (the error's traceback goes to the log, as in production); JSON and other answers are left as they are."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "platform_page", False)
        ):
            response = render(request, "404.html", status=404)
            response.platform_page = True  # type: ignore[attr-defined]
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG:
            return None  # production: Django's handlers, which render the same pages
        if isinstance(exception, StoredFileUnavailable):
            response = not_found(request, exception)
        elif isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation | BadRequest):
            return None  # their own pages (400, 403, 404), as in production
        else:
            logger.error("Internal Server Error: %s", request.path, exc_info=exception)
            response = render(request, "500.html", status=500)
        response.platform_page = True  # type: ignore[attr-defined]
        return response


class MethodNotAllowedMiddleware:
    """A page that only takes a form post (an approval, a confirmation), opened by its address or a
    stale link, answers 405 with an empty body (Django's HttpResponseNotAllowed): the person gets the
    platform's page with a Chinese explanation instead, still a 405 with its Allow header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or getattr(response, "platform_page", False):
            return response
        if response.get("Content-Type", "").split(";")[0] not in ("", "text/html"):
            return response  # a JSON answer says its own error
        if getattr(response, "streaming", False) or response.content:
            return response
        message = _(
            "This address takes only a form submission and cannot be opened directly; please use the "
            "button on the page it belongs to. Nothing was changed."
        )
        page = render(request, "400.html", {"message": message}, status=405)
        if "Allow" in response:
            page["Allow"] = response["Allow"]
        page.platform_page = True  # type: ignore[attr-defined]
        return page


class RequestSizeMiddleware:
    """A request whose body is larger than REQUEST_MAX_BYTES is refused with a 413 page before anything
    reads it (the proxy in front refuses the same size itself; a request without a length is read by
    Django's own limits)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return render(request, "400.html", {"message": _("The request could not be read.")}, status=400)
        if length > settings.REQUEST_MAX_BYTES:
            message = _("The upload is too large: at most %(limit)s in one request; nothing was saved.") % {
                "limit": filesizeformat(settings.REQUEST_MAX_BYTES)
            }
            return render(request, "400.html", {"message": message}, status=413)
        return self.get_response(request)


# Set on the response to every request that may have written: that person's reads go to the primary.
WROTE_COOKIE = "phaseout_wrote"
READ_METHODS = ("GET", "HEAD")


class ReplicaReadsMiddleware:
    """Lets the pages in REPLICA_READ_VIEWS read from the replica (phaseout/dbrouter.py), unless the person
    wrote within REPLICA_READ_YOUR_WRITES_SECONDS; marks every other method's response so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.REPLICA_DATABASE_URL:
            return self.get_response(request)
        from phaseout.dbrouter import stale_reads

        allowed = (
            request.method in READ_METHODS
            and WROTE_COOKIE not in request.COOKIES
            and _url_name(request) in settings.REPLICA_READ_VIEWS
        )
        with stale_reads(allowed):
            response = self.get_response(request)
        if request.method not in (*READ_METHODS, "OPTIONS"):
            response.set_cookie(
                WROTE_COOKIE,
                "1",
                max_age=settings.REPLICA_READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


def _url_name(request: HttpRequest) -> str:
    from django.urls import Resolver404, resolve

    try:
        return resolve(request.path_info).url_name or ""
    except Resolver404:
        return ""
