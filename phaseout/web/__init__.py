"""Helpers every app's views share: who is asking, paging, form errors shown as messages, throttling.

A small app of its own (it also carries the shared template tags, phaseout/web/templatetags), just
above orgs: it reads a person from orgs and nothing from the apps that use it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

if TYPE_CHECKING:  # the package is imported while the apps load: no models at import time
    from django.contrib.auth.models import User
    from django.db.models.fields.files import FieldFile

    from phaseout.orgs.models import Person

PAGE_SIZE = 50
# Pages beyond this are not offered (5 million rows in): a larger number is read as this one, so that a
# hand-made ?page= never reaches the database as an offset it cannot hold.
MAX_PAGE = 100_000


def page_number(raw: str) -> int:
    """The page asked for, clamped to 1..MAX_PAGE; anything that is not a number is page 1."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1  # "abc", "-1", "1.5", "" and the like
    return MAX_PAGE if len(raw) > 12 else min(MAX_PAGE, max(1, int(raw)))


def current_person(request: HttpRequest) -> Person:
    """The person the access middleware found for the request."""
    return request.person  # type: ignore[attr-defined]


def current_user(request: HttpRequest) -> User:
    from django.contrib.auth.models import User

    assert isinstance(request.user, User)  # the access middleware has let only people in
    return request.user


def paginate(request: HttpRequest, qs: QuerySet[Any] | Sequence[Any]) -> dict[str, Any]:
    """Offset paging without COUNT(*): fetch one row more than shown to know if there is a next page
    (a query set or a list already in memory)."""
    page = page_number(request.GET.get("page", "1"))
    rows = list(qs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "rows": rows[:PAGE_SIZE],
        "page": page,
        "has_next": len(rows) > PAGE_SIZE,
        "has_previous": page > 1,
        "query": query.urlencode(),
    }


def posted_id(request: HttpRequest, name: str) -> int | None:
    """A record id posted in a field, or None (then nothing is found: a 404) for anything that is not
    one — a hand-made value must not reach the database as a malformed key."""
    raw = request.POST.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def form_errors(request: HttpRequest, form: Any) -> None:
    """A form's errors as messages, each with its field's label (not the confirmation checkbox's: its
    label is the sentence saying what will follow, and its message says it all)."""
    for field, errs in form.errors.items():
        label = form.fields[field].label if field in form.fields and field != "confirm" else ""
        for err in errs:
            messages.error(request, f"{label}：{err}" if label else err)


def _trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The address of the person behind a request: the one the audit trail, the login limits and the
    public throttle all use.

    The proxy's X-Forwarded-For is believed only when the request came from a configured trusted proxy
    (TRUSTED_PROXIES, default none); then the header is read from the right, skipping the trusted proxies,
    and the first other address is the client's. Anything else, or a header that is not an address, gives
    REMOTE_ADDR: a client cannot choose the address it is recorded under.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not _trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote
        if not _trusted_proxy(hop):
            return hop
    return hops[0] if hops else remote


class ClientAddressMiddleware:
    """Gives the audit trail the request's address (client_ip), for every entry the request writes."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        from phaseout.audit.record import set_request_ip

        set_request_ip(client_ip(request) or None)
        try:
            return self.get_response(request)
        finally:
            set_request_ip(None)


def throttled(request: HttpRequest, scope: str) -> bool:
    """At most PUBLIC_POSTS_PER_HOUR posts per address per hour for this scope."""
    address = client_ip(request)
    key = f"throttle:{scope}:{hashlib.sha256(address.encode()).hexdigest()}"
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)
        count = 1
    return count > settings.PUBLIC_POSTS_PER_HOUR


class StoredFileUnavailable(Http404):
    """A stored file that cannot be served (missing from storage, altered on disk, sealed for another
    use): a 404 whose page says so, rather than "no such record"."""


def open_stored(field_file: FieldFile) -> Any:
    """The stored file opened for reading, unsealed; StoredFileUnavailable if it is missing or its seal
    does not hold."""
    from phaseout.crypto import DecryptionError

    try:
        return field_file.open("rb")
    except DecryptionError as exc:
        raise StoredFileUnavailable(_("This file was altered in storage and cannot be opened.")) from exc
    except FileNotFoundError as exc:
        raise StoredFileUnavailable(_("This file is missing from storage.")) from exc


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page (handler404): the reason is shown only where it is ours to tell (a stored file that
    cannot be served); every other miss reads the same, whether the record is absent or out of the
    reader's scope."""
    reason = str(exception) if isinstance(exception, StoredFileUnavailable) else ""
    return render(request, "404.html", {"reason": reason}, status=404)
