"""SM2 certificates (GM/T 0015-2012, X.509 v3 with SM2 keys and SM3withSM2 signatures), checked against
the certificate authorities this deployment trusts.

A bare public key says nothing about whose it is; a certificate from a CA binds it to a person or body
(GM/T 0015 §4, 密评's 身份鉴别 and 不可否认性). The deployment names the CAs it trusts in one directory
(`CERTIFICATE_AUTHORITIES`): their certificates (`*.pem`, `*.crt`, `*.cer`, PEM or DER) and their
revocation lists (`*.crl`). A certificate is accepted when

- it parses as an X.509 v3 certificate whose key is an SM2 key (id-ecPublicKey on sm2p256v1) and whose
  signature is SM3withSM2, within `MAX_BYTES`;
- its issuer is one of the trusted CAs (a CA certificate, basicConstraints cA, allowed to sign
  certificates, itself within its validity), and the CA's SM2 signature over it verifies (with the
  default identifier 1234567812345678, as GM/T 0015 and OpenSSL use);
- it is within its validity at the moment asked, is not a CA certificate, allows digital signatures
  when it says what it allows, and carries no critical extension this module does not understand;
- the CA's revocation list, when the directory has one, is signed by the CA, is current (its next
  update not passed) and does not list the certificate's serial number. A CA without a list in the
  directory is taken as revoking nothing; a list that has expired refuses every certificate of its
  CA (the status cannot be known), rather than accepting a revoked one.

ASN.1 is asn1crypto's; the SM2 arithmetic is `phaseout.crypto.sm2`. `issue` and `revocation_list`
make certificates and lists for the demo's own CA and for tests; in production the CA is outside.
Every refusal is a `CertificateRefused` with a code the interface turns into words.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, crl, keys, pem, x509
from cryptography.hazmat.primitives import hashes

from phaseout.crypto import sm2

SM3_WITH_SM2 = "1.2.156.10197.1.501"
SM2_CURVE = "1.2.156.10197.1.301"
MAX_BYTES = 8192  # a certificate or list larger than this is not read
MAX_AUTHORITY_FILES = 200
UNDERSTOOD_CRITICAL = {"basic_constraints", "key_usage", "extended_key_usage", "certificate_policies"}


class CertificateRefused(ValueError):
    """A certificate not accepted; `code` says why (see REFUSALS in phaseout.identity.factors)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True)
class Checked:
    """A certificate that passed: what a record of it keeps."""

    public_key: bytes  # x || y
    serial: str  # hexadecimal
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # SM3 of the DER, hexadecimal
    der: bytes


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    public_key: bytes
    revoked: frozenset[int] | None  # None: no list in the directory
    list_next_update: dt.datetime | None


def _sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def _der(data: bytes | str) -> bytes:
    """DER from DER, PEM, or base64 of DER (whitespace ignored)."""
    if isinstance(data, str):
        text = data.strip()
        if "-----BEGIN" in text:
            raw = text.encode("ascii", "replace")
        else:
            try:
                raw = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
            except (binascii.Error, ValueError):
                raise CertificateRefused("unreadable", "not base64") from None
    else:
        raw = data
    if len(raw) > MAX_BYTES * 2:
        raise CertificateRefused("too_large")
    if pem.detect(raw):
        try:
            _type, _headers, raw = pem.unarmor(raw)
        except ValueError:
            raise CertificateRefused("unreadable", "bad PEM armour") from None
    if len(raw) > MAX_BYTES:
        raise CertificateRefused("too_large")
    return raw


def _sm2_key(info: keys.PublicKeyInfo) -> bytes:
    algorithm = info["algorithm"]
    parameters = algorithm["parameters"]
    if (
        algorithm["algorithm"].dotted != "1.2.840.10045.2.1"
        or parameters.name != "named"
        or parameters.chosen.dotted != SM2_CURVE
    ):
        raise CertificateRefused("not_sm2")
    point = info["public_key"].native
    if not isinstance(point, bytes) or len(point) != 1 + sm2.PUBLIC_KEY_BYTES or point[0] != 4:
        raise CertificateRefused("not_sm2", "not an uncompressed point")
    return point[1:]


def _signature(value: bytes) -> bytes:
    """r || s from the DER SEQUENCE { r INTEGER, s INTEGER } of GM/T 0009 §7."""
    try:
        parsed = algos.DSASignature.load(value, strict=True)
        r, s = parsed["r"].native, parsed["s"].native
    except (ValueError, TypeError):
        raise CertificateRefused("bad_signature", "not a DER signature") from None
    if not (0 < r < 2**256 and 0 < s < 2**256):
        raise CertificateRefused("bad_signature", "r or s out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def load(data: bytes | str) -> x509.Certificate:
    """The certificate, parsed (strictly: no trailing bytes); CertificateRefused if it is not one."""
    raw = _der(data)
    try:
        certificate = x509.Certificate.load(raw, strict=True)
        certificate.native  # noqa: B018 - parse every field now, not at first use
    except (ValueError, TypeError, KeyError, RecursionError):  # deep nesting inside a field: refused
        raise CertificateRefused("unreadable") from None
    if certificate["signature_algorithm"]["algorithm"].dotted != SM3_WITH_SM2:
        raise CertificateRefused("not_sm2", "not signed with SM3withSM2")
    if certificate["tbs_certificate"]["signature"]["algorithm"].dotted != SM3_WITH_SM2:
        raise CertificateRefused("unreadable", "inner and outer signature algorithms differ")
    return certificate


def _signed_by(certificate: x509.Certificate, public: bytes) -> bool:
    signature = _signature(certificate["signature_value"].native)
    return sm2.verify(public, certificate["tbs_certificate"].dump(), signature)


def _within(certificate: x509.Certificate, at: dt.datetime) -> str | None:
    validity = certificate["tbs_certificate"]["validity"]
    if at < validity["not_before"].native:
        return "not_yet_valid"
    if at > validity["not_after"].native:
        return "expired"
    return None


def authorities(directory: Path | None) -> list[Authority]:
    """The trusted CAs of a directory, each with its revocation list (checked against the CA's key).
    A file that is not a CA certificate or a list of one of them is an error: the trust store is
    configuration, and a wrong file in it must be seen, not skipped."""
    if directory is None:
        return []
    files = sorted(p for p in directory.iterdir() if p.is_file())
    if len(files) > MAX_AUTHORITY_FILES:
        raise CertificateRefused("store", f"{directory} holds more than {MAX_AUTHORITY_FILES} files")
    found: list[tuple[x509.Certificate, bytes]] = []
    lists: list[crl.CertificateList] = []
    for path in files:
        suffix = path.suffix.lower()
        if suffix in (".pem", ".crt", ".cer"):
            certificate = load(path.read_bytes())
            usage = certificate.key_usage_value
            if not certificate.ca or usage is None or "key_cert_sign" not in usage.native:
                raise CertificateRefused("store", f"{path.name} is not a CA certificate")
            found.append((certificate, _sm2_key(certificate["tbs_certificate"]["subject_public_key_info"])))
        elif suffix == ".crl":
            try:
                item = crl.CertificateList.load(_der(path.read_bytes()), strict=True)
                item.native  # noqa: B018 - parse every field now
                lists.append(item)
            except (ValueError, TypeError, KeyError, RecursionError):
                raise CertificateRefused("store", f"{path.name} is not a revocation list") from None
    result = []
    for certificate, public in found:
        mine = [item for item in lists if item.issuer.hashable == certificate.subject.hashable]
        revoked: set[int] | None = None
        next_update = None
        for item in mine:
            if item["signature_algorithm"]["algorithm"].dotted != SM3_WITH_SM2 or not sm2.verify(
                public, item["tbs_cert_list"].dump(), _signature(item["signature"].native)
            ):
                who = certificate.subject.human_friendly
                raise CertificateRefused("store", f"a revocation list of {who} does not verify")
            revoked = (revoked or set()) | {
                entry["user_certificate"].native for entry in item["tbs_cert_list"]["revoked_certificates"]
            }
            later = item["tbs_cert_list"]["next_update"].native
            next_update = later if next_update is None else min(next_update, later)
        result.append(
            Authority(certificate, public, None if revoked is None else frozenset(revoked), next_update)
        )
    for item in lists:
        if not any(item.issuer.hashable == a.certificate.subject.hashable for a in result):
            raise CertificateRefused("store", "a revocation list of a CA not in the store")
    return result


def check(data: bytes | str, trusted: Iterable[Authority], at: dt.datetime) -> Checked:
    """The certificate checked as the module's docstring says, at `at` (aware)."""
    certificate = load(data)
    tbs = certificate["tbs_certificate"]
    public = _sm2_key(tbs["subject_public_key_info"])
    if tbs["version"].native != "v3":
        raise CertificateRefused("unreadable", "not a version 3 certificate")
    unknown = set(certificate.critical_extensions) - UNDERSTOOD_CRITICAL
    if unknown:
        raise CertificateRefused("unreadable", f"critical extensions not understood: {sorted(unknown)}")
    if certificate.ca:
        raise CertificateRefused("ca_certificate")
    usage = certificate.key_usage_value
    if usage is not None and "digital_signature" not in usage.native:
        raise CertificateRefused("key_usage")
    issuer = next((a for a in trusted if a.certificate.subject.hashable == certificate.issuer.hashable), None)
    if issuer is None:
        raise CertificateRefused("untrusted")
    if not _signed_by(certificate, issuer.public_key):
        raise CertificateRefused("bad_signature")
    problem = _within(issuer.certificate, at)
    if problem is not None:
        raise CertificateRefused("authority_" + problem)
    problem = _within(certificate, at)
    if problem is not None:
        raise CertificateRefused(problem)
    if issuer.revoked is not None:
        if issuer.list_next_update is None or at > issuer.list_next_update:
            raise CertificateRefused("list_expired")
        if tbs["serial_number"].native in issuer.revoked:
            raise CertificateRefused("revoked")
    der = certificate.dump()
    return Checked(
        public_key=public,
        serial=f"{tbs['serial_number'].native:x}",
        subject=certificate.subject.human_friendly,
        issuer=certificate.issuer.human_friendly,
        not_before=tbs["validity"]["not_before"].native,
        not_after=tbs["validity"]["not_after"].native,
        fingerprint=_sm3(der),
        der=der,
    )


# ── making certificates and lists: the demo's own CA, and tests ────────────────────────────────────


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name.build(
        {"country_name": "CN", "organization_name": organisation, "common_name": common_name}
    )


def _time(moment: dt.datetime) -> x509.Time:
    return x509.Time(name="utc_time" if moment.year < 2050 else "general_time", value=moment)


def _sign(private_key: int, tbs_der: bytes) -> bytes:
    signature = sm2.sign(private_key, tbs_der)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    return algos.DSASignature({"r": r, "s": s}).dump()


def issue(
    *,
    public_key: bytes,
    common_name: str,
    organisation: str,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer_key: int,
    issuer: x509.Certificate | None = None,
    authority: bool = False,
    usage: set[str] | None = None,
) -> bytes:
    """A certificate (DER) for `public_key`, signed with `issuer_key`; self-signed when `issuer` is
    None (a root CA). `authority` makes a CA certificate (may sign certificates and lists); `usage`
    overrides the key usage (asn1crypto's names)."""
    subject = _name(common_name, organisation)
    if usage is None:
        usage = {"key_cert_sign", "crl_sign"} if authority else {"digital_signature"}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": SM3_WITH_SM2},
            "issuer": subject if issuer is None else issuer.subject,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": keys.PublicKeyInfo(
                {
                    "algorithm": keys.PublicKeyAlgorithm(
                        {
                            "algorithm": "ec",
                            "parameters": keys.ECDomainParameters(name="named", value=SM2_CURVE),
                        }
                    ),
                    "public_key": b"\x04" + public_key,
                }
            ),
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": authority}},
                {"extn_id": "key_usage", "critical": True, "extn_value": usage},
            ],
        }
    )
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM3_WITH_SM2},
            "signature_value": _sign(issuer_key, tbs.dump()),
        }
    ).dump()


def revocation_list(
    *,
    issuer: x509.Certificate,
    issuer_key: int,
    serials: Iterable[int],
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> bytes:
    """A revocation list (DER) of the CA `issuer`, listing `serials`."""
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": {"algorithm": SM3_WITH_SM2},
            "issuer": issuer.subject,
            "this_update": _time(this_update),
            "next_update": _time(next_update),
            "revoked_certificates": [
                {"user_certificate": serial, "revocation_date": _time(this_update)} for serial in serials
            ],
        }
    )
    return crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": {"algorithm": SM3_WITH_SM2},
            "signature": _sign(issuer_key, tbs.dump()),
        }
    ).dump()
