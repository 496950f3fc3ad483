"""The exchange file checked whole before anything is written (tester's findings on the province app): the
city's registered key and nothing else, a summary the city keeps on this platform never replaced, the
approving body the city's own people's government, the payload's shape and types as the city's own
draw-up produces them, the same date and text rules as the forms; the summary's approval not dated before
it was drawn up."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from phaseout import crypto
from phaseout.audit.models import AuditEvent
from phaseout.crypto import sm2
from phaseout.crypto.backends import sm3
from phaseout.messaging.models import Message
from phaseout.orgs.models import Person, Territory
from phaseout.province import actions, exchange
from phaseout.province.models import SummaryEvent, YearSummary
from tests.conftest import REPORT_PDF
from tests.test_province import _exported, _register_key

NOW = dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC)  # 4 January 2027, 10:00 in Guangdong
YEAR = 2026
Payload = dict[str, Any]


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _payload(office: Person) -> Payload:
    payload: Payload = json.loads(_exported(office))["payload"]
    return payload


def _signed(payload: Payload, *, private: int | None = None, raw: bytes | None = None) -> bytes:
    """An exchange file of `payload` with a valid checksum and signature: by the city platform's own key,
    or by `private` (a key nobody registered)."""
    message = raw if raw is not None else exchange.canonical(payload)
    if private is None:
        seal = crypto.sign(exchange.signer("440700"), message)
        public, value = crypto.public_key(seal.key_id), seal.signature
    else:
        public, value = sm2.public_key(private), sm2.sign(private, message)
    body = {
        "format": exchange.FORMAT,
        "version": exchange.VERSION,
        "payload": payload,
        "checksum": {"algorithm": "SHA-256", "value": hashlib.sha256(message).hexdigest()},
        "signature": {
            "algorithm": "SM2-SM3",
            "key_id": "x",
            "public_key": public.hex(),
            "value": value.hex(),
        },
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _nothing_imported() -> None:
    assert not YearSummary.objects.filter(source="exchange").exists()
    assert not SummaryEvent.objects.filter(step="import").exists()
    assert not AuditEvent.objects.filter(action="summary.import").exists()


def _refused(data: bytes, province: Person) -> str:
    with pytest.raises(actions.SummaryError) as refused:
        exchange.import_file(data=data, by=province.user)
    return str(refused.value).replace("\xa0", " ")


# --- 1. the key and the summaries the city keeps here --------------------------------------------------


def test_a_file_signed_with_a_freshly_generated_key_is_refused(office: Person, province: Person) -> None:
    payload = _payload(office)
    _register_key(province)
    fresh = sm2.generate_private_key()
    fingerprint = sm3(sm2.public_key(fresh)).hex()
    message = _refused(_signed(payload, private=fresh), province)
    assert message == f"交换文件并非由江门市已登记的公钥签名（文件公钥指纹：{fingerprint}）。"
    _nothing_imported()


def _platform_summary(office: Person, province: Person, state: str) -> YearSummary:
    summary = actions.draw_up_summary(city=Territory.objects.get(code="440700"), year=YEAR, by=office.user)
    if state == "draft":
        return summary
    summary = actions.approve_summary(
        summary=summary, body="江门市人民政府", doc_number="江府函〔2027〕9号", approved_on=NOW.date(),
        by=office.user,
    )  # fmt: skip
    if state == "approved":
        return summary
    summary = actions.hand_up_summary(summary=summary, by=office.user)
    return actions.review_summary(summary=summary, accept=False, reason="数字有误", by=province.user)


@pytest.mark.parametrize("state", ["draft", "approved", "returned"])
def test_a_summary_the_city_keeps_on_this_platform_is_never_replaced_by_a_file(
    office: Person, province: Person, state: str
) -> None:
    data = _signed(_payload(office))
    _register_key(province)
    summary = _platform_summary(office, province, state)
    events, audits = SummaryEvent.objects.count(), AuditEvent.objects.count()
    message = _refused(data, province)
    assert message == "江门市2026年度总结由该市在本平台编制，不能以交换文件替换。"
    kept = YearSummary.objects.get()
    assert (kept.pk, kept.state, kept.source, kept.approval_doc_number, kept.exchange_sha256) == (
        summary.pk, state, "platform", summary.approval_doc_number, ""
    )  # fmt: skip
    assert SummaryEvent.objects.count() == events and AuditEvent.objects.count() == audits


def test_a_returned_exchange_summary_is_replaced_and_the_city_office_is_told(
    office: Person, province: Person
) -> None:
    data = _signed(_payload(office))
    _register_key(province)
    first = exchange.import_file(data=data, by=province.user)
    event = SummaryEvent.objects.get(summary=first, step="import")
    assert event.note == (
        f"文件 SHA-256：{hashlib.sha256(data).hexdigest()}；签名公钥指纹（SM3）：{first.exchange_key}"
    )
    assert not Message.objects.filter(recipient=office, object_type="province.yearsummary").exists()
    actions.review_summary(summary=first, accept=False, reason="请补充产能数据", by=province.user)
    again = exchange.import_file(data=data, by=province.user)
    assert (again.pk, again.state, again.return_reason) == (first.pk, "handed_up", "")
    assert list(SummaryEvent.objects.filter(summary=again).values_list("step", "before", "after")) == [
        ("import", "", "handed_up"),
        ("return", "handed_up", "returned"),
        ("import", "returned", "handed_up"),
    ]
    assert AuditEvent.objects.filter(action="summary.import").count() == 2
    told = Message.objects.get(recipient=office, object_type="province.yearsummary")
    assert told.title == "省级已接收2026年度总结（曾退回）的新交换文件"
    assert told.url == f"/summaries/{again.pk}/"


def test_the_approving_body_must_be_the_citys_own_government(office: Person, province: Person) -> None:
    payload = _payload(office)
    payload["approval"]["body"] = "河源市人民政府"
    _register_key(province)
    message = _refused(_signed(payload), province)
    assert message == "江门市年度总结应由江门市人民政府审定；交换文件所示审定机关为河源市人民政府。"
    _nothing_imported()


# --- 2 and 3. the payload's shape, types and text ---------------------------------------------------------

SHAPE = "这不是年度总结交换文件。"
FIGURES = "交换文件中的统计数字与平台编制年度总结的格式不符。"
NOT_ALLOWED = "文字中含有不允许的字符。"


def _set(path: str, value: Any) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        *parents, last = path.split(".")
        target: Any = payload
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


CAPACITY = {"enterprise__industry__name": "钢铁", "capacity_unit": "吨", "lines": 1, "total": "12.5"}


def _row(**changes: Any) -> list[dict[str, Any]]:
    return [{"territory__name": "蓬江区", "found": 1, "rectifying": 0, "ordered": 0, "exited": 0, "closed": 0,
             **changes}]  # fmt: skip


def _both_years(year: int) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        payload["year"] = payload["figures"]["year"] = year

    return change


def _drop(key: str) -> Callable[[Payload], None]:
    return lambda payload: payload["figures"].pop(key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("figures.by_territory", [1, "x"]), FIGURES),
        (_set("figures.by_territory", [{"territory__name": "蓬江区", "found": 1}]), FIGURES),
        (_set("figures.by_territory", _row(found=-1)), FIGURES),
        (_set("figures.by_territory", _row(found=10**9 + 1)), FIGURES),
        (_set("figures.by_territory", _row(found=True)), FIGURES),
        (_set("figures.by_territory", _row(found=1.5)), FIGURES),
        (_set("figures.capacity", 5), FIGURES),
        (_set("figures.capacity", [{"enterprise__industry__name": "钢铁", "capacity_unit": "吨"}]), FIGURES),
        (_set("figures.capacity", [{**CAPACITY, "total": "1e999999"}]), FIGURES),
        (_set("figures.capacity", [{**CAPACITY, "total": "NaN"}]), FIGURES),
        (_set("figures.capacity", [{**CAPACITY, "total": 12}]), FIGURES),
        (_set("figures.by_state", {"nonsense": 1}), FIGURES),
        (_set("figures.year", 2025), FIGURES),
        (_set("figures.year", 2026.0), FIGURES),
        (_set("figures.extra", 1), FIGURES),
        (_drop("exited_lines"), FIGURES),
        (_set("figures", [1]), SHAPE),
        (_both_years(2099), "交换文件所属年度 2099 尚未开始。"),
        (_set("approval.approved_on", "2000-01-01"), "审定日期不能早于年度总结所属的 2026 年。"),
        (_set("approval.approved_on", "2027-01-05"), "审定日期不能晚于今天。"),
        (_set("approval.body", "江门市人民\u202e政府"), NOT_ALLOWED),
        (_set("approval.body", "江门市人民政府\x07"), NOT_ALLOWED),
        (_set("approval.doc_number", "江府函〔2027〕\u200b2号"), NOT_ALLOWED),
        (_set("approval.doc_number", ""), "请填写审定文件的文号。"),
        (_set("approval.doc_number", "江" * 61), "内容过长，最多 60 个字符。"),
        (_set("documents.0.name", "总结\u202efdp.exe"), NOT_ALLOWED),
        (_set("documents.0.name", "总结\u200b.pdf"), NOT_ALLOWED),
    ],
)
def test_a_signed_file_of_the_wrong_shape_or_text_is_refused_and_nothing_is_written(
    office: Person, province: Person, change: Callable[[Payload], None], message: str
) -> None:
    payload = copy.deepcopy(_payload(office))
    change(payload)
    _register_key(province)
    assert _refused(_signed(payload), province) == message
    _nothing_imported()


def test_nan_is_not_an_exchange_file_and_a_lone_surrogate_is_a_character_not_allowed(
    office: Person, province: Person
) -> None:
    payload = _payload(office)
    _register_key(province)
    with_nan = copy.deepcopy(payload)
    with_nan["figures"]["exited_lines"] = float("nan")
    # canonical JSON writes NaN (so the signature verifies); the province refuses it
    assert _refused(_signed(with_nan), province) == SHAPE
    text = _signed(payload).decode().replace('"江门市人民政府"', '"\\ud800"', 1)
    assert _refused(text.encode(), province) == NOT_ALLOWED
    _nothing_imported()


def _document(payload: Payload, name: str, content: bytes) -> None:
    payload["documents"][0].update(
        name=name,
        content=base64.b64encode(content).decode(),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )


def test_a_documents_name_is_reduced_to_its_base_name_with_the_extension_its_content_has(
    office: Person, province: Person
) -> None:
    payload = _payload(office)
    _document(payload, "../../../evil.html", REPORT_PDF)
    _register_key(province)
    summary = exchange.import_file(data=_signed(payload), by=province.user)
    assert summary.document_name == "evil.pdf" and ".." not in summary.document.name
    with summary.document.open("rb") as fh:
        assert fh.read() == REPORT_PDF


def test_a_document_that_is_not_a_document_is_refused(office: Person, province: Person) -> None:
    payload = _payload(office)
    _document(payload, "../../../evil.html", b"<html><script>alert(1)</script></html>" * 20)
    _register_key(province)
    assert _refused(_signed(payload), province) == (
        "evil.html 不是文件材料：请报送 PDF、Word（.docx）、Excel（.xlsx）或 OFD 文件。"
    )
    _nothing_imported()


# --- 4. the summary's approval not dated before it was drawn up ---------------------------------------------


def test_the_summary_is_not_approved_on_a_day_before_it_was_drawn_up(office: Person) -> None:
    summary = actions.draw_up_summary(city=Territory.objects.get(code="440700"), year=YEAR, by=office.user)
    with pytest.raises(actions.SummaryError) as refused:
        actions.approve_summary(
            summary=summary, body="江门市人民政府", doc_number="江府函〔2027〕2号",
            approved_on=dt.date(2001, 1, 1), by=office.user,
        )  # fmt: skip
    assert str(refused.value) == "审定日期不能早于办公室编制年度总结的日期。"
    summary.refresh_from_db()
    assert (summary.state, summary.approved_on) == ("draft", None)
    assert not SummaryEvent.objects.filter(step="approve").exists()
    assert not AuditEvent.objects.filter(action="summary.approve").exists()
