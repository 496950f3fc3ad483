"""HJ 212-2017 (and the 2025 edition where its frame is the same): the frame, the CRC of Appendix A, the data
segment, split messages, the data acknowledgement, and a stream decoder for what a TCP socket hands over.

Pure Python: no Django here (the receiver and the parse command use it; so may anything else).

Frame: ``##`` + 4 decimal digits (the data segment's length in bytes) + the data segment + 4 hex digits
(the CRC of the data segment) + CR LF. The data segment::

    QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=...;Flag=5;CP=&&DataTime=20160801080000;a21026-Avg=1.2,...&&

Flag is the byte V5..V0 D A: bit 0 (A) asks for an acknowledgement, bit 1 (D) says the message is split
(PNUM and PNO follow Flag), bits 2-7 are the version: 0 HJ/T 212-2005, 1 HJ 212-2017, 2 HJ 212-2025.

The CRC (Appendix A) is *not* CRC-16/MODBUS: ``reg = 0xFFFF``; per byte ``reg = (reg >> 8) ^ byte`` and then
8 rounds of shift right with xor 0xA001 when the low bit was 1. The state after the first step is one byte,
so a 256-entry table gives the 8 rounds; its check value for b"123456789" is 0x2F80 (MODBUS: 0x4B37). It
catches framing errors, not tampering: only 256 states occur.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from math import isfinite
from typing import Any

HEADER = b"##"
_HEX = b"0123456789abcdefABCDEF"
CRLF = b"\r\n"
MAX_SEGMENT = 1024  # the standard: 0 <= data segment length <= 1024 (longer messages are split)
ABSOLUTE_MAX_SEGMENT = 9999  # what four digits can say
MAX_PARTS = 64  # a split message of more parts than this is refused (memory per connection is bounded)

# Real-time, minute, hourly and daily data: the commands whose CP carries readings.
DATA_CNS = frozenset({"2011", "2051", "2061", "2031"})
# Value fields that are numbers; the others (Flag, EFlag, SampleTime, Info...) stay text.
NUMERIC_FIELDS = frozenset({"Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "ZsCou"})
FLAGS = {
    "N": "normal",
    "F": "stopped",
    "M": "maintenance",
    "S": "manual input",
    "D": "fault",
    "C": "calibration",
    "T": "above the instrument's range",
    "B": "communication abnormal",
}
VERSIONS = {0: "HJ/T 212-2005", 1: "HJ 212-2017", 2: "HJ 212-2025"}
HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
MAX_FIELD = 64  # a header field's value (MN is 24 characters, QN 17)
MAX_CODE = 16  # a pollutant code (a21026, w01018, 2005's B02...)


class Reason(enum.StrEnum):
    """Why a packet was refused. The codec's reasons first, then the receiver's."""

    GARBAGE = "garbage"  # bytes between packets that are not a packet
    LENGTH = "length"  # the length field does not match where the packet ends
    TOO_LONG = "too_long"  # the length field says more than the receiver accepts
    CRC = "crc"  # the CRC does not match the data segment
    SYNTAX = "syntax"  # the data segment is not QN=..;ST=..;...;CP=&&..&&
    VALUE = "value"  # a value field that should be a number is not one
    # The receiver's:
    UNKNOWN_MN = "unknown_mn"
    PASSWORD = "password"  # noqa: S105 (a reason, not a secret)
    INACTIVE = "inactive"
    DATA_TIME = "data_time"  # a data packet without a usable DataTime (or one far off the clock)
    SPLIT = "split"  # a split message's parts do not fit together
    OVERLOAD = "overload"  # the write buffer is full (the database is down): refused, not acknowledged


class HJ212Error(ValueError):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class Packet:
    """A data segment, parsed. `values`: {pollutant code: {field: value}} (numbers as float, flags as text);
    `cp`: the CP's other fields (DataTime, RtdInterval, ...), as text.

    A packet checked on the fast path (`_fast_segment`) holds its CP as text and builds `cp` and `values`
    only when they are read; `values_json()` is then the values as JSON, made from the CP's text without
    building them. Either way the packet was checked whole when it was made: a value that is not a number
    was refused then, never later."""

    __slots__ = (
        *("_body", "_cp", "_data_time", "_json", "_match", "_values"),
        *("cn", "flag", "mn", "pno", "pnum", "pw", "qn", "segment", "st"),
    )

    def __init__(
        self,
        *,
        qn: str,
        st: str,
        cn: str,
        pw: str,
        mn: str,
        flag: int,
        pnum: int | None,
        pno: int | None,
        cp: dict[str, str] | None = None,
        values: dict[str, dict[str, Any]] | None = None,
        segment: str = "",
        body: str | bytes | None = None,
        values_json: str | None = None,
        data_time: str | None = None,
        match: tuple[re.Match[bytes], _Shape] | None = None,
    ) -> None:
        self.qn, self.st, self.cn, self.pw, self.mn = qn, st, cn, pw, mn
        self.flag, self.pnum, self.pno, self.segment = flag, pnum, pno, segment
        self._cp, self._values, self._body = cp, values, body
        self._json, self._data_time, self._match = values_json, data_time, match
        if (cp is None or values is None) and body is None:
            raise TypeError("a packet needs its cp and values, or the CP's text")

    def _decode_cp(self) -> None:
        body = self._body
        assert body is not None
        text = body.decode("ascii") if isinstance(body, bytes) else body  # the fast path's is ASCII
        self._cp, self._values = parse_cp(text)  # checked when the packet was made: cannot fail

    @property
    def cp(self) -> dict[str, str]:
        if self._cp is None:
            self._decode_cp()
        assert self._cp is not None
        return self._cp

    @property
    def values(self) -> dict[str, dict[str, Any]]:
        if self._values is None:
            self._decode_cp()
        assert self._values is not None
        return self._values

    def values_json(self) -> str:
        """The values as JSON text (what a reading stores)."""
        if self._json is None:
            self._json = self._match[1].json(self._match[0]) if self._match else json.dumps(self.values)
        return self._json

    @property
    def data_time_text(self) -> str:
        if self._data_time is not None:
            return self._data_time
        return self.cp.get("DataTime", "")

    @property
    def version(self) -> int:
        return self.flag >> 2

    @property
    def version_name(self) -> str:
        return VERSIONS.get(self.version, f"unknown ({self.version})")

    @property
    def wants_ack(self) -> bool:
        return bool(self.flag & 1)

    @property
    def is_split(self) -> bool:
        return bool(self.flag & 2)

    @property
    def data_time(self) -> dt.datetime | None:
        """DataTime as a naive local time (the logger's clock), None when absent or malformed."""
        return parse_time(self.data_time_text)

    def _key(self) -> tuple[Any, ...]:
        return (self.qn, self.st, self.cn, self.pw, self.mn, self.flag, self.pnum, self.pno, self.cp,
                self.values, self.segment)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Packet) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Packet(qn={self.qn!r}, cn={self.cn!r}, mn={self.mn!r}, flag={self.flag})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "QN": self.qn,
            "ST": self.st,
            "CN": self.cn,
            "MN": self.mn,
            "Flag": self.flag,
            "version": self.version_name,
            "ack": self.wants_ack,
            "PNUM": self.pnum,
            "PNO": self.pno,
            "CP": self.cp,
            "values": self.values,
        }


@dataclass(slots=True)
class DecodeError:
    """A refused packet (or a run of garbage) from the stream, with its reason and the start of its bytes."""

    reason: Reason
    detail: str
    raw: bytes = b""

    def as_dict(self) -> dict[str, Any]:
        return {"error": str(self.reason), "detail": self.detail}


# ── CRC (Appendix A) ──


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


CRC_TABLE = _table()
# The next one-byte state is high(table[state]) ^ byte; `_STEP[state]` is that high byte.
_HIGH = bytes(value >> 8 for value in CRC_TABLE)


def _powers() -> tuple[bytes, ...]:
    """H^0..H^7 as byte tables (H: state -> high byte of table[state]); H^8 is the identity."""
    powers = [bytes(range(256))]
    for _ in range(7):
        powers.append(bytes(_HIGH[x] for x in powers[-1]))
    return tuple(powers)


_POWERS = _powers()
# What the initial register's high byte 0xFF contributes to the state after n bytes: H^(n-1)(0xFF), by n % 8.
_INIT = [0] * 8
_state = 0xFF
for _n in range(1, 9):
    _INIT[_n % 8] = _state
    _state = _HIGH[_state]
del _state, _n
_MASKS = {bits: (1 << bits) - 1 for bits in range(64, 8 * 16384 + 64, 64)}


def crc(data: bytes) -> int:
    """The CRC of Appendix A over `data`.

    The state between bytes is one byte s, and s' = H(s) ^ byte with H linear over GF(2) and H^8 = I. So
    the state after n bytes is H^(n-1)(0xFF) ^ XOR_j H^j(c_j), c_j being the XOR of the bytes whose
    distance from the end is j modulo 8: folding the bytes (as one integer) in halves of whole 8-byte
    words gives the eight c_j in a few big-integer operations, not n table steps."""
    n = len(data)
    if n == 0:
        return 0xFFFF
    pad = (-n) % 8
    x = int.from_bytes(data, "little") << (pad * 8)
    bits = (n + pad) * 8
    masks = _MASKS
    while bits > 64:
        half = ((bits >> 6) + 1) >> 1 << 6
        x = (x >> half) ^ (x & masks[half])
        bits = half
    c = x.to_bytes(8, "little")
    p = _POWERS
    state = (
        _INIT[n & 7]
        ^ p[7][c[0]] ^ p[6][c[1]] ^ p[5][c[2]] ^ p[4][c[3]]
        ^ p[3][c[4]] ^ p[2][c[5]] ^ p[1][c[6]] ^ c[7]
    )  # fmt: skip
    return CRC_TABLE[state]


def crc_bytewise(data: bytes) -> int:
    """The CRC with the 256-entry table, one step a byte."""
    table = CRC_TABLE
    reg = 0xFFFF
    for byte in data:
        reg = table[(reg >> 8) ^ byte]
    return reg


def crc_bitwise(data: bytes) -> int:
    """The CRC as the standard's Appendix A writes it, bit by bit (for tests and the baseline)."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def crc_many(segments: Sequence[bytes]) -> list[int]:
    """The CRC of many segments at once with numpy: each segment padded on the left to whole 8-byte words,
    the words of each XOR-reduced (the eight c_j of crc() at once), then eight look-ups column-wise."""
    import numpy as np

    if not segments:
        return []
    lengths = [len(s) for s in segments]
    zero = bytes(8)
    padded = b"".join(zero[: (-n) % 8] + s for n, s in zip(lengths, segments, strict=True))
    words = np.frombuffer(padded, dtype="<u8")
    counts = np.fromiter(((n + 7) >> 3 for n in lengths), dtype=np.int64, count=len(lengths))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    empty = counts == 0
    folded = (
        np.bitwise_xor.reduceat(words, np.minimum(starts, max(len(words) - 1, 0))) if len(words) else None
    )
    c = (folded if folded is not None else np.zeros(len(lengths), "<u8")).astype("<u8").view(np.uint8)
    c = c.reshape(len(lengths), 8)
    state = np.array(_INIT, dtype=np.uint8)[np.array(lengths, dtype=np.int64) & 7]
    for q in range(8):
        state ^= np.frombuffer(_POWERS[7 - q], dtype=np.uint8)[c[:, q]]
    out = np.array(CRC_TABLE, dtype=np.int64)[state]
    out[empty] = 0xFFFF
    return out.tolist()


# ── frame ──


def frame(segment: str | bytes) -> bytes:
    """The whole packet for a data segment: ## + length + segment + CRC + CR LF."""
    data = segment.encode("utf-8") if isinstance(segment, str) else segment
    if len(data) > ABSOLUTE_MAX_SEGMENT:
        raise HJ212Error(Reason.TOO_LONG, f"{len(data)} bytes")
    return b"##%04d%s%04X\r\n" % (len(data), data, crc(data))


def unframe(packet: bytes, *, max_segment: int = MAX_SEGMENT) -> bytes:
    """The data segment of one whole packet (CR LF optional at the end), its length and CRC checked."""
    line = packet[:-2] if packet.endswith(CRLF) else packet
    if not line.startswith(HEADER) or len(line) < 10:
        raise HJ212Error(Reason.SYNTAX, "not ##nnnn...crc")
    digits = line[2:6]
    if not digits.isdigit():
        raise HJ212Error(Reason.SYNTAX, "length field is not four digits")
    length = int(digits)
    if length > max_segment:
        raise HJ212Error(Reason.TOO_LONG, f"length {length} > {max_segment}")
    if len(line) != 6 + length + 4:
        raise HJ212Error(Reason.LENGTH, f"length field {length}, segment {len(line) - 10}")
    segment = line[6 : 6 + length]
    _check_crc(segment, line[6 + length :])
    return segment


def _check_crc(segment: bytes, given: bytes) -> None:
    if len(given) != 4 or given.strip(_HEX):
        raise HJ212Error(Reason.SYNTAX, "CRC is not four hex digits")
    expected = int(given, 16)
    actual = crc(segment)
    if actual != expected:
        raise HJ212Error(Reason.CRC, f"given {given.decode('ascii')}, computed {actual:04X}")


# ── data segment ──


def parse_time(text: str) -> dt.datetime | None:
    """yyyyMMddHHmmss (or with milliseconds, as QN) as a naive datetime; None when it is not one."""
    if len(text) not in (14, 17) or not text.isdigit():
        return None
    try:
        return dt.datetime(  # noqa: DTZ001 (the logger's local clock; the receiver gives it a zone)
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
        )
    except ValueError:
        return None


def parse_segment(segment: str | bytes) -> Packet:
    """The fields of a data segment (without the frame). Raises HJ212Error(SYNTAX/VALUE).

    A segment of the usual shape is checked by the fast path (`_fast_segment`); any other goes through
    `_parse_segment`, which says what is wrong. Both give the same packet for what the fast path takes."""
    if isinstance(segment, bytes):
        fast = _fast_segment(segment)
        if fast is not None:
            return fast
    return _parse_segment(segment)


def _parse_segment(segment: str | bytes) -> Packet:
    if isinstance(segment, bytes):
        try:
            text = segment.decode("utf-8")
        except UnicodeDecodeError:
            raise HJ212Error(Reason.SYNTAX, "not UTF-8") from None
    else:
        text = segment
    head, sep, rest = text.partition("CP=&&")
    if not sep or not rest.endswith("&&"):
        raise HJ212Error(Reason.SYNTAX, "no CP=&&...&&")
    if "\x00" in text:
        raise HJ212Error(Reason.SYNTAX, "NUL byte")
    header: dict[str, str] = {}
    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or key not in HEADER_KEYS or key in header or len(value) > MAX_FIELD:
            raise HJ212Error(Reason.SYNTAX, f"header field {item[:40]!r}")
        header[key] = value
    for key in ("QN", "CN", "MN", "Flag"):
        if key not in header:
            raise HJ212Error(Reason.SYNTAX, f"no {key}")
    flag_text = header["Flag"]
    if not flag_text.isdigit() or len(flag_text) > 3 or int(flag_text) > 255:
        raise HJ212Error(Reason.SYNTAX, f"Flag {flag_text[:10]!r}")
    flag = int(flag_text)
    pnum = pno = None
    if flag & 2:
        p, n = header.get("PNUM", ""), header.get("PNO", "")
        if not (p.isdigit() and n.isdigit() and 1 <= int(n) <= int(p) <= MAX_PARTS):
            raise HJ212Error(Reason.SPLIT, f"PNUM {p[:6]!r} PNO {n[:6]!r}")
        pnum, pno = int(p), int(n)
    cp, values = parse_cp(rest[:-2])
    return Packet(
        qn=header["QN"],
        st=header.get("ST", ""),
        cn=header["CN"],
        pw=header.get("PW", ""),
        mn=header["MN"],
        flag=flag,
        pnum=pnum,
        pno=pno,
        cp=cp,
        values=values,
        segment=text,
    )


def parse_cp(body: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The CP's fields: `code-Field=value` into values[code][Field] (numbers as float), others into cp."""
    cp: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    if not body:
        return cp, values
    numeric = NUMERIC_FIELDS
    for group in body.split(";"):
        for item in group.split(","):
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                raise HJ212Error(Reason.SYNTAX, f"CP field {item[:40]!r}")
            code, dash, name = key.partition("-")
            if not dash:
                cp[key] = value
                continue
            if not code or not name or len(code) > MAX_CODE:
                raise HJ212Error(Reason.SYNTAX, f"CP field {item[:40]!r}")
            fields = values.get(code)
            if fields is None:
                fields = values[code] = {}
            if name in numeric:
                try:
                    number = float(value)
                except ValueError:
                    raise HJ212Error(Reason.VALUE, f"{key}={value[:20]!r}") from None
                if not isfinite(number) or len(value) > 24:
                    raise HJ212Error(Reason.VALUE, f"{key}={value[:20]!r}")
                fields[name] = number
            else:
                fields[name] = value
    return cp, values


# ── the fast path ──
#
# A data logger sends the same CP every time but for its values: the same codes and fields, in the same
# order. The first packet of a shape is read field by field (`_Shape.of`), which makes for the shape one
# compiled pattern that checks a whole CP at once — every key literally, every number against the grammar
# of a JSON number (at most 23 characters: finite; an integer of at most 15 digits, so that JSON's integer
# equals float()'s number), every text value against a plain character set — and the JSON of its values as
# a template filled with the values' own text. A packet that does not match (another shape, a value of
# another form: 1e5, +1, 01, a text with a quote...) goes the slow way, which refuses it or accepts it as
# before: the fast path only takes packets the slow one takes, and reads them the same (a property test
# holds the two together). The header must be QN, ST, CN, PW, MN, Flag in that order, not split. Shapes are
# shared between loggers and bounded (`MAX_SHAPES`); beyond the bound new shapes go the slow way. The
# receiver runs in one thread: the two dictionaries below are not locked.

#
# The repetitions are possessive (Python 3.11): none of their classes holds the character that follows
# them (a separator, or the end), so giving characters back could never make a match; the engine then
# keeps no state to go back to.
_FAST_HEAD = re.compile(
    rb"QN=([!-%'-:<-~]{0,64}+);ST=([!-%'-:<-~]{0,64}+);CN=([!-%'-:<-~]{0,64}+);PW=([!-%'-:<-~]{0,64}+);"
    rb"MN=([!-%'-:<-~]{0,64}+);Flag=([0-9]{1,3}+);CP=&&"
)
# At most 23 characters; an integer of at most 15 digits, so JSON's integer is float()'s number exactly.
_JSON_NUMBER = rb"(-?(?:0|[1-9][0-9]{0,14}+)(?:\.[0-9]{1,6}+)?+)"
_PLAIN_TEXT = rb"([A-Za-z0-9_.:+ -]{0,32}+)"  # nothing JSON must escape, nothing the CP grammar uses
_CP_TEXT = rb"[!-%'-+\--:<>-~]{0,64}+"
_DATA_TIME = rb"([!-%'-+\--:<>-~]{0,64}+)"
_CODE_KEY = re.compile(rb"([A-Za-z0-9]{1,16})-([A-Za-z]{1,16})")
_CP_KEY = re.compile(rb"[A-Za-z]{1,24}")
MAX_SHAPES = 1024
MAX_SHAPE_KEYS = 100_000


class _Shape:
    __slots__ = ("data_time", "indexes", "pattern", "template")

    def __init__(self, pattern: re.Pattern[bytes], template: bytes, indexes: tuple[int, ...],
                 data_time: int) -> None:  # fmt: skip
        self.pattern, self.template, self.indexes, self.data_time = pattern, template, indexes, data_time

    def json(self, found: re.Match[bytes]) -> str:
        """The values of a matched CP as JSON: the template filled with the values' own text."""
        indexes = self.indexes
        if not indexes:
            return "{}"
        picked = found.group(*indexes) if len(indexes) > 1 else (found.group(indexes[0]),)
        return (self.template % picked).decode("ascii")

    @staticmethod
    def of(body: bytes) -> tuple[tuple[bytes, ...], bytes] | None:
        """(keys, separators) of a CP body of key=value items, or None when it is not of that form."""
        tokens = re.split(rb"([,;])", body)
        keys = []
        for token in tokens[0::2]:
            key, eq, _value = token.partition(b"=")
            if not eq:
                return None
            keys.append(key)
        return tuple(keys), b"".join(tokens[1::2])

    @staticmethod
    def build(keys: tuple[bytes, ...], separators: bytes) -> _Shape | None:
        parts: list[bytes] = []
        groups = 0
        last: dict[bytes, dict[bytes, int]] = {}  # code -> field -> group of its last occurrence
        data_time = 0
        numeric = {name.encode() for name in NUMERIC_FIELDS}
        for index, key in enumerate(keys):
            if index:
                parts.append(re.escape(separators[index - 1 : index]))
            found = _CODE_KEY.fullmatch(key)
            if found is not None:
                groups += 1
                parts.append(re.escape(key) + b"=" + (_JSON_NUMBER if found[2] in numeric else _PLAIN_TEXT))
                last.setdefault(found[1], {})[found[2]] = groups
            elif _CP_KEY.fullmatch(key) is not None:
                if key == b"DataTime":
                    groups += 1
                    parts.append(b"DataTime=" + _DATA_TIME)
                    data_time = groups
                else:
                    parts.append(re.escape(key) + b"=" + _CP_TEXT)
            else:
                return None  # a key of another form: the slow way says what is wrong with it
        template: list[bytes] = []
        indexes: list[int] = []
        for code, fields in last.items():
            items = []
            for name, group in fields.items():
                items.append(b'"%s":%s' % (name, b"%s" if name in numeric else b'"%s"'))
                indexes.append(group)
            template.append(b'"%s":{%s}' % (code, b",".join(items)))
        if not data_time:
            data_time = groups + 1  # no DataTime: the empty group after the last
            parts.append(b"()")
        pattern = re.compile(b"".join(parts))
        # Codes and field names are letters and digits (the key patterns): no % in the template but its own.
        return _Shape(pattern, b"{" + b",".join(template) + b"}", tuple(indexes), data_time)


_SHAPES: dict[tuple[tuple[bytes, ...], bytes], _Shape | None] = {}
_LAST_SHAPE: dict[tuple[str, str], _Shape] = {}
# The header's pattern over the segment as text: the fast path takes only ASCII (every class of its patterns
# is), so the segment is decoded once and the header's fields come out as text, not decoded one by one.
_FAST_HEAD_TEXT = re.compile(_FAST_HEAD.pattern.decode("ascii"))
_new_packet = object.__new__


def _fast_segment(segment: bytes) -> Packet | None:
    """The packet of a segment of the usual shape (see above), or None to go the slow way."""
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError:
        return None
    head = _FAST_HEAD_TEXT.match(text)
    if head is None or len(text) - head.end() < 2 or not text.endswith("&&"):
        return None  # "CP=&&" must be followed by a body and its own closing "&&"
    qn, st, cn, pw, mn, flag_text = head.groups()
    flag = int(flag_text)
    if flag > 255 or flag & 2:
        return None
    body = segment[head.end() : -2]
    key = (mn, cn)
    shape = _LAST_SHAPE.get(key)
    found = shape.pattern.fullmatch(body) if shape is not None else None
    if found is None:
        of = _Shape.of(body)
        if of is None:
            return None
        if of in _SHAPES:
            shape = _SHAPES[of]
        elif len(_SHAPES) < MAX_SHAPES:
            shape = _SHAPES[of] = _Shape.build(*of)
        else:
            return None
        if shape is None:
            return None
        found = shape.pattern.fullmatch(body)
        if found is None:
            return None
        if len(_LAST_SHAPE) >= MAX_SHAPE_KEYS:
            _LAST_SHAPE.clear()
        _LAST_SHAPE[key] = shape
    assert shape is not None  # found matched its pattern
    data_time = found.group(shape.data_time)
    # What Packet(...) makes, without its keyword arguments (a fifth of this function's time).
    packet: Packet = _new_packet(Packet)
    packet.qn, packet.st, packet.cn, packet.pw, packet.mn = qn, st, cn, pw, mn
    packet.flag, packet.pnum, packet.pno, packet.segment = flag, None, None, text
    packet._cp = packet._values = packet._json = None
    packet._body, packet._match = body, (found, shape)
    packet._data_time = data_time.decode("ascii") if data_time is not None else ""
    return packet


def decode(packet: bytes, *, max_segment: int = MAX_SEGMENT) -> Packet:
    """One whole packet (as captured, one per line) parsed; HJ212Error with the reason otherwise."""
    return parse_segment(unframe(packet, max_segment=max_segment))


def decode_many(packets: Sequence[bytes], *, max_segment: int = MAX_SEGMENT) -> list[Packet | DecodeError]:
    """Many whole packets at once: the frames checked, the CRCs computed column-wise (crc_many), then each
    segment parsed. The same results as decode() one by one."""
    segments: list[bytes] = []
    given: list[bytes] = []
    out: list[Packet | DecodeError | None] = []
    pending: list[int] = []
    for packet in packets:
        line = packet[:-2] if packet.endswith(CRLF) else packet
        if not line.startswith(HEADER) or len(line) < 10 or not line[2:6].isdigit():
            out.append(DecodeError(Reason.SYNTAX, "not ##nnnn...crc", packet[:80]))
            continue
        length = int(line[2:6])
        if length > max_segment:
            out.append(DecodeError(Reason.TOO_LONG, f"length {length} > {max_segment}", packet[:80]))
            continue
        if len(line) != length + 10:
            out.append(DecodeError(Reason.LENGTH, f"length field {length}", packet[:80]))
            continue
        segments.append(line[6 : 6 + length])
        given.append(line[6 + length :])
        pending.append(len(out))
        out.append(None)
    crcs = crc_many(segments)
    for index, segment, tail, computed in zip(pending, segments, given, crcs, strict=True):
        if len(tail) != 4 or tail.strip(_HEX):
            out[index] = DecodeError(Reason.SYNTAX, "CRC is not four hex digits", segment[:80])
            continue
        expected = int(tail, 16)
        if expected != computed:
            out[index] = DecodeError(Reason.CRC, f"computed {computed:04X}", segment[:80])
            continue
        try:
            out[index] = parse_segment(segment)
        except HJ212Error as error:
            out[index] = DecodeError(error.reason, error.detail, segment[:80])
    return out  # type: ignore[return-value]


# ── stream ──


@dataclass
class StreamDecoder:
    """Bytes from a socket in, packets and refusals out. Takes any chunking: several packets in one read,
    one packet over several reads, garbage between packets, a length field that promises too much. Its
    buffer never holds more than one packet of `max_segment` (plus a header)."""

    max_segment: int = MAX_SEGMENT
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes) -> list[Packet | DecodeError]:
        self._buffer += chunk
        out: list[Packet | DecodeError | None] = []
        framed: list[tuple[int, bytes, bytes]] = []  # (place in out, segment, its CRC's text)
        buf = self._buffer
        pos = 0
        while True:
            start = buf.find(HEADER, pos)
            if start < 0:
                # Keep a trailing '#', which may begin the next header; the rest is garbage.
                end = len(buf) - 1 if buf.endswith(b"#") else len(buf)
                _garbage(buf, pos, end, out)
                pos = end
                break
            _garbage(buf, pos, start, out)
            pos = start
            if len(buf) - pos < 6:
                break
            digits = bytes(buf[pos + 2 : pos + 6])
            if not digits.isdigit():
                out.append(
                    DecodeError(Reason.SYNTAX, "length field is not four digits", bytes(buf[pos : pos + 40]))
                )
                pos += 2
                continue
            length = int(digits)
            if length > self.max_segment:
                out.append(
                    DecodeError(
                        Reason.TOO_LONG, f"length {length} > {self.max_segment}", bytes(buf[pos : pos + 40])
                    )
                )
                pos += 6
                continue
            end = pos + 6 + length + 4
            # A CR LF before the end the length promises: the packet is shorter than it says.
            newline = buf.find(CRLF, pos + 6, end + 2)
            if 0 <= newline < end:
                out.append(
                    DecodeError(
                        Reason.LENGTH,
                        f"length field {length}, segment {newline - pos - 10}",
                        bytes(buf[pos : min(newline, pos + 80)]),
                    )
                )
                pos = newline + 2
                continue
            if len(buf) < end + 2:
                break
            if buf[end : end + 2] != CRLF:
                out.append(
                    DecodeError(
                        Reason.LENGTH,
                        f"length field {length}: no CR LF where it ends",
                        bytes(buf[pos : pos + 80]),
                    )
                )
                pos += 2
                continue
            framed.append(
                (len(out), bytes(buf[pos + 6 : pos + 6 + length]), bytes(buf[pos + 6 + length : end]))
            )
            out.append(None)  # its place, filled below
            pos = end + 2
        del buf[:pos]
        if framed:
            _check_framed(framed, out)
        return out  # type: ignore[return-value]

    @property
    def pending(self) -> int:
        """Bytes held for a packet not yet complete."""
        return len(self._buffer)


# From this many packets in one read, their CRCs are computed together (crc_many); below, numpy's fixed cost
# per call is more than it saves.
MANY = 8


def _check_framed(framed: list[tuple[int, bytes, bytes]], out: list[Packet | DecodeError | None]) -> None:
    """The framed packets of one read checked (CRC, then the segment) into their places in `out`."""
    crcs = crc_many([segment for _, segment, _ in framed]) if len(framed) >= MANY else None
    for n, (place, segment, given) in enumerate(framed):
        try:
            if crcs is None:
                _check_crc(segment, given)
            else:
                if len(given) != 4 or given.strip(_HEX):
                    raise HJ212Error(Reason.SYNTAX, "CRC is not four hex digits")
                if int(given, 16) != crcs[n]:
                    raise HJ212Error(Reason.CRC, f"given {given.decode('ascii')}, computed {crcs[n]:04X}")
            out[place] = parse_segment(segment)
        except HJ212Error as error:
            out[place] = DecodeError(error.reason, error.detail, segment[:80])


def _garbage(buf: bytearray, start: int, end: int, out: list[Packet | DecodeError | None]) -> None:
    """Report bytes between packets as garbage, leaving out line ends and blanks (captures have them)."""
    if end > start:
        chunk = bytes(buf[start:end])
        if chunk.strip(b"\r\n\t "):
            out.append(DecodeError(Reason.GARBAGE, f"{len(chunk)} bytes", chunk[:80]))


# ── split messages ──


@dataclass
class Reassembler:
    """Parts of split messages (Flag bit D, PNUM/PNO) put back together by (MN, QN). Holds at most
    `max_pending` incomplete messages (the oldest is dropped, and reported, when one more arrives)."""

    max_pending: int = 32
    _parts: dict[tuple[str, str], dict[int, Packet]] = field(default_factory=dict)

    def add(self, packet: Packet) -> list[Packet | DecodeError]:
        """The whole message when this part completes it; [] while parts are missing; a whole packet as is."""
        if not packet.is_split:
            return [packet]
        assert packet.pnum is not None and packet.pno is not None
        out: list[Packet | DecodeError] = []
        key = (packet.mn, packet.qn)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= self.max_pending:
                old_key = next(iter(self._parts))
                del self._parts[old_key]
                out.append(DecodeError(Reason.SPLIT, f"incomplete message {old_key[1]} dropped"))
            parts = self._parts[key] = {}
        first = next(iter(parts.values()), None)
        if first is not None and (first.pnum != packet.pnum or first.cn != packet.cn):
            del self._parts[key]
            out.append(DecodeError(Reason.SPLIT, f"parts of {packet.qn} disagree on PNUM or CN"))
            return out
        parts[packet.pno] = packet
        if len(parts) == packet.pnum:
            del self._parts[key]
            out.append(merge(parts[n] for n in range(1, packet.pnum + 1)))
        return out

    @property
    def pending(self) -> int:
        return len(self._parts)


def merge(parts: Iterable[Packet]) -> Packet:
    """One packet from the parts of a split message, in order: their CP fields and values together."""
    parts = list(parts)
    first = parts[0]
    cp: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    for part in parts:
        cp.update(part.cp)
        for code, fields in part.values.items():
            values.setdefault(code, {}).update(fields)
    return Packet(
        qn=first.qn,
        st=first.st,
        cn=first.cn,
        pw=first.pw,
        mn=first.mn,
        flag=first.flag & ~2,
        pnum=None,
        pno=None,
        cp=cp,
        values=values,
        segment=first.segment,
    )


# ── building packets ──


def segment_of(
    *,
    qn: str,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int,
    cp: str,
    pnum: int | None = None,
    pno: int | None = None,
) -> str:
    split = f"PNUM={pnum};PNO={pno};" if pnum is not None else ""
    return f"QN={qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};{split}CP=&&{cp}&&"


def cp_of(data_time: dt.datetime, values: dict[str, dict[str, Any]]) -> str:
    """A CP body: DataTime and each pollutant's fields (numbers with 4 decimals, as loggers send)."""
    groups = [f"DataTime={data_time:%Y%m%d%H%M%S}"]
    for code, fields in values.items():
        groups.append(
            ",".join(
                f"{code}-{name}={value:.4f}" if isinstance(value, float | int) else f"{code}-{name}={value}"
                for name, value in fields.items()
            )
        )
    return ";".join(groups)


def qn_of(moment: dt.datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"


def data_packet(
    *,
    mn: str,
    pw: str,
    cn: str,
    data_time: dt.datetime,
    values: dict[str, dict[str, Any]],
    sent_at: dt.datetime,
    st: str = "31",
    ack: bool = True,
    version: int = 1,
) -> bytes:
    """A whole data packet, as a data logger sends it."""
    segment = segment_of(
        qn=qn_of(sent_at),
        st=st,
        cn=cn,
        pw=pw,
        mn=mn,
        flag=(version << 2) | int(ack),
        cp=cp_of(data_time, values),
    )
    return frame(segment)


def ack(packet: Packet) -> bytes:
    """The data response (CN 9014) to a packet whose Flag asks for one: the same QN, MN and PW."""
    version = packet.version if packet.version in VERSIONS else 1
    return frame(
        segment_of(qn=packet.qn, st="91", cn="9014", pw=packet.pw, mn=packet.mn, flag=version << 2, cp="")
    )


def split(
    segment_fields: dict[str, str], cp_groups: Sequence[str], *, max_segment: int = MAX_SEGMENT
) -> list[bytes]:
    """A message cut into parts that each fit `max_segment` (Flag bit D, PNUM/PNO), each group of the CP
    (DataTime first) kept whole; the DataTime group is repeated in every part."""
    head = {k: segment_fields[k] for k in ("qn", "st", "cn", "pw", "mn")}
    flag = int(segment_fields["flag"]) | 2
    first, *rest = cp_groups
    parts: list[list[str]] = [[first]]
    for group in rest:
        trial = segment_of(**head, flag=flag, cp=";".join([*parts[-1], group]), pnum=99, pno=99)
        if len(trial.encode()) > max_segment and len(parts[-1]) > 1:
            parts.append([first, group])
        else:
            parts[-1].append(group)
    return [
        frame(segment_of(**head, flag=flag, cp=";".join(groups), pnum=len(parts), pno=n))
        for n, groups in enumerate(parts, start=1)
    ]


def iter_lines(data: bytes) -> Iterator[bytes]:
    """Captured packets, one per line (blank lines left out)."""
    for line in data.splitlines():
        if line.strip():
            yield line.strip()
