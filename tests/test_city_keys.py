"""The register of the cities' signing keys at the province (issue 17 §4, ADR 0026): the provincial office
registers each city's public SM2 key and retires it, keeping its history; an exchange file is taken in
only when signed with the city's registered, current key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from phaseout.audit.models import AuditEvent
from phaseout.crypto import sm2
from phaseout.crypto.backends import sm3
from phaseout.messaging.models import Message
from phaseout.orgs.models import Person, Territory
from phaseout.province import actions, exchange, keys
from phaseout.province.models import CityKey, CityKeyEvent, SummaryEvent, YearSummary
from tests.conftest import client_for
from tests.test_province import _exported

NOW = dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC)  # 4 January 2027, 10:00 in Guangdong
YEAR = 2026
LETTER = "江工信函〔2027〕3号"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _city(code: str = "440700") -> Territory:
    return Territory.objects.get(code=code)


def _own_key(city: str = "440700") -> str:
    found = exchange.own_key(city)
    assert found is not None
    return found[0]


def _other_key() -> str:
    return sm2.public_key(sm2.generate_private_key()).hex()


def _register(province: Person, public_key: str | None = None, city: str = "440700") -> CityKey:
    return keys.register_key(
        city=_city(city), public_key=public_key or _own_key(city), letter=LETTER, by=province.user
    )


# --- registering and retiring ----------------------------------------------------------------------------


def test_the_province_registers_a_citys_key_with_history_audit_and_a_message(
    province: Person, office: Person
) -> None:
    public, fingerprint = exchange.own_key("440700")  # type: ignore[misc]
    key = keys.register_key(
        city=_city(), public_key="04" + public.upper()[:40] + "\n" + public.upper()[40:], letter=LETTER,
        by=province.user,
    )  # fmt: skip
    key.refresh_from_db()
    assert (key.city_id, key.public_key, key.letter) == ("440700", public, LETTER)
    assert key.fingerprint == fingerprint == sm3(bytes.fromhex(public)).hex()
    assert (key.registered_by, key.registered_at, key.retired_at) == (province.user, NOW, None)
    event = CityKeyEvent.objects.get(key=key)
    assert (event.step, event.note, event.by, event.at) == ("register", LETTER, province.user, NOW)
    audit = AuditEvent.objects.get(action="city_key.register")
    assert (audit.actor, audit.object_type, audit.object_id) == (
        province.user,
        "province.citykey",
        str(key.pk),
    )
    assert audit.data == {"city": "440700", "fingerprint": fingerprint, "letter": LETTER}
    told = Message.objects.get(recipient=office)
    assert (told.title, told.body) == (f"省级已登记本市签名公钥（指纹 {fingerprint[:16]}）", LETTER)


def _off_curve() -> str:
    raw = bytearray(bytes.fromhex(_other_key()))
    raw[63] ^= 1
    return raw.hex()


@pytest.mark.parametrize(
    ("public_key", "letter", "message"),
    [
        ("  ", LETTER, "请填写该市的签名公钥。"),
        ("zz" * 64, LETTER, "公钥应为 128 位十六进制数字（SM2 公钥 x‖y，可带前缀 04）。"),
        ("ab" * 63, LETTER, "公钥应为 128 位十六进制数字（SM2 公钥 x‖y，可带前缀 04）。"),
        ("05" + "ab" * 64, LETTER, "公钥应为 128 位十六进制数字（SM2 公钥 x‖y，可带前缀 04）。"),
        (None, LETTER, "该数字串不是 SM2 曲线上的公钥。"),
        ("own", " ", "请填写该市报送公钥的来函或文件（文号）。"),
        ("own", "函" * 101, "内容过长，最多 100 个字符。"),
        ("own", "江\x00函", "文字中含有不允许的字符。"),
    ],
)
def test_a_bad_key_or_letter_is_refused_and_nothing_is_written(
    province: Person, public_key: str | None, letter: str, message: str
) -> None:
    text = _off_curve() if public_key is None else _own_key() if public_key == "own" else public_key
    with pytest.raises(keys.KeyRefused) as refused:
        keys.register_key(city=_city(), public_key=text, letter=letter, by=province.user)
    assert str(refused.value) == message
    assert not CityKey.objects.exists() and not CityKeyEvent.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="city_key.").exists()


def test_only_the_provincial_office_of_the_citys_province_keeps_its_keys(
    province: Person, office: Person
) -> None:
    for by, city in ((office.user, "440700"), (province.user, "440703")):  # a city's office; a county
        with pytest.raises(keys.KeyRefused) as refused:
            keys.register_key(city=_city(city), public_key=_own_key(), letter=LETTER, by=by)
        assert str(refused.value) == "只有该市所在省的省级协调办公室可以登记或停用其签名公钥。"
    key = _register(province)
    with pytest.raises(keys.KeyRefused) as retire:
        keys.retire_key(key=key, reason="更换", by=office.user)
    assert str(retire.value) == "只有该市所在省的省级协调办公室可以登记或停用其签名公钥。"
    assert CityKey.objects.get().retired_at is None


def test_one_current_key_per_city_retired_with_its_history_and_never_registered_twice(
    province: Person,
) -> None:
    first = _register(province)
    second = _other_key()
    with pytest.raises(keys.KeyRefused) as current:
        _register(province, second)
    assert str(current.value) == (
        f"江门市已有在用的签名公钥（指纹 {first.fingerprint}），须先停用后才能登记新公钥。"
    )
    with pytest.raises(keys.KeyRefused) as no_reason:
        keys.retire_key(key=first, reason=" ", by=province.user)
    assert str(no_reason.value) == "请填写停用该公钥的理由。"
    later = NOW + dt.timedelta(days=2)
    retired = keys.retire_key(key=first, reason="城市平台重建，密钥更换", by=province.user, now=later)
    assert (retired.retired_by, retired.retired_at, retired.retire_reason) == (
        province.user,
        later,
        "城市平台重建，密钥更换",
    )
    with pytest.raises(keys.KeyRefused) as twice:
        keys.retire_key(key=first, reason="再次", by=province.user)
    assert str(twice.value) == "该公钥已于 2027-01-06 停用。"
    with pytest.raises(keys.KeyRefused) as again:
        _register(province)  # the retired key itself
    assert str(again.value) == "该公钥已于 2027-01-04 为江门市登记过，同一公钥只能登记一次。"
    replacement = _register(province, second)
    assert [(e.step, e.note) for e in CityKeyEvent.objects.filter(key=first)] == [
        ("register", LETTER),
        ("retire", "城市平台重建，密钥更换"),
    ]
    retire_audit = AuditEvent.objects.get(action="city_key.retire")
    assert retire_audit.reason == "城市平台重建，密钥更换" and retire_audit.object_id == str(first.pk)
    assert retire_audit.data == {"city": "440700", "fingerprint": first.fingerprint}
    assert list(CityKey.objects.filter(city="440700", retired_at__isnull=True)) == [replacement]
    assert AuditEvent.objects.filter(action="city_key.register").count() == 2


# --- the exchange file against the register -----------------------------------------------------------


def _nothing_imported() -> None:
    assert not YearSummary.objects.exists() and not SummaryEvent.objects.exists()
    assert not AuditEvent.objects.filter(action="summary.import").exists()


def test_a_file_from_a_city_without_a_registered_key_is_refused(office: Person, province: Person) -> None:
    data = _exported(office)
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    assert (
        str(refused.value) == "江门市尚未在省级登记签名公钥：请先登记该市来函报送的公钥，再接收其交换文件。"
    )
    _nothing_imported()


def test_a_file_signed_with_another_key_than_the_registered_one_is_refused(
    office: Person, province: Person
) -> None:
    data = _exported(office)
    _register(province, _other_key())
    fingerprint = exchange.own_key("440700")[1]  # type: ignore[index]
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    assert str(refused.value) == f"交换文件并非由江门市已登记的公钥签名（文件公钥指纹：{fingerprint}）。"
    _nothing_imported()


def test_a_file_signed_with_heyuans_key_is_not_taken_for_jiangmen(
    office: Person, heyuan_office: Person, province: Person
) -> None:
    data = _exported(office)
    _register(province, _own_key("441600"), city="441600")  # Heyuan's key, registered for Heyuan
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    assert (
        str(refused.value) == "江门市尚未在省级登记签名公钥：请先登记该市来函报送的公钥，再接收其交换文件。"
    )
    _nothing_imported()


def test_a_file_signed_with_a_retired_key_is_refused(office: Person, province: Person) -> None:
    data = _exported(office)
    key = _register(province)
    keys.retire_key(key=key, reason="密钥疑似泄露", by=province.user)
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    assert (
        str(refused.value) == "交换文件的签名公钥是江门市已于 2027-01-04 停用的公钥；该市应使用在用公钥签名。"
    )
    _nothing_imported()


def test_a_file_signed_with_the_registered_current_key_is_taken_in(office: Person, province: Person) -> None:
    data = _exported(office)
    key = _register(province)
    summary = exchange.import_file(data=data, by=province.user)
    assert (summary.state, summary.exchange_key) == ("handed_up", key.fingerprint)
    assert AuditEvent.objects.get(action="summary.import").data["city_key"] == key.pk


# --- over HTTP: the provincial office keeps the register, nobody else ---------------------------------


def test_the_register_over_http(
    province: Person, office: Person, energy_dept: Person, heyuan_office: Person
) -> None:
    public = _own_key()
    form = {"city": "440700", "public_key": public, "letter": LETTER}
    for person in (office, energy_dept, heyuan_office):
        client = client_for(person.user)
        assert client.get("/province/keys/").status_code == 403
        assert client.post("/province/keys/register/", {**form, "confirm": "on"}).status_code == 403
    client = client_for(province.user)
    page = client.get("/province/keys/").content.decode()
    assert "地市签名公钥登记簿" in page and "尚未登记公钥。" in page and 'id="register-key-button"' in page
    unconfirmed = client.post("/province/keys/register/", form, follow=True).content.decode()
    assert "请勾选确认后再执行此操作。" in unconfirmed and not CityKey.objects.exists()
    bad = client.post(
        "/province/keys/register/", {**form, "public_key": "abc", "confirm": "on"}, follow=True
    ).content.decode()
    assert (
        "公钥应为 128 位十六进制数字（SM2 公钥 x‖y，可带前缀 04）。" in bad and not CityKey.objects.exists()
    )
    outside = client.post("/province/keys/register/", {**form, "city": "440703", "confirm": "on"})
    assert outside.status_code == 302 and not CityKey.objects.exists()  # a county is not a choice
    assert client.post("/province/keys/register/", {**form, "confirm": "on"}).status_code == 302
    key = CityKey.objects.get()
    page = client.get("/province/keys/").content.decode()
    assert key.fingerprint in page and LETTER in page and "在用" in page
    assert f'id="retire-key-{key.pk}"' in page
    retire = {f"k{key.pk}-reason": "更换密钥", f"k{key.pk}-confirm": "on"}
    assert client_for(office.user).post(f"/province/keys/{key.pk}/retire/", retire).status_code == 403
    client.post(f"/province/keys/{key.pk}/retire/", {f"k{key.pk}-reason": "更换密钥"})
    key.refresh_from_db()
    assert key.retired_at is None  # not confirmed on the page
    assert client.post(f"/province/keys/{key.pk}/retire/", retire).status_code == 302
    key.refresh_from_db()
    assert key.retire_reason == "更换密钥"
    page = client.get("/province/keys/").content.decode()
    assert "已于 2027-01-04 停用：更换密钥" in page and "停用 — 广东省工业和信息化厅：更换密钥" in page


def test_the_city_office_sees_its_own_key_to_send_by_letter(office: Person) -> None:
    public, fingerprint = exchange.own_key("440700")  # type: ignore[misc]
    page = client_for(office.user).get("/summaries/").content.decode()
    assert public in page and fingerprint in page and "本平台签名公钥（供省级登记）" in page
