"""密评 身份鉴别 and L3-CES1-04: the SM2 key of the second factor bound to its holder by a certificate from a
CA the deployment trusts (GM/T 0015), checked at enrolment and again at every sign-in — expiry and
revocation included — and the certificate code checked against OpenSSL's SM2 both ways."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.test import Client

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.crypto import certs, sm2
from phaseout.identity.models import Sm2Device
from phaseout.orgs.models import Person
from tests.test_dengbao_sm2_factor import _signed_in_with_password as _password
from tests.test_dengbao_sm2_factor import _text

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 9:00 in Jiangmen
DAY = dt.timedelta(days=1)
OPENSSL = shutil.which("openssl")


@dataclass
class Ca:
    key: int
    der: bytes
    directory: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.der)

    def leaf(
        self, key: int, serial: int = 1001, days: int = 365, start: dt.datetime = T0, **kw: Any
    ) -> bytes:
        return certs.issue(
            public_key=sm2.public_key(key),
            common_name=kw.pop("common_name", "张三"),
            organisation="江门市工业和信息化局",
            serial=serial,
            not_before=start - DAY,
            not_after=start + days * DAY,
            issuer_key=self.key,
            issuer=self.certificate,
            **kw,
        )

    def revoke(self, *serials: int, this_update: dt.datetime = T0, days: int = 7) -> None:
        (self.directory / "root.crl").write_bytes(
            certs.revocation_list(
                issuer=self.certificate,
                issuer_key=self.key,
                serials=serials,
                this_update=this_update,
                next_update=this_update + days * DAY,
            )
        )


def _authority(directory: Path, name: str = "测试根证书", days: int = 3650) -> Ca:
    key = sm2.generate_private_key()
    der = certs.issue(
        public_key=sm2.public_key(key),
        common_name=name,
        organisation="测试证书认证机构",
        serial=1,
        not_before=T0 - 30 * DAY,
        not_after=T0 + days * DAY,
        issuer_key=key,
        authority=True,
    )
    directory.mkdir(exist_ok=True)
    (directory / "root.pem").write_bytes(der)
    return Ca(key, der, directory)


@pytest.fixture
def ca(tmp_path: Path) -> Ca:
    return _authority(tmp_path / "ca")


def _refused(code: str, data: bytes | str, ca: Ca, at: dt.datetime = T0) -> None:
    with pytest.raises(certs.CertificateRefused) as refused:
        certs.check(data, certs.authorities(ca.directory), at)
    assert refused.value.code == code


# ── the certificate check ───────────────────────────────────────────────────────────────────


def test_mipin_a_certificate_from_a_trusted_ca_is_accepted_with_what_a_record_keeps(ca: Ca) -> None:
    key = sm2.generate_private_key()
    der = ca.leaf(key, serial=0xABC123)
    checked = certs.check(der, certs.authorities(ca.directory), T0)
    digest = hashes.Hash(hashes.SM3())
    digest.update(der)
    assert checked == certs.Checked(
        public_key=sm2.public_key(key),
        serial="abc123",
        subject="Common Name: 张三, Organization: 江门市工业和信息化局, Country: CN",
        issuer="Common Name: 测试根证书, Organization: 测试证书认证机构, Country: CN",
        not_before=T0 - DAY,
        not_after=T0 + 365 * DAY,
        fingerprint=digest.finalize().hex(),
        der=der,
    )
    # PEM and base64 of the DER read the same.
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    assert certs.check(pem, certs.authorities(ca.directory), T0) == checked
    assert certs.check(base64.b64encode(der).decode(), certs.authorities(ca.directory), T0) == checked


def test_mipin_a_certificate_is_refused_outside_its_validity_or_its_cas(ca: Ca, tmp_path: Path) -> None:
    der = ca.leaf(sm2.generate_private_key(), days=30)
    certs.check(der, certs.authorities(ca.directory), T0 + 30 * DAY)  # the last moment: still valid
    _refused("expired", der, ca, T0 + 30 * DAY + dt.timedelta(seconds=1))
    _refused("not_yet_valid", der, ca, T0 - DAY - dt.timedelta(seconds=1))
    # The CA's own certificate ended: nothing it issued is accepted any more.
    short = _authority(tmp_path / "short", days=60)
    _refused("authority_expired", short.leaf(sm2.generate_private_key(), days=365), short, T0 + 61 * DAY)
    other = _authority(tmp_path / "other", name="另一个根证书")
    _refused("untrusted", other.leaf(sm2.generate_private_key()), ca)
    # Same name as the trusted CA, another key: its signature does not verify.
    impostor = _authority(tmp_path / "impostor")
    _refused("bad_signature", impostor.leaf(sm2.generate_private_key()), ca)


def test_mipin_a_certificate_altered_after_issue_is_refused(ca: Ca) -> None:
    der = ca.leaf(sm2.generate_private_key(), common_name="张三")
    altered = der.replace("张三".encode(), "李四".encode())
    assert altered != der
    _refused("bad_signature", altered, ca)


def test_mipin_a_ca_certificate_or_one_not_for_signatures_is_refused(ca: Ca) -> None:
    key = sm2.generate_private_key()
    _refused("ca_certificate", ca.leaf(key, authority=True), ca)
    _refused("key_usage", ca.leaf(key, usage={"key_encipherment"}), ca)


def _p256_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "p256")])
    built = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(T0 - DAY)
        .not_valid_after(T0 + DAY)
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unreadable"),
        (b"\x30\x03\x02\x01\x01", "unreadable"),
        ("not base64 at all!", "unreadable"),
        (b"0" * (certs.MAX_BYTES + 1), "too_large"),
        (b"-----BEGIN CERTIFICATE-----\n" + b"A" * 20_000 + b"\n-----END CERTIFICATE-----\n", "too_large"),
        (_p256_certificate(), "not_sm2"),
    ],
)
def test_mipin_what_is_not_an_sm2_certificate_is_refused(ca: Ca, data: bytes | str, code: str) -> None:
    _refused(code, data, ca)


def _sequence(content: bytes, tag: bytes = b"\x30") -> bytes:
    size = len(content)
    length = bytes([size]) if size < 128 else bytes([0x82]) + size.to_bytes(2, "big")
    return tag + length + content


def test_mipin_a_certificate_nested_too_deep_to_read_is_refused(ca: Ca) -> None:
    """A subject attribute of a type nobody knows (1.2.3.4) whose value is 1,500 nested SEQUENCEs (6 KB):
    the parser's recursion runs out; refused as unreadable, not a server error. Built byte by byte:
    asn1crypto itself cannot build it."""
    deep = b"\x05\x00"
    for _ in range(1500):
        deep = _sequence(deep)
    subject = _sequence(_sequence(_sequence(b"\x06\x03\x2a\x03\x04" + deep), b"\x31"))
    good = certs.load(ca.leaf(sm2.generate_private_key()))
    tbs = good["tbs_certificate"]
    fields = ["version", "serial_number", "signature", "issuer", "validity", "subject",
              "subject_public_key_info", "extensions"]  # fmt: skip
    body = b"".join(subject if f == "subject" else tbs[f].dump() for f in fields)
    certificate = _sequence(
        _sequence(body) + good["signature_algorithm"].dump() + good["signature_value"].dump()
    )
    assert len(certificate) < certs.MAX_BYTES
    _refused("unreadable", certificate, ca)


def test_mipin_a_revoked_certificate_is_refused_and_an_out_of_date_list_refuses_all(ca: Ca) -> None:
    revoked, kept = (
        ca.leaf(sm2.generate_private_key(), serial=5),
        ca.leaf(sm2.generate_private_key(), serial=6),
    )
    ca.revoke(5, days=7)
    _refused("revoked", revoked, ca)
    certs.check(kept, certs.authorities(ca.directory), T0)
    certs.check(kept, certs.authorities(ca.directory), T0 + 7 * DAY)
    # Past the list's next update the status of any certificate of that CA cannot be known.
    _refused("list_expired", kept, ca, T0 + 7 * DAY + dt.timedelta(seconds=1))


def test_mipin_the_trust_store_refuses_what_is_not_a_ca_or_its_list(ca: Ca, tmp_path: Path) -> None:
    leaf = ca.leaf(sm2.generate_private_key())
    (ca.directory / "leaf.pem").write_bytes(leaf)
    with pytest.raises(certs.CertificateRefused, match=r"store: leaf\.pem is not a CA certificate"):
        certs.authorities(ca.directory)
    (ca.directory / "leaf.pem").unlink()
    # A list signed by another key under the CA's name.
    impostor = _authority(tmp_path / "impostor")
    impostor.revoke(1)
    shutil.copy(impostor.directory / "root.crl", ca.directory / "root.crl")
    with pytest.raises(certs.CertificateRefused, match="does not verify"):
        certs.authorities(ca.directory)
    # A list of a CA that is not in the store.
    other = _authority(tmp_path / "other", name="另一个根证书")
    other.revoke(1)
    shutil.copy(other.directory / "root.crl", ca.directory / "root.crl")
    with pytest.raises(certs.CertificateRefused, match="a revocation list of a CA not in the store"):
        certs.authorities(ca.directory)


# ── OpenSSL's SM2 agrees ──────────────────────────────────────────────────────────────────


def _openssl(*args: str, cwd: Path) -> str:
    assert OPENSSL is not None, "the openssl command is needed"
    done = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


DISTID = "distid:1234567812345678"


def test_mipin_a_certificate_openssl_issued_is_accepted_and_ours_verify_with_openssl(tmp_path: Path) -> None:
    work = tmp_path / "openssl"
    work.mkdir()
    (work / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n")
    for name in ("ca", "leaf"):
        _openssl(
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:SM2",
            "-out",
            f"{name}.key",
            cwd=work,
        )
    ca_args = ["-subj", "/C=CN/O=OpenSSL CA/CN=OpenSSL Root", "-days", "30", "-out", "store/ca.pem"]
    (work / "store").mkdir()
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-sm3", "-sigopt", DISTID, *ca_args,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=work)  # fmt: skip
    _openssl("req", "-new", "-key", "leaf.key", "-sm3", "-sigopt", DISTID,
             "-subj", "/C=CN/O=Jiangmen/CN=Zhang San", "-out", "leaf.csr", cwd=work)  # fmt: skip
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "store/ca.pem", "-CAkey", "ca.key",
             "-set_serial", "77", "-sm3", "-sigopt", DISTID, "-vfyopt", DISTID, "-days", "10",
             "-extfile", "ext.cnf", "-out", "leaf.pem", cwd=work)  # fmt: skip
    leaf = (work / "leaf.pem").read_bytes()
    start = certs.load(leaf)["tbs_certificate"]["validity"]["not_before"].native
    checked = certs.check(leaf, certs.authorities(work / "store"), start + dt.timedelta(hours=1))
    assert (checked.serial, checked.subject) == (
        "4d",
        "Common Name: Zhang San, Organization: Jiangmen, Country: CN",
    )
    # A byte of OpenSSL's certificate changed: refused.
    der = certs.load(leaf).dump()
    with pytest.raises(certs.CertificateRefused, match="bad_signature"):
        certs.check(der.replace(b"Zhang San", b"Zhang Sun"), certs.authorities(work / "store"), start + DAY)

    # Ours: OpenSSL verifies the CA's SM2 signature over the certificate's body.
    ca = _authority(tmp_path / "ours")
    ours = certs.load(ca.leaf(sm2.generate_private_key()))
    (work / "tbs.der").write_bytes(ours["tbs_certificate"].dump())
    (work / "sig.der").write_bytes(ours["signature_value"].native)
    (work / "ca.der").write_bytes(ca.der)
    (work / "capub.pem").write_text(
        _openssl("x509", "-inform", "der", "-in", "ca.der", "-pubkey", "-noout", cwd=work)
    )
    verify = ["dgst", "-sm3", "-sigopt", DISTID, "-verify", "capub.pem", "-signature", "sig.der"]
    assert _openssl(*verify, "tbs.der", cwd=work).strip() == "Verified OK"
    (work / "tbs.der").write_bytes(ours["tbs_certificate"].dump().replace("张三".encode(), "李四".encode()))
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, *verify, "tbs.der"], cwd=work, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "Verification failure" in done.stdout


# ── the second factor over HTTP ───────────────────────────────────────────────────────────


@pytest.fixture
def sm2_with_cas(settings: Any, ca: Ca) -> Ca:
    settings.SECOND_FACTOR = "sm2"
    settings.CERTIFICATE_AUTHORITIES = str(ca.directory)
    return ca


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _enrol(c: Client, key: int, first: str) -> Any:
    text = _text(c, "/accounts/second-factor/new/")
    return c.post("/accounts/second-factor/new/", {"token": f"{first}.{sm2.sign(key, text.encode()).hex()}"})


def _sign_in(c: Client, key: int) -> Any:
    text = _text(c, "/accounts/second-factor/")
    return c.post(
        "/accounts/second-factor/", {"token": sm2.sign(key, text.encode()).hex(), "next": "/cases/"}
    )


def _error(response: Any) -> str:
    match = re.search(r'<li role="alert">([^<]+)</li>', response.content.decode())
    assert match is not None, response.content.decode()[:3000]
    return html.unescape(match.group(1))


def test_mipin_a_key_enrols_by_its_certificate_and_signs_in_while_it_holds(
    district: Person, sm2_with_cas: Ca, clock: Any
) -> None:
    key = sm2.generate_private_key()
    der = sm2_with_cas.leaf(key, serial=0x1F2E)
    c = _password(district)
    assert _enrol(c, key, base64.b64encode(der).decode()).status_code == 302
    device = Sm2Device.objects.get(user=district.user)
    assert (device.confirmed, device.public_key, device.certificate) == (
        True,
        sm2.public_key(key).hex(),
        base64.b64encode(der).decode(),
    )
    assert (device.certificate_serial, device.certificate_not_after) == ("1f2e", T0 + 365 * DAY)
    enrolled = AuditEvent.objects.get(action="auth.otp_enrolled")
    assert (enrolled.actor, enrolled.outcome, enrolled.data) == (
        district.user,
        Outcome.SUCCESS,
        {
            "kind": "sm2",
            "certificate_serial": "1f2e",
            "certificate_subject": "Common Name: 张三, Organization: 江门市工业和信息化局, Country: CN",
            "certificate_issuer": "Common Name: 测试根证书, Organization: 测试证书认证机构, Country: CN",
            "certificate_not_after": (T0 + 365 * DAY).isoformat(),
        },
    )
    assert c.get("/cases/").status_code == 200
    response = _sign_in(_password(district), key)
    assert response["Location"] == "/cases/"
    assert AuditEvent.objects.filter(action="auth.otp_verified", actor=district.user).count() == 1


@pytest.mark.parametrize(
    ("case", "message", "reason"),
    [
        ("bare key", "本平台要求使用证书认证机构签发的证书，不接受单独的公钥。", "bare_key"),
        ("expired", "该证书已过期，请向证书认证机构申请新证书。", "expired"),
        ("untrusted", "该证书不是由本平台信任的证书认证机构签发的。", "untrusted"),
        ("revoked", "该证书已被吊销。", "revoked"),
        ("garbage", "这不是一张可读的 SM2 证书（GM/T 0015）。", "unreadable"),
    ],
)
def test_mipin_an_enrolment_without_a_good_certificate_is_refused_with_its_reason(
    district: Person, sm2_with_cas: Ca, clock: Any, tmp_path: Path, case: str, message: str, reason: str
) -> None:
    key = sm2.generate_private_key()
    first = {
        "bare key": lambda: "04" + sm2.public_key(key).hex(),
        "expired": lambda: base64.b64encode(sm2_with_cas.leaf(key, start=T0 - 400 * DAY)).decode(),
        "untrusted": lambda: base64.b64encode(
            _authority(tmp_path / "other", name="其他根证书").leaf(key)
        ).decode(),
        "revoked": lambda: base64.b64encode(sm2_with_cas.leaf(key, serial=9)).decode(),
        "garbage": lambda: base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),
    }[case]()
    if case == "revoked":
        sm2_with_cas.revoke(9)
    c = _password(district)
    response = _enrol(c, key, first)
    assert response.status_code == 200 and _error(response) == message
    assert not Sm2Device.objects.filter(user=district.user, confirmed=True).exists()
    failed = AuditEvent.objects.get(action="auth.otp_failed")
    assert (failed.actor, failed.outcome, failed.data["stage"], failed.data["reason"]) == (
        district.user,
        Outcome.FAILURE,
        "enrolment",
        reason,
    )
    assert not AuditEvent.objects.filter(action="auth.otp_enrolled").exists()
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/new/")  # not signed in


def test_mipin_a_certificate_revoked_or_expired_since_enrolment_stops_the_sign_in(
    district: Person, sm2_with_cas: Ca, clock: Any
) -> None:
    key = sm2.generate_private_key()
    der = sm2_with_cas.leaf(key, serial=42, days=30)
    assert _enrol(_password(district), key, base64.b64encode(der).decode()).status_code == 302
    sm2_with_cas.revoke(42)
    c = _password(district)
    response = _sign_in(c, key)
    assert response.status_code == 200 and _error(response) == "该证书已被吊销。"
    failed = AuditEvent.objects.get(action="auth.otp_failed")
    assert (failed.actor, failed.data["reason"]) == (district.user, "revoked")
    assert c.get("/cases/")["Location"].startswith("/accounts/second-factor/")
    # The CA lifts nothing, but its list runs out: no certificate of that CA is taken on trust.
    clock.move_to(T0 + 8 * DAY)
    sm2_with_cas.revoke(this_update=T0, days=7)  # a list with nothing revoked, out of date by now
    response = _sign_in(_password(district), key)
    assert _error(response) == ("证书认证机构的证书吊销列表已过期，无法确认证书状态，请告知安全管理员。")
    # A current list, and the certificate past its end.
    (sm2_with_cas.directory / "root.crl").unlink()
    clock.move_to(T0 + 31 * DAY)
    response = _sign_in(_password(district), key)
    assert _error(response) == "该证书已过期，请向证书认证机构申请新证书。"
    assert [
        e.data["reason"] for e in AuditEvent.objects.filter(action="auth.otp_failed").order_by("seq")
    ] == [
        "revoked",
        "list_expired",
        "expired",
    ]
    assert not AuditEvent.objects.filter(action="auth.otp_verified").exists()


def test_mipin_a_key_enrolled_before_cas_were_named_is_sent_to_be_reset(
    district: Person, settings: Any, ca: Ca, clock: Any
) -> None:
    settings.SECOND_FACTOR = "sm2"
    key = sm2.generate_private_key()
    assert _enrol(_password(district), key, "04" + sm2.public_key(key).hex()).status_code == 302
    settings.CERTIFICATE_AUTHORITIES = str(ca.directory)
    response = _sign_in(_password(district), key)
    assert _error(response) == "您的密钥登记时没有证书：请安全管理员重置后，用您的证书重新登记。"
    assert AuditEvent.objects.get(action="auth.otp_failed").data["reason"] == "enrolled_without_certificate"
    # A trust store that cannot be read stops every sign-in with its own message.
    (ca.directory / "junk.pem").write_bytes(b"junk")
    response = _sign_in(_password(district), key)
    assert _error(response) == "本平台信任的证书认证机构列表无法读取，请告知安全管理员。"


def test_mipin_the_software_key_command_answers_with_its_certificate(
    district: Person, sm2_with_cas: Ca, clock: Any, tmp_path: Path
) -> None:
    key_file, cert_file = tmp_path / "key", tmp_path / "cert.pem"
    call_command("sm2_key", "generate", str(key_file), stdout=io.StringIO())
    key = int(key_file.read_text().strip(), 16)
    cert_file.write_bytes(sm2_with_cas.leaf(key))
    c = _password(district)
    text = _text(c, "/accounts/second-factor/new/")
    out = io.StringIO()
    call_command("sm2_key", "enrol", str(key_file), text, "--certificate", str(cert_file), stdout=out)
    assert c.post("/accounts/second-factor/new/", {"token": out.getvalue().strip()}).status_code == 302
    assert Sm2Device.objects.get(user=district.user, confirmed=True).certificate
