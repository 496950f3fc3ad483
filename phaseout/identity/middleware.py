"""Session policy, checked on every request of a signed-in person (after OTPMiddleware):

1. the session's idle time (SESSION_IDLE_MINUTES) and absolute age (SESSION_MAX_HOURS), enforced on the
   server: an expired session is recorded (auth.session_expired), ended, and the login page says why;
2. the steps of signing in, in order: the second factor if the person has one, then a new password when
   it must change (initial, reset or expired), then enrolment of a second factor if there is none yet.
   Until they are done, every page but the step's own (and logout and the public pages) redirects to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from phaseout.identity import actions
from phaseout.identity.factors import required, second_factor
from phaseout.orgs.access import ACCESS_ATTR, PUBLIC
from phaseout.orgs.passwords import must_change_password, password_expired

SEEN_EVERY_SECONDS = 30  # the last-seen time is written at most this often


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def step(user: User, now: dt.datetime) -> str | None:
    """The URL name of the sign-in step the person must do next, or None when signed in fully."""
    verified = bool(getattr(user, "is_verified", lambda: False)())
    if required() and not verified and second_factor().enrolled(user):
        return "otp-verify"
    if must_change_password(user) or password_expired(user, now):
        return "password-change"
    if required() and not verified:
        return "otp-enrol"
    return None


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return self.get_response(request)
        now = timezone.now()
        stamp = now.timestamp()
        session = request.session
        started = session.get(actions.SESSION_STARTED)
        seen = session.get(actions.SESSION_SEEN)
        if started is None or seen is None:  # a session begun elsewhere than the login page
            session[actions.SESSION_STARTED] = session[actions.SESSION_SEEN] = stamp
        else:
            reason = None
            if stamp - float(seen) > settings.SESSION_IDLE_MINUTES * 60:
                reason = "idle"
            elif stamp - float(started) > settings.SESSION_MAX_HOURS * 3600:
                reason = "max_age"
            if reason:
                actions.expire_session(request=request, user=user, reason=reason)
                return _redirect(request, f"{reverse('login')}?{urlencode({'expired': reason})}")
            if stamp - float(seen) >= SEEN_EVERY_SECONDS:
                session[actions.SESSION_SEEN] = stamp
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        func = match.func
        declared = getattr(func, ACCESS_ATTR, None) or getattr(
            getattr(func, "view_class", None), ACCESS_ATTR, None
        )
        if declared == PUBLIC:
            return self.get_response(request)
        needed = step(user, now)
        if needed and match.url_name != needed:
            url = reverse(needed)
            if request.method == "GET" and match.url_name not in {"home", None}:
                url += "?" + urlencode({"next": request.get_full_path()})
            return _redirect(request, url)
        return self.get_response(request)
