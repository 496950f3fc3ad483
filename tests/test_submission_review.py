"""Submissions the office can read (issue 14 §3): a unit hands in a file checked by its content; the
office opens it in the browser (a PDF in the browser's viewer, a Word file and a workbook read on the
server), downloads it, and accepts it or returns it with comments; a returned submission is handed in
again as a new version and keeps its history; late and missing follow the version accepted."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
import zipfile
from collections.abc import Callable

import docx
import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from phaseout.audit.models import AuditEvent, Outcome
from phaseout.orgs.models import Person, Role
from phaseout.plans import actions
from phaseout.plans.models import Plan, Submission, SubmissionVersion
from tests.conftest import REPORT_PDF, SEEDS, approve_plan, client_for
from tests.factories import EnterpriseFactory, PersonFactory, UserFactory

D = dt.date
DUE = D(2021, 5, 31)  # every district files its sub-plan by the end of May
# The pages read the clock: they run on 20 May 2021, at noon in Jiangmen.
ON_20_MAY = time_machine.travel(dt.datetime(2021, 5, 20, 4, 0, tzinfo=dt.UTC), tick=False)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMMENTS = "请补充关停设备清单及完成时间表。"


@pytest.fixture
def plan(office: Person) -> Plan:
    plan = actions.import_plan(
        name="jiangmen-2021-plan.txt", data=(SEEDS / "jiangmen-2021-plan.txt").read_bytes(), by=office.user
    )
    for expression in plan.times.filter(needs_review=True):
        actions.review_time(expression=expression, date=None, by=office.user)
    return approve_plan(actions.confirm_plan(plan=plan, by=office.user), office)


def _sub_plan(plan: Plan, territory: str = "440703") -> Submission:
    return plan.submissions.get(kind="sub_plan", territory=territory)


def _docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("蓬江区推动落后产能退出工作方案")
    document.add_paragraph("<script>alert('x')</script>")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, (("任务", "完成时限"), ("关停中频炉", "2021年9月底前")), strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx(rows: int) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "关闭退出清单"
    sheet.append(["企业名称", "设备", "产能"])
    for i in range(1, rows):
        sheet.append([f"企业{i}", "中频炉", f"{i}万吨/年"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _zip_bomb_docx() -> bytes:
    """A .docx whose document part unpacks to 20 MB of one repeated byte (a thousandfold compression)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b"0" * (20 << 20))
    return buffer.getvalue()


EXE = b"MZ\x90\x00" + b"\x00" * 1000  # a Windows program


def _file(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def _hand_in(submission: Submission, by: Person, day: dt.date, content: bytes = REPORT_PDF) -> Submission:
    return actions.submit(
        submission=submission,
        document=_file("分方案.pdf", content, "application/pdf"),
        numbers={},
        note="",
        by=by.user,
        today=day,
    )


def _review(
    submission: Submission, office: Person, version: int, *, accept: bool, comments: str = ""
) -> None:
    actions.review_submission(
        submission=submission, version=version, accept=accept, comments=comments, by=office.user
    )


def _entries_since(seq: int | None) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(seq__gt=seq or 0).exclude(action__startswith="auth.").order_by("seq")
    )


def _last_seq() -> int | None:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()


def _messages(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


# ── hand in → read → return with comments → handed in again → accepted ──


def test_handed_in_read_returned_with_comments_handed_in_again_and_accepted(
    plan: Plan, office: Person, district: Person
) -> None:
    submission = _sub_plan(plan)
    unit, reader = client_for(district.user), client_for(office.user)
    with ON_20_MAY:
        assert unit.get(f"/submissions/{submission.pk}/submit/").status_code == 200
        since = _last_seq()
        sent = unit.post(
            f"/submissions/{submission.pk}/submit/",
            {"document": _file("蓬江区分方案.docx", _docx(), DOCX_TYPE), "note": "区政府常务会议通过"},
        )
        assert sent.status_code == 302 and sent["Location"] == "/submissions/"
        (entry,) = _entries_since(since)
        version = SubmissionVersion.objects.get(submission=submission)
        assert (entry.action, entry.outcome, entry.actor, entry.object_type, entry.object_id) == (
            "submission.submit",
            Outcome.SUCCESS,
            district.user,
            "plans.submission",
            str(submission.pk),
        )
        assert entry.data == {"version": 1, "late": False, "sha256": version.sha256}
        assert (version.number, version.content_type, version.review, version.handed_in_on) == (
            1,
            DOCX_TYPE,
            "pending",
            D(2021, 5, 20),
        )
        assert version.size == len(_docx()) and version.handed_in_by == district.user
        listed = unit.get("/submissions/").content.decode()
        assert "已报送，待审核" in listed

        # The office reads the Word file in the page: its paragraphs and table, escaped.
        page = reader.get(f"/submissions/{submission.pk}/")
        html = page.content.decode()
        assert page.status_code == 200
        assert "蓬江区推动落后产能退出工作方案" in html and "<td>关停中频炉</td>" in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
        assert page.context["accept_form"] is not None and page.context["return_form"] is not None

        # Returning needs the comments; without them nothing changes.
        since = _last_seq()
        refused = reader.post(
            f"/submissions/{submission.pk}/return/", {"version": 1, "comments": " "}, follow=True
        )
        assert _messages(refused) == ["请填写退回意见：报送单位需要知道应修改什么。"]
        assert SubmissionVersion.objects.get(pk=version.pk).review == "pending" and not _entries_since(since)

        returned = reader.post(
            f"/submissions/{submission.pk}/return/", {"version": 1, "comments": COMMENTS}, follow=True
        )
        assert _messages(returned) == ["已连同退回意见退回报送单位。"]
        entry, *told = _entries_since(since)
        # The unit's people are told, each in their message centre (and by mail if they chose it).
        from phaseout.messaging.models import Message

        told_to = {m.recipient_id for m in Message.objects.filter(kind="returned")}
        assert told_to and district.pk in told_to
        assert {t.action for t in told} == {"message.notify"} and len(told) == len(told_to)
        notice = Message.objects.get(kind="returned", recipient=district)
        assert COMMENTS in notice.body and notice.url == "/submissions/"
        assert (entry.action, entry.outcome, entry.actor, entry.object_id, entry.reason, entry.data) == (
            "submission.return",
            Outcome.SUCCESS,
            office.user,
            str(submission.pk),
            COMMENTS,
            {"version": 1, "handed_in_on": "2021-05-20"},
        )
        version.refresh_from_db()
        submission.refresh_from_db()
        assert (version.review, version.reviewed_by, version.comments) == ("returned", office.user, COMMENTS)
        assert (submission.state, submission.submitted_on, submission.status_on(D(2021, 5, 20))) == (
            "returned",
            None,
            "returned",
        )

        # The unit sees it returned, with the comments: on its list, its home page and the form.
        listed = unit.get("/submissions/").content.decode()
        assert "退回修改" in listed and COMMENTS in listed and "重新报送" in listed
        home = unit.get("/").content.decode()
        assert "退回修改" in home.split('id="home-submissions"')[1]
        form = unit.get(f"/submissions/{submission.pk}/submit/").content.decode()
        assert "第1版已被退回" in form and COMMENTS in form

        # Handed in again: a workbook this time, read as a table of its first rows.
        sent = unit.post(
            f"/submissions/{submission.pk}/submit/", {"document": _file("分方案.xlsx", _xlsx(250))}
        )
        assert sent.status_code == 302
        page = reader.get(f"/submissions/{submission.pk}/")
        html = page.content.decode()
        assert page.context["preview"].kind == "xlsx" and len(page.context["preview"].rows) == 200
        assert "<td>企业199</td>" in html and "<td>企业200</td>" not in html and "仅显示前 200 行。" in html

        # A review of the version read before is refused once a newer one is in.
        since = _last_seq()
        stale = reader.post(
            f"/submissions/{submission.pk}/accept/", {"version": 1, "confirm": "on"}, follow=True
        )
        assert _messages(stale) == ["第1版已不是最新版本：其后已报送第2版，请先阅看。"]
        unconfirmed = reader.post(f"/submissions/{submission.pk}/accept/", {"version": 2}, follow=True)
        assert _messages(unconfirmed) == ["请勾选确认后再执行此操作。"]
        assert not _entries_since(since)

        accepted = reader.post(
            f"/submissions/{submission.pk}/accept/", {"version": 2, "confirm": "on"}, follow=True
        )
        assert _messages(accepted) == ["报送材料已审核通过。"]
        (entry,) = _entries_since(since)
        assert (entry.action, entry.outcome, entry.actor, entry.object_id, entry.data) == (
            "submission.accept",
            Outcome.SUCCESS,
            office.user,
            str(submission.pk),
            {"version": 2, "handed_in_on": "2021-05-20"},
        )
        submission.refresh_from_db()
        assert submission.state == "accepted" and submission.status_on(D(2021, 12, 31)) == "on_time"

        # The history: both versions, each with its review.
        history = reader.get(f"/submissions/{submission.pk}/")
        versions = history.context["versions"]
        assert [(v.number, v.review, v.comments) for v in versions] == [
            (2, "accepted", ""),
            (1, "returned", COMMENTS),
        ]
        assert history.context["accept_form"] is None
        html = history.content.decode()
        assert html.count('class="version review-') == 2 and "审核通过" in html and COMMENTS in html

        # Accepted is final: the unit cannot hand in again.
        again = unit.post(
            f"/submissions/{submission.pk}/submit/", {"document": _file("分方案.pdf", REPORT_PDF)}
        )
        assert "该报送事项已审核通过，无需再报送。" in again.content.decode()
        assert submission.versions.count() == 2


def test_a_pdf_is_shown_inline_to_the_page_alone_and_downloaded(
    plan: Plan, office: Person, district: Person
) -> None:
    submission = _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    reader = client_for(office.user)
    page = reader.get(f"/submissions/{submission.pk}/")
    assert (
        f'<object class="pdf-preview" data="/submissions/{submission.pk}/v1/view.pdf" type="application/pdf">'
        in page.content.decode()
    )
    policy = page["Content-Security-Policy"]
    assert (
        "object-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    )
    assert "object-src 'none'" in reader.get("/submissions/")["Content-Security-Policy"]  # only this page

    since = _last_seq()
    shown = reader.get(f"/submissions/{submission.pk}/v1/view.pdf")
    assert shown.status_code == 200 and shown["Content-Type"] == "application/pdf"
    assert shown["Content-Disposition"].startswith("inline")
    assert b"".join(shown.streaming_content) == REPORT_PDF  # type: ignore[attr-defined]
    policy = shown["Content-Security-Policy"]
    assert (
        "default-src 'none'" in policy
        and "script-src 'none'" in policy
        and "frame-ancestors 'self'" in policy
    )
    assert shown["X-Frame-Options"] == "SAMEORIGIN"
    (entry,) = _entries_since(since)
    version = submission.versions.get()
    assert (entry.action, entry.actor, entry.object_id, entry.data) == (
        "export.submission",
        office.user,
        str(submission.pk),
        {"version": 1, "sha256": version.sha256, "disposition": "inline"},
    )
    downloaded = reader.get(f"/submissions/{submission.pk}/v1/file")
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert b"".join(downloaded.streaming_content) == REPORT_PDF  # type: ignore[attr-defined]


def test_only_a_pdf_is_served_inline(plan: Plan, office: Person, district: Person) -> None:
    submission = actions.submit(
        submission=_sub_plan(plan),
        document=_file("分方案.docx", _docx()),
        numbers={},
        note="",
        by=district.user,
        today=D(2021, 5, 20),
    )
    reader = client_for(office.user)
    assert reader.get(f"/submissions/{submission.pk}/v1/view.pdf").status_code == 404
    assert reader.get(f"/submissions/{submission.pk}/v1/file").status_code == 200


def test_the_offices_home_page_lists_what_awaits_its_review(
    plan: Plan, office: Person, district: Person, energy_dept: Person
) -> None:
    submission = _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    reader = client_for(office.user)
    with ON_20_MAY:
        waiting = reader.get("/")
        assert [s.pk for s in waiting.context["to_review"]] == [submission.pk]
        section = waiting.content.decode().split('id="home-review"')[1].split("</section>")[0]
        assert f'href="/submissions/{submission.pk}/"' in section and "2021-05-20" in section
        assert client_for(energy_dept.user).get("/").context["to_review"] is None  # the office's job only
        _review(submission, office, 1, accept=True)
        assert reader.get("/").context["to_review"] == []


# ── late and missing follow the accepted version ──


def test_late_and_missing_follow_the_version_accepted_at_the_deadline(
    plan: Plan, office: Person, district: Person, other_district: Person
) -> None:
    pengjiang, taishan = _sub_plan(plan), _sub_plan(plan, "440781")
    assert [pengjiang.status_on(DUE), pengjiang.status_on(DUE + dt.timedelta(days=1))] == ["due", "missing"]

    # Handed in on the due date and returned: returned until the date, missing the day after.
    pengjiang = _hand_in(pengjiang, district, DUE)
    assert pengjiang.status_on(DUE + dt.timedelta(days=30)) == "pending"  # on time, awaiting review
    _review(pengjiang, office, 1, accept=False, comments=COMMENTS)
    pengjiang.refresh_from_db()
    assert pengjiang.status_on(DUE) == "returned"
    assert pengjiang.status_on(DUE + dt.timedelta(days=1)) == "missing"
    task = pengjiang.task
    assert task in actions.failed_tasks(plan, DUE + dt.timedelta(days=1))
    # Handed in again the day after and accepted: late, by the accepted version's date.
    pengjiang = _hand_in(pengjiang, district, DUE + dt.timedelta(days=1))
    assert pengjiang.status_on(DUE + dt.timedelta(days=1)) == "late"
    _review(pengjiang, office, 2, accept=True)
    pengjiang.refresh_from_db()
    assert pengjiang.status_on(DUE + dt.timedelta(days=60)) == "late"

    # Returned before the date and handed in again on the date itself: on time once accepted.
    taishan = _hand_in(taishan, other_district, DUE - dt.timedelta(days=3))
    _review(taishan, office, 1, accept=False, comments=COMMENTS)
    taishan = _hand_in(Submission.objects.get(pk=taishan.pk), other_district, DUE)
    assert taishan.status_on(DUE + dt.timedelta(days=1)) == "pending"
    _review(taishan, office, 2, accept=True)
    taishan.refresh_from_db()
    assert taishan.status_on(DUE + dt.timedelta(days=1)) == "on_time"
    assert [v.handed_in_on for v in taishan.versions.all()] == [DUE - dt.timedelta(days=3), DUE]


def test_the_plan_page_and_the_lists_count_by_the_same_rule(
    plan: Plan, office: Person, district: Person
) -> None:
    submission = _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    _review(submission, office, 1, accept=False, comments=COMMENTS)
    with time_machine.travel(dt.datetime(2021, 6, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        page = client_for(office.user).get(f"/plans/{plan.pk}/")
        assert page.context["status_of"][submission.pk] == "missing"
        rows = client_for(district.user).get("/submissions/").context["rows"]
        assert {s.pk: status for s, status, _ in rows}[submission.pk] == "missing"


# ── what is handed in is checked by its content ──

NOT_A_DOCUMENT = "{name} 不是文件材料：请报送 PDF、Word（.docx）、Excel（.xlsx）或 OFD 文件。"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("分方案.txt", b"", "分方案.txt 是空文件或过小，不是一份文件材料。"),
        ("分方案.pdf", b"%PDF-1.4 tiny", "分方案.pdf 是空文件或过小，不是一份文件材料。"),
        (
            "分方案.txt",
            "蓬江区推动落后产能退出工作方案。".encode() * 40,
            NOT_A_DOCUMENT.format(name="分方案.txt"),
        ),
        (
            "分方案.pdf",
            EXE,
            NOT_A_DOCUMENT.format(name="分方案.pdf") + " （其内容为 application/x-msdownload。）",
        ),
        (
            "分方案.docx",
            _zip_bomb_docx(),
            "该文件的组成部分（word/document.xml）压缩比超过 100 倍，疑为压缩炸弹，已拒绝接收，未作读取。",
        ),
    ],
)
def test_a_file_that_is_not_a_document_is_refused_and_nothing_changes(
    plan: Plan, district: Person, name: str, content: bytes, message: str
) -> None:
    submission = _sub_plan(plan)
    since = _last_seq()
    with pytest.raises(actions.PlanError) as refused:
        actions.submit(
            submission=submission,
            document=_file(name, content),
            numbers={},
            note="",
            by=district.user,
            today=D(2021, 5, 20),
        )
    assert str(refused.value) == message
    submission.refresh_from_db()
    assert (submission.state, submission.submitted_on, submission.versions.count()) == ("open", None, 0)
    assert not _entries_since(since)


def test_a_list_of_closed_capacity_is_a_workbook_or_a_pdf(
    plan: Plan, district: Person, settings: object
) -> None:
    listed = _sub_plan(plan)
    Submission.objects.filter(pk=listed.pk).update(kind=Submission.Kind.CLOSED_LIST)
    listed.refresh_from_db()
    with pytest.raises(actions.PlanError) as refused:
        actions.submit(
            submission=listed,
            document=_file("清单.docx", _docx()),
            numbers={},
            note="",
            by=district.user,
            today=D(2021, 5, 20),
        )
    assert str(refused.value) == "清单.docx 不是 Excel 工作簿（.xlsx）或 PDF：关闭退出产能清单须为其中一种。"
    handed = actions.submit(
        submission=listed,
        document=_file("清单.pdf", _xlsx(3)),  # named .pdf, a workbook by its content: kept as .xlsx
        numbers={},
        note="",
        by=district.user,
        today=D(2021, 5, 20),
    )
    version = handed.versions.get()
    assert version.content_type == XLSX_TYPE and version.document.name.endswith(".xlsx")


def test_a_file_too_large_is_refused(plan: Plan, district: Person, settings: object) -> None:
    settings.PLAN_DOCUMENT_MAX_BYTES = 300  # type: ignore[attr-defined]
    with pytest.raises(actions.PlanError) as refused:
        _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    assert str(refused.value) == "分方案.pdf 超过 300\xa0字节。"


def test_a_program_renamed_pdf_is_refused_over_http_with_its_message(plan: Plan, district: Person) -> None:
    submission = _sub_plan(plan)
    with ON_20_MAY:
        page = client_for(district.user).post(
            f"/submissions/{submission.pk}/submit/", {"document": _file("分方案.pdf", EXE, "application/pdf")}
        )
    assert page.status_code == 200
    assert page.context["form"].errors["document"] == [
        NOT_A_DOCUMENT.format(name="分方案.pdf") + " （其内容为 application/x-msdownload。）"
    ]
    assert not submission.versions.exists()


# ── who may do what, over HTTP ──


@pytest.fixture
def people(
    office: Person, district: Person, other_district: Person, energy_dept: Person
) -> dict[str, Person]:
    return {
        "office": office,
        "district": district,  # owes the sub-plan
        "other_district": other_district,
        "department": energy_dept,
        "enterprise": PersonFactory(
            user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=EnterpriseFactory()
        ),
        "auditor": PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR),
    }


# The page, the file and the forms: the office every submission, the unit its own (another unit's is
# not found: it is not in its scope), every other role refused.
READ = {
    "office": 200,
    "district": 200,
    "other_district": 404,
    "department": 404,
    "enterprise": 403,
    "auditor": 403,
}
REVIEW = {
    "office": 302,
    "district": 403,
    "other_district": 403,
    "department": 403,
    "enterprise": 403,
    "auditor": 403,
}
HAND_IN = {
    "office": 200,
    "district": 200,
    "other_district": 404,
    "department": 404,
    "enterprise": 403,
    "auditor": 403,
}


@pytest.mark.parametrize("who", READ)
def test_who_may_read_review_and_hand_in(plan: Plan, people: dict[str, Person], who: str) -> None:
    submission = _hand_in(_sub_plan(plan), people["district"], D(2021, 5, 20))
    client = client_for(people[who].user)
    assert client.get(f"/submissions/{submission.pk}/").status_code == READ[who]
    assert client.get(f"/submissions/{submission.pk}/v1/file").status_code == READ[who]
    assert client.get(f"/submissions/{submission.pk}/v1/view.pdf").status_code == READ[who]
    assert client.get(f"/submissions/{submission.pk}/submit/").status_code == HAND_IN[who]
    returned = client.post(f"/submissions/{submission.pk}/return/", {"version": 1, "comments": COMMENTS})
    assert returned.status_code == REVIEW[who]
    submission.refresh_from_db()
    assert submission.state == ("returned" if who == "office" else "pending")
    accepted = client.post(f"/submissions/{submission.pk}/accept/", {"version": 1, "confirm": "on"})
    assert accepted.status_code == REVIEW[who]


def test_a_unit_sees_its_submission_without_the_review_forms(plan: Plan, district: Person) -> None:
    submission = _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    page = client_for(district.user).get(f"/submissions/{submission.pk}/")
    assert page.context["accept_form"] is None and page.context["return_form"] is None
    assert 'action="/submissions/' not in page.content.decode()


# ── two reviewers at once: one wins, the other is told ──


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
def test_two_reviewers_at_once_one_wins(plan: Plan, office: Person, district: Person, round_: int) -> None:
    submission = _hand_in(_sub_plan(plan), district, D(2021, 5, 20))
    colleague = PersonFactory(user=UserFactory(username="office2"), role=Role.OFFICE, display_name="王科长")
    outcomes = _race(
        lambda: actions.review_submission(
            submission=submission, version=1, accept=True, comments="", by=office.user
        ),
        lambda: actions.review_submission(
            submission=submission, version=1, accept=False, comments=COMMENTS, by=colleague.user
        ),
    )
    wins = [o for o in outcomes if isinstance(o, SubmissionVersion)]
    losses = [o for o in outcomes if isinstance(o, actions.PlanError)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    version = submission.versions.get()
    winner = "office" if version.reviewed_by == office.user else "王科长"
    review = "审核通过" if version.review == "accepted" else "退回修改"
    assert str(losses[0]) == f"该版本已由{winner}审核（{review}）。"
    assert AuditEvent.objects.filter(action__in=["submission.accept", "submission.return"]).count() == 1


# ── the single file a submission held before versions becomes its version 1 ──

BEFORE = [("plans", "0004_supervision_targets_and_failed_tasks")]
AFTER = [("plans", "0005_submission_versions_and_review")]


@pytest.mark.django_db(transaction=True)
def test_a_file_handed_in_before_versions_becomes_version_1_awaiting_review() -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="pengjiang")
        territory = old.get_model("orgs", "Territory").objects.create(
            code="440703", name="蓬江区", level="county"
        )
        plan = old.get_model("plans", "Plan").objects.create(
            year=2021, title="计划", source_name="plan.txt", source_text="", created_by=user
        )
        task = old.get_model("plans", "Task").objects.create(plan=plan, text="报送分方案", order=0)
        path = default_storage.save("submissions/2021/分方案.pdf", ContentFile(REPORT_PDF))
        Old = old.get_model("plans", "Submission")
        handed = Old.objects.create(
            plan=plan,
            task=task,
            territory=territory,
            kind="sub_plan",
            due_date=DUE,
            submitted_on=DUE - dt.timedelta(days=1),
            submitted_by=user,
            document=path,
            numbers={"enterprises": 2},
            note="区政府审定",
        )
        never = Old.objects.create(plan=plan, task=task, territory=territory, kind="report", due_date=DUE)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        version = new.get_model("plans", "SubmissionVersion").objects.get()
        assert (version.submission_id, version.number, version.document.name, version.name) == (
            handed.pk,
            1,
            path,
            path.rsplit("/", 1)[-1],
        )
        assert (version.sha256, version.size, version.content_type) == (
            hashlib.sha256(REPORT_PDF).hexdigest(),
            len(REPORT_PDF),
            "application/pdf",
        )
        assert (version.numbers, version.note, version.handed_in_by_id, version.handed_in_on) == (
            {"enterprises": 2},
            "区政府审定",
            user.pk,
            DUE - dt.timedelta(days=1),
        )
        assert (version.review, version.reviewed_by_id) == ("pending", None)
        states = dict(new.get_model("plans", "Submission").objects.values_list("pk", "state"))
        assert states == {handed.pk: "pending", never.pk: "open"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
