"""L3-CES1-04 and 密评 身份鉴别: an SM2 key as the second factor (SECOND_FACTOR=sm2). The server issues a
single-use challenge, the person's key (a software key file here, a USB key in production) signs it,
the server verifies against the public key enrolled by signing a first challenge."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.crypto import sm2
from phaseout.identity import factors
from phaseout.identity.models import Sm2Device
from phaseout.orgs.models import Person
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
WRONG = "签名核验不通过：请用密钥对当前显示的文字签名（每次显示的文字都不同）。"


@pytest.fixture(autouse=True)
def _sm2(settings: Any) -> None:
    settings.SECOND_FACTOR = "sm2"


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _text(client: Client, url: str) -> str:
    body = client.get(url).content.decode()
    match = re.search(r'<code id="sm2-message">([^<]+)</code>', body)
    assert match is not None, body[:2000]
    return html.unescape(match.group(1))


def _signed_in_with_password(person: Person) -> Client:
    c = Client()
    response = c.post("/accounts/login/", {"username": person.user.username, "password": PASSWORD})
    assert response.status_code == 302
    return c


def _enrol(c: Client, key: int) -> Any:
    text = _text(c, "/accounts/second-factor/new/")
    answer = f"04{sm2.public_key(key).hex()}.{sm2.sign(key, text.encode()).hex()}"
    return c.post("/accounts/second-factor/new/", {"token": answer})


def test_l3_ces1_04_sm2_a_key_enrols_by_signing_a_challenge_and_signs_in(
    district: Person, clock: Any
) -> None:
    key = sm2.generate_private_key()
    c = _signed_in_with_password(district)
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/new/")
    first = _text(c, "/accounts/second-factor/new/")
    assert first.startswith(f"phaseout-sm2-factor:v1:{district.user.pk}:")
    assert _text(c, "/accounts/second-factor/new/") != first  # a fresh challenge on every showing
    response = _enrol(c, key)
    assert response.status_code == 302
    device = Sm2Device.objects.get(user=district.user)
    assert (device.confirmed, device.public_key, device.challenge) == (True, sm2.public_key(key).hex(), "")
    enrolled = AuditEvent.objects.get(action="auth.otp_enrolled")
    assert (enrolled.actor, enrolled.data) == (district.user, {"kind": "sm2"})
    assert c.get("/cases/").status_code == 200
    # Next sign-in: the key signs the challenge the page shows.
    c = _signed_in_with_password(district)
    text = _text(c, "/accounts/second-factor/")
    response = c.post(
        "/accounts/second-factor/", {"token": sm2.sign(key, text.encode()).hex(), "next": "/cases/"}
    )
    assert response["Location"] == "/cases/"
    assert AuditEvent.objects.filter(action="auth.otp_verified", actor=district.user).count() == 1
    assert c.get("/cases/").status_code == 200


def test_l3_ces1_04_sm2_another_key_an_old_signature_or_a_late_one_is_refused(
    district: Person, clock: Any
) -> None:
    key, other = sm2.generate_private_key(), sm2.generate_private_key()
    assert _enrol(_signed_in_with_password(district), key).status_code == 302
    c = _signed_in_with_password(district)
    text = _text(c, "/accounts/second-factor/")
    refused = c.post("/accounts/second-factor/", {"token": sm2.sign(other, text.encode()).hex()})
    assert WRONG in refused.content.decode()
    failed = AuditEvent.objects.get(action="auth.otp_failed")
    assert (failed.actor, failed.outcome, failed.data["kind"]) == (district.user, Outcome.FAILURE, "sm2")
    # The right key over a challenge already used (replay) is refused: each challenge is used once.
    clock.shift(dt.timedelta(seconds=5))  # past django-otp's doubling wait after the failure
    replay = c.post("/accounts/second-factor/", {"token": sm2.sign(key, text.encode()).hex()})
    assert WRONG in replay.content.decode()
    # A challenge answered after five minutes is refused.
    clock.shift(dt.timedelta(seconds=10))
    text = _text(c, "/accounts/second-factor/")
    clock.shift(dt.timedelta(seconds=factors.Sm2Factor.CHALLENGE_SECONDS + 1))
    late = c.post("/accounts/second-factor/", {"token": sm2.sign(key, text.encode()).hex()})
    assert WRONG in late.content.decode()
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/")  # still not signed in
    assert AuditEvent.objects.filter(action="auth.otp_failed").count() == 3
    assert not AuditEvent.objects.filter(action="auth.otp_verified").exists()


@pytest.mark.parametrize("answer", ["", "00" * 64, "zz" * 64, "12345", "x" * 300])
def test_l3_ces1_04_sm2_malformed_answers_are_refused(district: Person, clock: Any, answer: str) -> None:
    key = sm2.generate_private_key()
    assert _enrol(_signed_in_with_password(district), key).status_code == 302
    c = _signed_in_with_password(district)
    _text(c, "/accounts/second-factor/")
    response = c.post("/accounts/second-factor/", {"token": answer})
    assert response.status_code == 200 and response.get("Location") != "/cases/"
    assert not AuditEvent.objects.filter(action="auth.otp_verified").exists()


def test_l3_ces1_04_sm2_enrolment_refuses_a_signature_by_another_key(district: Person, clock: Any) -> None:
    key, other = sm2.generate_private_key(), sm2.generate_private_key()
    c = _signed_in_with_password(district)
    text = _text(c, "/accounts/second-factor/new/")
    response = c.post(
        "/accounts/second-factor/new/",
        {"token": f"{sm2.public_key(key).hex()}.{sm2.sign(other, text.encode()).hex()}"},
    )
    assert WRONG in response.content.decode()
    assert not Sm2Device.objects.filter(confirmed=True).exists()
    assert AuditEvent.objects.get(action="auth.otp_failed").data["stage"] == "enrolment"


def test_l3_ces1_04_sm2_the_demo_key_file_answers_the_challenge(
    district: Person, clock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ukey.txt"
    call_command("sm2_key", "generate", str(path))
    assert (path.stat().st_mode & 0o777) == 0o600
    c = _signed_in_with_password(district)
    capsys.readouterr()
    call_command("sm2_key", "enrol", str(path), _text(c, "/accounts/second-factor/new/"))
    assert (
        c.post("/accounts/second-factor/new/", {"token": capsys.readouterr().out.strip()}).status_code == 302
    )
    c = _signed_in_with_password(district)
    call_command("sm2_key", "sign", str(path), _text(c, "/accounts/second-factor/"))
    response = c.post("/accounts/second-factor/", {"token": capsys.readouterr().out.strip()})
    assert response.status_code == 302 and c.get("/cases/").status_code == 200
