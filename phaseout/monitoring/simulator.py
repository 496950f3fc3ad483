"""Simulated data loggers: real HJ 212 packets from monitoring points, for the demo and the benchmarks.

Each logger has a profile: "normal" (values well under the limits), "exceeding" (SO2 and particulate
over them for some hours), "offline" (stops sending half-way through the window), "exited" (an exited
line still emitting). Values are deterministic for a seed."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from phaseout.monitoring import hj212

GAS = {"a21026": 20.0, "a21002": 60.0, "a34013": 5.0, "a19001": 12.0, "a00000": 80.0}
WATER = {"w01018": 30.0, "w21003": 2.0, "w01001": 7.2, "w00000": 15.0}


@dataclass(frozen=True)
class Logger:
    mn: str
    password: str
    kind: str = "gas"  # or "water"
    profile: str = "normal"  # exceeding, offline, exited


def readings(
    logger: Logger, moment: dt.datetime, rng: random.Random, *, field: str
) -> dict[str, dict[str, object]]:
    base = GAS if logger.kind == "gas" else WATER
    values: dict[str, dict[str, object]] = {}
    for code, level in base.items():
        value = level * rng.uniform(0.7, 1.3)
        if logger.profile == "exceeding" and code in ("a21026", "a34013", "w01018") and moment.hour % 6 < 3:
            value *= 12
        fields: dict[str, object] = {field: round(value, 4)}
        if field == "Avg":
            fields = {"Min": round(value * 0.8, 4), "Avg": round(value, 4), "Max": round(value * 1.2, 4)}
        if code.startswith("a") and code not in ("a19001", "a00000"):
            fields["Zs" + field] = round(value * 1.1, 4)
        fields["Flag"] = "N" if rng.random() > 0.01 else "C"
        values[code] = fields
    return values


def packets(
    logger: Logger, *, start: dt.datetime, hours: int, minute_step: int = 10, seed: int = 0, ack: bool = True
) -> Iterator[bytes]:
    """Minute data every `minute_step` minutes and hourly data each hour over the window (local times)."""
    rng = random.Random(f"{logger.mn}:{seed}")
    st = "31" if logger.kind == "gas" else "32"
    end = start + dt.timedelta(hours=hours)
    if logger.profile == "offline":
        end = start + dt.timedelta(hours=max(1, hours // 2))
    moment = start
    while moment < end:
        moment += dt.timedelta(minutes=minute_step)
        sent = moment + dt.timedelta(seconds=5)
        yield hj212.data_packet(
            mn=logger.mn, pw=logger.password, cn="2051", data_time=moment - dt.timedelta(minutes=minute_step),
            values=readings(logger, moment, rng, field="Avg"), sent_at=sent, st=st, ack=ack,
        )  # fmt: skip
        if moment.minute == 0:
            yield hj212.data_packet(
                mn=logger.mn, pw=logger.password, cn="2061", data_time=moment - dt.timedelta(hours=1),
                values=readings(logger, moment, rng, field="Avg"), sent_at=sent, st=st, ack=ack,
            )  # fmt: skip


async def send(
    host: str, port: int, data: list[bytes], *, chunk: int = 0, wait_acks: bool = True, timeout: float = 30.0
) -> int:
    """Send the packets over one connection; the number of 9014 acknowledgements received."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        payload = b"".join(data)
        if chunk:
            for i in range(0, len(payload), chunk):
                writer.write(payload[i : i + chunk])
                await writer.drain()
        else:
            writer.write(payload)
            await writer.drain()
        acks = 0
        expected = sum(1 for p in data if _wants_ack(p))
        decoder = hj212.StreamDecoder()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while wait_acks and acks < expected and loop.time() < deadline:
            try:
                got = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            if not got:
                break
            acks += sum(1 for p in decoder.feed(got) if isinstance(p, hj212.Packet) and p.cn == "9014")
        return acks
    finally:
        writer.close()


def _wants_ack(packet: bytes) -> bool:
    at = packet.find(b";Flag=")
    if at < 0:
        return False
    digits = packet[at + 6 : packet.find(b";", at + 6)]
    return digits.isdigit() and bool(int(digits) & 1)
