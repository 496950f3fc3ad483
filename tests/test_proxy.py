"""The loopback proxy that stands in for nginx in the topology and load tests (tools/proxy.py, ADR 24):
round robin, X-Forwarded-For overwritten, a refused connection retried for any method, a request the
server dropped retried only when it is idempotent."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PROXY, UP_A, UP_B = 8145, 8146, 8147  # within this worktree's ports; the topology uses 8140-8142


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, *, drop: bool = False) -> None:
        self.port, self.drop = port, drop
        self.seen: list[tuple[str, str, str | None, bytes]] = []
        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, self.headers.get("X-Forwarded-For"), body))
        if self.server.drop:  # dies under the request: the connection closes before any answer
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        text = f"{self.server.port}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "proxy.py"), "--listen", f"127.0.0.1:{PROXY}",
         "--upstream", f"127.0.0.1:{UP_A}", "--upstream", f"127.0.0.1:{UP_B}"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", PROXY), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _servers(drop_a: bool = False, b: bool = True) -> list[Upstream]:
    servers = [Upstream(UP_A, drop=drop_a)]
    if b:
        servers.append(Upstream(UP_B))
    return servers


def _close(servers: list[Upstream]) -> None:
    for server in servers:
        server.shutdown()
        server.server_close()


def test_turns_between_the_servers_and_sets_the_forwarded_address_itself(proxy: object) -> None:
    servers = _servers()
    try:
        answers = [
            requests.get(
                f"http://127.0.0.1:{PROXY}/p", headers={"X-Forwarded-For": "6.6.6.6"}, timeout=10
            ).text
            for _ in range(4)
        ]
    finally:
        _close(servers)
    assert sorted(answers) == [str(UP_A), str(UP_A), str(UP_B), str(UP_B)]
    # The client's own header is replaced, not appended to: the application sees loopback only.
    assert {s[2] for server in servers for s in server.seen} == {"127.0.0.1"}


def test_a_server_that_refuses_the_connection_is_passed_over_for_any_method(proxy: object) -> None:
    servers = _servers(b=False)  # B is down: nothing listens on its port
    try:
        answers = [
            requests.post(f"http://127.0.0.1:{PROXY}/form", data={"n": str(n)}, timeout=10) for n in range(4)
        ]
    finally:
        _close(servers)
    assert [a.status_code for a in answers] == [200] * 4
    assert [s[3] for s in servers[0].seen] == [b"n=0", b"n=1", b"n=2", b"n=3"]  # every POST, once


def test_a_request_the_server_dropped_is_sent_again_only_when_idempotent(proxy: object) -> None:
    servers = _servers(drop_a=True)  # A dies under every request it takes
    try:
        gets = [requests.get(f"http://127.0.0.1:{PROXY}/page/{n}", timeout=10) for n in range(4)]
        posts = []
        for n in range(4):
            time.sleep(2.1)  # past the time a failed server is passed over: A gets its turn again
            posts.append(requests.post(f"http://127.0.0.1:{PROXY}/act/{n}", data={"n": n}, timeout=10))
    finally:
        _close(servers)
    dropped, answered = servers
    assert [g.status_code for g in gets] == [200] * 4 and {g.text for g in gets} == {str(UP_B)}
    a_posts = {s[1] for s in dropped.seen if s[0] == "POST"}
    b_posts = {s[1] for s in answered.seen if s[0] == "POST"}
    assert a_posts and b_posts  # each took its turn
    assert not a_posts & b_posts  # a POST the server may have acted on is never sent twice
    for n, post in enumerate(posts):
        assert post.status_code == (502 if f"/act/{n}" in a_posts else 200)
