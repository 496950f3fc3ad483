"""Every file of business data handed to a signed-in person is written to the audit trail before it leaves.

The rule, stated once: a view that gives out such a file is declared `@audited_export("export.<kind>")` and
returns its file through `exported(response, obj, **what)`. The decorator writes one entry — person, unit,
address, the event, the object (the case, document or evidence; none for a list), outcome success and what
was exported (format, filter, row count: figures the view already has, never an extra query) — after the
file is made and before a byte of it is sent (a streamed file has not been read yet). If the entry cannot be
written the file is not sent: the person gets a 503 page saying why, and an opened file is closed.

A declared view that returns a page (a form, a redirect, a 404) writes nothing; a declared view that returns
a file without `exported()` is a programming error, refused rather than sent unaudited. Open-data downloads
of published lists (the portal, `disclosure.public_export`) are the same for everyone and not declared;
tests/test_dengbao_exports.py walks every URL so that a view giving out a file undeclared fails the suite.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.http import FileResponse, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from phaseout.audit.record import AuditWriteError, record

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound=HttpResponseBase)
EXPORT_ATTR = "phaseout_export"  # on a declared view: its event; on a response: (object, what was exported)


def audited_export(event: str) -> Callable[[F], F]:
    """Declare a view that gives out files of non-public data under one event, `export.<kind>`."""
    if not event.startswith("export."):
        raise ValueError(f"an export's event starts with 'export.': {event!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response: HttpResponseBase = view(request, *args, **kwargs)
            sent = getattr(response, EXPORT_ATTR, None)
            if sent is None:
                if is_file(response):
                    _let_go(response)
                    raise ImproperlyConfigured(f"{view.__qualname__} gives out a file without exported()")
                return response  # a page: the form again, a redirect, an error
            obj, what, then = sent
            try:
                with transaction.atomic():
                    record(actor=request.user, action=event, obj=obj, data=what)
                    if then is not None:
                        then()  # a write that holds only if the file is given (a receipt), with its entry
            except AuditWriteError:
                _let_go(response)  # nothing of the file is sent
                message = _(
                    "The download could not be written to the audit trail, so it was not given. Please try "
                    "again later; if it keeps happening, tell the administrator."
                )
                return render(request, "503.html", {"message": message}, status=503)
            return response

        setattr(wrapper, EXPORT_ATTR, event)
        return wrapper  # type: ignore[return-value]

    return decorate


def exported(
    response: R, obj: models.Model | None = None, *, then: Callable[[], object] | None = None, **what: Any
) -> R:
    """The file a declared view returns, with the object it comes from and what it holds, for its entry.
    `then` is an audited write made in the entry's transaction, so that both are made or neither (and
    the file is not given)."""
    setattr(response, EXPORT_ATTR, (obj, what, then))
    return response


def _let_go(response: HttpResponseBase) -> None:
    """Close the file a response would have streamed. Not response.close(): that also signals the end of
    the request (and closes its database connection) while the refusal page is still to be made."""
    stream = getattr(response, "file_to_stream", None)
    if stream is not None:
        stream.close()


def is_file(response: HttpResponseBase) -> bool:
    """A response that is a download: an attachment, or a file or stream."""
    disposition = response.headers.get("Content-Disposition", "")
    return disposition.startswith("attachment") or isinstance(response, (FileResponse, StreamingHttpResponse))


def export_event(view: Callable[..., Any]) -> str | None:
    """The event a view is declared under, or None for a view that gives out no audited file."""
    return getattr(view, EXPORT_ATTR, None)
