"""The register of the cities' signing keys at the province (ADR 0026): the provincial office records each
city's public SM2 key as the city sent it by letter (fingerprint, who registered it, when, from which
letter or document), and retires it, keeping its history. An exchange file from a city is taken in only
when it is signed with that city's registered, current key (`check_file_key`)."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.crypto.backends import sm3
from phaseout.crypto.sm2 import is_public_key
from phaseout.messaging.actions import notify
from phaseout.messaging.models import Kind as MessageKind
from phaseout.orgs.models import Person, Role, Territory
from phaseout.orgs.scope import office_people, unit_territory
from phaseout.province.actions import SummaryError
from phaseout.province.models import CityKey, CityKeyEvent

LETTER_MAX = CityKey._meta.get_field("letter").max_length or 100
REASON_MAX = 2000
_HEX = re.compile(r"[0-9a-f]{128}")


class KeyRefused(SummaryError):
    """A write on the register of city keys refused, with a message for the person."""


def fingerprint(public: bytes) -> str:
    """The SM3 fingerprint of a public key (x || y), as the exchange file's key is fingerprinted."""
    return sm3(public).hex()


def parse_public_key(text: str) -> bytes:
    """The 64 bytes x || y of a public key written in hex (spaces and line breaks ignored; the 04 of the
    uncompressed form allowed); refused unless it is a point of the SM2 curve."""
    cleaned = re.sub(r"\s+", "", text or "").lower()
    if not cleaned:
        raise KeyRefused(_("Please give the city's public signing key."))
    if len(cleaned) == 130 and cleaned.startswith("04"):
        cleaned = cleaned[2:]
    if not _HEX.fullmatch(cleaned):
        raise KeyRefused(
            _("A public key is 128 hexadecimal digits (the SM2 key x‖y, optionally after the prefix 04).")
        )
    raw = bytes.fromhex(cleaned)
    if not is_public_key(raw):
        raise KeyRefused(_("These digits are not a public key of the SM2 curve."))
    return raw


def _text(value: str, limit: int, empty: str) -> str:
    value = (value or "").strip()
    if not value:
        raise KeyRefused(empty)
    if len(value) > limit:
        raise KeyRefused(_("The text is too long: at most %(limit)d characters.") % {"limit": limit})
    if "\x00" in value:
        raise KeyRefused(_("The text contains a character that is not allowed."))
    return value


def _check_province(by: User, city: Territory) -> None:
    person = Person.objects.filter(user=by).select_related("department__territory").first()
    territory = unit_territory(person) if person is not None else None
    if (
        person is None
        or person.role != Role.PROVINCE
        or territory is None
        or city.level != Territory.Level.CITY
        or city.parent_id != territory.code
    ):
        raise KeyRefused(
            _("Only the provincial office of the city's province keeps the city's signing keys.")
        )


def _local_day(moment: dt.datetime) -> str:
    return timezone.localdate(moment).isoformat()


@transaction.atomic
def register_key(
    *, city: Territory, public_key: str, letter: str, by: User, now: dt.datetime | None = None
) -> CityKey:
    """Register a city's public key as its current signing key; refused while the city has a current
    key (retire it first) and for a key registered before. The city's office is told."""
    now = now or timezone.now()
    _check_province(by, city)
    raw = parse_public_key(public_key)
    letter = _text(
        letter, LETTER_MAX, _("Please give the letter or document the city sent its key with (its number).")
    )
    print_ = fingerprint(raw)
    current = CityKey.objects.select_for_update().filter(city=city, retired_at__isnull=True).first()
    if current is not None:
        raise KeyRefused(
            _(
                "%(city)s already has a current signing key (fingerprint %(fingerprint)s); retire it before "
                "registering another."
            )
            % {"city": city.name, "fingerprint": current.fingerprint}
        )
    earlier = CityKey.objects.filter(fingerprint=print_).select_related("city").first()
    if earlier is not None:
        raise KeyRefused(
            _("This key was registered before, for %(city)s on %(day)s; a key is registered only once.")
            % {"city": earlier.city.name, "day": _local_day(earlier.registered_at)}
        )
    try:
        with transaction.atomic():
            key = CityKey.objects.create(
                city=city,
                public_key=raw.hex(),
                fingerprint=print_,
                letter=letter,
                registered_by=by,
                registered_at=now,
            )
    except IntegrityError:  # another registration for the city (or of the key) at the same moment
        raise KeyRefused(
            _("Another signing key of %(city)s was registered at the same moment; please reload the page.")
            % {"city": city.name}
        ) from None
    CityKeyEvent.objects.create(key=key, step=CityKeyEvent.Step.REGISTER, note=letter, by=by, at=now)
    record(
        actor=by,
        action="city_key.register",
        obj=key,
        data={"city": city.code, "fingerprint": print_, "letter": letter},
    )
    notify(
        office_people(city.code),
        MessageKind.NOTICE,
        _("The province registered the city's signing key (fingerprint %(fingerprint)s)")
        % {"fingerprint": print_[:16]},
        letter,
        obj=key,
        key=f"city_key.register:{key.pk}",
        by=by,
        now=now,
    )
    return key


@transaction.atomic
def retire_key(*, key: CityKey, reason: str, by: User, now: dt.datetime | None = None) -> CityKey:
    """Retire a city's key (replaced, compromised, the city's platform rebuilt): kept with who, when and
    why; an exchange file signed with it is refused from now on."""
    now = now or timezone.now()
    locked = CityKey.objects.select_for_update(of=("self",)).select_related("city").get(pk=key.pk)
    _check_province(by, locked.city)
    if locked.retired_at is not None:
        raise KeyRefused(
            _("This key was already retired on %(day)s.") % {"day": _local_day(locked.retired_at)}
        )
    reason = _text(reason, REASON_MAX, _("Please give the reason for retiring the key."))
    locked.retired_by, locked.retired_at, locked.retire_reason = by, now, reason
    locked.save(update_fields=["retired_by", "retired_at", "retire_reason"])
    CityKeyEvent.objects.create(key=locked, step=CityKeyEvent.Step.RETIRE, note=reason, by=by, at=now)
    record(
        actor=by,
        action="city_key.retire",
        obj=locked,
        reason=reason,
        data={"city": locked.city_id, "fingerprint": locked.fingerprint},
    )
    return locked


def check_file_key(city: Territory, key_fingerprint: str) -> CityKey:
    """The city's registered, current key the exchange file is signed with; refused (SummaryError, its
    message) when the city has registered none, when the key is retired, or when it is another key."""
    keys = CityKey.objects.filter(city=city)
    match = keys.filter(fingerprint=key_fingerprint).first()
    if match is not None and match.retired_at is None:
        return match
    if match is not None:
        assert match.retired_at is not None
        raise SummaryError(
            _(
                "The exchange file is signed with a key of %(city)s that was retired on %(day)s; the city "
                "signs with its current key."
            )
            % {"city": city.name, "day": _local_day(match.retired_at)}
        )
    if not keys.filter(retired_at__isnull=True).exists():
        raise SummaryError(
            _(
                "%(city)s has no signing key registered with the province: register the key the city sent "
                "by letter before taking in its file."
            )
            % {"city": city.name}
        )
    raise SummaryError(
        _(
            "The exchange file is not signed with the registered key of %(city)s (the file's key: "
            "%(fingerprint)s)."
        )
        % {"city": city.name, "fingerprint": key_fingerprint}
    )
