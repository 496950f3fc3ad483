"""The production topology, started for real and used through its proxy while parts of it are killed
(issue 18, part 3; tools/topology.py starts it, ADR 24 says why so).

A PostgreSQL primary with a streaming replica made by `pg_basebackup -R`, two gunicorn app servers
(deploy/gunicorn.conf.py) behind the loopback proxy (tools/proxy.py, standing in for nginx), a Celery
worker and Celery beat on Redis (database 14 by default: TOPOLOGY_REDIS_URL), all on production settings.
People sign in through the proxy with a password and a TOTP code and, while the app servers keep
answering other people's page requests:

- a case is walked along the energy path by the department and the office — and one app server is
  killed with SIGKILL half-way, then started again;
- a 12,000-row register is uploaded, checked on the worker, accepted, and the worker is killed with
  SIGKILL while it imports (after its first chunk is written); the broker hands the task out again
  (acks late, visibility timeout) and the import finishes once;
- the sweep runs as a Celery task (twice, and beat queues it too) and marks the overdue cases once;
- the yellow-card list is drafted, approved and published, and the public portal shows it.

Then: no person got a failed answer but the one request that may have been in flight on the killed app
server; every record is there once (case events and audit rows per step, enterprises per USCC, the import's
audit entries, the sweep's events); the pages that read stale go to the replica (its statement log says
so) and `doctor` finds the database, replica, broker, worker and beat well.

The servers read the real clock (TOTP codes, today's date for the seeded cases); the test takes dates
from the pages the servers render, and reads no clock but the TOTP code's.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PNG, is_ci
from tools.topology import Topology
from tools.topology_client import VERSION, Journal, Person

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROWS = 12_000  # the register: a first chunk of 5,000 rows, then 7,000 (importer.FIRST_CHUNK, CHUNK)
FIRST_USCC = 2_000_000


def _uscc(n: int) -> str:
    from stdnum.cn import uscc

    body = f"91440700MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def _register() -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["统一社会信用代码", "企业名称", "所属区县", "行业", "地址", "联系人", "联系电话"])
    counties = ["440703", "440704", "440705", "440781", "440783", "440784", "440785"]
    for i in range(ROWS):
        n = FIRST_USCC + i
        sheet.append(
            [_uscc(n), f"拓扑测试{n}有限公司", counties[i % 7], "钢铁", f"工业路{i}号", "陈工", f"139{n:08d}"]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    if os.geteuid() != 0 and not is_ci():
        pytest.skip("the topology runs PostgreSQL clusters as the postgres user: run as root (CI does)")
    topo = Topology(
        durable=False,
        visibility_timeout=15,
        sweep_seconds=30,
        replica_log_statements=True,
        # The chunked import (each chunk committed) is the one a kill can stop half-way; the bulk load of
        # a large file into a small registry is one transaction, which a kill undoes whole.
        extra_env={"REGISTER_BULK_LOAD_MIN_ROWS": str(10**9)},
    )
    try:
        topo.start(seed=["accounts", "people=4", "findings=2", "overdue=2"])
        yield topo
    finally:
        print("topology timings (s):", json.dumps({k: round(v, 1) for k, v in topo.timings.items()}))
        print(f"primary: {topo.primary_kind} ({topo.why_own_primary or 'the machine server'})")
        if os.environ.get("TOPOLOGY_SHOW_LOGS"):
            print(topo.tail_logs(40))
        topo.stop()
    assert not Path(topo.base).exists()  # every data directory removed


class Traffic:
    """People reading pages through the proxy all along: what the other users of the city do."""

    PAGES = {
        "t-office-2": ["/", "/cases/", "/enterprises/?q=有限公司", "/reports/ledger/"],
        "t-dept-2": ["/", "/cases/?state=finding", "/cases/proposals/", "/reports/aggregates/"],
        "t-district-2": ["/", "/cases/", "/reports/charts/"],
        None: ["/public/", "/public/yellow/", "/public/tipoff/"],
    }

    def __init__(self, base: str, journal: Journal) -> None:
        self.people = [Person(base, name, journal) for name in self.PAGES]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p,), daemon=True) for p in self.people]
        self.served = 0

    def start(self) -> None:
        for person in self.people:
            if person.username:
                person.sign_in()
        for thread in self.threads:
            thread.start()

    def _run(self, person: Person) -> None:
        pages = self.PAGES[person.username]
        n = 0
        while not self.stop.is_set():
            page = pages[n % len(pages)]
            n += 1
            try:
                answer = person.get(page)
            except Exception:  # recorded in the journal (status 0)
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                self.served += 1
            time.sleep(0.3)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=150)


def _today(person: Person, case_id: int) -> str:
    """The servers' today, as the case page fills it into a decision's date."""
    page = person.get(f"/cases/{case_id}/").text
    found = re.search(r'name="issued_on" value="(\d{4}-\d{2}-\d{2})"', page)
    assert found, "the case page offers no dated decision"
    return found.group(1)


def _step(person: Person, topo: Topology, case_id: int, action: str, form: dict[str, Any]) -> None:
    """One step as a person takes it: when the answer is lost (the server died under the request), the
    person looks at the case again and takes the step again only if it was not taken."""
    before = _state(topo, case_id)
    try:
        answer = person.act(case_id, action, form)
        status = answer.status_code
    except Exception:
        status = 0
    if status in (0, 502):
        if _state(topo, case_id) == before:
            answer = person.act(case_id, action, form)
            status = answer.status_code
    else:
        refusal = re.search(r'<ul class="messages">(.*?)</ul>', answer.text, re.S)
        assert status == 302, (action, status, refusal.group(1) if refusal else answer.text[:3000])
    assert _state(topo, case_id) != before, (action, before)


def _state(topo: Topology, case_id: int) -> str:
    return str(topo.sql("SELECT state FROM cases_case WHERE id = %s", [case_id])[0][0])


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_the_topology_survives_an_app_server_and_the_worker_killed_mid_task(topology: Topology) -> None:
    topo = topology
    journal = Journal()
    office = Person(topo.url, "t-office-1", journal)
    dept = Person(topo.url, "t-dept-1", journal)
    reader = Person(topo.url, "t-district-3", journal)  # writes nothing: reads stale pages from the replica
    for person in (office, dept, reader):
        person.sign_in()
    traffic = Traffic(topo.url, journal)
    traffic.start()
    walked, yellow = topo.seeded["findings"]
    today = _today(dept, walked)
    decision = {"issued_on": today, "served_on": today, "reason": "能耗超过限额标准"}

    # -- a case along the energy path; one app server killed and restarted half-way -----------------------
    _step(dept, topo, walked, "order_rectification", decision)
    _step(dept, topo, yellow, "order_rectification", decision)  # stays rectifying: the yellow-card list
    killed_at = time.time()
    topo.kill(f"app-{topo.ports.apps[0]}")
    restart = threading.Thread(target=topo.restart, args=(f"app-{topo.ports.apps[0]}",))
    restart.start()
    _step(dept, topo, walked, "verify_rectified", {"passed": "no", "reason": "期满复测仍超标"})
    _step(dept, topo, walked, "propose_closure", {"issued_on": today, "reason": "逾期仍未达标，情节严重"})
    _step(
        office,
        topo,
        walked,
        "approve_closure",
        {
            "approved": "yes",
            "approval_body": "江门市人民政府",
            "approval_number": "江府函〔2026〕88号",
            "approval_date": today,
            "served_on": today,
            "plan": "close_enterprise",
            "reason": "同意关闭",
            "confirm": "on",
        },
    )
    restart.join(timeout=120)
    restarted_at = time.time()
    assert topo.processes[f"app-{topo.ports.apps[0]}"].alive
    # The county's measures (seal, cut power and water, dismantle ...) done on one visit, with a photograph.
    page = office.get(f"/cases/{walked}/").text
    measures = re.findall(r'name="measures" value="(\d+)"', page)
    assert measures, "the closure ordered no exit measure"
    done = office.post(
        f"/cases/{walked}/measures/done/",
        {
            "measures": measures,
            "version": VERSION.search(page).group(1),  # type: ignore[union-attr]
            "done_on": today,
            "notice": "已提前书面通知企业，于实施前二十四小时送达",
            "note": "现场落实，拍照留存",
        },
        files={"attachments": ("现场照片.png", PNG, "image/png")},
    )
    assert done.status_code == 302
    open_measures = topo.sql(
        "SELECT count(*) FROM cases_exitmeasure WHERE case_id = %s AND done_on IS NULL", [walked]
    )
    assert open_measures == [(0,)], office.get(f"/cases/{walked}/").text[-3000:]
    _step(office, topo, walked, "confirm_exit", {"reason": "已关闭退出"})
    _step(
        dept,
        topo,
        walked,
        "accept",
        {"accepted_on": today, "team": "验收组", "record_text": "设备已拆除，验收合格"},
    )
    _step(office, topo, walked, "archive", {"reason": "归档", "confirm": "on"})
    assert _state(topo, walked) == "archived"

    # -- a register imported; the worker killed while it writes -------------------------------------------
    upload = office.post(
        "/enterprises/import/",
        files={
            "file": (
                "登记簿.xlsx",
                _register(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        },
    )
    assert upload.status_code == 302, upload.text[:2000]
    batch = int(upload.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    status = lambda: topo.sql(  # noqa: E731
        "SELECT status, processed_rows, valid_rows FROM registry_importbatch WHERE id = %s", [batch]
    )[0]
    _wait("the worker checks the register", lambda: status()[0] == "preview", 120)
    assert status()[2] == ROWS
    accepted = office.post(f"/enterprises/import/{batch}/accept/")
    assert accepted.status_code == 302
    _wait("the worker writes the first chunk", lambda: status()[0] == "running" and status()[1] > 0, 120)
    topo.kill("worker")  # SIGKILL to the worker's whole process group, mid-import
    at_kill = status()
    assert at_kill[0] == "running" and 0 < at_kill[1] < ROWS, at_kill  # really mid-task
    topo.restart("worker")
    _wait("the import, handed out again, finishes", lambda: status()[0] == "done", 150)

    # -- the sweep as a Celery task, twice (beat queues it as well) ---------------------------------------
    from celery import Celery

    sender = Celery("topology-test", broker=topo.env()["CELERY_BROKER_URL"])
    overdue = topo.seeded["overdue"]
    sent = [sender.send_task("phaseout.cases.tasks.sweep_deadlines") for _ in range(2)]
    _wait(
        "the sweep marks the overdue cases",
        lambda: all(_state(topo, pk) == "overdue" for pk in overdue),
        120,
    )
    worker_log = topo.processes["worker"].log
    _wait(
        "both sweeps finish",
        lambda: all(f"sweep_deadlines[{s.id}] succeeded" in worker_log.read_text() for s in sent),
        120,
    )

    # -- the yellow-card list published; the portal shows it ---------------------------------------------
    draft = office.post("/lists/draft/", {"kind": "yellow"})
    assert draft.status_code == 302, draft.text[:2000]
    snapshot = int(draft.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert office.post(f"/lists/{snapshot}/entries/", {"decision": "approve_undecided"}).status_code == 302
    assert office.post(f"/lists/{snapshot}/approve/").status_code == 302
    assert office.post(f"/lists/{snapshot}/publish/", {"confirm": "on"}).status_code == 302
    name = str(
        topo.sql(
            "SELECT e.name FROM registry_enterprise e JOIN cases_case c ON c.enterprise_id = e.id"
            " WHERE c.id = %s",
            [yellow],
        )[0][0]
    )
    _wait("the portal shows the published list", lambda: name in reader.get("/public/yellow/").text, 30)

    # -- stale reads go to the replica --------------------------------------------------------------------
    logged = topo.replica_statements()
    for _ in range(3):
        assert reader.get("/reports/ledger/").status_code == 200
    _wait(
        "the ledger's queries reach the replica",
        lambda: topo.replica_statements() - logged >= 3,
        10,
    )

    traffic.finish()

    # -- no failed request but the one in flight ---------------------------------------------------------
    failed = journal.failed()
    assert len(failed) <= 1, failed
    for record in failed:
        assert killed_at - 1 <= record.at <= restarted_at + 1, record
    assert traffic.served > 50
    proxy_log = [json.loads(line) for line in topo.processes["proxy"].log.read_text().splitlines() if line]
    noticed = [e for e in proxy_log if e["event"] in ("connect-failed", "upstream-failed")]
    assert noticed, "the proxy never met the killed server"
    assert {e["upstream"] for e in noticed} == {topo.ports.apps[0]}

    # -- every record once --------------------------------------------------------------------------------
    events = Counter(
        a for (a,) in topo.sql("SELECT action FROM cases_caseevent WHERE case_id = %s", [walked])
    )
    audit = Counter(
        a
        for (a,) in topo.sql(
            "SELECT action FROM audit_auditevent WHERE object_type = 'cases.case' AND object_id = %s",
            [str(walked)],
        )
    )
    steps = [
        "order_rectification",
        "verify_still_failing",
        "propose_closure",
        "approve_closure",
        "confirm_exit",
    ]
    for action in steps:
        assert events[action] == 1, (action, events)
        assert audit[f"case.{action}"] == 1, (action, audit)
    rows = topo.sql(
        "SELECT count(*), count(DISTINCT uscc) FROM registry_enterprise WHERE name LIKE '拓扑测试%%'"
    )[0]
    assert rows == (ROWS, ROWS)
    done = topo.sql("SELECT status, processed_rows FROM registry_importbatch WHERE id = %s", [batch])[0]
    assert done == ("done", ROWS)
    imported = Counter(
        a
        for (a,) in topo.sql(
            "SELECT action FROM audit_auditevent"
            " WHERE object_type = 'registry.importbatch' AND object_id = %s",
            [str(batch)],
        )
    )
    assert imported == {"import.upload": 1, "import.preview": 1, "import.accept": 1, "import.done": 1}
    assert worker_log.read_text().count("registry.tasks.run_import[") >= 2  # received again after the kill
    for pk in overdue:
        marked = topo.sql(
            "SELECT count(*) FROM cases_caseevent WHERE case_id = %s AND action = 'mark_overdue'", [pk]
        )
        assert marked == [(1,)]
    published = topo.sql(
        "SELECT count(*) FROM disclosure_snapshot WHERE kind = 'yellow' AND status = 'published'"
    )
    assert published == [(1,)]

    # -- doctor: the installation is well ----------------------------------------------------------------
    findings = json.loads(topo.run_python("-c", DOCTOR).strip().splitlines()[-1])
    by_name = {f["name"]: f for f in findings}
    for name in ("数据库", "备库", "消息队列（Redis）", "Celery worker", "定时任务（beat）"):
        assert by_name[name]["ok"], by_name[name]


DOCTOR = """
import json, django
django.setup()
from phaseout.operations import doctor
findings = doctor.run(worker_timeout=10)
rows = [{"name": str(f.name), "ok": f.ok, "message": str(f.message)} for f in findings]
print(json.dumps(rows, ensure_ascii=False))
"""
