"""The public portal's cache, in front of everything else.

A published list is read far more than it changes, so a rendered page is kept under a key that names
the list's current publication; publishing or withdrawing drops that name, and the next request
renders afresh. The middleware sits first, so a cached page costs two cache reads and no database
query, session or template.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import translation

PREFIX = "/public/"
NOT_CACHED = ("/public/tipoff/",)
# Each worker also keeps what it served in memory for a moment: the list's current publication for
# one second, pages for up to a minute (bounded). A publication reaches every worker within a second.
VERSION_SECONDS = 1.0
PAGE_SECONDS = 60.0
LOCAL_PAGES = 256
_local: dict[str, tuple[float, Any]] = {}


def _local_get(key: str) -> Any:
    found = _local.get(key)
    if found is None or found[0] < time.monotonic():
        return None
    return found[1]


def _local_set(key: str, value: Any, seconds: float) -> None:
    if len(_local) >= LOCAL_PAGES:
        _local.clear()
    _local[key] = (time.monotonic() + seconds, value)


def _version_key(kind: str) -> str:
    return f"public:version:{kind}"


def version(kind: str) -> str:
    key = _version_key(kind)
    local = _local_get(key)
    if local is not None:
        return str(local)
    found = cache.get(key)
    if found is None:
        from phaseout.disclosure.actions import current
        from phaseout.disclosure.models import ListKind

        # The portal's index shows every list: its version is all of theirs.
        kinds = ListKind.values if kind == "*" else [kind]
        parts = []
        for each in kinds:
            snapshot = current(each)
            stamp = (snapshot.withdrawn_at or snapshot.published_at) if snapshot else None
            # public_entries falls by one with each entry withdrawn: the pages change with it.
            parts.append(
                f"{snapshot.pk}.{snapshot.status}.{stamp.timestamp() if stamp else ''}"
                f".{snapshot.public_entries}"
                if snapshot
                else "none"
            )
        found = "-".join(parts)
        cache.set(key, found, None)
    _local_set(key, found, VERSION_SECONDS)
    return str(found)


def forget(kind: str) -> None:
    """A list was published or withdrawn: its cached pages are no longer current."""
    for key in (_version_key(kind), _version_key("*")):  # the index shows every list
        cache.delete(key)
        _local.pop(key, None)


def _kind_of(path: str) -> str:
    rest = path[len(PREFIX) :]
    return rest.split("/", 1)[0].split(".", 1)[0] or "*"


def _cached_query(kind: str, query: str) -> str | None:
    """The query string a page is kept under, or None when the request is not to touch the cache at all.

    Only a bounded set of keys can be written, whatever a client sends: a known list (or the portal's
    index) with no query, or `page=N` for a page the portal offers. A search, a page out of range or any
    other parameter goes to the view uncached, so cycling `q` (or `x`) writes nothing here."""
    from phaseout.disclosure.models import ListKind
    from phaseout.disclosure.public import MAX_PAGES, PAGE

    if kind != "*" and kind not in ListKind.values:
        return None
    if query == "":
        return query
    number = query.removeprefix("page=")
    if number != query and PAGE.fullmatch(number) and int(number) <= MAX_PAGES:
        return query
    return None


# Not replayed from the cache: the length is the body's, and a date is the moment of sending. Cookies are
# not headers here (response.cookies), so a cached page never hands out anyone's cookie.
NOT_KEPT = frozenset({"content-length", "date"})


def kept_headers(response: HttpResponse) -> list[tuple[str, str]]:
    """Every header the page was rendered with (type, disposition, language, Vary, the security headers
    the middleware below the cache set: X-Frame-Options, CSP...), so a cached page is served exactly as
    the first one was."""
    return [(name, value) for name, value in response.headers.items() if name.lower() not in NOT_KEPT]


class PublicCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seconds = settings.PUBLIC_CACHE_SECONDS
        path = request.path
        if (
            seconds <= 0
            or request.method not in ("GET", "HEAD")
            or not path.startswith(PREFIX)
            or path.startswith(NOT_CACHED)
        ):
            return self.get_response(request)
        kind = _kind_of(path)
        query = _cached_query(kind, request.META.get("QUERY_STRING", ""))
        if query is None:
            response = self.get_response(request)
            if response.status_code == 200:
                response["Cache-Control"] = f"public, max-age={seconds}"
            return response
        language = translation.get_language_from_request(request)
        raw = f"{version(kind)}|{language}|{path}|{query}"
        key = "public:page:v2:" + hashlib.sha256(raw.encode()).hexdigest()
        found = _local_get(key)
        if found is None:
            found = cache.get(key)
            if found is not None:
                _local_set(key, found, min(PAGE_SECONDS, seconds))
        if found is not None:
            status, headers, body = found
            response = HttpResponse(body, status=status)
            for name, value in headers:
                response[name] = value
        else:
            response = self.get_response(request)
            if (
                response.status_code == 200
                and not response.streaming
                and getattr(response, "public_cacheable", False)
            ):
                cache.set(key, (response.status_code, kept_headers(response), response.content), seconds)
        if response.status_code == 200:
            response["Cache-Control"] = f"public, max-age={seconds}"
        return response
