"""The message centre (站内信) and its outbox: each producer's messages reach the people concerned and no
one else, once; the unread count and read state; mail received by a real SMTP server on loopback (aiosmtpd)
and SMS by a local HTTP stub of the gateway; retries with backoff, given up and shown; quiet hours; the
person's preferences; two drains at once send once. Every write's audit row and every refusal's message
are asserted."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phaseout import jobs
from phaseout.audit import sequencer
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.cases import sweep as case_sweep
from phaseout.cases.actions import record_finding
from phaseout.complaints import actions as tipoffs
from phaseout.messaging import actions, outbox
from phaseout.messaging.models import Delivery, Message, Preference
from phaseout.orgs.models import Department, Person, Role
from phaseout.plans.models import Plan, Submission
from phaseout.registry.models import EquipmentType
from tests.conftest import _person, client_for
from tests.factories import CaseFactory, EnterpriseFactory, InspectionFactory, LineFactory, PersonFactory

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)  # outside the quiet hours
TODAY = NOON.date()


# ── a real SMTP server and an SMS gateway stub, on loopback ──────────────────────────────────────


class Inbox:
    """An aiosmtpd handler: keeps each mail received; answers 451 (try later) while `refuse` is set."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Requested action aborted: try again later"
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port on loopback (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MESSAGING_MAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.DEFAULT_FROM_EMAIL = "phaseout@127.0.0.1"
    yield inbox
    controller.stop()


class Gateway:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200


@pytest.fixture
def gateway(settings: Any) -> Iterator[Gateway]:
    stub = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if stub.status == 200:
                stub.received.append(json.loads(body.decode("utf-8")))
                stub.headers.append(dict(self.headers))
            self.send_response(stub.status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MESSAGING_SMS_GATEWAY = "http"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    settings.SMS_GATEWAY_TOKEN = "gw-token"
    settings.SMS_GATEWAY_TEMPLATE = '{"mobile": "$phone", "content": "$sign$text", "channel": 7}'
    settings.SMS_SIGN = "【江门淘汰办】"
    yield stub
    server.shutdown()
    server.server_close()


# ── people ─────────────────────────────────────────────────────────────────────────────────────


def _with_mail(person: Person, address: str) -> Person:
    person.user.email = address
    person.user.save(update_fields=["email"])
    return person


@pytest.fixture
def fgj(energy_dept: Person) -> Person:
    return _with_mail(energy_dept, "fgj@127.0.0.1")


@pytest.fixture
def intake(reference: None) -> Person:
    return _person("intake", Role.INTAKE)


def _audit(action: str, obj: Any) -> AuditEvent:
    return AuditEvent.objects.get(action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk))


def _tipoff(text: str = "某厂偷排废气，夜间冒黑烟", today: dt.date = TODAY) -> Any:
    tipoff, _new = tipoffs.receive(source="web", text=text, today=today)
    return tipoff


# ── the message centre end to end ──────────────────────────────────────────────────────────────


@time_machine.travel(NOON, tick=False)  # the pages and the hand-over read the clock: noon in Jiangmen
def test_the_message_centre_end_to_end_with_mail_received_by_the_smtp_server_on_loopback(
    smtp: Inbox, fgj: Person, env_dept: Person, intake: Person
) -> None:
    tipoff = _tipoff()
    intake_client = client_for(intake.user)
    response = intake_client.post(
        f"/tipoffs/{tipoff.pk}/",
        {"action": "hand_over", "department": Department.objects.get(code="jm-fgj").pk},
    )
    assert response.status_code == 302

    message = Message.objects.get()
    assert message.recipient == fgj  # the department it was handed to, not another
    assert message.kind == "tipoff"
    assert message.title == f"举报 {tipoff.tracking_code} 已转交你单位办理"
    assert message.url == f"/tipoffs/{tipoff.pk}/"
    notified = _audit("message.notify", message)
    assert (notified.actor, notified.outcome) == (intake.user, Outcome.SUCCESS)
    assert notified.data["recipient"] == fgj.pk and notified.data["channels"] == ["mail"]
    assert not Message.objects.filter(recipient=env_dept).exists()

    # The periodic job drains the outbox: the mail reaches the SMTP server, in Chinese.
    report = jobs.run_jobs(now=NOON)
    assert report["messaging"].counts["sent"] == 1
    [mail] = smtp.mails
    assert mail["To"] == "fgj@127.0.0.1"
    assert mail["Subject"].strip() == f"【举报已转交】举报 {tipoff.tracking_code} 已转交你单位办理"
    assert f"http://127.0.0.1:8000/tipoffs/{tipoff.pk}/" in mail.get_content()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, NOON)
    sent = _audit("message.sent", delivery)
    assert (sent.actor, sent.outcome, sent.data) == (None, Outcome.SUCCESS, {"channel": "mail", "attempt": 1})

    # The recipient sees the unread count in the header, the message in the list, opens it.
    client = client_for(fgj.user)
    page = client.get("/messages/").content.decode()
    assert '<span class="badge" title="未读">1</span>' in page
    assert message.title in page and "邮件：已发送" in page
    detail = client.get(f"/messages/{message.pk}/")
    assert detail.status_code == 200
    assert f'href="/tipoffs/{tipoff.pk}/"' in detail.content.decode()  # linked to its record
    message.refresh_from_db()
    assert message.read_at is not None
    read = _audit("message.read", message)
    assert (read.actor, read.outcome) == (fgj.user, Outcome.SUCCESS)
    assert 'class="badge"' not in client.get("/messages/").content.decode()
    client.get(f"/messages/{message.pk}/")  # opened again: nothing more written
    assert AuditEvent.objects.filter(action="message.read").count() == 1
    # The record it links to opens for the recipient.
    assert client.get(message.url).status_code == 200
    # Nothing is sent twice: the next run finds nothing due.
    assert jobs.run_jobs(now=NOON + dt.timedelta(minutes=15))["messaging"].counts["sent"] == 0
    assert len(smtp.mails) == 1


def test_a_person_reads_only_their_own_messages(fgj: Person, env_dept: Person) -> None:
    [message] = actions.notify([fgj], "reminder", "提醒：报送截止", now=NOON)
    other = client_for(env_dept.user)
    assert other.get(f"/messages/{message.pk}/").status_code == 404
    assert message.title not in other.get("/messages/").content.decode()
    message.refresh_from_db()
    assert message.read_at is None
    with pytest.raises(actions.MessageError) as refused:
        actions.mark_read(message=message, person=env_dept)
    assert str(refused.value) == "这条消息不是发给你的。"
    assert not AuditEvent.objects.filter(action="message.read").exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OFFICE, 200),
        (Role.DEPARTMENT, 403),
        (Role.DISTRICT, 403),
        (Role.ENTERPRISE, 403),
        (Role.INTAKE, 403),
        (Role.AUDITOR, 403),
    ],
)
def test_the_outbox_is_the_office_s_and_the_centre_every_business_role_s(
    reference: None, role: Role, status: int
) -> None:
    scope: dict[str, Any] = {
        Role.OFFICE: {"department": Department.objects.get(code="jm-gxj")},
        Role.DEPARTMENT: {"department": Department.objects.get(code="jm-fgj")},
        Role.DISTRICT: {"territory_id": "440703"},
        Role.ENTERPRISE: {"enterprise": EnterpriseFactory()},
    }.get(role, {})
    person = _person(f"who-{role}", role, **scope)
    client = client_for(person.user)
    assert client.get("/messages/outbox/").status_code == status
    # Every business role has a message centre; the administrators none (least privilege).
    centre = 403 if role == Role.AUDITOR else 200
    assert client.get("/messages/").status_code == centre
    assert client.get("/messages/preferences/").status_code == centre
    assert ('href="/messages/"' in client.get("/").content.decode()) is (centre == 200)


def test_filters_unread_and_kind_and_mark_all_read(fgj: Person) -> None:
    first, second = (
        actions.notify([fgj], "reminder", "提醒一", now=NOON)[0],
        actions.notify([fgj], "escalation", "督办二", now=NOON)[0],
    )
    actions.mark_read(message=first, person=fgj, now=NOON)
    client = client_for(fgj.user)
    unread = client.get("/messages/?show=unread").content.decode()
    assert "督办二" in unread and "提醒一" not in unread
    kind = client.get("/messages/?kind=reminder").content.decode()
    assert "提醒一" in kind and "督办二" not in kind

    response = client.post("/messages/read-all/", follow=True)
    assert "已将 1 条消息标为已读。" in response.content.decode()
    second.refresh_from_db()
    assert second.read_at is not None
    event = _audit("message.read_all", fgj)
    assert (event.actor, event.data) == (fgj.user, {"count": 1})

    again = client.post("/messages/read-all/", follow=True)
    assert "没有未读消息。" in again.content.decode()
    assert AuditEvent.objects.filter(action="message.read_all").count() == 1


def test_the_header_count_is_one_query(fgj: Person) -> None:
    actions.notify([fgj], "reminder", "提醒", now=NOON)
    client = client_for(fgj.user)
    client.get("/messages/preferences/")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/messages/preferences/")
    assert '<span class="badge" title="未读">1</span>' in page.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "messaging_message" in q["sql"]]
    assert len(counts) == 1 and "COUNT(" in counts[0]


# ── producers: the right people, and only them, once ───────────────────────────────────────────


def test_a_proposal_waits_in_the_competent_department_s_queue(
    fgj: Person, env_dept: Person, district: Person
) -> None:
    line = LineFactory(
        enterprise__industry_id="cement",
        equipment_type=EquipmentType.CLINKER_LINE,
        size_value=Decimal("2500"),
        size_unit="t/d",
        capacity=Decimal("2500"),
        capacity_unit="t/d",
    )
    inspection = InspectionFactory(enterprise=line.enterprise, line=line, inspected_on=dt.date(2026, 1, 5))
    finding = record_finding(
        inspection=inspection,
        rule_id="energy.cement.clinker-energy",
        line=line,
        measured_value=Decimal("123.5"),
        by=fgj.user,
    )
    case = finding.case
    [message] = Message.objects.all()
    assert (message.recipient, message.kind, message.url) == (fgj, "proposal", f"/cases/{case.pk}/")
    assert message.title.startswith(f"拟处理事项待决定：{line.enterprise.name} — ")
    assert (message.object_type, message.object_id) == ("cases.case", str(case.pk))
    assert _audit("message.notify", message).actor == fgj.user


def test_case_escalations_are_told_once_and_reminders_before_the_deadline(
    fgj: Person, env_dept: Person, district: Person, other_district: Person
) -> None:
    overdue = CaseFactory(state="rectifying", order_date=dt.date(2025, 9, 1), deadline=dt.date(2026, 3, 1))
    soon = CaseFactory(state="rectifying", order_date=dt.date(2025, 9, 5), deadline=dt.date(2026, 3, 6))
    firm = PersonFactory(role=Role.ENTERPRISE, enterprise=soon.enterprise, user__username="firm")

    case_sweep.sweep(today=TODAY, now=NOON)
    escalated = Message.objects.filter(kind="escalation")
    assert {m.recipient for m in escalated} == {fgj, district}  # not the environment department, not Taishan
    assert all(m.url == f"/cases/{overdue.pk}/" for m in escalated)
    assert escalated.first().title == f"升级督办：整改期限已过 — {overdue.enterprise.name}（期限 2026-03-01）"
    reminded = Message.objects.filter(kind="reminder")
    assert {m.recipient for m in reminded} == {fgj, district, firm}
    assert reminded.first().title == f"提醒：{soon.enterprise.name} 的整改期限为 2026-03-06"

    made = Message.objects.count()
    audits = AuditEvent.objects.filter(action="message.notify").count()
    case_sweep.sweep(today=TODAY, now=NOON + dt.timedelta(minutes=15))  # the next run: nothing new
    case_sweep.sweep(today=TODAY + dt.timedelta(days=1), now=NOON + dt.timedelta(days=1))
    assert Message.objects.count() == made
    assert AuditEvent.objects.filter(action="message.notify").count() == audits


@pytest.fixture
def plan_with_submissions(office: Person, fgj: Person, district: Person) -> Plan:
    from phaseout.plans.models import Task, TaskUnit

    plan = Plan.objects.create(
        year=2026, title="江门市2026年淘汰落后产能工作方案", confirmed_by=office.user, confirmed_at=NOON,
        status=Plan.Status.APPROVED, approval_body="江门市人民政府", approval_doc_number="江府函〔2026〕1号",
        approved_on=dt.date(2026, 1, 6), approval_recorded_by=office.user,
        approval_recorded_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        territory_id="440700", source_name="p.txt", source_text="", created_by=office.user,
    )  # fmt: skip
    task = Task.objects.create(plan=plan, number="1", text="报送淘汰任务完成情况", order=1)
    TaskUnit.objects.create(task=task, name="市发展改革局", role="lead", source="text", match="department",
                            department=fgj.department)  # fmt: skip
    for department, territory, due in ((fgj.department, None, TODAY - dt.timedelta(days=1)),
                                       (None, district.territory, TODAY + dt.timedelta(days=5))):  # fmt: skip
        Submission.objects.create(
            plan=plan, task=task, department=department, territory=territory, kind="report", due_date=due
        )
    return plan


def test_submissions_are_reminded_and_escalated_to_their_unit_and_the_office(
    plan_with_submissions: Plan, office: Person, fgj: Person, district: Person, env_dept: Person
) -> None:
    assert jobs.run_jobs(now=NOON)["plans"].counts == {"reminded": 1, "overdue": 1}
    reminder = Message.objects.get(kind="reminder")
    assert reminder.recipient == district
    assert reminder.title == "提醒：情况报送截止日期为 2026-03-07"
    assert reminder.url == "/submissions/"
    escalations = {m.recipient: m.url for m in Message.objects.filter(kind="escalation")}
    assert escalations == {fgj: "/submissions/", office: f"/plans/{plan_with_submissions.pk}/"}
    assert not Message.objects.filter(recipient=env_dept).exists()
    assert jobs.run_jobs(now=NOON + dt.timedelta(hours=1))["plans"].counts == {"reminded": 0, "overdue": 0}
    assert Message.objects.count() == 3


def test_overdue_tipoffs_are_escalated_once_to_office_intake_and_department(
    office: Person, intake: Person, fgj: Person, env_dept: Person
) -> None:
    tipoff = _tipoff("某厂能耗超标，耗电惊人", today=dt.date(2026, 1, 5))
    tipoffs.hand_over(tipoff=tipoff, department=fgj.department, by=intake.user)
    Message.objects.all().delete()
    assert tipoffs.escalate_overdue(now=NOON, today=TODAY) == 1
    told = {m.recipient for m in Message.objects.filter(kind="escalation")}
    assert told == {office, intake, fgj}
    assert tipoffs.escalate_overdue(now=NOON, today=TODAY) == 0
    assert Message.objects.count() == 3


def test_a_notice_reaches_the_unit_it_names_only(
    plan_with_submissions: Plan, office: Person, fgj: Person, env_dept: Person, district: Person
) -> None:
    from phaseout.plans import actions as plan_actions

    task = plan_with_submissions.tasks.get()
    supervision = plan_actions.record_supervision(
        plan=plan_with_submissions, kind="notice", issued_on=TODAY, text="未按期报送，予以通报。",
        by=office.user, today=TODAY, task=task, unit=fgj.department,
    )  # fmt: skip
    [message] = Message.objects.filter(kind="notice")
    assert message.recipient == fgj
    assert message.title == f"通报：{plan_with_submissions.title}"
    assert message.body == "未按期报送，予以通报。"
    assert (message.object_type, message.object_id, message.url) == (
        "plans.supervision", str(supervision.pk), "/",
    )  # fmt: skip
    assert _audit("message.notify", message).actor == office.user

    firm = EnterpriseFactory()
    firm_person = PersonFactory(role=Role.ENTERPRISE, enterprise=firm, user__username="firm-boss")
    plan_actions.record_supervision(
        plan=plan_with_submissions, kind="talks", issued_on=TODAY, text="请按时参加约谈。", by=office.user,
        today=TODAY, enterprise=firm, talk_at=dt.datetime(2026, 3, 5, 9, 30, tzinfo=SHANGHAI),
        talk_place="市工信局3楼会议室",
    )  # fmt: skip
    [summons] = Message.objects.filter(kind="summons")
    assert summons.recipient == firm_person
    assert summons.title == f"约谈通知：{plan_with_submissions.title}"
    assert summons.body == "请按时参加约谈。\n\n约谈时间地点：2026-03-05 09:30，市工信局3楼会议室。"


# ── the outbox: SMS, retries, quiet hours, preferences, concurrency ────────────────────────────


def test_an_sms_reaches_the_gateway_stub(gateway: Gateway, fgj: Person) -> None:
    actions.set_preferences(person=fgj, mail=False, sms=True, phone="138 0013 8000", muted_kinds=[])
    [message] = actions.notify([fgj], "reminder", "提醒：整改期限将至", url="/cases/1/", now=NOON)
    assert outbox.drain(now=NOON).sent == 1
    assert gateway.received == [
        {
            "mobile": "13800138000",
            "content": "【江门淘汰办】【提醒】提醒：整改期限将至 http://127.0.0.1:8000/cases/1/",
            "channel": 7,
        }
    ]
    assert gateway.headers[0]["Authorization"] == "Bearer gw-token"
    delivery = message.deliveries.get()
    assert (delivery.channel, delivery.status) == ("sms", "sent")
    assert _audit("message.sent", delivery).data == {"channel": "sms", "attempt": 1}


def test_a_failing_smtp_server_is_retried_with_backoff_then_given_up_and_shown(
    smtp: Inbox, settings: Any, fgj: Person, office: Person
) -> None:
    settings.MESSAGING_RETRY_SECONDS, settings.MESSAGING_MAX_ATTEMPTS = 60, 3
    smtp.refuse = True
    [message] = actions.notify([fgj], "escalation", "督办：逾期未报送", now=NOON)
    delivery = message.deliveries.get()

    assert outbox.drain(now=NOON).failed == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.next_attempt_at == NOON + dt.timedelta(seconds=60)
    assert "451" in delivery.last_error
    failed = AuditEvent.objects.filter(action="message.send_failed", object_id=str(delivery.pk))
    assert [(e.outcome, e.data["attempt"]) for e in failed] == [(Outcome.FAILURE, 1)]
    assert outbox.drain(now=NOON + dt.timedelta(seconds=59)).failed == 0  # not due yet

    assert outbox.drain(now=NOON + dt.timedelta(seconds=60)).failed == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == NOON + dt.timedelta(seconds=60 + 120)  # doubled
    page = client_for(fgj.user).get(f"/messages/{message.pk}/").content.decode()
    assert "邮件：发送失败，将重试（2 次尝试）" in page

    assert outbox.drain(now=NOON + dt.timedelta(seconds=180)).given_up == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("given_up", 3, None)
    given_up = _audit("message.given_up", delivery)
    assert (given_up.outcome, given_up.data) == (Outcome.FAILURE, {"channel": "mail", "attempt": 3})
    assert outbox.drain(now=NOON + dt.timedelta(days=1)).counts() == {
        "sent": 0, "failed": 0, "given_up": 0, "postponed": 0
    }  # fmt: skip
    assert smtp.mails == []
    assert "邮件：已放弃（3 次尝试）" in client_for(fgj.user).get("/messages/").content.decode()
    office_page = client_for(office.user).get("/messages/outbox/?status=given_up").content.decode()
    assert "督办：逾期未报送" in office_page and "已放弃" in office_page and "451" in office_page


def test_a_failing_gateway_is_retried_then_sent(gateway: Gateway, fgj: Person) -> None:
    Preference.objects.create(person=fgj, mail=False, sms=True, phone="13800138000")
    [message] = actions.notify([fgj], "reminder", "提醒", now=NOON)
    gateway.status = 503
    assert outbox.drain(now=NOON).failed == 1
    delivery = message.deliveries.get()
    delivery.refresh_from_db()
    assert delivery.last_error == "gateway answered 503"
    gateway.status = 200
    assert outbox.drain(now=NOON + dt.timedelta(minutes=1)).sent == 1
    assert len(gateway.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")


def test_quiet_hours_postpone_sms_and_not_mail(smtp: Inbox, gateway: Gateway, fgj: Person) -> None:
    Preference.objects.create(person=fgj, mail=True, sms=True, phone="13800138000")
    night = dt.datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)
    [message] = actions.notify([fgj], "escalation", "夜间督办", now=night)
    result = outbox.drain(now=night)
    assert (result.sent, result.postponed) == (1, 1)  # the mail went, the SMS waits
    assert len(smtp.mails) == 1 and gateway.received == []
    sms = message.deliveries.get(channel="sms")
    assert (sms.status, sms.attempts) == ("queued", 0)
    assert sms.next_attempt_at == dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)
    assert outbox.drain(now=dt.datetime(2026, 3, 3, 6, 59, tzinfo=SHANGHAI)).sent == 0
    assert outbox.drain(now=dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)).sent == 1
    assert len(gateway.received) == 1


def test_quiet_hours_across_midnight_and_within_a_day(settings: Any) -> None:
    at = dt.datetime(2026, 3, 3, 1, 0, tzinfo=SHANGHAI)
    assert outbox.quiet_until(at) == dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)
    assert outbox.quiet_until(dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)) is None
    assert outbox.quiet_until(dt.datetime(2026, 3, 3, 21, 59, tzinfo=SHANGHAI)) is None
    settings.MESSAGING_QUIET_HOURS = "12:00-14:00"
    assert outbox.quiet_until(NOON) == dt.datetime(2026, 3, 2, 14, 0, tzinfo=SHANGHAI)
    settings.MESSAGING_QUIET_HOURS = ""
    assert outbox.quiet_until(at) is None


def test_preferences_are_respected(gateway: Gateway, fgj: Person) -> None:
    client = client_for(fgj.user)
    response = client.post(
        "/messages/preferences/",
        {"sms": "on", "phone": "13900139000", "muted_kinds": ["reminder"]},
    )
    assert response.status_code == 302
    preference = Preference.objects.get(person=fgj)
    assert (preference.mail, preference.sms, preference.phone, preference.muted_kinds) == (
        False, True, "13900139000", ["reminder"],
    )  # fmt: skip
    event = _audit("message.preferences", preference)
    assert (event.actor, event.data) == (
        fgj.user, {"mail": False, "sms": True, "phone_given": True, "muted": ["reminder"]},
    )  # fmt: skip
    assert "13900139000" not in json.dumps(event.data)
    with connection.cursor() as cursor:  # the phone is encrypted at rest
        cursor.execute("SELECT phone FROM messaging_preference WHERE person_id = %s", [fgj.pk])
        assert "13900139000" not in cursor.fetchone()[0]

    [reminder] = actions.notify([fgj], "reminder", "提醒", now=NOON)
    [escalation] = actions.notify([fgj], "escalation", "督办", now=NOON)
    assert not reminder.deliveries.exists()  # muted: the message centre only
    assert [d.channel for d in escalation.deliveries.all()] == ["sms"]  # mail off


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"sms": "on", "phone": ""}, "请填写接收短信的手机号码。"),
        ({"phone": "12345"}, "请填写 11 位手机号码，例如 13800138000。"),
        ({"mail": "on", "_no_email": True}, "你的账号没有邮箱地址：请关闭邮件提醒，或请安全管理员添加邮箱。"),
    ],
)
def test_refused_preferences_say_why_and_change_nothing(
    fgj: Person, form: dict[str, Any], message: str
) -> None:
    form = dict(form)  # the parameters are shared between runs: never changed in place
    if form.pop("_no_email", False):
        _with_mail(fgj, "")
    response = client_for(fgj.user).post("/messages/preferences/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Preference.objects.filter(person=fgj).exists()
    assert not AuditEvent.objects.filter(action="message.preferences").exists()


def test_a_key_makes_one_message_per_person_and_each_person_once(fgj: Person, district: Person) -> None:
    made = actions.notify([fgj, district, fgj], "escalation", "督办", key="x:1", now=NOON)
    assert [m.recipient for m in made] == [fgj, district]
    assert actions.notify([fgj, district], "escalation", "督办", key="x:1", now=NOON) == []
    assert Message.objects.count() == 2
    assert AuditEvent.objects.filter(action="message.notify").count() == 2
    # Without a key too, a person named twice in one call gets one message.
    assert [m.recipient for m in actions.notify([fgj, fgj], "notice", "通报", now=NOON)] == [fgj]


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_send_each_mail_once(smtp: Inbox, reference: None, monkeypatch: Any) -> None:
    from phaseout.messaging.tasks import drain_outbox

    monkeypatch.setattr(drain_outbox, "delay", lambda: None)  # the drain on commit is tested on its own
    people = [
        _with_mail(_person(f"officer{i}", Role.DEPARTMENT, department=Department.objects.get(code="jm-fgj")),
                   f"officer{i}@127.0.0.1")
        for i in range(6)
    ]  # fmt: skip
    actions.notify(people, "escalation", "督办：并发发送", now=NOON)
    barrier = threading.Barrier(2)
    results: list[outbox.DrainResult] = []

    def drain() -> None:
        try:
            barrier.wait()
            results.append(outbox.drain(now=NOON))
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 6
    assert sorted(str(m["To"]) for m in smtp.mails) == sorted(p.user.email for p in people)
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert AuditEvent.objects.filter(action="message.sent").count() == 6


def test_the_outbox_is_drained_when_the_messages_are_committed(
    smtp: Inbox, fgj: Person, django_capture_on_commit_callbacks: Any
) -> None:
    """The Celery task is queued on commit; without a broker (the demo, the tests) it runs in-process."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        actions.notify([fgj], "reminder", "提醒：提交后即发送")
    # The drain, and the audit entry's link into the chain (ADR 27).
    assert len([c for c in callbacks if c is not sequencer.nudge]) == 1
    assert [m["Subject"].strip() for m in smtp.mails] == ["【提醒】提醒：提交后即发送"]
    assert Delivery.objects.get().status == "sent"
