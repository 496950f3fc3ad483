"""The set-based sweep (issue 15): batches walked by keyset, each mark written once however often and
however concurrently the sweep runs, the audit chain intact after its bulk entries, and the bulk message
and audit writers it uses (messaging.actions.notify_many, audit.record.record_many)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection

from phaseout.audit import chain, verify
from phaseout.audit.models import AuditEvent, ChainHead, ChainLink, Unchained
from phaseout.audit.record import record, record_many
from phaseout.cases import sweep as sweep_module
from phaseout.cases.models import Case, CaseEvent, Escalation, ExitMeasure
from phaseout.cases.sweep import sweep
from phaseout.messaging import actions as messaging
from phaseout.messaging.models import Delivery, Message, Preference
from phaseout.orgs.models import Person, Role
from tests.conftest import _person
from tests.factories import CaseFactory, PersonFactory

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)  # 09:30 in Asia/Shanghai
ACCEPTED = {
    "exit_plan": "seal_then_dismantle",
    "exit_ordered_on": dt.date(2025, 8, 1),
    "exited_on": dt.date(2025, 8, 20),
    "accepted_on": dt.date(2025, 8, 25),
    "acceptance_team": "验收组",
    "acceptance_record": "合格",
}


def _clocked(deadline: dt.date, state: str = "rectifying") -> Case:
    return CaseFactory(
        state=state, order_date=deadline - dt.timedelta(days=90), deadline=deadline, rectification_months=3
    )


def _exit_ordered(**measures: dt.date) -> Case:
    case = CaseFactory(
        dimension="energy",
        consequence="exit_at_once",
        state="exit_ordered",
        exit_plan="seal_then_dismantle",
        exit_ordered_on=dt.date(2026, 2, 1),
    )
    for kind, deadline in measures.items():
        ExitMeasure.objects.create(case=case, kind=kind, unit="供电局", deadline=deadline)
    return case


def _written() -> dict[str, int]:
    return {
        "events": CaseEvent.objects.count(),
        "audit": AuditEvent.objects.count(),
        "escalations": Escalation.objects.count(),
        "messages": Message.objects.count(),
        "deliveries": Delivery.objects.count(),
    }


@pytest.fixture
def people(energy_dept: Person, district: Person) -> dict[str, Person]:
    """The energy department (told of energy cases in Jiangmen; by mail) and the Pengjiang district."""
    energy_dept.user.email = "fgj@127.0.0.1"
    energy_dept.user.save()
    return {"fgj": energy_dept, "district": district}


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of two rows, so that a handful of cases walks several batches and their keyset."""
    monkeypatch.setattr(sweep_module, "BATCH", 2)


def test_every_kind_in_several_batches_is_written_once_and_a_second_run_writes_nothing(
    people: dict[str, Person], small_batches: None
) -> None:
    # Five orders, three of them with the same deadline (the keyset's tie is broken by id).
    orders = [_clocked(dt.date(2026, 2, 27)) for _ in range(3)]
    orders += [_clocked(dt.date(2026, 2, 1), state="restricted"), _clocked(dt.date(2026, 3, 1))]
    not_yet = _clocked(TODAY)  # due today: reminded, not overdue
    exiting = _exit_ordered(power_cut=dt.date(2026, 2, 27), water_cut=dt.date(2026, 2, 27), dismantling=TODAY)
    visits = [
        CaseFactory(state="archived", reinspection_due=d, **ACCEPTED)
        for d in (TODAY, TODAY, dt.date(2026, 1, 5))
    ]
    firm = PersonFactory(role=Role.ENTERPRISE, enterprise=not_yet.enterprise, user__username="firm")

    result = sweep(today=TODAY, now=NOW)
    assert result.counts() == {"orders": 5, "measures": 2, "visits": 3}

    for case in orders:
        case.refresh_from_db()
        assert (case.state, case.overdue_at, case.version) == ("overdue", NOW, 2)
        [event] = CaseEvent.objects.filter(case=case)
        assert (event.action, event.to_state, event.actor_id) == ("mark_overdue", "overdue", None)
        [audit] = AuditEvent.objects.filter(action="case.mark_overdue", object_id=str(case.pk))
        assert (audit.object_type, audit.reason, audit.actor_id) == ("cases.case", event.reason, None)
        [escalation] = Escalation.objects.filter(case=case)
        assert (escalation.kind, escalation.due_date) == ("order_overdue", case.deadline)
        told = Message.objects.filter(key=f"case.escalation:{escalation.pk}")
        assert {m.recipient for m in told} == {people["fgj"], people["district"]}
        for message in told:
            [row] = AuditEvent.objects.filter(action="message.notify", object_id=str(message.pk))
            assert (
                row.data["recipient"] == message.recipient_id
                and row.data["about"] == f"cases.case #{case.pk}"
            )
    assert CaseEvent.objects.get(case=orders[3]).from_state == "restricted"

    exiting.refresh_from_db()
    assert exiting.version == 3  # once per measure marked
    assert sorted(CaseEvent.objects.filter(case=exiting).values_list("data__measure", flat=True)) == [
        "power_cut",
        "water_cut",
    ]
    assert AuditEvent.objects.filter(action="case.measure_overdue", object_id=str(exiting.pk)).count() == 2
    [dismantling] = ExitMeasure.objects.filter(case=exiting, kind="dismantling")
    assert dismantling.overdue_at is None
    assert Escalation.objects.filter(case=exiting, kind="measure_overdue").count() == 2
    # The dismantling due today is reminded, with the enterprise's accounts when it has any.
    assert Message.objects.filter(key=f"measure.deadline:{dismantling.pk}:{TODAY.isoformat()}").count() == 2

    assert {e.case_id for e in Escalation.objects.filter(kind="reinspection_due")} == {v.pk for v in visits}
    reminded = Message.objects.filter(key=f"case.deadline:{not_yet.pk}:{TODAY.isoformat()}")
    assert {m.recipient for m in reminded} == {people["fgj"], people["district"], firm}
    # The energy department has a mail address: each of its messages is queued for mail once.
    assert (
        Delivery.objects.filter(message__recipient=people["fgj"]).count()
        == Message.objects.filter(recipient=people["fgj"]).count()
    )

    before = _written()
    again = sweep(today=TODAY, now=NOW + dt.timedelta(minutes=15))
    assert again.counts() == {"orders": 0, "measures": 0, "visits": 0}
    assert _written() == before
    report = verify.verify()
    assert report.ok, str(report)
    assert report.checked == before["audit"]


def test_an_open_escalation_is_not_raised_twice_but_the_order_is_still_marked(
    people: dict[str, Person],
) -> None:
    case = _clocked(dt.date(2026, 2, 27))
    Escalation.objects.create(case=case, kind="order_overdue", raised_at=NOW, due_date=dt.date(2026, 1, 1))
    assert sweep(today=TODAY, now=NOW).orders_overdue == 1
    case.refresh_from_db()
    assert case.state == "overdue"
    assert CaseEvent.objects.filter(case=case, action="mark_overdue").count() == 1
    assert AuditEvent.objects.filter(action="case.mark_overdue", object_id=str(case.pk)).count() == 1
    assert Escalation.objects.filter(case=case).count() == 1
    assert not Message.objects.filter(kind="escalation").exists()  # nothing new to tell


def test_a_resolved_reinspection_escalation_is_raised_again(people: dict[str, Person]) -> None:
    case = CaseFactory(state="archived", reinspection_due=TODAY, **ACCEPTED)
    Escalation.objects.create(
        case=case, kind="reinspection_due", raised_at=NOW, due_date=TODAY, resolved_at=NOW
    )
    assert sweep(today=TODAY, now=NOW).reinspections_due == 1
    assert Escalation.objects.filter(case=case, resolved_at__isnull=True).count() == 1


def test_the_audit_trail_verifies_after_a_sweep_between_single_entries(people: dict[str, Person]) -> None:
    record(actor=people["fgj"].user, action="case.note", obj=people["fgj"])
    for _ in range(3):
        _clocked(dt.date(2026, 2, 27))
    sweep(today=TODAY, now=NOW)
    record(actor=people["fgj"].user, action="case.note", obj=people["fgj"])
    report = verify.verify()
    assert report.ok, str(report)
    head = ChainHead.objects.get(pk=1)
    last = AuditEvent.objects.order_by("-seq").first()
    link = ChainLink.objects.get(seq=last.seq)
    assert (head.seq, head.mac) == (link.pos, link.mac) == (report.last_seq, link.mac)
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, report.checked + 1)
    )


def test_record_many_chains_in_order_and_writes_nothing_for_nothing(reference: None) -> None:
    first = record(actor=None, action="case.note")
    assert record_many([]) == 0
    assert AuditEvent.objects.get() == first
    n = record_many([("case.a", "cases.case", "1", "甲", {"k": 1}), ("case.b", "cases.case", "2", "", None)])
    assert n == 2
    a, b = AuditEvent.objects.filter(seq__gt=first.seq).order_by("seq")
    assert (a.seq, a.prev_mac, a.action, a.reason, a.data) == (
        first.seq + 1,
        chain.GENESIS,
        "case.a",
        "甲",
        {"k": 1},
    )
    assert (b.seq, b.prev_mac, b.data, b.object_id) == (first.seq + 2, chain.GENESIS, {}, "2")
    assert Unchained.objects.count() == 3  # waiting for the sequencer, in the order given
    assert verify.verify().ok
    assert list(ChainLink.objects.order_by("pos").values_list("seq", flat=True)) == [first.seq, a.seq, b.seq]


def test_record_many_batches_keep_the_chain(reference: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from phaseout import bulk

    monkeypatch.setattr(bulk, "BATCH", 2)
    assert record_many([("case.x", "", str(i), "", None) for i in range(5)]) == 5
    assert AuditEvent.objects.count() == 5
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert verify.verify().ok
    assert ChainHead.objects.get(pk=1).seq == 5


def test_notify_many_refuses_a_notice_without_a_key_or_of_an_unknown_kind(people: dict[str, Person]) -> None:
    fgj = people["fgj"]
    with pytest.raises(ValueError, match="needs a key"):
        messaging.notify_many(
            [messaging.Notice(recipients=[fgj], kind="reminder", title="t", key="")], now=NOW
        )
    with pytest.raises(ValueError, match="unknown message kind 'gossip'"):
        messaging.notify_many(
            [messaging.Notice(recipients=[fgj], kind="gossip", title="t", key="k")], now=NOW
        )
    assert not Message.objects.exists() and not AuditEvent.objects.exists()


def test_notify_many_makes_each_message_once_per_person_and_key(
    people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messaging, "BULK_BATCH", 2)
    fgj, district = people["fgj"], people["district"]
    Preference.objects.create(person=district, mail=False, sms=False)
    notices = [
        messaging.Notice(
            recipients=[fgj, district, fgj], kind="reminder", title="提醒" * 200, key="k1", url="/cases/1/"
        ),
        messaging.Notice(recipients=[fgj], kind="reminder", title="再次", key="k1"),  # the same key again
        messaging.Notice(
            recipients=[district],
            kind="escalation",
            title="升级",
            key="k2",
            object_type="cases.case",
            object_id="7",
        ),
    ]
    assert messaging.notify_many(notices, now=NOW) == 3
    assert messaging.notify_many(notices, now=NOW) == 0
    by = {(m.recipient_id, m.key): m for m in Message.objects.all()}
    assert set(by) == {(fgj.pk, "k1"), (district.pk, "k1"), (district.pk, "k2")}
    first = by[(fgj.pk, "k1")]
    assert (first.title, first.url, first.kind, first.created_at) == (
        "提醒" * 100,
        "/cases/1/",
        "reminder",
        NOW,
    )
    assert list(first.deliveries.values_list("channel", "status", "next_attempt_at")) == [
        ("mail", "queued", NOW)
    ]
    assert not Delivery.objects.filter(message__recipient=district).exists()  # mail and SMS off
    audits = {a.object_id: a for a in AuditEvent.objects.filter(action="message.notify")}
    assert set(audits) == {str(m.pk) for m in by.values()}
    assert audits[str(by[(district.pk, "k2")].pk)].data == {
        "recipient": district.pk,
        "kind": "escalation",
        "about": "cases.case #7",
        "channels": [],
    }
    assert audits[str(first.pk)].data["channels"] == ["mail"] and audits[str(first.pk)].data["about"] == ""


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_write_every_mark_once(reference: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs on their own connections, started together, over enough rows for many batches each (on
    PostgreSQL they take batches side by side, skipping each other's locked rows; SQLite serialises)."""
    monkeypatch.setattr(sweep_module, "BATCH", 5)
    from phaseout.orgs.models import Territory

    district = _person("pengjiang", Role.DISTRICT, territory=Territory.objects.get(code="440703"))
    orders = [_clocked(dt.date(2026, 2, 1) + dt.timedelta(days=i % 5)) for i in range(30)]
    exiting = [
        _exit_ordered(power_cut=dt.date(2026, 2, 20), water_cut=dt.date(2026, 2, 21)) for _ in range(6)
    ]
    visits = [CaseFactory(state="archived", reinspection_due=TODAY, **ACCEPTED) for _ in range(8)]
    soon = [_clocked(TODAY + dt.timedelta(days=3)) for _ in range(6)]
    results: list[sweep_module.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(sweep(today=TODAY, now=NOW))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.orders_overdue for r in results) == 30
    assert sum(r.measures_overdue for r in results) == 12
    assert sum(r.reinspections_due for r in results) == 8
    events = Counter(CaseEvent.objects.values_list("case_id", "action"))
    assert set(events.values()) == {1, 2}
    assert {c.pk: events[(c.pk, "mark_overdue")] for c in orders} == {c.pk: 1 for c in orders}
    assert {c.pk: events[(c.pk, "measure_overdue")] for c in exiting} == {c.pk: 2 for c in exiting}
    audits = Counter(AuditEvent.objects.filter(action__startswith="case.").values_list("object_id", "action"))
    assert audits == Counter({(str(pk), f"case.{action}"): n for (pk, action), n in events.items()})
    assert Escalation.objects.count() == 30 + 12 + 8
    assert {e.case_id for e in Escalation.objects.filter(kind="reinspection_due")} == {v.pk for v in visits}
    keys = Counter(Message.objects.values_list("recipient_id", "key"))
    assert set(keys.values()) == {1}
    assert len(keys) == 30 + 12 + 8 + len(soon)  # the district is told of each (Pengjiang's cases)
    assert AuditEvent.objects.filter(action="message.notify").count() == len(keys)
    assert all(r == district.pk for r, _ in keys)
    report = verify.verify()
    assert report.ok, str(report)


def test_an_exit_measure_due_soon_is_reminded_with_its_title_link_and_the_enterprise(
    people: dict[str, Person],
) -> None:
    case = _exit_ordered(power_cut=TODAY + dt.timedelta(days=7), water_cut=TODAY + dt.timedelta(days=8))
    firm = PersonFactory(role=Role.ENTERPRISE, enterprise=case.enterprise, user__username="firm")
    sweep(today=TODAY, now=NOW)
    power = ExitMeasure.objects.get(case=case, kind="power_cut")
    reminded = Message.objects.filter(kind="reminder")
    assert {m.recipient for m in reminded} == {people["fgj"], people["district"], firm}  # not the water cut
    assert {(m.key, m.title, m.url, m.object_type, m.object_id, m.created_at) for m in reminded} == {
        (
            f"measure.deadline:{power.pk}:2026-03-09",
            f"提醒：{case.enterprise.name} 的断电应于 2026-03-09 前完成",
            f"/cases/{case.pk}/",
            "cases.case",
            str(case.pk),
            NOW,
        )
    }


def test_an_open_measure_escalation_is_not_raised_twice_but_the_measure_is_still_marked(
    people: dict[str, Person],
) -> None:
    case = _exit_ordered(power_cut=dt.date(2026, 2, 27), water_cut=dt.date(2026, 2, 27))
    power = ExitMeasure.objects.get(case=case, kind="power_cut")
    Escalation.objects.create(
        case=case, measure=power, kind="measure_overdue", raised_at=NOW, due_date=dt.date(2026, 1, 1)
    )
    assert sweep(today=TODAY, now=NOW).measures_overdue == 2
    assert Escalation.objects.filter(case=case).count() == 2  # the water cut's is new
    [told] = {m.key for m in Message.objects.filter(kind="escalation")}
    water = Escalation.objects.get(measure__kind="water_cut")
    assert told == f"case.escalation:{water.pk}"
    assert {m.body for m in Message.objects.filter(kind="escalation")} == {"断水"}
