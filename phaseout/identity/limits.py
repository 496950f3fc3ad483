"""Sign-in limits that an attacker cannot turn against the people they target (等保 L3-CES1-02).

Counted from the audit trail itself (auth.login_failed entries with outcome failure), so the limits hold
across processes and restarts, and every count can be checked against the record:

Failures are wrong passwords (auth.login_failed) and wrong second-factor codes (auth.otp_failed):

1. per address: LOGIN_ADDRESS_FAILURE_LIMIT failures from one address within LOGIN_FAILURE_WINDOW_MINUTES
   and that address is refused for every account until the window has passed (spraying across accounts);
2. per account and address: LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT failures for one account from one
   address and that address is refused for that account — the same account signs in from elsewhere;
3. per account from everywhere: after LOGIN_ACCOUNT_DELAY_AFTER failures, a delay doubling with each
   further failure up to LOGIN_ACCOUNT_DELAY_MAX_SECONDS — a delay, never a lock, so that failures from
   many addresses slow guessing down without keeping the person out.

A browser with a device cookie for the account (`phaseout.identity.devices`, issued at a completed
sign-in) is exempt from all three, for that account only, until LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT
failures were made with that cookie (its nonce is in each failure's data): an attacker failing from many
addresses, or from the owner's own address (a shared NAT, the office's proxy), then cannot keep the owner
out, while every browser without the cookie stays limited (OWASP, device cookies).

A completed sign-in (both factors, auth.login), the security administrator's password reset or lifting
of the limits (auth.unlock) starts an account's count afresh; an address's count starts afresh when the
limit is lifted for it.
The address is `phaseout.web.client_ip`, the one the audit trail records.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, DateTimeField, F, Max, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext as _

from phaseout.audit.models import AuditEvent, Outcome

FAILED = ("auth.login_failed", "auth.otp_failed")
RESETS = ("auth.login", "auth.unlock", "auth.password_reset")


@dataclass(frozen=True)
class Refusal:
    reason: str  # address_limit, account_address_limit, account_delay
    message: str


def window(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)


def _failures(now: dt.datetime) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(action__in=FAILED, outcome=Outcome.FAILURE, at__gte=window(now))


def _account_since(username: str, now: dt.datetime) -> dt.datetime:
    latest = (
        AuditEvent.objects.filter(action__in=RESETS, outcome=Outcome.SUCCESS, at__gte=window(now))
        .filter(data__username=username)
        .aggregate(at=Max("at"))["at"]
    )
    return latest or window(now)


def _address_since(address: str, now: dt.datetime) -> dt.datetime:
    latest = (
        AuditEvent.objects.filter(action="auth.unlock", outcome=Outcome.SUCCESS, at__gte=window(now))
        .filter(data__address=address)
        .aggregate(at=Max("at"))["at"]
    )
    return latest or window(now)


def address_failures(address: str, now: dt.datetime) -> int:
    return (
        AuditEvent.objects.filter(action__in=FAILED, outcome=Outcome.FAILURE)
        .filter(ip=address, at__gt=_address_since(address, now))
        .count()
    )


def account_failures(
    username: str, now: dt.datetime, address: str | None = None, device: str | None = None
) -> tuple[int, dt.datetime | None]:
    """Failures for the account since its count last started (from one address, with one device cookie,
    if given), and the last."""
    qs = AuditEvent.objects.filter(
        action__in=FAILED, outcome=Outcome.FAILURE, at__gt=_account_since(username, now)
    )
    qs = qs.filter(data__username=username)
    if address is not None:
        qs = qs.filter(ip=address)
    if device is not None:
        qs = qs.filter(data__device=device)
    agg = qs.aggregate(failures=Count("id"), last=Max("at"))
    return agg["failures"], agg["last"]


def account_delay(failures: int) -> int:
    """Seconds the account waits after its last failure: none below the threshold, then 2, 4, 8 ... capped."""
    over = failures - settings.LOGIN_ACCOUNT_DELAY_AFTER
    if over < 0:
        return 0
    return int(min(settings.LOGIN_ACCOUNT_DELAY_MAX_SECONDS, 2 ** (over + 1)))


def device_honoured(username: str, device: str | None, now: dt.datetime) -> bool:
    """Whether a genuine device cookie's nonce (`devices.nonce`) still exempts from the account's delay."""
    if device is None:
        return False
    failures, _last = account_failures(username, now, device=device)
    return failures < settings.LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT


def refusal(*, username: str, address: str, now: dt.datetime, device: str | None = None) -> Refusal | None:
    """Why a sign-in from this address for this account is refused before its password is looked at;
    `device` is the nonce of a genuine device cookie for the account, if the browser sent one: while it
    is honoured, the failures of others (from this address or any other) refuse nothing."""
    if username and device_honoured(username, device, now):
        return None
    if address and address_failures(address, now) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        return Refusal(
            "address_limit",
            _("Too many failed sign-ins from your address: try again in %(minutes)d minutes.")
            % {"minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES},
        )
    if not username:
        return None
    from_here, _last = account_failures(username, now, address)
    if from_here >= settings.LOGIN_ACCOUNT_ADDRESS_FAILURE_LIMIT:
        return Refusal(
            "account_address_limit",
            _(
                "Too many failed sign-ins to this account from your address: try again in %(minutes)d "
                "minutes, or ask the security administrator to lift the limit."
            )
            % {"minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES},
        )
    everywhere, last = account_failures(username, now)
    delay = account_delay(everywhere)
    if delay and last is not None:
        wait = (last + dt.timedelta(seconds=delay) - now).total_seconds()
        if wait > 0:
            return Refusal(
                "account_delay",
                _("Several failed sign-ins to this account: try again in %(seconds)d seconds.")
                % {"seconds": math.ceil(wait)},
            )
    return None


def _key(name: str) -> Cast:
    """A key of the entry's data as plain text, to group and compare by (SQLite and PostgreSQL alike)."""
    return Cast(KeyTextTransform(name, "data"), TextField())


def blocked(now: dt.datetime) -> dict[str, list[dict[str, object]]]:
    """What is limited now, for the security administrator's page: addresses and accounts with failures.

    Counted in the database, grouped by address and by username, in three queries however many there
    are: each count starts at the address's or the account's last lift (or sign-in) within the window."""
    start = window(now)
    failures = _failures(now).order_by()
    lifted = (
        AuditEvent.objects.filter(action="auth.unlock", outcome=Outcome.SUCCESS, at__gte=start)
        .annotate(address=_key("address"))
        .exclude(Q(address__isnull=True) | Q(address=""))
        .order_by()
        .values("address")
        .annotate(last=Max("at"))
        .values_list("address", "last")
    )
    since = dict(lifted)
    counted = ~Q(ip__in=list(since)) if since else Q()
    for ip, at in since.items():
        counted |= Q(ip=ip, at__gt=at)
    by_address = (
        failures.exclude(ip=None).filter(counted).values("ip").annotate(failures=Count("id")).order_by()
    )
    addresses = [
        {
            "address": row["ip"],
            "failures": row["failures"],
            "refused": row["failures"] >= settings.LOGIN_ADDRESS_FAILURE_LIMIT,
        }
        for row in by_address
    ]
    restarted = (
        AuditEvent.objects.filter(action__in=RESETS, outcome=Outcome.SUCCESS, at__gte=start)
        .annotate(username=_key("username"))
        .filter(username=OuterRef("username"))
        .order_by()
        .values("username")
        .annotate(last=Max("at"))
        .values("last")
    )
    by_account = (
        failures.annotate(username=_key("username"))
        .exclude(Q(username__isnull=True) | Q(username=""))
        .annotate(since=Coalesce(Subquery(restarted[:1]), Value(start, output_field=DateTimeField())))
        .filter(at__gt=F("since"))
        .values("username")
        .annotate(failures=Count("id"))
        .order_by("username")
    )
    accounts: list[dict[str, object]] = [
        {"username": row["username"], "failures": row["failures"], "delay": account_delay(row["failures"])}
        for row in by_account
    ]
    return {
        "addresses": sorted(addresses, key=lambda a: -int(a["failures"])),  # type: ignore[call-overload]
        "accounts": accounts,
    }
