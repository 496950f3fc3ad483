"""A person at a browser, for the topology and load tests: signs in through the login page and the second
factor (the TOTP code their authenticator app would show), keeps the session and CSRF cookies, posts
forms with the CSRF token, and records every response (tests/test_topology.py counts the failed ones).

Needs no Django: it speaks HTTP to the proxy, like a browser. The accounts are those of
tools/topology_seed.py (their TOTP keys by `phaseout.demo_keys.demo_totp_key`). The TOTP code is taken
from the real clock, which the servers read too."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from phaseout.demo_keys import demo_totp_key, totp_code

PASSWORD = "Topology-load-2026"  # noqa: S105 (tools/topology_seed.py's test accounts)
VERSION = re.compile(r'name="version" value="(\d+)"')


def sign_in(get: Any, post: Any, username: str) -> None:
    """The login page and the password; the home page sends a person without a second factor to its page,
    where the code goes: then the home page. `get(path)` and `post(path, data)` are a browser's (post adds
    the CSRF token)."""
    get("/accounts/login/")
    answer = post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert answer.status_code == 302, (username, answer.status_code, answer.text[:500])
    factor = answer.headers["Location"]
    if not factor.startswith("/accounts/second-factor/"):
        answer = get(factor)
        assert answer.status_code == 302, (username, factor, answer.status_code)
        factor = answer.headers["Location"]
    assert factor.startswith("/accounts/second-factor/"), factor
    get(factor)
    answer = post(factor, {"token": totp_code(demo_totp_key(username), time.time())})
    assert answer.status_code == 302 and answer.headers["Location"] == "/", (
        username,
        answer.status_code,
        answer.text[:500],
    )


@dataclass
class Record:
    at: float
    method: str
    path: str
    status: int  # 0: no answer at all (connection refused, reset)
    error: str = ""


@dataclass
class Journal:
    """Every response any person got, shared by threads."""

    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def failed(self) -> list[Record]:
        """Answers no person should get: no answer, a server error, a bad gateway."""
        with self.lock:
            return [r for r in self.records if r.status == 0 or r.status >= 500]


class Person:
    def __init__(self, base: str, username: str | None = None, journal: Journal | None = None) -> None:
        self.base = base.rstrip("/")
        self.username = username
        self.journal = journal if journal is not None else Journal()
        self.http = requests.Session()
        self.http.headers["User-Agent"] = f"phaseout-topology ({username or 'public'})"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 120)
        if method == "POST":
            data = dict(kwargs.pop("data", None) or {})
            data.setdefault("csrfmiddlewaretoken", self.http.cookies.get("csrftoken", ""))
            kwargs["data"] = data
        try:
            response = self.http.request(method, self.base + path, **kwargs)
        except requests.RequestException as exc:
            self.journal.add(Record(time.time(), method, path, 0, type(exc).__name__))
            raise
        self.journal.add(Record(time.time(), method, path, response.status_code))
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, data=data, **kwargs)

    def sign_in(self) -> None:
        assert self.username is not None
        sign_in(self.get, self.post, self.username)

    def case_version(self, case_id: int) -> int:
        page = self.get(f"/cases/{case_id}/")
        assert page.status_code == 200, page.status_code
        found = VERSION.search(page.text)
        assert found, f"case {case_id}: no step offered to {self.username}"
        return int(found.group(1))

    def act(self, case_id: int, action: str, form: dict[str, Any]) -> requests.Response:
        """One step of a case from its page, as the person clicks it (the page gives the case's version)."""
        version = self.case_version(case_id)
        return self.post(f"/cases/{case_id}/act/{action}/", {**form, "version": version})
