"""The identity writes, each in one transaction with its audit entry.

Events: auth.password_ok (the password step passed, the second factor still to come), auth.login (a
sign-in completed: after the second factor, or after the password where none is required),
auth.login_failed (the username tried, never the password), auth.otp_failed (a wrong code; counted by
the sign-in limits like a wrong password), auth.lockout, auth.unlock, auth.logout, auth.password_changed,
auth.password_reset, auth.otp_enrolled, auth.otp_verified, auth.otp_reset, auth.session_expired.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.models import Device

from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.identity import limits
from phaseout.identity.factors import FactorRefused, required, second_factor
from phaseout.identity.models import Sm2Device
from phaseout.orgs.models import Credentials

SESSION_STARTED = "identity_started"
SESSION_SEEN = "identity_seen"
DB_SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def end_sessions(user: User) -> int:
    """Remove every stored session of the user (the database session store), returning how many.

    With any store the sessions also stop working by themselves: Django refuses a session whose user is
    inactive or whose password changed since it began; this removes them from the store as well."""
    if settings.SESSION_ENGINE not in DB_SESSION_ENGINES:
        return 0
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id", "")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def set_must_change(user: User, value: bool) -> None:
    Credentials.objects.update_or_create(
        user=user,
        defaults={"must_change_password": value},
        create_defaults={"must_change_password": value, "password_changed_at": timezone.now()},
    )


# ── signing in and out ──────────────────────────────────────────────────────────────────


@transaction.atomic
def login_refused(*, username: str, address: str, refusal: limits.Refusal, user: User | None = None) -> None:
    """A sign-in refused by the limits before its password (or, with `user`, its second factor) is checked."""
    data = {"username": username, "address": address, "refused": refusal.reason}
    if user is not None:
        data["stage"] = "second_factor"
    record(actor=user, action="auth.login_failed", data=data, outcome=Outcome.REFUSED)


def _failure_data(username: str, address: str, device: str | None) -> dict[str, str]:
    """What a failure records for the limits: the account, the address and the device cookie's nonce."""
    data = {"username": username, "address": address}
    if device is not None:
        data["device"] = device
    return data


@transaction.atomic
def login_failed(*, username: str, address: str, now: dt.datetime, device: str | None = None) -> None:
    """A wrong password (or an unknown or inactive account): recorded, and a lockout when a limit is hit.
    `device` is the nonce of the device cookie the browser sent for this account (limits.device_honoured)."""
    record(
        actor=None,
        action="auth.login_failed",
        data=_failure_data(username, address, device),
        outcome=Outcome.FAILURE,
    )
    _lockouts(username=username, address=address, now=now)


def _lockouts(*, username: str, address: str, now: dt.datetime) -> None:
    """The failure just recorded reached a limit: the lockout is recorded once, when it is reached."""
    if address and limits.address_failures(address, now) == settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        record(
            actor=None,
            action="auth.lockout",
            data={"scope": "address", "address": address, "minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES},
            outcome=Outcome.REFUSED,
        )
    from_here, _last = limits.account_failures(username, now, address)
    if username and from_here == settings.LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT:
        record(
            actor=None,
            action="auth.lockout",
            data={
                "scope": "account_address",
                "username": username,
                "address": address,
                "minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES,
            },
            outcome=Outcome.REFUSED,
        )


@transaction.atomic
def log_in(*, request: HttpRequest, user: User) -> bool:
    """The password was right: the session begins. Whether the sign-in is complete: with a second factor
    required it is not (auth.password_ok; auth.login follows the second factor), else it is (auth.login)."""
    auth_login(request, user)
    now = timezone.now().timestamp()
    request.session[SESSION_STARTED] = request.session[SESSION_SEEN] = now
    if required():
        record(
            actor=user,
            action="auth.password_ok",
            data={"username": user.get_username(), "second_factor": "pending"},
        )
        return False
    record(actor=user, action="auth.login", data={"username": user.get_username(), "second_factor": "none"})
    return True


def _signed_in(user: User, kind: str) -> None:
    """The sign-in is complete: the event that starts the account's failure count afresh (limits.RESETS)."""
    record(actor=user, action="auth.login", data={"username": user.get_username(), "second_factor": kind})


@transaction.atomic
def log_out(*, request: HttpRequest) -> None:
    """Signing out: the session and everything in it are removed (等保 L3-CES1-32)."""
    user = request.user
    if isinstance(user, User):
        record(actor=user, action="auth.logout", data={"username": user.get_username()})
    auth_logout(request)


@transaction.atomic
def expire_session(*, request: HttpRequest, user: User, reason: str) -> None:
    record(
        actor=user, action="auth.session_expired", data={"username": user.get_username(), "reason": reason}
    )
    auth_logout(request)


# ── the second factor ───────────────────────────────────────────────────────────────────


def _otp_failed(
    *,
    user: User,
    kind: str,
    address: str,
    device: str | None,
    stage: str = "",
    refused: FactorRefused | None = None,
) -> None:
    """A wrong code: recorded with what the sign-in limits count (account, address, device cookie), and
    the reason when the answer was refused for one (a certificate expired, revoked, not trusted)."""
    data: dict[str, str] = {"kind": kind, **_failure_data(user.get_username(), address, device)}
    if stage:
        data["stage"] = stage
    if refused is not None:
        data["reason"] = refused.code
    record(actor=user, action="auth.otp_failed", data=data, outcome=Outcome.FAILURE)
    _lockouts(username=user.get_username(), address=address, now=timezone.now())


def verify_second_factor(
    *, request: HttpRequest, user: User, response: str, address: str, device: str | None = None
) -> Device | None:
    """The second factor at sign-in; the right one completes the sign-in (auth.login). A refusal with a
    reason (FactorRefused) is recorded as a failure with its reason, then raised for the page to say."""
    factor = second_factor()
    with transaction.atomic():
        refused = None
        try:
            verified = factor.verify(user, response)
        except FactorRefused as exc:
            verified, refused = None, exc
        if verified is None:
            _otp_failed(user=user, kind=factor.kind, address=address, device=device, refused=refused)
        else:
            otp_login(request, verified)
            record(actor=user, action="auth.otp_verified", data={"kind": factor.kind})
            _signed_in(user, factor.kind)
    if refused is not None:
        raise refused
    return verified


def enrol_second_factor(
    *, request: HttpRequest, user: User, response: str, address: str, device: str | None = None
) -> Device | None:
    """A first second factor confirmed; it completes the sign-in (auth.login). A refusal with a reason
    is recorded, then raised, as at sign-in."""
    factor = second_factor()
    with transaction.atomic():
        refused = None
        try:
            enrolled = factor.confirm_enrolment(user, response)
        except FactorRefused as exc:
            enrolled, refused = None, exc
        if enrolled is None:
            _otp_failed(
                user=user,
                kind=factor.kind,
                address=address,
                device=device,
                stage="enrolment",
                refused=refused,
            )
        else:
            otp_login(request, enrolled)
            data = {"kind": factor.kind, **_certificate(enrolled)}
            record(actor=user, action="auth.otp_enrolled", data=data)
            _signed_in(user, factor.kind)
    if refused is not None:
        raise refused
    return enrolled


def _certificate(device: Device) -> dict[str, str]:
    """What the audit entry of an enrolment keeps of the certificate behind the key, if there is one."""
    if not isinstance(device, Sm2Device) or not device.certificate:
        return {}
    not_after = device.certificate_not_after
    return {
        "certificate_serial": device.certificate_serial,
        "certificate_subject": device.certificate_subject,
        "certificate_issuer": device.certificate_issuer,
        "certificate_not_after": not_after.isoformat() if not_after else "",
    }


@transaction.atomic
def reset_second_factor(*, user: User, by: User) -> int:
    """The security administrator removes a person's second factor: they enrol again at next sign-in."""
    removed = second_factor().reset(user)
    ended = end_sessions(user)
    record(
        actor=by,
        action="auth.otp_reset",
        obj=getattr(user, "person", None),
        data={"username": user.get_username(), "devices": removed, "sessions_ended": ended},
    )
    return removed


# ── passwords ───────────────────────────────────────────────────────────────────────────


@transaction.atomic
def change_password(*, request: HttpRequest, user: User, password: str) -> None:
    """The person's own change (already checked by the form: old password, policy, typed twice)."""
    user.set_password(password)
    user.save()  # Django then calls the validators' password_changed: history and date
    set_must_change(user, False)
    update_session_auth_hash(request, user)  # this session stays; the others end
    record(actor=user, action="auth.password_changed", data={"username": user.get_username()})


@transaction.atomic
def password_change_refused(*, user: User) -> None:
    record(
        actor=user,
        action="auth.password_changed",
        data={"username": user.get_username(), "refused": "old_password"},
        outcome=Outcome.FAILURE,
    )


@transaction.atomic
def reset_password(*, user: User, password: str, by: User) -> int:
    """The security administrator sets a new password: the person must change it at the next sign-in,
    their sessions end, and the sign-in limits on the account start afresh."""
    user.set_password(password)
    user.save()
    set_must_change(user, True)
    ended = end_sessions(user)
    record(
        actor=by,
        action="auth.password_reset",
        obj=getattr(user, "person", None),
        data={"username": user.get_username(), "sessions_ended": ended},
    )
    return ended


@transaction.atomic
def unlock(*, by: User, username: str = "", address: str = "") -> None:
    """The security administrator lifts the sign-in limits on an account or an address."""
    record(actor=by, action="auth.unlock", data={"username": username, "address": address})
