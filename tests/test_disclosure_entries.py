"""A list's entries as rows: drafted in batches, each approved or excluded by the office (a batch at a
time), the list approved only when none is undecided, published entries only the approved ones, one entry
withdrawn after publication and kept as withdrawn; the portal pages and searches them in the database, and
its cache cannot be filled by cycling a parameter."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from phaseout.audit.models import AuditEvent
from phaseout.disclosure import actions, public
from phaseout.disclosure import cache as public_cache
from phaseout.disclosure.models import Entry, EntryEvent, Snapshot
from phaseout.disclosure.public import MAX_PAGES, PAGE_SIZE
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.registry.models import Licence
from tests.conftest import client_for
from tests.factories import EnterpriseFactory, PersonFactory, UserFactory

ON = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
UNDECIDED = "还有 {n} 条未审核：请逐条同意公布或不予公布后再审核通过名单。"
NO_REASON = "请填写不予公布的理由。"
NOT_IN_LIST = "勾选的条目中有不属于本名单的。"
NONE_TICKED = "请至少勾选一条。"
NO_PAGE = "没有这一页（页码为 1 至 {n}）。"


def _licensed(*names: str) -> list[str]:
    """Enterprises holding a valid production licence: the licences list, in name order."""
    for name in names:
        Licence.objects.create(
            enterprise=EnterpriseFactory(name=name), kind=Licence.Kind.PRODUCTION, number=f"XK-{name}"
        )
    return sorted(names)


def _draft(office: Person, *names: str) -> Snapshot:
    _licensed(*names)
    return actions.draft(kind="licences", by=office.user, today=ON)


def _ids(snapshot: Snapshot, *positions: int) -> list[int]:
    return list(
        Entry.objects.filter(snapshot=snapshot, position__in=positions)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def _published(office: Person, *names: str) -> Snapshot:
    snapshot = _draft(office, *names)
    actions.approve_undecided(snapshot=snapshot, by=office.user, now=NOW)
    return actions.publish(snapshot=actions.approve(snapshot=snapshot, by=office.user), by=office.user)


def _decisions(snapshot: Snapshot) -> list[tuple[int, str, str]]:
    return list(
        Entry.objects.filter(snapshot=snapshot)
        .order_by("position")
        .values_list("position", "decision", "reason")
    )


# --- drafting and deciding -------------------------------------------------------------------------------


def test_a_draft_writes_one_undecided_row_per_entry_in_order(office: Person) -> None:
    snapshot = _draft(office, "江门市乙水泥有限公司", "江门市甲钢铁有限公司", "ＡＢＣ陶瓷有限公司")
    rows = list(
        Entry.objects.filter(snapshot=snapshot)
        .order_by("position")
        .values_list("position", "enterprise", "search", "decision")
    )
    assert Entry.objects.get(snapshot=snapshot, position=3).bigrams == " ab bc c陶 陶瓷 瓷有 有限 限公 公司 "
    assert rows == [
        (1, "江门市乙水泥有限公司", "江门市乙水泥有限公司", "undecided"),
        (2, "江门市甲钢铁有限公司", "江门市甲钢铁有限公司", "undecided"),
        (3, "ＡＢＣ陶瓷有限公司", "abc陶瓷有限公司", "undecided"),  # full width folded, lower case
    ]
    assert snapshot.entry_count == 3
    entry = AuditEvent.objects.get(action="list.draft")
    assert (entry.object_id, entry.data) == (str(snapshot.pk), {"kind": "licences", "rows": 3})


def test_the_list_is_approved_only_when_no_entry_is_undecided(office: Person) -> None:
    snapshot = _draft(office, "甲厂", "乙厂", "丙厂")
    with pytest.raises(actions.DisclosureError, match=f"^{UNDECIDED.format(n=3)}$"):
        actions.approve(snapshot=snapshot, by=office.user)
    actions.approve_entries(snapshot=snapshot, entries=_ids(snapshot, 1, 2), by=office.user, now=NOW)
    with pytest.raises(actions.DisclosureError, match=f"^{UNDECIDED.format(n=1)}$"):
        actions.approve(snapshot=snapshot, by=office.user)
    snapshot.refresh_from_db()
    assert snapshot.status == "draft" and not AuditEvent.objects.filter(action="list.approve").exists()
    actions.exclude_entries(
        snapshot=snapshot, entries=_ids(snapshot, 3), reason="已整改完毕", by=office.user, now=NOW
    )
    assert actions.approve(snapshot=snapshot, by=office.user).status == "approved"


def test_batch_approval_and_exclusion_leave_an_event_per_entry_and_an_audit_row_naming_them(
    office: Person,
) -> None:
    snapshot = _draft(office, "甲厂", "乙厂", "丙厂", "丁厂")
    actions.approve_entries(snapshot=snapshot, entries=_ids(snapshot, 1, 3, 4), by=office.user, now=NOW)
    actions.exclude_entries(
        snapshot=snapshot, entries=_ids(snapshot, 2, 4), reason=" 信息待核实 ", by=office.user, now=NOW
    )
    assert _decisions(snapshot) == [
        (1, "approved", ""),
        (2, "excluded", "信息待核实"),
        (3, "approved", ""),
        (4, "excluded", "信息待核实"),  # approved first, then excluded: both kept in its history
    ]
    events = list(
        EntryEvent.objects.filter(entry__snapshot=snapshot)
        .order_by("id")
        .values_list("entry__position", "action", "from_decision", "to_decision", "actor", "at", "reason")
    )
    user = office.user.pk
    assert events == [
        (1, "approve", "undecided", "approved", user, NOW, ""),
        (3, "approve", "undecided", "approved", user, NOW, ""),
        (4, "approve", "undecided", "approved", user, NOW, ""),
        (2, "exclude", "undecided", "excluded", user, NOW, "信息待核实"),
        (4, "exclude", "approved", "excluded", user, NOW, "信息待核实"),
    ]
    audit = list(AuditEvent.objects.filter(action__startswith="list.entries").order_by("seq"))
    assert [(a.action, a.actor, a.object_id, a.data, a.reason) for a in audit] == [
        ("list.entries_approve", office.user, str(snapshot.pk), {"count": 3, "positions": [1, 3, 4]}, ""),
        (
            "list.entries_exclude",
            office.user,
            str(snapshot.pk),
            {"count": 2, "positions": [2, 4]},
            "信息待核实",
        ),
    ]
    entry = Entry.objects.get(snapshot=snapshot, position=2)
    assert (entry.decided_by, entry.decided_at) == (office.user, NOW)


def test_approving_the_undecided_rest_is_one_action_with_an_event_per_entry(office: Person) -> None:
    snapshot = _draft(office, "甲厂", "乙厂", "丙厂")
    actions.exclude_entries(
        snapshot=snapshot, entries=_ids(snapshot, 2), reason="重复", by=office.user, now=NOW
    )
    actions.approve_undecided(snapshot=snapshot, by=office.user, now=NOW)
    assert _decisions(snapshot) == [(1, "approved", ""), (2, "excluded", "重复"), (3, "approved", "")]
    assert sorted(
        EntryEvent.objects.filter(action="approve").values_list(
            "entry__position", "from_decision", "actor", "at"
        )
    ) == [(1, "undecided", office.user.pk, NOW), (3, "undecided", office.user.pk, NOW)]
    audit = AuditEvent.objects.get(action="list.entries_approve_undecided")
    assert (audit.actor, audit.object_id, audit.data) == (office.user, str(snapshot.pk), {"count": 2})


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("none", NONE_TICKED),
        ("foreign", NOT_IN_LIST),
        ("missing", NOT_IN_LIST),
        ("too_many", "一次最多审核 500 条，本次勾选了 501 条。"),
        ("no_reason", NO_REASON),
    ],
)
def test_bad_batches_are_refused_and_change_nothing(office: Person, case: str, message: str) -> None:
    snapshot = _draft(office, "甲厂", "乙厂")
    other = actions.draft(kind="licences", by=office.user, today=ON)
    ids = {
        "none": [],
        "foreign": [*_ids(snapshot, 1), *_ids(other, 1)],
        "missing": [*_ids(snapshot, 1), 999_999_999],
        "too_many": list(range(1, 502)),
        "no_reason": _ids(snapshot, 1),
    }[case]
    before = AuditEvent.objects.count()
    with pytest.raises(actions.DisclosureError, match=f"^{message}$"):
        if case == "no_reason":
            actions.exclude_entries(snapshot=snapshot, entries=ids, reason="  ", by=office.user, now=NOW)
        else:
            actions.approve_entries(snapshot=snapshot, entries=ids, by=office.user, now=NOW)
    assert _decisions(snapshot) == [(1, "undecided", ""), (2, "undecided", "")]
    assert (EntryEvent.objects.count(), AuditEvent.objects.count()) == (0, before)


def test_entries_are_decided_on_a_draft_only(office: Person) -> None:
    snapshot = _published(office, "甲厂")
    with pytest.raises(actions.DisclosureError, match=r"^该名单当前状态为“已公布”，现在不能进行此操作。$"):
        actions.exclude_entries(snapshot=snapshot, entries=_ids(snapshot, 1), reason="x", by=office.user)
    assert _decisions(snapshot) == [(1, "approved", "")]


# --- publication and withdrawal of one entry ---------------------------------------------------------------


def test_only_approved_entries_are_published_and_a_withdrawn_one_stays_in_the_record(office: Person) -> None:
    snapshot = _draft(office, "江门市甲水泥有限公司", "江门市乙水泥有限公司", "江门市丙水泥有限公司")
    actions.exclude_entries(
        snapshot=snapshot, entries=_ids(snapshot, 2), reason="已注销", by=office.user, now=NOW
    )
    actions.approve_undecided(snapshot=snapshot, by=office.user, now=NOW)
    snapshot = actions.publish(snapshot=actions.approve(snapshot=snapshot, by=office.user), by=office.user)
    assert snapshot.public_entries == 2
    anonymous = Client()
    page = anonymous.get("/public/licences/").content.decode()
    assert "江门市甲水泥有限公司" in page and "江门市丙水泥有限公司" in page
    assert "江门市乙水泥有限公司" not in page  # excluded
    assert "共 2 条" in page

    third = Entry.objects.get(snapshot=snapshot, enterprise="江门市丙水泥有限公司")  # first by code point
    later = dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC)
    actions.withdraw_entry(entry=third, reason="行政许可已撤销", by=office.user, now=later)
    # The cached page is dropped at once; the entry is gone from the page and from the open data.
    page = anonymous.get("/public/licences/").content.decode()
    assert "江门市丙水泥有限公司" not in page and "江门市甲水泥有限公司" in page and "共 1 条" in page
    body = anonymous.get("/public/licences.csv").getvalue().decode("utf-8-sig")
    assert [row[0] for row in csv.reader(io.StringIO(body))][1:] == ["江门市甲水泥有限公司"]
    # In the record: withdrawn, with its reason and history; the office sees it so.
    third.refresh_from_db()
    assert (third.decision, third.reason, third.decided_by, third.decided_at) == (
        "withdrawn",
        "行政许可已撤销",
        office.user,
        later,
    )
    assert list(third.events.values_list("action", "from_decision", "to_decision", "reason")) == [
        ("approve", "undecided", "approved", ""),
        ("withdraw", "approved", "withdrawn", "行政许可已撤销"),
    ]
    audit = AuditEvent.objects.get(action="list.entry_withdraw")
    assert (audit.actor, audit.object_type, audit.object_id, audit.reason) == (
        office.user, "disclosure.entry", str(third.pk), "行政许可已撤销",
    )  # fmt: skip
    assert audit.data == {"snapshot": snapshot.pk, "position": 1, "uscc": third.uscc}
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.public_entries) == ("published", 1)
    staff = client_for(office.user).get(f"/lists/{snapshot.pk}/?decision=withdrawn").content.decode()
    assert "江门市丙水泥有限公司" in staff and "公布后已撤下：行政许可已撤销" in staff
    # Withdrawn once: not again; and a reason is needed.
    with pytest.raises(
        actions.DisclosureError, match=r"^该条目前为“公布后已撤下”，只有已公布的条目才能撤下。$"
    ):
        actions.withdraw_entry(entry=third, reason="再次", by=office.user)
    with pytest.raises(actions.DisclosureError, match=r"^请填写撤下该条的理由。$"):
        actions.withdraw_entry(
            entry=Entry.objects.get(snapshot=snapshot, position=3), reason=" ", by=office.user
        )
    assert AuditEvent.objects.filter(action="list.entry_withdraw").count() == 1


# --- over HTTP: only the office decides ---------------------------------------------------------------------


def _role_people(reference: None) -> dict[Role, Person]:
    firm = EnterpriseFactory(name="某角色测试企业")
    units: dict[Role, dict[str, Any]] = {
        Role.OFFICE: {"department": Department.objects.get(code="jm-gxj")},
        Role.DEPARTMENT: {"department": Department.objects.get(code="jm-fgj")},
        Role.DISTRICT: {"territory": Territory.objects.get(code="440703")},
        Role.ENTERPRISE: {"enterprise": firm},
        Role.PROVINCE: {"department": Department.objects.get(code="gd-gxt")},
    }
    return {
        role: PersonFactory(
            user=UserFactory(username=f"e-{role.value}"),
            role=role,
            display_name=role.value,
            **units.get(role, {}),
        )
        for role in Role
    }


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_only_the_office_decides_entries_over_http(reference: None, role: Role) -> None:
    people = _role_people(reference)
    office = people[Role.OFFICE]
    snapshot = _draft(office, "甲厂", "乙厂", "丙厂")
    published = _published(office, "丁厂")
    client = client_for(people[role].user)
    ids = _ids(snapshot, 1, 2)
    fourth = Entry.objects.get(snapshot=published, enterprise="丁厂")
    responses = [
        client.post(f"/lists/{snapshot.pk}/entries/", {"decision": "approve", "entry": ids}),
        client.post(
            f"/lists/{snapshot.pk}/entries/",
            {"decision": "exclude", "entry": _ids(snapshot, 3), "reason": "重复"},
        ),
        client.post(f"/lists/entries/{fourth.pk}/withdraw/", {"reason": "许可已注销", "confirm": "on"}),
    ]
    if role == Role.OFFICE:
        assert [r.status_code for r in responses] == [302, 302, 302]
        assert _decisions(snapshot) == [(1, "approved", ""), (2, "approved", ""), (3, "excluded", "重复")]
        assert Entry.objects.get(snapshot=published, enterprise="丁厂").decision == "withdrawn"
        assert client.get(f"/lists/{snapshot.pk}/").status_code == 200
    else:
        assert [r.status_code for r in responses] == [403, 403, 403]
        assert {d for _p, d, _r in _decisions(snapshot)} == {"undecided"}
        assert Entry.objects.get(snapshot=published, enterprise="丁厂").decision == "approved"
        assert not EntryEvent.objects.exclude(entry__snapshot=published).exists()


def test_the_office_page_ticks_and_refuses_with_a_message(office: Person) -> None:
    snapshot = _draft(office, "甲厂", "乙厂", "丙厂")
    client = client_for(office.user)
    page = client.get(f"/lists/{snapshot.pk}/").content.decode()
    assert 'name="entry"' in page and "还有 3 条未审核" in page
    refused = client.post(
        f"/lists/{snapshot.pk}/entries/", {"decision": "exclude", "entry": _ids(snapshot, 1)}, follow=True
    )
    assert NO_REASON in refused.content.decode()
    refused = client.post(
        f"/lists/{snapshot.pk}/entries/", {"decision": "approve", "entry": ["1x"]}, follow=True
    )
    assert NOT_IN_LIST in refused.content.decode()
    refused = client.post(f"/lists/{snapshot.pk}/approve/", follow=True)
    assert UNDECIDED.format(n=3) in refused.content.decode()
    assert {d for _p, d, _r in _decisions(snapshot)} == {"undecided"}
    done = client.post(f"/lists/{snapshot.pk}/entries/", {"decision": "approve_undecided"}, follow=True)
    assert "审核结果已记录。" in done.content.decode()
    assert client.post(f"/lists/{snapshot.pk}/approve/").status_code == 302
    snapshot.refresh_from_db()
    assert snapshot.status == "approved"


# --- the portal: paged and searched in the database, bounded, its cache not fillable ------------------------


@pytest.fixture
def long_list(office: Person) -> Snapshot:
    names = [f"江门市第{i:03d}号{'水泥' if i % 2 else '陶瓷'}有限公司" for i in range(1, PAGE_SIZE * 2 + 6)]
    return _published(office, *names)


def test_the_portal_pages_in_the_database(long_list: Snapshot) -> None:
    anonymous = Client()
    first = anonymous.get("/public/licences/")
    page = first.content.decode()
    assert first.status_code == 200 and "共 105 条" in page and "第 1 页，共 3 页" in page
    assert "江门市第001号水泥有限公司" in page and "江门市第051号水泥有限公司" not in page
    assert page.count("<tr>") == PAGE_SIZE + 1
    third = anonymous.get("/public/licences/", {"page": "3"}).content.decode()
    assert third.count("<tr>") == 5 + 1 and "江门市第105号水泥有限公司" in third
    for bad, last in (
        ("0", MAX_PAGES),
        ("abc", MAX_PAGES),
        ("-1", MAX_PAGES),
        (str(MAX_PAGES + 1), MAX_PAGES),
        ("4", 3),
    ):
        refused = anonymous.get("/public/licences/", {"page": bad})
        assert refused.status_code == 400 and NO_PAGE.format(n=last) in refused.content.decode()
        assert 'id="public-rows"' not in refused.content.decode()


def test_the_portal_searches_names_and_exact_usccs(long_list: Snapshot) -> None:
    anonymous = Client()
    found = anonymous.get("/public/licences/", {"q": "陶瓷"}).content.decode()
    assert "共 52 条" in found and "江门市第002号陶瓷有限公司" in found and "水泥有限公司" not in found
    entry = Entry.objects.get(snapshot=long_list, position=7)
    by_uscc = anonymous.get("/public/licences/", {"q": entry.uscc.lower()}).content.decode()
    assert "共 1 条" in by_uscc and entry.enterprise in by_uscc
    fullwidth = anonymous.get("/public/licences/", {"q": "第００７号"}).content.decode()
    assert "共 1 条" in fullwidth and "江门市第007号水泥有限公司" in fullwidth
    assert "共 0 条" in anonymous.get("/public/licences/", {"q": "不存在的企业"}).content.decode()
    # Two characters (a word of `bigrams`), at the start, the middle and the end of a name.
    for two, count in (("江门", 105), ("瓷有", 52), ("公司", 105), ("苹果", 0), ("０７", 11)):
        assert f"共 {count} 条" in anonymous.get("/public/licences/", {"q": two}).content.decode(), two
    one = anonymous.get("/public/licences/", {"q": "厂"})
    assert one.status_code == 400 and "请至少输入企业名称中的两个字。" in one.content.decode()
    too_long = anonymous.get("/public/licences/", {"q": "厂" * 51})
    assert too_long.status_code == 400 and "搜索内容过长（最多 50 个字）。" in too_long.content.decode()
    control = anonymous.get("/public/licences/", {"q": "水泥\x00"})  # refused before the view
    assert control.status_code == 400 and 'id="public-rows"' not in control.content.decode()


def test_a_search_reads_a_bounded_number_of_matches(
    long_list: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public, "COUNT_CAP", 60)
    anonymous = Client()
    first = anonymous.get("/public/licences/", {"q": "水泥"}).content.decode()  # 53 match: all shown
    assert "共 53 条" in first and "第 1 页，共 2 页" in first
    monkeypatch.setattr(public, "COUNT_CAP", 10)
    capped = anonymous.get("/public/licences/", {"q": "水泥"}).content.decode()
    assert "超过 10 条符合条件，仅显示其中 10 条" in capped and "第 1 页，共 1 页" in capped
    assert capped.count("<tr>") == 10 + 1 and "江门市第001号水泥有限公司" in capped  # in the list's order
    beyond = anonymous.get("/public/licences/", {"q": "水泥", "page": "2"})
    assert beyond.status_code == 400 and NO_PAGE.format(n=1) in beyond.content.decode()


def test_a_withdrawn_entry_is_not_found_by_a_search(long_list: Snapshot, office: Person) -> None:
    entry = Entry.objects.get(snapshot=long_list, position=9)
    actions.withdraw_entry(entry=entry, reason="许可已注销", by=office.user, now=NOW)
    anonymous = Client()
    assert "共 0 条" in anonymous.get("/public/licences/", {"q": entry.uscc}).content.decode()
    assert entry.enterprise not in anonymous.get("/public/licences/", {"q": "第009号"}).content.decode()


def test_cycling_a_parameter_writes_nothing_to_the_cache(
    long_list: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.clear()
    public_cache._local.clear()
    written: list[str] = []
    real_set = cache.set

    def counting_set(key: str, *args: Any, **kwargs: Any) -> Any:
        written.append(key)
        return real_set(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", counting_set)
    anonymous = Client()
    assert anonymous.get("/public/licences/").status_code == 200
    assert anonymous.get("/public/licences/", {"page": "2"}).status_code == 200
    kept = list(written)
    assert len([k for k in kept if k.startswith("public:page:")]) == 2
    for i in range(30):
        anonymous.get("/public/licences/", {"q": f"水泥{i}"})
        anonymous.get("/public/licences/", {"x": str(i)})
        anonymous.get("/public/licences/", {"page": "2", "q": str(i)})
        anonymous.get(f"/public/licences/?page=0{i}")
        anonymous.get(f"/public/nolist{i}/")
    assert written == kept
    # The same pages again: served from the cache, nothing written.
    assert anonymous.get("/public/licences/", {"page": "2"}).status_code == 200
    assert written == kept


# --- at once: the snapshot's lock orders decisions and approval -------------------------------------------


def _race(*calls: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcomes[i] = call()
        except Exception as exc:  # the loser's refusal is the outcome checked
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_no_entry_changes_once_the_list_is_approved(office: Person, round_: int) -> None:
    """One officer approves the list while another changes an entry's decision: either the change comes
    first and the list is approved with it, or the approval comes first and the change is refused."""
    snapshot = _draft(office, "甲厂", "乙厂")
    actions.approve_entries(snapshot=snapshot, entries=_ids(snapshot, 1), by=office.user, now=NOW)
    actions.exclude_entries(
        snapshot=snapshot, entries=_ids(snapshot, 2), reason="重复", by=office.user, now=NOW
    )
    colleague = PersonFactory(user=UserFactory(username="office2"), role=Role.OFFICE, display_name="王科长")
    outcomes = _race(
        lambda: actions.approve(snapshot=snapshot, by=colleague.user),
        lambda: actions.approve_entries(
            snapshot=snapshot, entries=_ids(snapshot, 2), by=office.user, now=NOW
        ),
    )
    snapshot.refresh_from_db()
    assert snapshot.status == "approved" and isinstance(outcomes[0], Snapshot)
    approved_at = AuditEvent.objects.get(action="list.approve").seq
    if isinstance(outcomes[1], Snapshot):  # the change came first
        assert _decisions(snapshot) == [(1, "approved", ""), (2, "approved", "")]
        assert (
            AuditEvent.objects.filter(action="list.entries_approve").order_by("seq").last().seq < approved_at
        )
    else:  # the approval came first: the change is refused and nothing moved
        assert str(outcomes[1]) == "该名单当前状态为“已审定”，现在不能进行此操作。"
        assert _decisions(snapshot) == [(1, "approved", ""), (2, "excluded", "重复")]
