from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.reference import load_reference
from tests.factories import PersonFactory, UserFactory

PASSWORD = "pw-Secret-123"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _one_page_pdf() -> bytes:
    """A real one-page PDF (a document a unit can hand in: PDF above is too small to be one)."""
    import io

    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


REPORT_PDF = _one_page_pdf()


def _flush_through_audit_maintenance() -> None:
    """Tests that commit (transaction=True, the browser's live server) are followed by Django's flush,
    which empties every table, the audit trail included: its append-only triggers let it through only in
    audit maintenance (phaseout.audit.maintenance), which the test run's flush — and nothing else in the
    suite but the archive command — enters."""
    from django.db import transaction
    from django.db.backends.base.operations import BaseDatabaseOperations

    from phaseout.audit.maintenance import maintenance

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        alias = self.connection.alias
        with (
            transaction.atomic(using=alias, savepoint=self.connection.features.can_rollback_ddl),
            maintenance(alias),
            self.connection.cursor() as cursor,
        ):
            for sql in sql_list:
                cursor.execute(sql)
            if self.connection.vendor == "sqlite":
                # SQLite's flush deletes table by table in no fixed order (a set of names), and the case
                # tallies' triggers (ADR 23) append a row for every case deleted: a tally emptied before
                # its cases keeps those rows, and the next test reads them. A second pass empties them.
                for sql in sql_list:
                    cursor.execute(sql)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]


_flush_through_audit_maintenance()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of PostgreSQL's own features (marked `postgres`) run on the PostgreSQL leg of the suite and
    are left out, not skipped, on the SQLite leg (`make test` runs both); those of SQLite's own (marked
    `sqlite`) the other way round."""
    other = "sqlite" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "postgres"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(autouse=True)
def _test_settings(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    settings.AUDIT_ARCHIVE_DIR = tmp_path / "audit-archive"  # type: ignore[attr-defined]
    settings.AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.jsonl"  # type: ignore[attr-defined]
    # Hashing passwords slowly is the point in production and a waste in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    # Mail from the outbox stays in memory (mail.outbox) unless a test points it at its SMTP server.
    settings.MESSAGING_MAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # type: ignore[attr-defined]
    # Messages outside a request are in the platform's language whatever an earlier test activated.
    translation.activate("zh-hans")
    # Each test starts with the portal's caches empty (an earlier test's page must not be served).
    from django.core.cache import cache

    from phaseout.disclosure import cache as public_cache

    cache.clear()
    public_cache._local.clear()


@pytest.fixture(autouse=True)
def _audit_numbers_start_after_the_last(request: pytest.FixtureRequest) -> None:
    """PostgreSQL takes audit entry numbers from a sequence (ADR 27), which a test's rollback or the flush
    after a committing test does not set back: each test that uses the database starts it after the last
    entry there, as a fresh database would (SQLite's counter row is rolled back and flushed anyway)."""
    uses_db = {"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames)
    if not uses_db and request.node.get_closest_marker("django_db") is None:
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    from django.db import connection

    request.getfixturevalue("django_db_setup")  # the test database, not the one named in the settings
    with request.getfixturevalue("django_db_blocker").unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval('audit_entry_seq', GREATEST(COALESCE(MAX(seq), 0), 1), MAX(seq) IS NOT NULL)"
            " FROM audit_auditevent"
        )


def audit_numbers_set_back(last: int) -> None:
    """The next audit entry is numbered last + 1 (what a database owner can do to the sequence or the
    counter): a real failure of the next audit write when that number is taken (unique constraint)."""
    from django.db import connection

    from phaseout.audit.models import EntryCounter

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('audit_entry_seq', %s, %s)", [max(last, 1), last > 0])
    else:
        EntryCounter.objects.filter(pk=1).update(last=last)


@pytest.fixture
def reference(db: None) -> None:
    load_reference()


def _person(username: str, role: Role, **scope: object) -> Person:
    return PersonFactory(user=UserFactory(username=username), role=role, display_name=username, **scope)


@pytest.fixture
def office(reference: None) -> Person:
    return _person("office", Role.OFFICE, department=Department.objects.get(code="jm-gxj"))


@pytest.fixture
def heyuan_office(reference: None) -> Person:
    """Heyuan's coordination office: it sees Heyuan's records only, as the office above sees Jiangmen's."""
    return _person("hy-office", Role.OFFICE, department=Department.objects.get(code="hy-gxj"))


@pytest.fixture
def province(reference: None) -> Person:
    """Guangdong's provincial coordination office (广东省工业和信息化厅): every city of the province."""
    return PersonFactory(
        user=UserFactory(username="province"),
        role=Role.PROVINCE,
        display_name="广东省工业和信息化厅",
        department=Department.objects.get(code="gd-gxt"),
    )


@pytest.fixture
def energy_dept(reference: None) -> Person:
    return _person("fgj", Role.DEPARTMENT, department=Department.objects.get(code="jm-fgj"))


@pytest.fixture
def env_dept(reference: None) -> Person:
    return _person("sthjj", Role.DEPARTMENT, department=Department.objects.get(code="jm-sthjj"))


@pytest.fixture
def safety_dept(reference: None) -> Person:
    return _person("yjglj", Role.DEPARTMENT, department=Department.objects.get(code="jm-yjglj"))


@pytest.fixture
def quality_dept(reference: None) -> Person:
    return _person("scjgj", Role.DEPARTMENT, department=Department.objects.get(code="jm-scjgj"))


@pytest.fixture
def competent(
    energy_dept: Person, env_dept: Person, safety_dept: Person, quality_dept: Person
) -> dict[str, Person]:
    """The competent department's officer for each dimension (technology: the energy department, which
    enforces it too)."""
    return {
        "energy": energy_dept,
        "environment": env_dept,
        "safety": safety_dept,
        "quality": quality_dept,
        "technology": energy_dept,
    }


@pytest.fixture
def district(reference: None) -> Person:
    return _person("pengjiang", Role.DISTRICT, territory=Territory.objects.get(code="440703"))


@pytest.fixture
def other_district(reference: None) -> Person:
    return _person("taishan", Role.DISTRICT, territory=Territory.objects.get(code="440781"))


@pytest.fixture
def outsider(reference: None) -> object:
    """A login with no place in the organisation."""
    return UserFactory(username="outsider")


def otp_code(user: object) -> str:
    """The current code of the user's TOTP device, as their authenticator app would show it; a device is
    set up first when the user has none. Tests sign in many times within one 30-second step, which a
    real device refuses (a code is accepted once): the device's last used step is cleared first."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="totp", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def client_for(user: object) -> Client:
    """A client signed in as the user with both factors: the session is made as the login page makes it,
    then a real TOTP code is verified on the second-factor page."""
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    response = client.post("/accounts/second-factor/", {"token": otp_code(user)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


@pytest.fixture
def png() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", PNG, content_type="image/png")


def readable(response: Any) -> str:
    """A page's text, or a download's (streamed, and an .xlsx or .zip opened member by member)."""
    import io
    import zipfile

    data = b"".join(response.streaming_content) if response.streaming else response.content
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(archive.read(n).decode("utf-8", errors="replace") for n in archive.namelist())
    return data.decode("utf-8", errors="replace")


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


TODAY = dt.date(2026, 3, 2)

# The seed documents lie in shared/ beside the checkout (in CI, beside the fresh clone). `make mutation`
# runs the tests from a copy in mutants/, one folder deeper, so the folder is looked for upwards.
SEEDS = next(
    (p / "shared" / "seeds" for p in Path(__file__).resolve().parents if (p / "shared" / "seeds").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "seeds",
)


def is_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def xlsx_bytes() -> Iterator[object]:
    from openpyxl import Workbook

    def make(rows: list[list[object]], header: list[str] | None = None) -> bytes:
        wb = Workbook()
        ws = wb.active
        ws.append(
            header or ["统一社会信用代码", "企业名称", "所属区县", "行业", "地址", "联系人", "联系电话"]
        )
        for row in rows:
            ws.append(row)
        buffer = BytesIO()
        wb.save(buffer)
        return buffer.getvalue()

    yield make


def form_login(
    username: str, password: str, client: Client | None = None, **extra: str
) -> tuple[bool, Client]:
    """Log in through the login page and the second factor, as a person does (the sign-in limits see
    every attempt); True when the person reaches the home page. `extra` goes to a new client
    (REMOTE_ADDR), or `client` is used as it is (with the cookies it holds, a device cookie say)."""
    from django.contrib.auth import get_user_model

    client = client or Client(**extra)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    if response.status_code != 302:
        return False, client
    page = client.get(response["Location"])
    if page.status_code == 302 and page["Location"].startswith("/accounts/second-factor/"):
        user = get_user_model().objects.get(username=username)
        response = client.post("/accounts/second-factor/", {"token": otp_code(user)})
    else:
        response = page
    return response.status_code == 302 and response["Location"] == "/" and client.get(
        "/"
    ).status_code == 200, client


def order_elimination_exit(
    case: object, by: object, today: dt.date, plan: str = "seal_then_dismantle"
) -> object:
    """A person of the competent department orders elimination-class equipment out, on the record."""
    from phaseout.cases import actions
    from phaseout.cases.models import Case
    from phaseout.rules.exit_plans import ExitPlan

    assert isinstance(case, Case)
    return actions.order_exit(case=case, plan=ExitPlan(plan), by=by, reason="淘汰类装备立即淘汰", today=today)


def close_by_government(
    case: object, dept: Person, office: Person, today: dt.date, *, propose: bool = True
) -> object:
    """An overdue case's closure: the department proposes it, the office records the government's approval."""
    from phaseout.cases import actions
    from phaseout.cases.models import Case
    from phaseout.rules.exit_plans import ExitPlan

    assert isinstance(case, Case)
    if propose:
        case = actions.propose_closure(case=case, by=dept.user, reason="逾期仍未达标，情节严重", today=today)
    return actions.approve_closure(
        case=case,
        by=office.user,
        plan=ExitPlan.SEAL_THEN_DISMANTLE,
        approval_body="江门市人民政府",
        approval_number="江府函〔2026〕1号",
        approval_date=today,
        today=today,
    )


def approve_plan(plan: Any, office: Person) -> Any:
    """The city government's approval of a confirmed plan, recorded by the office (the plan is then in
    force: its submissions are handed in and swept)."""
    from django.utils import timezone

    from phaseout.plans import actions as plan_actions

    return plan_actions.approve_plan(
        plan=plan,
        body="江门市人民政府",
        doc_number="江府函〔2021〕1号",
        approved_on=timezone.localdate(),
        by=office.user,
    )
