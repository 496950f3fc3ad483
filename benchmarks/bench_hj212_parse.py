"""HJ 212 parsing: packets/s on one core for real-time packets of 10 pollutants (frame, CRC, fields, values
as numbers), the product's batch decoder (phaseout.monitoring.hj212.decode_many: CRC column-wise with
numpy, each segment checked whole by its shape's compiled pattern, the values built only when read) and
its one-packet decoder, beside a straightforward parser: a regex for the frame and the fields and the CRC
with the usual 256-entry table (no HJ 212 parser on the package lists this machine reaches). Three figures
for the batch decoder: checked (values not built), checked and the values as JSON (what the receiver
stores), checked and the values as Python dicts (what the decoder built for every packet before).
Wall time and the process's CPU time (on a machine shared with other work, the CPU time is the steadier
figure). Target: >= 200,000 packets/s per core. Last line: the ratio against the regex parser."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phaseout.monitoring import hj212

N = 50_000
CODES = ["a21026", "a21002", "a34013", "a00000", "a19001", "a01011", "a01012", "a01013", "a01014", "a21005"]
FRAME = re.compile(rb"##(\d{4})(.*)([0-9A-Fa-f]{4})\r\n", re.S)
FIELD = re.compile(r"([A-Za-z0-9]+)-([A-Za-z]+)=([^,;&]*)")
HEAD = re.compile(r"(QN|ST|CN|PW|MN|Flag|PNUM|PNO)=([^;]*);")


def regex_parse(packet: bytes) -> dict[str, object]:
    m = FRAME.fullmatch(packet)
    if m is None or int(m.group(1)) != len(m.group(2)):
        raise ValueError("frame")
    segment = m.group(2)
    if hj212.crc_bytewise(segment) != int(m.group(3), 16):  # the usual 256-entry table CRC
        raise ValueError("crc")
    text = segment.decode()
    head = dict(HEAD.findall(text.split("CP=&&", 1)[0]))
    values: dict[str, dict[str, object]] = {}
    for code, name, value in FIELD.findall(text):
        values.setdefault(code, {})[name] = value if name == "Flag" else float(value)
    return {**head, "values": values}


def packets() -> list[bytes]:
    out = []
    start = dt.datetime(2026, 3, 1)
    for i in range(N):
        moment = start + dt.timedelta(seconds=30 * i)
        values = {
            c: {"Rtd": 10 + (i * 7 + j) % 90 + 0.1234, "ZsRtd": 11.5, "Flag": "N"}
            for j, c in enumerate(CODES)
        }
        out.append(
            hj212.data_packet(
                mn=f"8888888000{i % 1000:04d}",
                pw="123456",
                cn="2011",
                data_time=moment,
                values=values,
                sent_at=moment,
            )
        )
    return out


def best(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The best wall time and the best CPU time of `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    print(f"load average before: {os.getloadavg()}")
    data = packets()
    print(f"{N:,} real-time packets of 10 pollutants, {sum(map(len, data)) / N:.0f} bytes each")
    hj212.decode_many(data[:10])  # the shape of these packets known (as for a receiver that has run)
    timings = {
        "batch": best(lambda: hj212.decode_many(data)),
        "json": best(lambda: [p.values_json() for p in hj212.decode_many(data)]),  # type: ignore[union-attr]
        "dicts": best(lambda: [p.values for p in hj212.decode_many(data)]),  # type: ignore[union-attr]
        "single": best(lambda: [hj212.decode(p) for p in data]),
        "crc": best(lambda: hj212.crc_many([p[6:-6] for p in data])),
    }
    sample = data[:5000]
    wall, cpu = best(lambda: [regex_parse(p) for p in sample], repeat=1)
    timings["regex"] = (wall * N / len(sample), cpu * N / len(sample))
    assert [p.values for p in hj212.decode_many(sample)] == [regex_parse(p)["values"] for p in sample]  # type: ignore[union-attr]
    rates = {k: (N / w, N / c) for k, (w, c) in timings.items()}
    labels = {
        "batch": "batch decoder (decode_many), checked, values not built",
        "json": "batch decoder + values as JSON (what the receiver stores)",
        "dicts": "batch decoder + values as Python dicts",
        "single": "one-packet decoder (decode)",
        "crc": "CRC alone, column-wise (crc_many)",
        "regex": "regex parser with the table CRC",
    }
    for key, label in labels.items():
        wall_rate, cpu_rate = rates[key]
        print(f"{label}: {wall_rate:,.0f} packets/s wall, {cpu_rate:,.0f} packets/s of CPU")
    met = rates["json"][1] >= 200_000
    print(f"target >= 200,000 packets/s per core (checked + JSON, CPU): {'met' if met else 'NOT met'}")
    print(f"ratio vs the regex parser (checked + JSON, CPU): {rates['json'][1] / rates['regex'][1]:.1f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
