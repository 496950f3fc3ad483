"""等保 2.0 level 3, 安全审计 (L3-CES1-12 and 13, audit coverage; L3-CES1-15, no act without its entry):
every download of business data writes one entry — who, from which unit and address, which file of which
record, what it held — before the file leaves, and is not given if the entry cannot be written; every page
refused to a signed-in account is recorded, while anonymous requests and 404s write nothing."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, get_resolver

from phaseout.audit.exports import audited_export, export_event, exported
from phaseout.audit.models import AuditEvent, Outcome
from phaseout.audit.record import record
from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case, Decision, Evidence
from phaseout.credit.models import Referral
from phaseout.orgs.access import ACCESS_ATTR, PUBLIC, DenyByDefaultMiddleware
from phaseout.orgs.models import Person, Role, Territory
from phaseout.plans import actions as plan_actions
from phaseout.plans.models import Plan, Submission, Task
from phaseout.province.models import YearSummary
from tests.conftest import PNG, REPORT_PDF, audit_numbers_set_back, client_for, upload
from tests.factories import CaseFactory, FindingFactory, LineFactory, PersonFactory, UserFactory

TODAY = dt.date(2026, 3, 2)
REFUSED_PAGE = "您的角色无权访问此页面或记录。"
NOT_GIVEN = "该下载未能写入审计记录，因此未予提供。请稍后再试；如仍不能下载，请告知管理员。"

# Every view that gives out files of business data, with the event it is audited under. A new one must be
# added here (and so tested below): test_l3_ces1_12_every_view_giving_out_a_file_is_an_audited_export.
EXPORTS = {
    "furnace-list": "export.furnaces",
    "evidence-download": "export.evidence",
    "case-file": "export.case_file_zip",
    "case-file-pdf": "export.case_file_pdf",
    "decision-document": "export.decision_document",
    "referral-export": "export.credit_referrals",
    "price-export": "export.prices",
    "price-measures": "export.prices",
    "exit-ledger": "export.exit_ledger",
    "stage-report": "export.stage_report",
    "audit-export": "export.audit_trail",
    "enterprise-list": "export.enterprises",
    "case-list": "export.cases",
    "tipoff-list": "export.tipoffs",
    "people": "export.people",
    "line-list": "export.lines",
    "inspection-list": "export.inspections",
    "submission-file": "export.submission",
    "submission-pdf": "export.submission",
    "my-submissions": "export.submissions",
    "referrals": "export.credit_list",
    "monitoring-units": "export.monitoring_units",
    "monitoring-points": "export.monitoring_points",
    "monitoring-checks": "export.data_checks",
    "summary-export": "export.year_summary",
}
# Public open data: the published lists, the same file for everyone, written to no one's account.
PUBLIC_DOWNLOADS = {"public-export"}


@dataclass
class World:
    """One record of every kind a download is made from, in the Pengjiang district."""

    office: Person
    energy_dept: Person
    district: Person
    firm: Person
    evidence: Evidence
    case: Case
    decision: Decision
    referral: Referral
    auditor: Person
    secadmin: Person
    submission: Submission
    year_summary: YearSummary


@pytest.fixture
def world(office: Person, energy_dept: Person, district: Person) -> World:
    line = LineFactory(enterprise__territory=Territory.objects.get(code="440703"))
    inspection = case_actions.record_inspection(
        department=energy_dept.department,  # type: ignore[arg-type]
        enterprise=line.enterprise,
        line=line,
        dimension="energy",
        inspected_on=TODAY,
        inspectors="李明",
        files=[upload("现场.png", PNG, "image/png")],
        by=energy_dept.user,
        today=TODAY,
    )
    case = CaseFactory(enterprise=line.enterprise, line=line, finding=FindingFactory(inspection=inspection))
    case = case_actions.order_rectification(
        case=case, by=energy_dept.user, today=TODAY, issued_on=TODAY, served_on=TODAY
    )
    referral = Referral.objects.create(
        case=case,
        enterprise=case.enterprise,
        status=Referral.Status.APPROVED,
        reason="逾期未退出",
        legal_basis="《产业结构调整指导目录》",
        decision_number="江淘汰办〔2026〕1号",
        deciding_body="江门市淘汰落后产能工作协调小组",
        decided_on=TODAY,
        valid_from=TODAY,
        approved_by=office.user,
    )
    LineFactory(
        enterprise=line.enterprise, status="exited", exited_on=dt.date(2026, 2, 1), capacity=Decimal("45")
    )
    firm = PersonFactory(user=UserFactory(username="firm"), role=Role.ENTERPRISE, enterprise=line.enterprise)
    return World(
        submission=_handed_in(office, district),
        office=office,
        energy_dept=energy_dept,
        district=district,
        firm=firm,
        evidence=inspection.evidence.get(),
        case=case,
        decision=case.decisions.get(),
        referral=referral,
        auditor=PersonFactory(user=UserFactory(username="auditor"), role=Role.AUDITOR),
        secadmin=PersonFactory(user=UserFactory(username="secadmin"), role=Role.SECURITY_ADMIN),
        year_summary=YearSummary.objects.create(
            city_id="440700",
            year=2025,
            state=YearSummary.State.APPROVED,
            figures={"city_total": {}},
            drawn_up_by=office.user,
            drawn_up_at=dt.datetime(2026, 1, 4, tzinfo=dt.UTC),
            approval_body="江门市人民政府",
            approval_doc_number="江府函〔2026〕2号",
            approved_on=dt.date(2026, 1, 5),
            approval_recorded_by=office.user,
            approval_recorded_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        ),
    )


def _handed_in(office: Person, district: Person) -> Submission:
    """A district's report under a confirmed plan, handed in as a PDF."""
    plan = Plan.objects.create(
        year=2026,
        title="2026年推动落后产能退出工作计划",
        source_name="plan.txt",
        source_text="",
        created_by=office.user,
        status=Plan.Status.APPROVED,
        approval_body="江门市人民政府",
        approval_doc_number="江府函〔2026〕1号",
        approved_on=dt.date(2026, 1, 6),
        approval_recorded_by=office.user,
        approval_recorded_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        confirmed_by=office.user,
        confirmed_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    task = Task.objects.create(plan=plan, text="各区报送工作情况", deadline=TODAY, order=0)
    submission = Submission.objects.create(
        plan=plan, task=task, territory=district.territory, kind=Submission.Kind.REPORT, due_date=TODAY
    )
    return plan_actions.submit(
        submission=submission,
        document=upload("工作情况.pdf", REPORT_PDF, "application/pdf"),
        numbers={},
        note="",
        by=district.user,
        today=TODAY,
    )


@dataclass
class Download:
    """One way to download a file: who, how, and the entry it must leave."""

    url: str
    event: str
    person: Callable[[World], Person]
    obj: Callable[[World], models.Model | None]
    data: Callable[[World], dict[str, Any]]
    form: dict[str, str] = field(default_factory=dict)  # posted when given

    def fetch(self, client: Client, world: World) -> HttpResponse:
        url = self.url.format(w=world)
        return client.post(url, self.form) if self.form else client.get(url)  # type: ignore[return-value]


STAGE_FORM = {
    "title": "关于2026年推动落后产能退出工作情况的报告",
    "start": "2026-01-01",
    "end": "2026-06-30",
    "issuer": "蓬江区工业和信息化局",
}

DOWNLOADS = {
    "evidence as the district": Download(
        "/evidence/{w.evidence.pk}/",
        "export.evidence",
        lambda w: w.district,
        lambda w: w.evidence,
        lambda w: {"file": "现场.png", "sha256": w.evidence.sha256},
    ),
    "evidence as the department": Download(
        "/evidence/{w.evidence.pk}/",
        "export.evidence",
        lambda w: w.energy_dept,
        lambda w: w.evidence,
        lambda w: {"file": "现场.png", "sha256": w.evidence.sha256},
    ),
    "case file .zip": Download(
        "/cases/{w.case.pk}/file.zip",
        "export.case_file_zip",
        lambda w: w.office,
        lambda w: w.case,
        lambda w: {"format": "zip", "files": 1},
    ),
    "case file .pdf": Download(
        "/cases/{w.case.pk}/file.pdf",
        "export.case_file_pdf",
        lambda w: w.district,
        lambda w: w.case,
        lambda w: {"format": "pdf"},
    ),
    "decision .docx": Download(
        "/decisions/{w.decision.pk}.docx",
        "export.decision_document",
        lambda w: w.energy_dept,
        lambda w: w.decision,
        lambda w: {"format": "docx", "number": w.decision.number},
    ),
    "decision .pdf by the enterprise": Download(
        "/decisions/{w.decision.pk}.pdf",
        "export.decision_document",
        lambda w: w.firm,
        lambda w: w.decision,
        lambda w: {"format": "pdf", "number": w.decision.number},
    ),
    "credit referrals .xlsx": Download(
        "/credit/export.xlsx",
        "export.credit_referrals",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "xlsx", "rows": 1},
    ),
    "credit referrals .json": Download(
        "/credit/export.json",
        "export.credit_referrals",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "json", "rows": 1},
    ),
    "credit list": Download(
        "/credit/?format=xlsx&status=approved",
        "export.credit_list",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"status": "approved"}, "rows": 1},
    ),
    "key discharge units": Download(
        "/monitoring/?format=xlsx&status=missing",
        "export.monitoring_units",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"status": "missing"}, "rows": 0},
    ),
    "monitoring points": Download(
        "/monitoring/points/?format=xlsx&from=2026-03-01&to=2026-03-02",
        "export.monitoring_points",
        lambda w: w.office,
        lambda w: None,
        lambda w: {
            "format": "xlsx",
            "filter": {"from": "2026-03-01", "to": "2026-03-02"},
            "rows": 0,
            "from": "2026-03-01",
            "to": "2026-03-02",
        },
    ),
    "data checks": Download(
        "/monitoring/checks/?format=xlsx&status=open",
        "export.data_checks",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"status": "open"}, "rows": 0},
    ),
    "submissions list": Download(
        "/submissions/?format=xlsx&kind=report",
        "export.submissions",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"kind": "report"}, "rows": 1},
    ),
    "price measures": Download(
        "/prices/power.xlsx?on=2026-03-01",
        "export.prices",
        lambda w: w.energy_dept,
        lambda w: None,
        lambda w: {"format": "xlsx", "utility": "power", "on": "2026-03-01", "rows": 0},
    ),
    "price measure list": Download(
        "/prices/?format=xlsx&on=2026-03-01",
        "export.prices",
        lambda w: w.energy_dept,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"on": "2026-03-01"}, "rows": 0},
    ),
    "enterprise list": Download(
        "/enterprises/?format=xlsx&territory=440703",
        "export.enterprises",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"territory": "440703"}, "rows": 1},
    ),
    "case list": Download(
        "/cases/?format=xlsx&state=rectifying",
        "export.cases",
        lambda w: w.energy_dept,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"state": "rectifying"}, "rows": 1},
    ),
    "tip-off list": Download(
        "/tipoffs/?format=xlsx",
        "export.tipoffs",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {}, "rows": 0},
    ),
    "line list": Download(
        "/lines/?format=xlsx&status=exited",
        "export.lines",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"status": "exited"}, "rows": 1},
    ),
    "furnace register": Download(
        "/furnaces/?format=xlsx&use=casting",
        "export.furnaces",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"use": "casting"}, "rows": 0},
    ),
    "inspection list": Download(
        "/inspections/?format=xlsx",
        "export.inspections",
        lambda w: w.energy_dept,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {}, "rows": 1},
    ),
    "accounts": Download(
        "/people/?format=xlsx&role=district",
        "export.people",
        lambda w: w.secadmin,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"role": "district"}, "rows": 1},
    ),
    "audit trail": Download(
        "/audit/export.xlsx?action=case.order_rectification",
        "export.audit_trail",
        lambda w: w.auditor,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"action": "case.order_rectification"}, "rows": 1},
    ),
    "exit ledger": Download(
        "/reports/ledger/?format=xlsx&industry=steel",
        "export.exit_ledger",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "filter": {"industry": "steel"}, "rows": 1},
    ),
    "submission file by the office": Download(
        "/submissions/{w.submission.pk}/v1/file",
        "export.submission",
        lambda w: w.office,
        lambda w: w.submission,
        lambda w: {"version": 1, "sha256": w.submission.versions.get().sha256, "disposition": "attachment"},
    ),
    "submission PDF viewed by its unit": Download(
        "/submissions/{w.submission.pk}/v1/view.pdf",
        "export.submission",
        lambda w: w.district,
        lambda w: w.submission,
        lambda w: {"version": 1, "sha256": w.submission.versions.get().sha256, "disposition": "inline"},
    ),
    "year summary exchange file by the office": Download(
        "/summaries/{w.year_summary.pk}/exchange.json",
        "export.year_summary",
        lambda w: w.office,
        lambda w: w.year_summary,
        lambda w: {
            "sha256": AuditEvent.objects.get(action="export.year_summary").data["sha256"],
            "key": AuditEvent.objects.get(action="export.year_summary").data["key"],
        },
    ),
    "stage report .xlsx": Download(
        "/reports/stage/",
        "export.stage_report",
        lambda w: w.district,
        lambda w: None,
        lambda w: {"format": "xlsx", "start": "2026-01-01", "end": "2026-06-30", "rows": 1},
        form={**STAGE_FORM, "fmt": "xlsx"},
    ),
    "stage report .docx": Download(
        "/reports/stage/",
        "export.stage_report",
        lambda w: w.office,
        lambda w: None,
        lambda w: {"format": "docx", "start": "2026-01-01", "end": "2026-06-30", "rows": 1},
        form={**STAGE_FORM, "fmt": "docx"},
    ),
}


def _object(obj: models.Model | None) -> tuple[str, str]:
    return (obj._meta.label_lower, str(obj.pk)) if obj is not None else ("", "")


def _content(response: HttpResponse) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content


# ── L3-CES1-12/13: every download writes one entry with who, what and from which record ──


@pytest.mark.parametrize("name", DOWNLOADS)
def test_l3_ces1_13_every_download_writes_one_entry_naming_the_person_and_the_record(
    world: World, name: str
) -> None:
    download = DOWNLOADS[name]
    person = download.person(world)
    client = client_for(person.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = download.fetch(client, world)
    assert response.status_code == 200, response.content[:500]
    assert _content(response)  # the file itself was served
    # The enterprise opening its served decision also gives its signed receipt (密评 不可否认性), in the
    # same transaction as the download's entry; nothing else is written.
    receipt = download.event == "export.decision_document" and person.role == Role.ENTERPRISE
    received = AuditEvent.objects.filter(seq__gt=last, action="case.document_received")
    assert received.count() == (1 if receipt else 0)
    entries = list(AuditEvent.objects.filter(seq__gt=last).exclude(action="case.document_received"))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.outcome, entry.actor, entry.actor_name) == (
        download.event,
        Outcome.SUCCESS,
        person.user,
        person.user.username,
    )
    assert (entry.object_type, entry.object_id) == _object(download.obj(world))
    assert entry.data == download.data(world)
    assert entry.ip == "127.0.0.1"
    place = person.department or person.territory or person.enterprise
    if person.role in (Role.AUDITOR, Role.SECURITY_ADMIN):  # the three administrators have no unit
        assert place is None and entry.unit == ""
    else:
        assert place is not None and entry.unit == place.name


def test_l3_ces1_13_a_page_of_an_export_view_writes_no_export_entry(world: World) -> None:
    """The ledger page, the stage report's form and a form sent back with an error give no file."""
    client = client_for(world.district.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert client.get("/reports/ledger/", {"industry": "steel"}).status_code == 200
    assert client.get("/reports/stage/").status_code == 200
    sent_back = client.post("/reports/stage/", {**STAGE_FORM, "end": "2025-12-31", "fmt": "xlsx"})
    assert sent_back.status_code == 200 and "Content-Disposition" not in sent_back
    assert not AuditEvent.objects.filter(seq__gt=last).exists()


# ── L3-CES1-15: no entry, no file ──


@pytest.mark.parametrize("name", DOWNLOADS)
def test_l3_ces1_15_a_download_that_cannot_be_audited_is_not_given(world: World, name: str) -> None:
    download = DOWNLOADS[name]
    client = client_for(download.person(world).user)
    # A real failure: the numbers set back, so the next entry's number is taken (unique constraint).
    audit_numbers_set_back(1)
    count = AuditEvent.objects.count()
    response = download.fetch(client, world)
    assert response.status_code == 503
    assert not response.streaming and "Content-Disposition" not in response
    assert response["Content-Type"].startswith("text/html")
    assert NOT_GIVEN in response.content.decode()
    assert AuditEvent.objects.count() == count


def test_l3_ces1_15_a_declared_export_that_returns_a_file_without_its_entry_is_refused() -> None:
    """A file given out by a declared view must name what it holds (exported()), or it is not given."""

    stream = io.BytesIO(b"secret")

    @audited_export("export.test")
    def forgetful(request: object) -> FileResponse:
        return FileResponse(stream, as_attachment=True, filename="x.txt")

    @audited_export("export.test")
    def page(request: object) -> HttpResponse:
        return HttpResponse("a page")

    request = RequestFactory().get("/")
    with pytest.raises(ImproperlyConfigured, match="forgetful gives out a file without exported"):
        forgetful(request)
    assert stream.closed

    @audited_export("export.test")
    def streaming(request: object) -> StreamingHttpResponse:
        return StreamingHttpResponse(iter([b"secret"]))  # a stream, even with no attachment header

    with pytest.raises(ImproperlyConfigured, match="streaming gives out a file without exported"):
        streaming(request)
    assert page(request).content == b"a page"  # a page passes as it is, with no entry
    with pytest.raises(ValueError, match=r"starts with 'export\.'"):
        audited_export("evidence")


def test_l3_ces1_15_a_file_refused_for_want_of_its_entry_is_closed_unread(db: None) -> None:
    stream = io.BytesIO(b"secret")

    @audited_export("export.test")
    def download(request: object) -> FileResponse:
        return exported(FileResponse(stream, as_attachment=True, filename="x.txt"))

    record(actor=None, action="test.event")
    record(actor=None, action="test.event")
    audit_numbers_set_back(1)
    request = RequestFactory().get("/")
    request.user = UserFactory(username="reader")
    response = download(request)
    assert response.status_code == 503 and NOT_GIVEN in response.content.decode()
    assert stream.closed
    assert AuditEvent.objects.count() == 2


# ── L3-CES1-12: the registry of exports covers every view that gives out a file ──

FILE_MARKERS = re.compile(r"Content-Disposition|FileResponse\(|StreamingHttpResponse\(|as_attachment")


def _patterns() -> list[URLPattern]:
    """Every URL of the platform but the admin's (reference data; it gives out no file)."""
    return [p for p in get_resolver().url_patterns if isinstance(p, URLPattern)]


def _gives_files(view: Callable[..., Any]) -> bool:
    """The view's source, or a helper of its module it calls, makes an attachment, file or stream."""
    func = inspect.unwrap(getattr(view, "view_class", view))
    module = inspect.getmodule(func)
    sources = [inspect.getsource(func)]
    for name in getattr(getattr(func, "__code__", None), "co_names", ()):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and module is not None and helper.__module__ == module.__name__:
            sources.append(inspect.getsource(helper))
    return any(FILE_MARKERS.search(source) for source in sources)


def test_l3_ces1_12_every_view_giving_out_a_file_is_an_audited_export() -> None:
    giving = {p.name for p in _patterns() if _gives_files(p.callback)}
    declared = {p.name: export_event(p.callback) for p in _patterns() if export_event(p.callback)}
    public = {p.name for p in _patterns() if getattr(p.callback, ACCESS_ATTR, None) == PUBLIC}
    assert declared == EXPORTS
    assert giving - set(EXPORTS) == PUBLIC_DOWNLOADS  # every other file-giving view is declared
    assert public >= PUBLIC_DOWNLOADS  # and those left out are the public open data
    # Each export is downloaded over HTTP above.
    record = SimpleNamespace(pk=1)
    any_world = SimpleNamespace(
        evidence=record, case=record, decision=record, submission=record, year_summary=record
    )
    urls = [d.url.split("?")[0].format(w=any_world) for d in DOWNLOADS.values()]
    assert {get_resolver().resolve(url).url_name for url in urls} == set(EXPORTS)


def test_l3_ces1_12_the_published_lists_open_data_writes_nothing(reference: None) -> None:
    count = AuditEvent.objects.count()
    response = Client().get("/public/yellow.csv")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert AuditEvent.objects.count() == count


# ── L3-CES1-12: a page refused to a signed-in account is recorded; the public writes nothing ──


def test_l3_ces1_12_a_district_user_refused_an_office_page_is_recorded(district: Person) -> None:
    client = client_for(district.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = client.get("/lists/")
    assert response.status_code == 403 and REFUSED_PAGE in response.content.decode()
    entry = AuditEvent.objects.get(seq__gt=last)
    assert (entry.action, entry.outcome, entry.actor, entry.unit, entry.reason) == (
        "access.refused",
        Outcome.REFUSED,
        district.user,
        "蓬江区",
        REFUSED_PAGE,
    )
    assert entry.data == {"path": "/lists/", "method": "GET", "role": "district"}
    assert (entry.object_type, entry.object_id) == ("", "")


def test_l3_ces1_12_a_refused_export_is_recorded_as_refused_and_gives_nothing(district: Person) -> None:
    client = client_for(district.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = client.get("/credit/export.xlsx")
    assert response.status_code == 403 and "Content-Disposition" not in response
    entry = AuditEvent.objects.get(seq__gt=last)
    assert (entry.action, entry.outcome, entry.data) == (
        "access.refused",
        Outcome.REFUSED,
        {"path": "/credit/export.xlsx", "method": "GET", "role": "district"},
    )


def test_l3_ces1_12_a_view_refusing_a_role_is_recorded(district: Person) -> None:
    """PermissionDenied raised by the view itself (not this role's action on a case it sees)."""
    case = CaseFactory(enterprise__territory=district.territory)
    client = client_for(district.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    path = f"/cases/{case.pk}/act/order_rectification/"
    response = client.post(path, {})
    assert response.status_code == 403
    entry = AuditEvent.objects.get(seq__gt=last)
    assert (entry.action, entry.outcome, entry.actor, entry.data) == (
        "access.refused",
        Outcome.REFUSED,
        district.user,
        {"path": path, "method": "POST", "role": "district"},
    )
    assert case.events.count() == 0


def test_l3_ces1_12_an_account_without_a_person_refused_is_recorded(db: None) -> None:
    user = UserFactory(username="root")  # as createsuperuser makes it: no person, no role
    client = client_for(user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert client.get("/cases/").status_code == 403
    entry = AuditEvent.objects.get(seq__gt=last)
    assert (entry.action, entry.actor, entry.data["role"]) == ("access.refused", user, "")


def test_l3_ces1_12_anonymous_requests_and_not_found_write_nothing(district: Person) -> None:
    count = AuditEvent.objects.count()
    anonymous = Client()
    response = anonymous.get("/lists/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/lists/"
    assert anonymous.get("/credit/export.xlsx").status_code == 302
    assert anonymous.get("/no-such-page/").status_code == 404
    assert AuditEvent.objects.count() == count
    client = client_for(district.user)
    count = AuditEvent.objects.count()
    assert client.get("/cases/999999/").status_code == 404
    assert client.get("/no-such-page/").status_code == 404
    assert AuditEvent.objects.count() == count


def test_l3_ces1_12_the_access_layer_records_refusals_of_signed_in_accounts_only(district: Person) -> None:
    """A view that declares nothing is refused to everyone; only a signed-in account's refusal is written,
    whether the middleware refuses it or the view raises PermissionDenied."""
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    middleware = DenyByDefaultMiddleware(lambda request: HttpResponse())

    def undeclared(request: object) -> HttpResponse:
        return HttpResponse()

    count = AuditEvent.objects.count()
    for user, written in ((AnonymousUser(), 0), (district.user, 2)):
        request = RequestFactory().get("/somewhere/")
        request.user = user
        with pytest.raises(PermissionDenied):
            middleware.process_view(request, undeclared, (), {})
        assert middleware.process_exception(request, PermissionDenied()) is None
        assert middleware.process_exception(request, ValueError()) is None  # not a refusal
        assert AuditEvent.objects.count() == count + written
    entries = AuditEvent.objects.filter(action="access.refused")
    assert [(e.actor, e.data) for e in entries] == [
        (district.user, {"path": "/somewhere/", "method": "GET", "role": "district"})
    ] * 2


def test_l3_ces1_12_a_tipoff_action_not_the_roles_is_recorded_once(office: Person) -> None:
    """An action the role may not take on a tip-off is a refused page; a refused identity read keeps its
    own entry (written by the action) and is not recorded twice."""
    from phaseout.complaints import actions as tipoff_actions

    tipoff, _new = tipoff_actions.receive(
        source="web",
        text="某厂偷排废气",
        reporter_name="张三",
        territory=Territory.objects.get(code="440703"),
        today=TODAY,
    )
    client = client_for(office.user)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    path = f"/tipoffs/{tipoff.pk}/"
    assert client.post(path, {"action": "bogus"}).status_code == 403
    assert client.post(path, {"action": "reveal", "reason": "核实举报"}).status_code == 403
    entries = AuditEvent.objects.filter(seq__gt=last).order_by("seq")
    assert [(e.action, e.outcome, e.data.get("path")) for e in entries] == [
        ("access.refused", Outcome.REFUSED, path),
        ("tipoff.identity_read", Outcome.REFUSED, None),
    ]
