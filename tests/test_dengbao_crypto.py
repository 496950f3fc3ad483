"""等保 2.0 level 3 (GB/T 28448-2019 安全计算环境) units 28, 33, 34 and 35, and the 密评 items of GB/T
39786-2021 level 3 应用和数据安全 that the cryptography adapter answers: SM4 and SM3 pass the national
vectors, important data is stored encrypted under keys that are not derived from SECRET_KEY, keys have
versions and the rotation re-encrypts every value, and the reporters' old Fernet tokens are migrated."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from phaseout import crypto
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import actions as case_actions
from phaseout.complaints import actions as tipoff_actions
from phaseout.complaints import identity
from phaseout.complaints.models import TipOff
from phaseout.crypto import backends, keyring, keys, rotation
from phaseout.crypto.masking import mask_phone
from phaseout.disclosure.models import ErrorReport
from phaseout.orgs.models import Person, Role
from phaseout.registry.importer import import_register
from phaseout.registry.models import Enterprise, ImportBatch
from tests.conftest import PNG, REPORT_PDF, SEEDS, _person, approve_plan, client_for, upload
from tests.factories import CaseFactory, EnterpriseFactory, valid_uscc

NAME, PHONE = "欧阳明", "13912345678"
CONTACT_PHONE = "0750-3381234"
ROOT = Path(__file__).resolve().parent.parent


def raw(table: str, column: str, pk: int) -> str:
    """A column's value as stored, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, settings: Any) -> Path:
    """A keyring of each test's own in a file (mode 600), as production configures it."""
    path = tmp_path / "keys.json"
    keyring.write_file(path, keyring.generate())
    settings.PHASEOUT_KEYS = ""
    settings.PHASEOUT_KEYS_FILE = str(path)
    return path


@pytest.fixture
def intake(reference: None) -> Person:
    return _person("intake", Role.INTAKE)


def _tipoff_over_http(text: str = "蓬江区某钢厂夜间偷排废气") -> TipOff:
    cache.clear()  # the public throttle
    response = Client().post(
        "/public/tipoff/", {"text": text, "reporter_name": NAME, "reporter_phone": PHONE}
    )
    assert response.status_code == 201
    code = re.search(r'id="tracking-code">(\w+)<', response.content.decode())
    assert code is not None
    return TipOff.objects.get(tracking_code=code.group(1))


# --- 密评: the algorithms -------------------------------------------------------------------------


def test_mipin_sm4_passes_the_gb_t_32907_vector() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert backends.sm4_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_mipin_sm3_passes_the_gb_t_32905_vector() -> None:
    assert backends.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    backends.self_test.cache_clear()
    backends.self_test()  # the start-up self-test runs the same vectors and passes


def test_mipin_tokens_are_sm4_gcm_with_version_purpose_and_integrity(key_file: Path) -> None:
    token = crypto.encrypt("registry.contact_phone", CONTACT_PHONE)
    assert token.startswith("sm4:v1:registry.contact_phone:") and CONTACT_PHONE not in token
    assert crypto.token_version(token) == 1
    assert crypto.decrypt(token) == CONTACT_PHONE
    assert crypto.encrypt("registry.contact_phone", CONTACT_PHONE) != token  # a fresh nonce each time
    # The body is nonce (12 bytes), ciphertext and the GCM tag (16 bytes).
    body = base64.urlsafe_b64decode(token.rsplit(":", 1)[1] + "==")
    assert len(body) == 12 + len(CONTACT_PHONE.encode()) + 16
    # Integrity: one changed character, or the token moved to another field, is refused.
    last = token[-2]
    altered = token[:-2] + ("A" if last != "A" else "B") + token[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(altered)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, "complaints.reporter_phone")
    moved = token.replace("registry.contact_phone", "complaints.reporter_phone")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(moved)


def test_mipin_hmac_sm3_and_blind_index(key_file: Path, settings: Any) -> None:
    mac = crypto.hmac_sm3("audit.chain", b"entry 1")
    assert len(mac) == 32 and mac == crypto.hmac_sm3("audit.chain", b"entry 1")
    assert mac != crypto.hmac_sm3("audit.chain", b"entry 2")
    assert mac != crypto.hmac_sm3("other.purpose", b"entry 1")  # one key per purpose
    # It is HMAC-SM3 (GB/T 15852.2 with SM3) under the purpose's key, derived from the keyring's MAC key.
    mac_key = json.loads(key_file.read_text())["mac"]
    purpose_key = backends.hmac_sm3_raw(bytes.fromhex(mac_key), b"phaseout-mac:audit.chain")
    assert mac == backends.hmac_sm3_raw(purpose_key, b"entry 1")
    index = crypto.blind_index("registry.contact_phone", f" {CONTACT_PHONE} ")
    assert re.fullmatch("[0-9a-f]{64}", index)
    assert index == crypto.blind_index("registry.contact_phone", CONTACT_PHONE)
    assert CONTACT_PHONE not in index
    # Another keyring gives other MACs: nothing is computable without the key.
    settings.PHASEOUT_KEYS = json.dumps(keyring.generate().as_json())
    assert crypto.hmac_sm3("audit.chain", b"entry 1") != mac


# --- 密评: the keys -----------------------------------------------------------------------------------


def test_mipin_key_is_not_derived_from_secret_key(key_file: Path, settings: Any) -> None:
    token = crypto.encrypt("complaints.reporter_name", NAME)
    # SECRET_KEY rotated: identities stay readable (the old derivation made them unreadable).
    settings.SECRET_KEY = "a-completely-different-secret-key-0123456789"
    assert crypto.decrypt(token) == NAME
    # And whoever has SECRET_KEY but not the keyring reads nothing: the old derivation opens no token.
    derived = hashlib.sha256(("phaseout-reporter:" + settings.SECRET_KEY).encode()).digest()
    assert derived[:16] not in json.dumps(keyring.read_file(key_file).as_json()).encode()
    settings.PHASEOUT_KEYS_FILE = ""
    settings.PHASEOUT_KEYS = json.dumps(keyring.generate().as_json())
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    source = "".join(
        p.read_text() for p in (ROOT / "phaseout" / "crypto").glob("*.py") if p.name != "legacy.py"
    )
    assert "SECRET_KEY" not in source.replace("never derived from SECRET_KEY", "")


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PHASEOUT_KEYS")}
    return subprocess.run(
        [sys.executable, "-m", "phaseout.cli", "check"],
        cwd=ROOT,
        env={**clean, "DEBUG": "false", "SECRET_KEY": "x" * 50, "AUDIT_MAC_KEY": "ab" * 32, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_mipin_production_without_keys_refuses_to_start(tmp_path: Path) -> None:
    started = _start({})
    assert started.returncode != 0
    assert "PHASEOUT_KEYS_FILE (or PHASEOUT_KEYS) must be set when DEBUG is false" in started.stderr
    # A key file others can read is refused too, with the reason.
    loose = tmp_path / "keys.json"
    keyring.write_file(loose, keyring.generate())
    loose.chmod(0o644)
    started = _start({"PHASEOUT_KEYS_FILE": str(loose)})
    assert started.returncode != 0 and "is readable by others (mode 644); chmod 600 it" in started.stderr
    loose.chmod(0o600)
    assert _start({"PHASEOUT_KEYS_FILE": str(loose)}).returncode == 0


def test_mipin_keyring_refuses_bad_keys_with_the_reason() -> None:
    good = keyring.generate().as_json()
    with pytest.raises(keyring.KeyringError, match="PHASEOUT_KEYS is not valid JSON"):
        keyring.parse("{", "PHASEOUT_KEYS")
    with pytest.raises(keyring.KeyringError, match="encryption key 1: expected 32 hexadecimal digits"):
        keyring.parse(json.dumps({**good, "encryption": {"1": "abcd"}}), "PHASEOUT_KEYS")
    with pytest.raises(keyring.KeyringError, match="an all-zero key is refused"):
        keyring.parse(json.dumps({**good, "encryption": {"1": "0" * 32}}), "PHASEOUT_KEYS")
    with pytest.raises(keyring.KeyringError, match="current version 7 has no key"):
        keyring.parse(json.dumps({**good, "current": 7}), "PHASEOUT_KEYS")
    with pytest.raises(keyring.KeyringError, match="No encryption keys"):
        keyring.load(keys_json="", keys_file_setting="", development=False, var_dir=Path("/nonexistent"))


def test_mipin_demo_keyring_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    tmp_path = tmp_path / "var"
    tmp_path.mkdir()
    path = keyring.development_keyring(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert keyring.development_keyring(tmp_path) == path and path.read_text() == first  # not regenerated
    loaded = keyring.load(keys_json="", keys_file_setting="", development=True, var_dir=tmp_path)
    assert loaded.current == 1 and len(loaded.encryption[1]) == 16 and len(loaded.mac) == 32
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


class CipherMachine:
    """Stands in for a certified cipher machine's SDK: the platform only names key versions."""

    calls: list[str] = []

    def __init__(self) -> None:
        self._inside = backends.SoftwareBackend(keyring.generate())

    def current_version(self) -> int:
        return 1

    def versions(self) -> list[int]:
        return [1]

    def encrypt(self, version: int, plaintext: bytes, aad: bytes) -> bytes:
        self.calls.append("encrypt")
        return self._inside.encrypt(version, plaintext, aad)

    def decrypt(self, version: int, blob: bytes, aad: bytes) -> bytes:
        self.calls.append("decrypt")
        return self._inside.decrypt(version, blob, aad)

    def mac(self, purpose: str, data: bytes) -> bytes:
        self.calls.append("mac")
        return self._inside.mac(purpose, data)

    def audit_version(self) -> int:
        return 1

    def audit_versions(self) -> list[int]:
        return [1]

    def audit_mac(self, version: int, data: bytes) -> bytes:
        self.calls.append("audit_mac")
        return self._inside.audit_mac(version, data)

    def signing_version(self) -> int:
        return 1

    def sign(self, signer: str, version: int, message: bytes) -> bytes:
        self.calls.append("sign")
        return self._inside.sign(signer, version, message)

    def signing_public_key(self, signer: str, version: int) -> bytes:
        return self._inside.signing_public_key(signer, version)


def test_mipin_a_cipher_machine_replaces_the_software_keys(settings: Any, reference: None) -> None:
    settings.PHASEOUT_CRYPTO_BACKEND = "tests.test_dengbao_crypto.CipherMachine"
    CipherMachine.calls.clear()
    enterprise = EnterpriseFactory(contact_phone=CONTACT_PHONE)
    assert raw("registry_enterprise", "contact_phone", enterprise.pk).startswith("sm4:v1:")
    assert Enterprise.objects.get(pk=enterprise.pk).contact_phone == CONTACT_PHONE
    crypto.hmac_sm3("audit.chain", b"x")
    assert CipherMachine.calls == ["encrypt", "decrypt", "mac"]
    # The machine holds the keys: adding a version from the platform is refused, with what to do.
    with pytest.raises(keys.KeyManagementError, match="held by the cipher machine"):
        keys.add_version()
    settings.PHASEOUT_CRYPTO_BACKEND = "collections.OrderedDict"
    with pytest.raises(TypeError, match="is not a CryptoBackend"):
        crypto.backend()


# --- L3-CES1-28: confidentiality of important data at rest -------------------------------------------


def test_l3_ces1_28_contact_phone_is_encrypted_in_the_database(office: Person) -> None:
    client = client_for(office.user)
    response = client.post(
        "/enterprises/new/",
        {
            "uscc": EnterpriseFactory.build().uscc,
            "name": "江门市某铸造有限公司",
            "territory": "440703",
            "industry": "steel",
            "address": "江门市蓬江区工业路2号",
            "contact_name": "陈工",
            "contact_phone": CONTACT_PHONE,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    enterprise = Enterprise.objects.get(name="江门市某铸造有限公司")
    stored = raw("registry_enterprise", "contact_phone", enterprise.pk)
    assert stored.startswith("sm4:v") and CONTACT_PHONE not in stored and "3381234" not in stored
    stored_name = raw("registry_enterprise", "contact_name", enterprise.pk)
    assert stored_name.startswith("sm4:v1:registry.contact_name:") and "陈" not in stored_name
    assert Enterprise.objects.get(pk=enterprise.pk).contact_name == "陈工"
    # The pages that need it still show it.
    assert CONTACT_PHONE in client.get(f"/enterprises/{enterprise.pk}/").content.decode()
    assert CONTACT_PHONE in client.get(f"/enterprises/{enterprise.pk}/edit/").content.decode()
    # An over-long number is refused before anything is encrypted or written.
    edit = client.post(
        f"/enterprises/{enterprise.pk}/edit/",
        {
            "uscc": enterprise.uscc,
            "name": enterprise.name,
            "territory": "440703",
            "industry": "steel",
            "contact_phone": "1" * 31,
        },
    )
    assert "确保该变量包含不超过 30 字符 (目前字符数 31)。" in edit.content.decode()
    assert raw("registry_enterprise", "contact_phone", enterprise.pk) == stored
    # An update writes a new token; the audit entry names the change masked, never the number.
    client.post(
        f"/enterprises/{enterprise.pk}/edit/",
        {
            "uscc": enterprise.uscc,
            "name": enterprise.name,
            "territory": "440703",
            "industry": "steel",
            "address": "江门市蓬江区工业路2号",
            "contact_name": "欧阳明",
            "contact_phone": "13700001111",
        },
    )
    enterprise.refresh_from_db()
    assert enterprise.contact_phone == "13700001111"
    event = AuditEvent.objects.get(action="enterprise.update", object_id=str(enterprise.pk))
    assert event.actor == office.user and event.outcome == Outcome.SUCCESS
    assert event.data["changes"]["contact_phone"] == ["075*****1234", "137****1111"]
    assert event.data["changes"]["contact_name"] == ["陈*", "欧**"]
    logged = json.dumps(event.data, ensure_ascii=False)
    assert CONTACT_PHONE not in logged and "13700001111" not in logged and "欧阳明" not in logged
    assert "陈工" not in logged
    assert enterprise.contact_name == "欧阳明"
    # Searching by the number would compare with a fresh token and silently find nothing: refused.
    with pytest.raises(NotImplementedError, match="only be compared with the empty string"):
        Enterprise.objects.filter(contact_phone="13700001111").exists()
    assert not Enterprise.objects.filter(pk=enterprise.pk, contact_phone="").exists()


def test_l3_ces1_28_reporter_identity_and_error_report_contact_are_encrypted(
    energy_dept: Person, office: Person
) -> None:
    from tests.test_disclosure import _published

    tipoff = _tipoff_over_http()
    for column, value in (("reporter_name", NAME), ("reporter_phone", PHONE)):
        stored = raw("complaints_tipoff", column, tipoff.pk)
        assert stored.startswith(f"sm4:v1:complaints.{column}:") and value not in stored
    snapshot = _published(energy_dept, office, "江门市某水泥有限公司")
    response = Client().post(
        "/public/yellow/report/",
        {"uscc": snapshot.entries.get().uscc, "text": "名称有误", "contact": f"微信 {PHONE}"},
    )
    assert response.status_code == 201
    report = ErrorReport.objects.get()
    assert raw("disclosure_errorreport", "contact", report.pk).startswith("sm4:v1:disclosure.error_contact:")
    assert PHONE not in raw("disclosure_errorreport", "contact", report.pk)
    # The department that handles it reads it.
    assert f"微信 {PHONE}" in client_for(energy_dept.user).get("/lists/errors/").content.decode()


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-load", "chunk-by-chunk"])
def test_l3_ces1_28_register_import_stores_tokens_and_a_rerun_changes_nothing(
    reference: None, xlsx_bytes: Any, settings: Any, bulk: bool
) -> None:
    # On PostgreSQL a file twice the registry's size is a bulk load (COPY, the table's rows read
    # once); otherwise rows are looked up chunk by chunk. Both compare decrypted values.
    settings.REGISTER_BULK_LOAD_MIN_ROWS = 1 if bulk else 10**9
    there = EnterpriseFactory(
        name="江门市导入钢铁有限公司0", contact_name="李工", contact_phone="13900000000"
    )
    rows = [
        [
            there.uscc if i == 0 else EnterpriseFactory.build().uscc,
            f"江门市导入钢铁有限公司{i}",
            "蓬江区",
            "钢铁",
            "江门市蓬江区工业路1号",
            "李工",
            f"1390000000{i}",
        ]
        for i in range(4)
    ]
    content = xlsx_bytes(rows)
    _register, result = import_register(content)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 1)
    for enterprise in Enterprise.objects.filter(name__startswith="江门市导入钢铁"):
        stored = raw("registry_enterprise", "contact_phone", enterprise.pk)
        assert stored.startswith("sm4:v1:registry.contact_phone:") and "1390000000" not in stored
        assert enterprise.contact_phone.startswith("1390000000")
        stored_name = raw("registry_enterprise", "contact_name", enterprise.pk)
        assert stored_name.startswith("sm4:v1:registry.contact_name:") and "李" not in stored_name
        assert enterprise.contact_name == "李工"
    # The same file again: the stored tokens differ from fresh ones, yet nothing counts as changed.
    _register, again = import_register(content)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    rows[1][6] = "13911112222"
    _register, changed = import_register(xlsx_bytes(rows))
    assert (changed.updated, changed.unchanged) == (1, 3)
    assert Enterprise.objects.get(uscc=rows[1][0]).contact_phone == "13911112222"


# --- L3-CES1-33: no sensitive data left behind ----------------------------------------------------------


def test_l3_ces1_33_public_lists_and_open_data_carry_no_personal_data(
    energy_dept: Person, office: Person
) -> None:
    from tests.test_disclosure import _published

    snapshot = _published(energy_dept, office, "江门市某水泥有限公司")
    Enterprise.objects.filter(uscc=snapshot.entries.get().uscc).update(
        contact_name="黄经理", contact_phone=PHONE
    )
    snapshot = _published(energy_dept, office, "江门市某水泥有限公司")  # again, now with the contact set
    anonymous = Client()
    bodies = [
        anonymous.get(url).getvalue().decode("utf-8-sig")
        for url in ("/public/yellow/", "/public/yellow.csv", "/public/yellow.json", "/public/yellow.atom")
    ]
    assert all("江门市某水泥有限公司" in body for body in bodies)
    for body in bodies:
        assert PHONE not in body and "黄经理" not in body and mask_phone(PHONE) not in body
    assert PHONE not in json.dumps(list(snapshot.entries.values()), ensure_ascii=False, default=str)
    assert len(list(csv.reader(io.StringIO(bodies[1])))) >= 2


def test_l3_ces1_33_a_revealed_identity_is_neither_cached_nor_recorded(intake: Person) -> None:
    tipoff = _tipoff_over_http()
    response = client_for(intake.user).post(
        f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "回访举报人核实线索"}
    )
    page = response.content.decode()
    assert NAME in page and PHONE in page
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control and "max-age=0" in cache_control
    # Nothing decrypted is kept: not in the cache, not in the audit entry, not in the row.
    from django.core.cache.backends.locmem import _caches

    kept = b"".join(v for store in _caches.values() for v in store.values() if isinstance(v, bytes))
    assert NAME.encode() not in kept and PHONE.encode() not in kept
    event = AuditEvent.objects.get(action="tipoff.identity_read")
    assert NAME not in json.dumps(event.data, ensure_ascii=False) + event.reason
    assert PHONE not in json.dumps(event.data) + event.reason
    assert raw("complaints_tipoff", "reporter_name", tipoff.pk).startswith("sm4:")


# --- L3-CES1-34: only the personal information needed is collected -------------------------------------


def test_l3_ces1_34_tipoffs_ask_only_an_optional_name_and_phone(reference: None, settings: Any) -> None:
    page = Client().get("/public/tipoff/").content.decode()
    inputs = set(re.findall(r'<(?:input|select|textarea)[^>]* name="([a-z_]+)"', page)) - {
        "csrfmiddlewaretoken"
    }
    assert inputs == {"text", "enterprise_name", "territory", "reporter_name", "reporter_phone", "website"}
    # Anonymous is allowed: no identity needed to report.
    cache.clear()
    response = Client().post("/public/tipoff/", {"text": "某厂违规使用中频炉"})
    assert response.status_code == 201
    assert TipOff.objects.get().reporter_name == "" and TipOff.objects.get().reporter_phone == ""
    # The hotline API refuses personal data it has no field for (an ID number), and stores nothing.
    settings.TIPOFF_API_TOKENS = {"12345": "token-12345"}
    response = Client().post(
        "/api/tipoffs/",
        json.dumps({"external_id": "WO-1", "text": "某厂偷排", "id_number": "440703199001011234"}),
        content_type="application/json",
        headers={"authorization": "Bearer token-12345"},
    )
    assert response.status_code == 400 and response.json() == {"error": "未知字段。", "field": "id_number"}
    assert TipOff.objects.count() == 1


# --- L3-CES1-35: personal information protected from unauthorised access and use ----------------------


def test_l3_ces1_35_only_intake_reveals_an_identity_with_a_reason_and_it_is_audited(
    intake: Person, office: Person, env_dept: Person
) -> None:
    tipoff = _tipoff_over_http()
    for person in (office, env_dept):
        response = client_for(person.user).post(
            f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "想看"}
        )
        assert response.status_code in (403, 404) and NAME not in response.content.decode()
    # Refused reads are recorded as refused (the label check); none succeeded.
    assert not AuditEvent.objects.filter(action="tipoff.identity_read", outcome=Outcome.SUCCESS).exists()
    client = client_for(intake.user)
    assert NAME not in client.get(f"/tipoffs/{tipoff.pk}/").content.decode()  # not shown until asked
    # Without a reason: refused with the message, nothing shown, nothing recorded.
    refused = client.post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "  "}, follow=True)
    body = refused.content.decode()
    assert "请说明查看举报人身份的理由。" in body and NAME not in body and PHONE not in body
    assert not AuditEvent.objects.filter(action="tipoff.identity_read", actor=intake.user).exists()
    page = client.post(f"/tipoffs/{tipoff.pk}/", {"action": "reveal", "reason": "回访举报人核实线索"})
    assert NAME in page.content.decode() and PHONE in page.content.decode()
    event = AuditEvent.objects.get(action="tipoff.identity_read", outcome=Outcome.SUCCESS)
    assert (event.actor, event.object_type, event.object_id) == (
        intake.user,
        "complaints.tipoff",
        str(tipoff.pk),
    )
    assert event.reason == "回访举报人核实线索" and event.outcome == Outcome.SUCCESS


# --- 密评: key versions, rotation and the migration from Fernet -----------------------------------------


def test_mipin_rotation_reencrypts_every_value_in_batches_and_is_audited(
    key_file: Path, reference: None, office: Person
) -> None:
    enterprises = [EnterpriseFactory(contact_phone=f"1380000000{i}") for i in range(5)]
    blank = EnterpriseFactory(contact_phone="")
    tipoff = _tipoff_over_http()
    before = {e.pk: raw("registry_enterprise", "contact_phone", e.pk) for e in enterprises}
    assert all(v.startswith("sm4:v1:") for v in before.values())
    out = io.StringIO()
    call_command("keys", "rotate", "--batch", "2", "--by", "office", stdout=out)
    ring = json.loads(key_file.read_text())
    assert ring["current"] == 2 and sorted(ring["encryption"]) == ["1", "2"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for e in enterprises:
        after = raw("registry_enterprise", "contact_phone", e.pk)
        assert after.startswith("sm4:v2:") and after != before[e.pk]
        assert Enterprise.objects.get(pk=e.pk).contact_phone == e.contact_phone
    assert raw("registry_enterprise", "contact_phone", blank.pk) == ""
    assert raw("complaints_tipoff", "reporter_name", tipoff.pk).startswith("sm4:v2:")
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.actor == office.user and event.outcome == Outcome.SUCCESS
    assert event.data["version"] == 2 and event.data["added_version"] is True
    assert event.data["columns"]["registry_enterprise.contact_phone"]["reencrypted"] == 5
    assert event.data["columns"]["complaints_tipoff.reporter_phone"]["reencrypted"] == 1
    assert event.data["reencrypted"] == 7
    status = rotation.status()
    assert status["registry_enterprise.contact_phone"] == {
        "v1": 0,
        "v2": 5,
        "unknown version": 0,
        "legacy": 0,
        "empty": 1,
    }
    status_out = io.StringIO()
    call_command("keys", "status", stdout=status_out)
    assert json.loads(status_out.getvalue())["complaints_tipoff.reporter_name"]["v2"] == 1


def test_mipin_rotation_interrupted_resumes_where_it_stopped(key_file: Path, reference: None) -> None:
    enterprises = [EnterpriseFactory(contact_phone=f"1370000000{i}") for i in range(6)]

    class Stop(Exception):
        pass

    def stop_after_first_batch(column: rotation.Column, done: int) -> None:
        if column.label == "registry_enterprise.contact_phone":
            raise Stop

    with pytest.raises(Stop):
        keys.rotate(new_version=True, batch=2, progress=stop_after_first_batch)
    versions = [crypto.token_version(raw("registry_enterprise", "contact_phone", e.pk)) for e in enterprises]
    assert versions == [2, 2, 1, 1, 1, 1]  # the first batch committed, the rest still readable
    assert Enterprise.objects.get(pk=enterprises[3].pk).contact_phone == "13700000003"
    call_command("keys", "rotate", "--resume", "--batch", "2", stdout=io.StringIO())
    assert json.loads(key_file.read_text())["current"] == 2  # no third version
    versions = [crypto.token_version(raw("registry_enterprise", "contact_phone", e.pk)) for e in enterprises]
    assert versions == [2] * 6
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.data["added_version"] is False and event.data["reencrypted"] == 4


def test_mipin_rotation_reports_a_value_no_key_opens(key_file: Path, reference: None) -> None:
    enterprise = EnterpriseFactory(contact_phone=CONTACT_PHONE)
    foreign = "sm4:v1:complaints.reporter_name:" + base64.urlsafe_b64encode(os.urandom(40)).decode().rstrip(
        "="
    )
    tipoff = _tipoff_over_http()
    TipOff.objects.filter(pk=tipoff.pk).update(reporter_name=foreign)
    with pytest.raises(CommandError, match="1 values could not be decrypted"):
        call_command("keys", "rotate", stdout=io.StringIO())
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.outcome == Outcome.FAILURE
    assert event.data["columns"]["complaints_tipoff.reporter_name"]["unreadable_ids"] == [str(tipoff.pk)]
    assert raw("complaints_tipoff", "reporter_name", tipoff.pk) == foreign  # left as it was
    assert crypto.token_version(raw("registry_enterprise", "contact_phone", enterprise.pk)) == 2
    # With the keys in the environment the platform cannot add a version: refused, audited, explained.
    with pytest.raises(CommandError, match="the keys come from PHASEOUT_KEYS"):
        from django.test import override_settings

        with override_settings(PHASEOUT_KEYS=key_file.read_text(), PHASEOUT_KEYS_FILE=""):
            call_command("keys", "rotate", stdout=io.StringIO())
    assert AuditEvent.objects.filter(action="keys.rotate", outcome=Outcome.FAILURE).count() == 2


def _fernet_the_old_way(text: str, settings: Any) -> str:
    """Exactly what phaseout/complaints/identity.py wrote before the SM4 adapter."""
    key = settings.REPORTER_KEY
    if not key:
        digest = hashlib.sha256(("phaseout-reporter:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key).encrypt(text.encode()).decode()


@pytest.mark.parametrize(
    "reporter_key", ["", "Y3J5cHRvLXRlc3QtcmVwb3J0ZXIta2V5LTMyYnl0ZXM="], ids=["derived", "reporter-key"]
)
def test_mipin_fernet_identities_are_readable_and_migrated_to_sm4(
    key_file: Path, intake: Person, settings: Any, reporter_key: str
) -> None:
    settings.REPORTER_KEY = reporter_key
    tipoff = _tipoff_over_http()
    TipOff.objects.filter(pk=tipoff.pk).update(
        reporter_name=_fernet_the_old_way(NAME, settings), reporter_phone=_fernet_the_old_way(PHONE, settings)
    )
    tipoff.refresh_from_db()
    assert tipoff.reporter_name.startswith("gAAAAA")
    # Readable before the migration, through the recorded reveal.
    assert tipoff_actions.reveal(tipoff=tipoff, by=intake.user, reason="核实") == (NAME, PHONE)
    # The data migration's function (the same as `keys rotate --resume`) moves them to SM4.
    forward, _backward = rotation.migration("complaints_tipoff", "reporter_name", identity.NAME, "fernet")
    forward(None, type("Editor", (), {"connection": connection})())
    call_command("keys", "rotate", "--resume", stdout=io.StringIO())
    for column in ("reporter_name", "reporter_phone"):
        stored = raw("complaints_tipoff", column, tipoff.pk)
        assert stored.startswith(f"sm4:v1:complaints.{column}:")
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.data["columns"]["complaints_tipoff.reporter_phone"]["from_legacy"] == 1
    tipoff.refresh_from_db()
    assert tipoff_actions.reveal(tipoff=tipoff, by=intake.user, reason="核实") == (NAME, PHONE)
    # And the platform no longer depends on SECRET_KEY for them.
    settings.SECRET_KEY = "rotated-" + "y" * 40
    settings.REPORTER_KEY = ""
    assert identity.open_sealed(tipoff.reporter_name, identity.NAME) == NAME


def test_mipin_plaintext_written_before_encryption_is_migrated(key_file: Path, reference: None) -> None:
    enterprise = EnterpriseFactory(contact_phone="")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_enterprise SET contact_phone = %s WHERE id = %s", [CONTACT_PHONE, enterprise.pk]
        )
    assert rotation.status()["registry_enterprise.contact_phone"]["legacy"] == 1
    forward, backward = rotation.migration(
        "registry_enterprise", "contact_phone", "registry.contact_phone", "plaintext"
    )
    editor = type("Editor", (), {"connection": connection})()
    forward(None, editor)
    stored = raw("registry_enterprise", "contact_phone", enterprise.pk)
    assert (
        stored.startswith("sm4:v1:")
        and Enterprise.objects.get(pk=enterprise.pk).contact_phone == CONTACT_PHONE
    )
    backward(None, editor)  # the downgrade gives the plaintext back
    assert raw("registry_enterprise", "contact_phone", enterprise.pk) == CONTACT_PHONE


def test_l3_ces1_28_contact_names_left_in_plaintext_are_encrypted_by_the_data_migration(
    reference: None,
) -> None:
    """Registry 0008's data step: every contact name stored before it (plaintext) becomes an SM4 token,
    readable as before; names already sealed are left as they are; the step can run again."""
    from django.db import connection

    from phaseout.crypto.rotation import migration

    sealed = EnterpriseFactory(contact_name="欧阳明")
    sealed_token = raw("registry_enterprise", "contact_name", sealed.pk)
    old = [EnterpriseFactory(contact_name="") for _ in range(3)]
    with connection.cursor() as cursor:  # as the rows were before the migration: plaintext names
        for enterprise, name in zip(old, ["陈工", "黄经理", ""], strict=True):
            cursor.execute(
                "UPDATE registry_enterprise SET contact_name = %s WHERE id = %s", [name, enterprise.pk]
            )
    assert raw("registry_enterprise", "contact_name", old[0].pk) == "陈工"
    forward, _backward = migration(
        "registry_enterprise", "contact_name", "registry.contact_name", "plaintext"
    )

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    for _ in range(2):
        forward(None, editor)
        for enterprise, name in zip(old, ["陈工", "黄经理", ""], strict=True):
            stored = raw("registry_enterprise", "contact_name", enterprise.pk)
            if name:
                assert stored.startswith("sm4:v1:registry.contact_name:") and name[0] not in stored
            else:
                assert stored == ""
            assert Enterprise.objects.get(pk=enterprise.pk).contact_name == name
    assert raw("registry_enterprise", "contact_name", sealed.pk) == sealed_token
    # What the migration leaves, `phaseout keys status` counts: no plaintext name on any version.
    from phaseout.crypto import rotation

    names = rotation.status()["registry_enterprise.contact_name"]
    assert names["legacy"] == 0 and names["empty"] == 1, names


# --- L3-CES1-28: the files as uploaded are sealed at rest -----------------------------------------------


def _on_disk(field_file: Any) -> bytes:
    return Path(field_file.path).read_bytes()


def _evidence(case: Any, by: Person, *files: Any) -> list[Any]:
    return case_actions.add_case_evidence(case=case, files=files, by=by.user)


def _register(xlsx_bytes: Any) -> bytes:
    rows = [[valid_uscc(41), "江门市封存钢铁有限公司", "蓬江区", "钢铁", "", "陈大文", CONTACT_PHONE]]
    return bytes(xlsx_bytes(rows))


def test_l3_ces1_28_a_register_as_uploaded_is_sealed_on_disk_and_still_imports(
    office: Person, xlsx_bytes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    content = _register(xlsx_bytes)
    c = client_for(office.user)
    response = c.post("/enterprises/import/", {"file": upload("名录.xlsx", content)})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    stored = _on_disk(batch.file)
    assert stored.startswith(b"PHSM4F1 v1 register\n") and content not in stored
    assert crypto.sealed_version(stored) == 1
    assert crypto.unseal_bytes(stored, "register") == content
    assert batch.sha256 == hashlib.sha256(content).hexdigest()  # the upload's checksum, not the disk's
    assert batch.file.size == len(content)
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/enterprises/import/{batch.pk}/accept/")
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == ("done", 1)
    assert Enterprise.objects.get().contact_phone == CONTACT_PHONE


def test_l3_ces1_28_evidence_is_sealed_on_disk_and_downloaded_as_uploaded(energy_dept: Person) -> None:
    case = CaseFactory()
    [evidence] = case_actions.add_case_evidence(
        case=case, files=[upload("现场.png", PNG, "image/png")], by=energy_dept.user
    )
    stored = _on_disk(evidence.file)
    assert stored.startswith(b"PHSM4F1 v1 evidence\n") and PNG not in stored
    response = client_for(energy_dept.user).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    # A sealed file is bound to its purpose: a register's bytes put in an evidence file do not open.
    other = crypto.seal_bytes("register", PNG)
    Path(evidence.file.path).write_bytes(other)
    with pytest.raises(crypto.DecryptionError, match="file sealed for register, not evidence"):
        evidence.file.storage.open(evidence.file.name)
    # One byte changed on disk: refused, not served.
    Path(evidence.file.path).write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))
    response = client_for(energy_dept.user).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "该文件在存储中已被改动，无法打开。" in page and "该页面或记录不存在" not in page
    # Any other miss reads as before: no reason given.
    response = client_for(energy_dept.user).get(f"/evidence/{evidence.pk + 1000}/")
    assert response.status_code == 404 and "该页面或记录不存在" in response.content.decode()


def test_l3_ces1_28_a_hand_in_is_sealed_on_disk_served_as_handed_in_and_refused_once_altered(
    office: Person, district: Person
) -> None:
    import datetime as dt

    import time_machine

    from phaseout.plans import actions as plan_actions

    plan = plan_actions.import_plan(
        name="jiangmen-2021-plan.txt", data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(), by=office.user
    )
    for expression in plan.times.filter(needs_review=True):
        plan_actions.review_time(expression=expression, date=None, by=office.user)
    plan = approve_plan(plan_actions.confirm_plan(plan=plan, by=office.user), office)
    submission = plan_actions.submit(
        submission=plan.submissions.get(kind="sub_plan", territory="440703"),
        document=upload("分方案.pdf", REPORT_PDF, "application/pdf"),
        numbers={},
        note="",
        by=district.user,
        today=dt.date(2021, 5, 20),
    )
    version = submission.versions.get()
    stored = _on_disk(version.document)
    assert stored.startswith(b"PHSM4F1 v1 submission\n") and REPORT_PDF not in stored
    assert crypto.unseal_bytes(stored, "submission") == REPORT_PDF
    assert version.sha256 == hashlib.sha256(REPORT_PDF).hexdigest() and version.size == len(REPORT_PDF)
    reader = client_for(office.user)
    with time_machine.travel(dt.datetime(2021, 5, 20, 4, 0, tzinfo=dt.UTC), tick=False):
        for url in (f"/submissions/{submission.pk}/v1/file", f"/submissions/{submission.pk}/v1/view.pdf"):
            response = reader.get(url)
            assert response.status_code == 200 and b"".join(response.streaming_content) == REPORT_PDF
        # One byte changed on disk: refused with its message, not served.
        Path(version.document.path).write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))
        response = reader.get(f"/submissions/{submission.pk}/v1/file")
    assert response.status_code == 404
    assert "该文件在存储中已被改动，无法打开。" in response.content.decode()


@pytest.mark.parametrize("fault", ["altered", "missing"])
def test_l3_ces1_28_a_case_file_with_an_altered_or_missing_file_is_refused_with_its_reason(
    energy_dept: Person, fault: str
) -> None:
    case = CaseFactory()
    [evidence] = _evidence(case, energy_dept, upload("现场.pdf", REPORT_PDF, "application/pdf"))
    path = Path(evidence.file.path)
    if fault == "altered":
        stored = path.read_bytes()
        path.write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))
    else:
        path.unlink()
    reason = {
        "altered": "该文件在存储中已被改动，无法打开。",
        "missing": "该案件的一份材料在存储中缺失。",
    }[fault]
    reader = client_for(energy_dept.user)
    for url in (f"/cases/{case.pk}/file.zip", f"/cases/{case.pk}/file.pdf"):
        response = reader.get(url)
        assert response.status_code == 404, url
        assert reason in response.content.decode(), url
    assert not AuditEvent.objects.filter(action__startswith="export.case_file").exists()


def test_l3_ces1_28_the_year_summary_document_is_sealed_and_an_altered_one_is_not_exported(
    office: Person,
) -> None:
    import datetime as dt

    import time_machine
    from django.core.files.base import ContentFile

    from phaseout.orgs.models import Territory
    from phaseout.province import actions as province_actions
    from phaseout.province import exchange

    with time_machine.travel(dt.datetime(2027, 1, 10, 2, 0, tzinfo=dt.UTC), tick=False):
        summary = province_actions.draw_up_summary(
            city=Territory.objects.get(code="440700"),
            year=2026,
            by=office.user,
            document=ContentFile(REPORT_PDF, name="江门市2026年总结.pdf"),
        )
        summary = province_actions.approve_summary(
            summary=summary,
            body="江门市人民政府",
            doc_number="江府函〔2027〕2号",
            approved_on=dt.date(2027, 1, 10),
            by=office.user,
        )
        stored = _on_disk(summary.document)
        assert stored.startswith(b"PHSM4F1 v1 summary\n") and REPORT_PDF not in stored
        assert summary.document_sha256 == hashlib.sha256(REPORT_PDF).hexdigest()
        data, _what = exchange.export_file(summary)
        [document] = json.loads(data)["payload"]["documents"]
        assert base64.b64decode(document["content"]) == REPORT_PDF
        assert document["sha256"] == summary.document_sha256
        Path(summary.document.path).write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))
        response = client_for(office.user).get(f"/summaries/{summary.pk}/exchange.json")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    assert messages == ["该文件在存储中已被改动，无法打开。"]
    assert not AuditEvent.objects.filter(action="export.year_summary").exists()  # nothing was given out


def test_l3_ces1_28_rotation_reseals_files_and_seals_those_stored_before_sealing(
    key_file: Path, energy_dept: Person, office: Person
) -> None:
    case = CaseFactory()
    sealed, legacy = case_actions.add_case_evidence(
        case=case,
        files=[upload("一.png", PNG, "image/png"), upload("二.png", PNG + b"2", "image/png")],
        by=energy_dept.user,
    )
    Path(legacy.file.path).write_bytes(PNG + b"2")  # as a file stored before sealing was
    assert legacy.file.storage.open(legacy.file.name).read() == PNG + b"2"  # read as it is meanwhile
    out = io.StringIO()
    call_command("keys", "rotate", "--by", "office", stdout=out)
    assert crypto.sealed_version(_on_disk(sealed.file)) == 2
    assert crypto.sealed_version(_on_disk(legacy.file)) == 2
    assert sealed.file.storage.open(sealed.file.name).read() == PNG
    assert legacy.file.storage.open(legacy.file.name).read() == PNG + b"2"
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.actor == office.user and event.outcome == Outcome.SUCCESS
    assert event.data["files"]["cases.Evidence.file"] == {
        "resealed": 2,
        "from_plaintext": 1,
        "missing": 0,
        "unreadable": 0,
        "unreadable_ids": [],
    }
    # Run again: nothing left to do.
    call_command("keys", "rotate", "--resume", stdout=io.StringIO())
    again = AuditEvent.objects.filter(action="keys.rotate").latest("id")
    assert again.data["files"]["cases.Evidence.file"]["resealed"] == 0


def test_l3_ces1_28_a_file_no_key_opens_is_reported_by_rotation_and_left_as_it_is(
    energy_dept: Person,
) -> None:
    case = CaseFactory()
    [evidence] = case_actions.add_case_evidence(
        case=case, files=[upload("一.png", PNG, "image/png")], by=energy_dept.user
    )
    foreign = b"PHSM4F1 v1 evidence\n" + os.urandom(60)
    Path(evidence.file.path).write_bytes(foreign)
    with pytest.raises(CommandError, match="1 values could not be decrypted"):
        call_command("keys", "rotate", stdout=io.StringIO())
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.outcome == Outcome.FAILURE
    assert event.data["files"]["cases.Evidence.file"]["unreadable_ids"] == [evidence.pk]
    assert _on_disk(evidence.file) == foreign


def test_l3_ces1_28_the_migrations_data_step_seals_files_and_its_reverse_opens_them(
    energy_dept: Person,
) -> None:
    from django.apps import apps as django_apps

    from phaseout.crypto import storage

    case = CaseFactory()
    [evidence] = case_actions.add_case_evidence(
        case=case, files=[upload("一.png", PNG, "image/png")], by=energy_dept.user
    )
    Path(evidence.file.path).write_bytes(PNG)
    forward, backward = storage.migration("cases", "Evidence", "file")
    forward(django_apps, None)
    assert crypto.sealed_version(_on_disk(evidence.file)) == 1
    assert evidence.file.storage.open(evidence.file.name).read() == PNG
    backward(django_apps, None)
    assert _on_disk(evidence.file) == PNG
    assert sorted(m._meta.label for m, _ in storage.sealed_file_fields()) == [
        "cases.Evidence",
        "plans.SubmissionVersion",
        "province.YearSummary",
        "registry.ImportBatch",
    ]
