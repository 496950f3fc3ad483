"""密评 不可否认性 (GB/T 39786-2021): decisions signed with the issuing body's SM2 key (数据原发证据), the
enterprise's opening of a served decision recorded as a receipt signed by the platform (数据接收证据),
verified on download and by `phaseout documents verify`."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docx
import pytest
from cryptography.hazmat.primitives import hashes
from django.core.management import CommandError, call_command

from phaseout import crypto
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.audit.verify import verify as verify_chain
from phaseout.cases import actions, documents, signatures
from phaseout.cases.errors import CaseActionError
from phaseout.cases.models import CaseEvent, Decision, DecisionReceipt
from phaseout.crypto import keyring, sm2
from phaseout.orgs.models import Person, Role
from tests.conftest import client_for
from tests.factories import CaseFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def key_file(tmp_path: Path, settings: Any) -> Path:
    """A keyring of the test's own in a file (mode 600), as production configures it."""
    path = tmp_path / "keys.json"
    keyring.write_file(path, keyring.generate())
    settings.PHASEOUT_KEYS = ""
    settings.PHASEOUT_KEYS_FILE = str(path)
    settings.PHASEOUT_DEV_KEYRING = False
    crypto.backend.cache_clear()
    return path


def _sm3(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def _issue(dept: Person) -> Decision:
    case = actions.order_rectification(
        case=CaseFactory(),
        by=dept.user,
        today=TODAY,
        issued_on=dt.date(2026, 2, 20),
        served_on=dt.date(2026, 2, 27),
    )
    return case.decisions.get()


def _firm(decision: Decision) -> Person:
    return PersonFactory(
        user=UserFactory(username=f"firm{decision.pk}"),
        role=Role.ENTERPRISE,
        enterprise=decision.case.enterprise,
    )


# ── SM2 itself ──


def test_mipin_sm2_gives_the_gm_t_0003_example_signature() -> None:
    """GM/T 0003.2-2012 appendix A: example curve, ALICE123@YAHOO.COM, "message digest", its k."""
    ka = sm2.KNOWN_ANSWER
    assert sm2.public_key(ka.private_key, ka.curve) == ka.public_key
    assert sm2.z_value(ka.public_key, ka.identifier, ka.curve).hex().upper() == ka.z
    assert sm2.message_digest(ka.message, ka.public_key, ka.identifier, ka.curve).hex().upper() == ka.e
    signature = sm2.sign(ka.private_key, ka.message, identifier=ka.identifier, curve=ka.curve, k=ka.k)
    assert signature.hex().upper() == ka.signature
    assert sm2.verify(ka.public_key, ka.message, signature, identifier=ka.identifier, curve=ka.curve)
    assert not sm2.verify(
        ka.public_key, b"message digesT", signature, identifier=ka.identifier, curve=ka.curve
    )
    assert not sm2.verify(ka.public_key, ka.message, signature, curve=ka.curve)  # another identifier
    sm2.self_test()


def test_mipin_sm2_refuses_malformed_signatures_without_an_error() -> None:
    d = sm2.generate_private_key()
    public, signature = sm2.public_key(d), sm2.sign(d, b"m")
    assert sm2.verify(public, b"m", signature)
    n = sm2.SM2P256V1.n.to_bytes(32, "big")
    for bad in (b"", signature[:63], bytes(64), n + signature[32:], signature[:32] + n, b"\xff" * 64):
        assert not sm2.verify(public, b"m", bad)
    assert not sm2.verify(public[:63] + bytes([public[63] ^ 1]), b"m", signature)  # not on the curve
    # A fresh nonce each time (from `secrets`): two signatures of one message differ, both verify.
    again = sm2.sign(d, b"m")
    assert again != signature and sm2.verify(public, b"m", again)


def _der(signature: bytes) -> bytes:
    def integer(value: bytes) -> bytes:
        value = value.lstrip(b"\0") or b"\0"
        if value[0] & 0x80:
            value = b"\0" + value
        return b"\x02" + bytes([len(value)]) + value

    body = integer(signature[:32]) + integer(signature[32:])
    return b"\x30" + bytes([len(body)]) + body


def _from_der(der: bytes) -> bytes:
    assert der[0] == 0x30
    at, parts = 2, []
    for _ in range(2):
        length = der[at + 1]
        parts.append(int.from_bytes(der[at + 2 : at + 2 + length], "big").to_bytes(32, "big"))
        at += 2 + length
    return b"".join(parts)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_mipin_sm2_signatures_interoperate_with_openssl(tmp_path: Path) -> None:
    """OpenSSL 3's own SM2, given the identifier 1234567812345678 (its pkeyutl otherwise uses an empty
    one), verifies our signatures, and we verify its."""
    key = tmp_path / "k.pem"
    made = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)], capture_output=True, check=False
    )
    if made.returncode != 0:
        pytest.skip("this OpenSSL has no SM2")
    text = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-text", "-noout"], capture_output=True, text=True, check=True
    ).stdout
    hexes = text.split("priv:")[1].split("pub:")[0]
    d = int("".join(c for c in hexes if c in "0123456789abcdef"), 16)
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "p.pem")], check=True
    )
    message = "责令限期整改通知书".encode()
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "ours.der").write_bytes(_der(sm2.sign(d, message)))
    sm2_sm3 = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", str(tmp_path / "m")]
    checked = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "p.pem"), *sm2_sm3,
         "-sigfile", str(tmp_path / "ours.der")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Signature Verified Successfully" in checked.stdout, checked.stdout + checked.stderr
    subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-inkey", str(key), *sm2_sm3, "-out", str(tmp_path / "theirs.der")],
        check=True, capture_output=True,
    )  # fmt: skip
    theirs = _from_der((tmp_path / "theirs.der").read_bytes())
    assert sm2.verify(sm2.public_key(d), message, theirs)
    assert not sm2.verify(sm2.public_key(d), message + b".", theirs)


# ── 数据原发证据: the issuing body signs ──


def test_mipin_non_repudiation_an_issued_decision_is_signed_by_its_department(
    key_file: Path, energy_dept: Person, env_dept: Person
) -> None:
    decision = _issue(energy_dept)
    department = energy_dept.department
    assert department is not None
    assert decision.signing_key == f"dept.{department.pk}:v1"
    message = signatures.decision_bytes(decision)
    assert decision.digest == _sm3(message)
    signature = bytes.fromhex(decision.signature)
    public = crypto.public_key(decision.signing_key)
    assert sm2.verify(public, message, signature)  # plain SM2 with the default identifier: anyone can check
    assert signatures.check(decision) is None
    # Another body's key is another key: it does not verify this body's document.
    assert env_dept.department is not None
    assert crypto.public_key(f"dept.{env_dept.department.pk}:v1") != public
    assert not crypto.verify_signature(f"dept.{env_dept.department.pk}:v1", message, signature)
    # The keyring holds no private key of the body: it is derived from the signing seed, never SECRET_KEY.
    raw = json.loads(key_file.read_text())
    assert set(raw["signing"]) == {"current", "keys"} and decision.signature not in key_file.read_text()
    # The document shows its signature's key and digest.
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(documents.docx_bytes(decision))).paragraphs)
    assert f"电子签名：SM2（密钥 {decision.signing_key}）" in text and decision.digest in text


def test_mipin_non_repudiation_a_tampered_document_is_refused(energy_dept: Person) -> None:
    decision = _issue(energy_dept)
    changed = {**decision.content, "paragraphs": [*decision.content["paragraphs"][:-1], "已篡改"]}
    Decision.objects.filter(pk=decision.pk).update(content=changed)  # as SQL would, past the model
    decision.refresh_from_db()
    problem = signatures.check(decision)
    assert problem == f"文书 {decision.number} 签发后被改动：内容摘要不符。"
    client = client_for(energy_dept.user)
    exports = AuditEvent.objects.filter(action="export.decision_document").count()
    response = client.get(f"/decisions/{decision.pk}.docx", follow=True)
    assert response.redirect_chain[-1][0] == f"/cases/{decision.case_id}/"
    assert problem in response.content.decode()
    refused = AuditEvent.objects.get(action="decision.document_refused")
    assert (refused.outcome, refused.reason, refused.object_id, refused.actor_id) == (
        Outcome.REFUSED, problem, str(decision.pk), energy_dept.user.pk,
    )  # fmt: skip
    assert AuditEvent.objects.filter(action="export.decision_document").count() == exports  # not given
    with pytest.raises(CommandError, match=f"decision {decision.pk}: 文书 .* 签发后被改动"):
        call_command("documents", "verify")
    assert AuditEvent.objects.filter(action="documents.verify", outcome=Outcome.FAILURE).count() == 1


@pytest.mark.parametrize("change", ["flipped", "other_key", "missing"])
def test_mipin_non_repudiation_a_tampered_signature_is_refused(
    energy_dept: Person, env_dept: Person, change: str
) -> None:
    decision = _issue(energy_dept)
    signature = bytes.fromhex(decision.signature)
    if change == "flipped":
        Decision.objects.filter(pk=decision.pk).update(
            signature=(signature[:-1] + bytes([signature[-1] ^ 1])).hex()
        )
        expected = f"文书 {decision.number} 的签名核验不通过。"
    elif change == "other_key":  # signed again, by another body, over the very same bytes
        assert env_dept.department is not None
        other = crypto.sign(f"dept.{env_dept.department.pk}", signatures.decision_bytes(decision))
        Decision.objects.filter(pk=decision.pk).update(
            signature=other.signature.hex(), signing_key=other.key_id
        )
        expected = f"文书 {decision.number} 的签名密钥不是其签发机关的。"
    else:
        Decision.objects.filter(pk=decision.pk).update(signature="", signing_key="")
        expected = f"文书 {decision.number} 没有签名。"
    decision.refresh_from_db()
    assert signatures.check(decision) == expected
    response = client_for(energy_dept.user).get(f"/decisions/{decision.pk}.pdf")
    assert response.status_code == 302 and not response.has_header("Content-Disposition")
    assert AuditEvent.objects.get(action="decision.document_refused").reason == expected
    with pytest.raises(CommandError, match=f"decision {decision.pk}: "):
        call_command("documents", "verify")


def test_mipin_non_repudiation_key_rotation_keeps_old_documents_verifiable(
    key_file: Path, energy_dept: Person, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _issue(energy_dept)
    assert old.signing_key.endswith(":v1")
    call_command("keys", "add-signing-version")
    assert AuditEvent.objects.get(action="keys.add_signing_version").data == {"versions": [2]}
    new = _issue(energy_dept)
    assert new.signing_key.endswith(":v2") and new.signing_key.split(":")[0] == old.signing_key.split(":")[0]
    assert crypto.public_key(old.signing_key) != crypto.public_key(new.signing_key)
    assert signatures.check(old) is None and signatures.check(new) is None
    capsys.readouterr()
    call_command("documents", "verify")
    assert "2 decisions and 0 receipts: every signature holds" in capsys.readouterr().out
    assert client_for(energy_dept.user).get(f"/decisions/{old.pk}.docx").status_code == 200
    # Dropping the old version from the keyring would leave the old documents unverifiable: refused.
    ring = keyring.read_file(key_file)
    keyring.write_file(key_file, keyring.Keyring(**{**ring.__dict__, "signing": {2: ring.signing[2]}}))
    crypto.backend.cache_clear()
    assert signatures.check(old) == f"文书 {old.number} 的签名核验不通过。"
    assert signatures.check(new) is None


def test_mipin_non_repudiation_no_signing_key_no_decision(
    tmp_path: Path, settings: Any, energy_dept: Person
) -> None:
    ring = keyring.generate()
    path = tmp_path / "old-keys.json"
    keyring.write_file(path, keyring.Keyring(current=1, encryption=ring.encryption, mac=ring.mac))
    settings.PHASEOUT_KEYS, settings.PHASEOUT_KEYS_FILE, settings.PHASEOUT_DEV_KEYRING = "", str(path), False
    crypto.backend.cache_clear()
    case = CaseFactory()
    before = (Decision.objects.count(), CaseEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CaseActionError, match="文书无法签名：平台没有签名密钥"):
        actions.order_rectification(case=case, by=energy_dept.user, today=TODAY)
    assert (Decision.objects.count(), CaseEvent.objects.count(), AuditEvent.objects.count()) == before
    case.refresh_from_db()
    assert case.state == "finding"


def test_mipin_non_repudiation_decisions_issued_before_signatures_are_signed_once(
    energy_dept: Person, capsys: pytest.CaptureFixture[str]
) -> None:
    decision = _issue(energy_dept)
    Decision.objects.filter(pk=decision.pk).update(digest="", signature="", signing_key="")  # as migrated
    with pytest.raises(CommandError, match="没有签名"):
        call_command("documents", "verify")
    call_command("documents", "sign-unsigned")
    call_command("documents", "sign-unsigned")  # the second run finds nothing to sign
    assert "0 decisions signed" in capsys.readouterr().out
    decision.refresh_from_db()
    assert signatures.check(decision) is None
    late = AuditEvent.objects.get(action="documents.signed_late")
    assert late.object_id == str(decision.pk) and late.data["signing_key"] == decision.signing_key
    call_command("documents", "verify")
    assert verify_chain().ok


# ── 数据接收证据: the enterprise's receipt ──


def test_mipin_non_repudiation_the_enterprises_opening_is_a_signed_receipt(
    energy_dept: Person, office: Person
) -> None:
    decision = _issue(energy_dept)
    firm = _firm(decision)
    client = client_for(firm.user)
    assert client.get(f"/decisions/{decision.pk}.docx").status_code == 200
    receipt = DecisionReceipt.objects.get()
    assert (receipt.decision, receipt.received_by, receipt.digest) == (decision, firm.user, decision.digest)
    assert receipt.signing_key == "platform:v1"
    message = signatures.receipt_bytes(
        decision_id=decision.pk, digest=decision.digest, user_id=firm.user.pk, at=receipt.received_at
    )
    assert sm2.verify(crypto.public_key("platform:v1"), message, bytes.fromhex(receipt.signature))
    event = CaseEvent.objects.get(action="document_received")
    assert (event.case_id, event.actor, event.data["digest"], event.data["receipt"]) == (
        decision.case_id, firm.user, decision.digest, receipt.pk,
    )  # fmt: skip
    entry = AuditEvent.objects.get(action="case.document_received")
    assert (entry.actor, entry.object_id, entry.data["number"]) == (
        firm.user,
        str(decision.case_id),
        decision.number,
    )
    # The first opening only; officials' downloads are not receipts.
    assert client.get(f"/decisions/{decision.pk}.pdf").status_code in (200, 302)
    assert client_for(energy_dept.user).get(f"/decisions/{decision.pk}.docx").status_code == 200
    assert (
        DecisionReceipt.objects.count() == 1
        and CaseEvent.objects.filter(action="document_received").count() == 1
    )
    call_command("documents", "verify")
    # A receipt changed afterwards (its time moved) no longer verifies.
    DecisionReceipt.objects.filter(pk=receipt.pk).update(
        received_at=receipt.received_at + dt.timedelta(days=3)
    )
    with pytest.raises(CommandError, match=f"receipt {receipt.pk}: "):
        call_command("documents", "verify")


def test_mipin_non_repudiation_an_unserved_decision_opened_is_no_receipt(energy_dept: Person) -> None:
    decision = _issue(energy_dept)
    # Not served (as a closure proposal is not): service is not part of what the issuer signed.
    Decision.objects.filter(pk=decision.pk).update(served_on=None)
    decision.refresh_from_db()
    firm = _firm(decision)
    assert client_for(firm.user).get(f"/decisions/{decision.pk}.docx").status_code == 200
    assert not DecisionReceipt.objects.exists()
    assert actions.acknowledge_receipt(decision=decision, by=firm.user) is None


def test_mipin_non_repudiation_a_government_decision_recorded_is_signed_by_the_platform(
    energy_dept: Person, office: Person
) -> None:
    from tests.conftest import close_by_government

    case = CaseFactory(
        dimension="energy", state="overdue", finding__inspection__inspected_on=dt.date(2025, 1, 2),
        order_date=dt.date(2025, 8, 1), deadline=dt.date(2026, 2, 2), rectification_months=6,
    )  # fmt: skip
    close_by_government(case, energy_dept, office, TODAY)
    decisions = list(Decision.objects.filter(case=case).order_by("pk"))
    keys_used = {d.kind: d.signing_key for d in decisions}
    assert keys_used["closure_decision"] == "platform:v1"  # the government's paper document, as recorded
    assert all(signatures.check(d) is None for d in decisions)


def test_mipin_non_repudiation_no_receipt_without_the_downloads_entry(energy_dept: Person) -> None:
    """The receipt is made with the download's audit entry: if that cannot be written, neither is made
    and no file is given (a receipt never claims a document the enterprise did not get)."""
    from tests.conftest import audit_numbers_set_back

    decision = _issue(energy_dept)
    client = client_for(_firm(decision).user)
    audit_numbers_set_back(1)  # the next entry's number is taken: the write fails
    count = AuditEvent.objects.count()
    response = client.get(f"/decisions/{decision.pk}.docx")
    assert response.status_code == 503 and "Content-Disposition" not in response
    assert (
        not DecisionReceipt.objects.exists()
        and not CaseEvent.objects.filter(action="document_received").exists()
    )
    assert AuditEvent.objects.count() == count
