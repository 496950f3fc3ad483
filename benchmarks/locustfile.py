"""The load test's people (issue 18, part 4): run by benchmarks/bench_load.py (`make load`) against the
topology of tools/topology.py, through its proxy, on loopback only.

Five kinds of people, in the proportions a city's campaign has them:

- the coordination office: home page, the case list filtered, case pages, the exit ledger and its .xlsx
  export, aggregates, the enterprise register searched, the public lists' administration;
- the energy department: home page, the proposals queue, the case list filtered by state, case pages,
  and decisions — ordering rectification of a case waiting in `finding`, verifying a rectification,
  closing a compliant case (each a POST through the case page, as the officer clicks it);
- a county government: home page, its cases, the charts, case pages;
- an enterprise: home page, messages;
- the public: the portal, the published lists searched, a list's CSV export, the tip-off form, and now and
  then a tip-off (each public person from an address of their own on 127.0.0.0/8: the portal allows
  PUBLIC_POSTS_PER_HOUR posts per address).

Each signed-in person has an account of their own (tools/topology_seed.py's `t-office-N` ...) and signs in
with the password and the TOTP code on start; bench_load.py resets the figures once every person is in
(`--reset-stats`), so the sign-ins (PBKDF2 at production cost) are not counted among the pages.

LOAD_DATA names a JSON file: {"cases": {username: [the ids of the cases that person may open]},
"findings": [cases waiting for a decision]}.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import sys
from collections import deque
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.topology_client import VERSION, sign_in

DATA = json.loads(Path(os.environ.get("LOAD_DATA", "benchmarks/out/load-data.json")).read_text())
CASES: dict[str, list[int]] = DATA["cases"]
TODAY = re.compile(r'name="issued_on" value="(\d{4}-\d{2}-\d{2})"')
STATES = ["finding", "rectifying", "overdue", "exit_ordered", "closed", "archived"]
DIMENSIONS = ["energy", "environment", "quality", "safety", "technology"]
LISTS = ["yellow", "red", "exited", "sealed", "energy", "licences"]

# Work waiting for a decision, shared by the department's officers: (case, step). A step taken hands the
# case on to the next one (rectification ordered, then verified, then closed).
WORK: deque[tuple[int, str]] = deque((pk, "order_rectification") for pk in DATA["findings"])
NEXT = {"order_rectification": "verify_rectified", "verify_rectified": "close_compliant"}
FORMS: dict[str, dict[str, str]] = {
    "order_rectification": {"reason": "能耗超过限额标准，责令限期整改"},
    "verify_rectified": {"passed": "yes", "reason": "整改期满复测达标"},
    "close_compliant": {"reason": "整改达标，结案"},
}
_numbers: dict[str, itertools.count[int]] = {}
_addresses = itertools.count(2)


class SignedIn(HttpUser):
    abstract = True
    role = ""
    wait_time = between(1, 5)

    def on_start(self) -> None:
        number = next(_numbers.setdefault(self.role, itertools.count(1)))
        self.username = f"t-{self.role}-{number}"
        sign_in(self._get, self._post, self.username)

    def _get(self, path: str, name: str | None = None) -> Any:
        return self.client.get(path, allow_redirects=False, name=name)

    def _post(self, path: str, data: dict[str, Any], name: str | None = None) -> Any:
        data = {**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        return self.client.post(path, data=data, allow_redirects=False, name=name)

    def page(self, path: str, name: str) -> Any:
        with self.client.get(path, allow_redirects=False, name=name, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")
            return answer

    def case_page(self) -> Any:
        """One of the cases this person may open (as the lists they read offer them)."""
        mine = CASES.get(self.username) or []
        if mine:
            self.page(f"/cases/{random.choice(mine)}/", "/cases/[id]/")


class Office(SignedIn):
    role = "office"
    weight = 2

    @task(3)
    def home(self) -> None:
        self.page("/", "home (office)")

    @task(3)
    def cases(self) -> None:
        state, dimension = random.choice(STATES), random.choice(DIMENSIONS)
        self.page(f"/cases/?state={state}&dimension={dimension}", "/cases/?state&dimension")

    @task(3)
    def case(self) -> None:
        self.case_page()

    @task(2)
    def ledger(self) -> None:
        self.page("/reports/ledger/", "/reports/ledger/")

    @task(1)
    def ledger_export(self) -> None:
        self.page("/reports/ledger/?format=xlsx", "export: ledger .xlsx")

    @task(1)
    def cases_export(self) -> None:
        self.page(f"/cases/?state={random.choice(STATES)}&format=xlsx", "export: cases .xlsx")

    @task(1)
    def aggregates(self) -> None:
        self.page("/reports/aggregates/", "/reports/aggregates/")

    @task(2)
    def register(self) -> None:
        self.page(f"/enterprises/?q={random.choice(['钢铁', '水泥', '有限公司', '江门'])}", "/enterprises/?q")

    @task(1)
    def lists(self) -> None:
        self.page("/lists/", "/lists/")


class Department(SignedIn):
    role = "dept"
    weight = 5

    @task(3)
    def home(self) -> None:
        self.page("/", "home (department)")

    @task(2)
    def proposals(self) -> None:
        self.page("/cases/proposals/", "/cases/proposals/")

    @task(3)
    def cases(self) -> None:
        self.page(f"/cases/?state={random.choice(STATES)}", "/cases/?state")

    @task(3)
    def case(self) -> None:
        self.case_page()

    @task(3)
    def decide(self) -> None:
        """Take the next decision waiting: from the case page, as the officer does."""
        if not WORK:
            return
        pk, step = WORK.popleft()
        page = self.page(f"/cases/{pk}/", "/cases/[id]/")
        version, today = VERSION.search(page.text or ""), TODAY.search(page.text or "")
        if version is None:
            return  # nothing to decide any more (another officer took the step)
        form = {**FORMS[step], "version": version.group(1)}
        if today:
            form.update(issued_on=today.group(1), served_on=today.group(1))
        data = {**form, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        with self.client.post(
            f"/cases/{pk}/act/{step}/",
            data=data,
            allow_redirects=False,
            name=f"decision: {step}",
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"{answer.status_code}")
                return
        if step in NEXT:
            WORK.append((pk, NEXT[step]))


class District(SignedIn):
    role = "district"
    weight = 4

    @task(3)
    def home(self) -> None:
        self.page("/", "home (district)")

    @task(3)
    def cases(self) -> None:
        self.page(f"/cases/?state={random.choice(STATES)}", "/cases/?state")

    @task(2)
    def case(self) -> None:
        self.case_page()

    @task(1)
    def charts(self) -> None:
        self.page("/reports/charts/", "/reports/charts/")


class Enterprise(SignedIn):
    role = "enterprise"
    weight = 2

    @task(3)
    def home(self) -> None:
        self.page("/", "home (enterprise)")

    @task(1)
    def messages(self) -> None:
        self.page("/messages/", "/messages/")


class SourceAddress(HTTPAdapter):
    """Connections from one address of 127.0.0.0/8: each public person is a different visitor."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Public(HttpUser):
    weight = 4
    wait_time = between(3, 8)

    def on_start(self) -> None:
        n = next(_addresses)
        self.client.mount("http://", SourceAddress(f"127.0.{n // 250}.{n % 250 + 2}"))

    def page(self, path: str, name: str) -> Any:
        with self.client.get(path, allow_redirects=False, name=name, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")

    @task(5)
    def portal(self) -> None:
        self.page("/public/", "/public/")

    @task(5)
    def a_list(self) -> None:
        self.page(f"/public/{random.choice(LISTS)}/", "/public/[list]/")

    @task(2)
    def search(self) -> None:
        self.page(
            f"/public/{random.choice(LISTS)}/?q={random.choice(['钢铁', '水泥', '江门'])}",
            "/public/[list]/?q",
        )

    @task(2)
    def export(self) -> None:
        self.page(f"/public/{random.choice(LISTS)}.csv", "export: public list .csv")

    @task(1)
    def tipoff_form(self) -> None:
        self.page("/public/tipoff/", "/public/tipoff/")

    @task(1)
    def tipoff(self) -> None:
        data = {
            "text": "某厂夜间仍在使用已列入淘汰类的中频炉生产，噪声和烟尘很大。",
            "enterprise_name": "江门市某铸造厂",
            "website": "",
        }
        with self.client.post(
            "/public/tipoff/", data=data, allow_redirects=False, name="tip-off (POST)", catch_response=True
        ) as answer:
            if answer.status_code != 201:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
