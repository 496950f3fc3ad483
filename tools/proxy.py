"""A small reverse proxy on loopback for the topology test and the load test (tools/topology.py).

nginx is what deploy/nginx/phaseout.conf puts in front of the app servers; it is not installed on the
development machine, so the topology is proven behind this stand-in, which does what that configuration
asks of nginx where it matters for the topology (TLS and static files aside):

- round robin over the upstreams (`upstream phaseout { server ...; server ...; }`);
- `X-Forwarded-For` set to the client's address, overwriting what the client sent
  (`proxy_set_header X-Forwarded-For $remote_addr`); Host passed through;
- a request goes to the next upstream when the first refused the connection (nothing was sent: safe for
  any method), and, for an idempotent method (GET, HEAD, OPTIONS), also when the upstream closed the
  connection before the first byte of its response (`proxy_next_upstream error timeout`, which nginx does
  not apply to POST once sent: `non_idempotent` is off). A POST in flight on a server that dies is
  answered 502: the one failed request the topology test allows;
- an upstream that failed is skipped for FAIL_SECONDS (`max_fails=1 fail_timeout=...`);
- a request head over 64 KiB, or a body over --max-body bytes, is refused (413), a chunked request body
  too (411: the platform's forms and API send a length).

One request per client connection (the answer says `Connection: close`), the request sent upstream as
HTTP/1.0 so the upstream closes when its answer is complete: the proxy copies bytes and parses no
response. Each retry and failure is written to stderr as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time

IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}
HEAD_LIMIT = 64 * 1024
FAIL_SECONDS = 2.0
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 130.0  # deploy/nginx: proxy_read_timeout 130 s, above gunicorn's 120 s
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"upgrade",
    b"x-forwarded-for",
}


def note(event: str, **fields: object) -> None:
    print(json.dumps({"t": round(time.time(), 3), "event": event, **fields}), file=sys.stderr, flush=True)


class Proxy:
    def __init__(self, upstreams: list[tuple[str, int]], max_body: int) -> None:
        self.upstreams = upstreams
        self.turn = itertools.cycle(range(len(upstreams)))
        self.failed_at = [0.0] * len(upstreams)
        self.max_body = max_body

    def order(self) -> list[int]:
        """The upstreams to try, this turn's first, those that failed lately last."""
        first = next(self.turn)
        ring = [(first + i) % len(self.upstreams) for i in range(len(self.upstreams))]
        now = time.monotonic()
        return sorted(ring, key=lambda i: now - self.failed_at[i] < FAIL_SECONDS)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        if len(head) > HEAD_LIMIT:
            await self._answer(writer, 431, "Request Header Fields Too Large")
            return
        request_line, *header_lines = head[:-4].split(b"\r\n")
        method, target, _version = request_line.split(b" ", 2)
        headers: list[tuple[bytes, bytes]] = []
        length = 0
        for line in header_lines:
            name, _, value = line.partition(b":")
            name, value = name.strip(), value.strip()
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            if lowered == b"transfer-encoding":
                await self._answer(writer, 411, "Length Required")
                return
            if lowered not in HOP_BY_HOP:
                headers.append((name, value))
        if length > self.max_body:
            await self._answer(writer, 413, "Request Entity Too Large")
            return
        body = await asyncio.wait_for(reader.readexactly(length), 120) if length else b""
        peer = writer.get_extra_info("peername")
        client = peer[0] if peer else "127.0.0.1"
        upstream_head = b"".join(
            [
                method + b" " + target + b" HTTP/1.0\r\n",
                *(name + b": " + value + b"\r\n" for name, value in headers),
                b"X-Forwarded-For: " + client.encode() + b"\r\n",
                b"Connection: close\r\n\r\n",
            ]
        )
        verb = method.decode("latin-1")
        for attempt, index in enumerate(self.order()):
            host, port = self.upstreams[index]
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError) as exc:
                self.failed_at[index] = time.monotonic()
                note(
                    "connect-failed",
                    upstream=port,
                    method=verb,
                    path=target.decode("latin-1"),
                    error=str(exc),
                )
                continue  # nothing was sent: any method may go to the next
            try:
                up_writer.write(upstream_head + body)
                await up_writer.drain()
                first = await asyncio.wait_for(up_reader.read(65536), READ_TIMEOUT)
                if not first:
                    raise ConnectionResetError("closed before answering")
            except (OSError, TimeoutError) as exc:
                self.failed_at[index] = time.monotonic()
                up_writer.close()
                retry = verb in IDEMPOTENT
                note(
                    "upstream-failed",
                    upstream=port,
                    method=verb,
                    path=target.decode("latin-1"),
                    error=str(exc) or type(exc).__name__,
                    retried=retry,
                    attempt=attempt,
                )
                if retry:
                    continue
                await self._answer(writer, 502, "Bad Gateway")
                return
            writer.write(first)
            try:
                while chunk := await asyncio.wait_for(up_reader.read(65536), READ_TIMEOUT):
                    writer.write(chunk)
                    await writer.drain()
                await writer.drain()
            finally:
                up_writer.close()
            return
        note("no-upstream", method=verb, path=target.decode("latin-1"))
        await self._answer(writer, 502, "Bad Gateway")

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
        body = f"{status} {reason}\n".encode()
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise argparse.ArgumentTypeError("loopback only")
    return host, int(port)


async def serve(listen: tuple[str, int], upstreams: list[tuple[str, int]], max_body: int) -> None:
    proxy = Proxy(upstreams, max_body)
    server = await asyncio.start_server(proxy.handle, *listen, limit=HEAD_LIMIT + 1, backlog=1024)
    note("listening", port=listen[1], upstreams=[p for _, p in upstreams])
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--upstream", type=_address, action="append", required=True)
    parser.add_argument("--max-body", type=int, default=51 * 1024 * 1024)  # nginx's client_max_body_size 51m
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.upstream, args.max_body))


if __name__ == "__main__":
    main()
