"""The HJ 212 codec (phaseout.monitoring.hj212): frame, CRC, fields, split messages, ACK, stream."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phaseout.monitoring import hj212
from phaseout.monitoring.hj212 import DecodeError, HJ212Error, Packet, Reason, StreamDecoder

# The standard's own example (HJ 212-2017 Appendix A): length 0101, CRC 1C80 (its prose says 1C08).
EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
CODES = ["a21026", "a21002", "a34013", "a00000", "a19001", "a01011", "a01012", "a01013", "a01014", "a21005"]


def realtime(n: int = 0, *, mn: str = "88888880000001", ack: bool = True) -> bytes:
    values = {c: {"Rtd": 10.5 + i + n, "ZsRtd": 11.0 + i, "Flag": "N"} for i, c in enumerate(CODES)}
    moment = dt.datetime(2026, 3, 1, 12, 0, 0) + dt.timedelta(seconds=30 * n)  # noqa: DTZ001
    return hj212.data_packet(
        mn=mn, pw="123456", cn="2011", data_time=moment, values=values, sent_at=moment, ack=ack
    )


def test_crc_check_value_is_appendix_a_not_modbus() -> None:
    assert hj212.crc(b"123456789") == 0x2F80
    assert hj212.crc_bitwise(b"123456789") == 0x2F80
    assert hj212.crc_bytewise(b"123456789") == 0x2F80
    assert hj212.crc(b"123456789") != 0x4B37  # CRC-16/MODBUS
    assert hj212.crc(b"") == 0xFFFF


def test_the_standards_example_packet() -> None:
    packet = hj212.decode(EXAMPLE)
    assert (packet.qn, packet.st, packet.cn, packet.pw) == ("20160801085857223", "32", "1062", "100000")
    assert packet.mn == "010000A8900016F000169DC0"
    assert packet.flag == 5 and packet.wants_ack and not packet.is_split
    assert packet.version == 1 and packet.version_name == "HJ 212-2017"
    assert packet.cp == {"RtdInterval": "30"}
    assert hj212.frame(packet.segment) == EXAMPLE
    # Lowercase CRC digits, as some loggers send, are the same CRC.
    assert hj212.decode(EXAMPLE.replace(b"1C80", b"1c80")).mn == packet.mn


def test_crc_variants_agree_on_random_data() -> None:
    rng = random.Random(212)
    segments = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1100))) for _ in range(400)]
    expected = [hj212.crc_bitwise(s) for s in segments]
    assert [hj212.crc(s) for s in segments] == expected
    assert [hj212.crc_bytewise(s) for s in segments] == expected
    assert hj212.crc_many(segments) == expected
    assert hj212.crc_many([]) == []


def test_data_packet_values_and_data_time() -> None:
    packet = hj212.decode(realtime())
    assert packet.cn == "2011"
    assert packet.data_time == dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001
    assert packet.values["a21026"] == {"Rtd": 10.5, "ZsRtd": 11.0, "Flag": "N"}
    assert len(packet.values) == 10
    hourly = hj212.decode(
        hj212.frame(
            "QN=20260301130001000;ST=31;CN=2061;PW=123456;MN=X1;Flag=4;CP=&&DataTime=20260301120000;"
            "a21026-Min=1.0,a21026-Avg=2.5,a21026-Max=4.0,a21026-ZsAvg=3.1,a21026-Flag=C;"
            "a00000-Cou=12345.6,a00000-Flag=N&&"
        )
    )
    assert hourly.values["a21026"] == {"Min": 1.0, "Avg": 2.5, "Max": 4.0, "ZsAvg": 3.1, "Flag": "C"}
    assert hourly.values["a00000"] == {"Cou": 12345.6, "Flag": "N"}
    assert not hourly.wants_ack


def test_version_from_flag_bits() -> None:
    def flagged(flag: int) -> Packet:
        return hj212.parse_segment(f"QN=1;ST=31;CN=2011;PW=1;MN=M;Flag={flag};CP=&&&&")

    assert flagged(0).version_name == "HJ/T 212-2005"
    assert flagged(4).version_name == "HJ 212-2017" and not flagged(4).wants_ack
    assert flagged(9).version_name == "HJ 212-2025" and flagged(9).wants_ack
    assert flagged(8).version == 2


def test_ack_is_9014_with_the_same_qn() -> None:
    packet = hj212.decode(EXAMPLE)
    reply = hj212.decode(hj212.ack(packet))
    assert (reply.cn, reply.st, reply.qn, reply.mn, reply.pw) == (
        "9014",
        "91",
        packet.qn,
        packet.mn,
        "100000",
    )
    assert reply.flag == 4 and not reply.wants_ack
    v2025 = hj212.parse_segment("QN=7;ST=31;CN=2011;PW=1;MN=M;Flag=9;CP=&&&&")
    assert hj212.decode(hj212.ack(v2025)).flag == 8


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (EXAMPLE.replace(b"1C80", b"1C08"), Reason.CRC),  # the prose's typo is a wrong CRC
        (EXAMPLE.replace(b"1C80", b"1CXZ"), Reason.SYNTAX),
        (EXAMPLE.replace(b"1C80", b"0x1C"), Reason.SYNTAX),
        (EXAMPLE.replace(b"##0101", b"##0100"), Reason.LENGTH),
        (EXAMPLE.replace(b"##0101", b"##01a1"), Reason.SYNTAX),
        (EXAMPLE.replace(b"##0101", b"##2000"), Reason.TOO_LONG),
        (b"QN=1;CN=2011", Reason.SYNTAX),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&a21026-Rtd=abc&&"), Reason.VALUE),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&a21026-Rtd=nan&&"), Reason.VALUE),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&a21026-Rtd=1e999&&"), Reason.VALUE),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&a21026-Rtd&&"), Reason.SYNTAX),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&-Rtd=1&&"), Reason.SYNTAX),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&x"), Reason.SYNTAX),
        (hj212.frame("QN=1;ST=31;CN=2011;PW=1;Flag=4;CP=&&&&"), Reason.SYNTAX),  # no MN
        (hj212.frame("QN=1;QN=2;CN=2011;PW=1;MN=M;Flag=4;CP=&&&&"), Reason.SYNTAX),  # twice
        (hj212.frame("QN=1;XX=2;CN=2011;PW=1;MN=M;Flag=4;CP=&&&&"), Reason.SYNTAX),  # unknown field
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M;Flag=256;CP=&&&&"), Reason.SYNTAX),
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M;Flag=x;CP=&&&&"), Reason.SYNTAX),
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M\x00;Flag=4;CP=&&&&"), Reason.SYNTAX),
        (hj212.frame(b"QN=1;CN=2011;PW=1;MN=\xff;Flag=4;CP=&&&&"), Reason.SYNTAX),  # not UTF-8
        (hj212.frame("QN=1;CN=2011;PW=1;MN=" + "M" * 65 + ";Flag=4;CP=&&&&"), Reason.SYNTAX),
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M;Flag=6;PNUM=2;PNO=3;CP=&&&&"), Reason.SPLIT),
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M;Flag=6;CP=&&&&"), Reason.SPLIT),
        (hj212.frame("QN=1;CN=2011;PW=1;MN=M;Flag=6;PNUM=999;PNO=1;CP=&&&&"), Reason.SPLIT),
    ],
)
def test_every_error_reason(raw: bytes, reason: Reason) -> None:
    with pytest.raises(HJ212Error) as caught:
        hj212.decode(raw)
    assert caught.value.reason == reason
    # The batch decoder says the same.
    (result,) = hj212.decode_many([raw])
    assert isinstance(result, DecodeError) and result.reason == reason
    # And so does the stream decoder (with CR LF, as on the wire).
    wire = raw if raw.endswith(b"\r\n") else raw + b"\r\n"
    errors = [r for r in StreamDecoder().feed(wire) if isinstance(r, DecodeError)]
    assert errors and errors[0].reason in (reason, Reason.GARBAGE)


def test_decode_many_equals_decode() -> None:
    packets = [realtime(n) for n in range(50)] + [EXAMPLE, EXAMPLE.replace(b"1C80", b"0000")]
    many = hj212.decode_many(packets)
    assert [p.as_dict() for p in many[:51] if isinstance(p, Packet)] == [
        hj212.decode(p).as_dict() for p in packets[:51]
    ]
    assert isinstance(many[-1], DecodeError) and many[-1].reason == Reason.CRC


def test_frame_refuses_more_than_four_digits() -> None:
    with pytest.raises(HJ212Error) as caught:
        hj212.frame("x" * 10_000)
    assert caught.value.reason == Reason.TOO_LONG


def test_stream_garbage_between_packets_and_a_false_length() -> None:
    decoder = StreamDecoder()
    data = (
        b"noise" + realtime(0) + b"\r\n" + b"##0500QN=cut short\r\n" + realtime(1) + b"##9999" + realtime(2)
    )
    results = decoder.feed(data)
    kinds = [r.reason if isinstance(r, DecodeError) else r.cn for r in results]
    assert kinds == [Reason.GARBAGE, "2011", Reason.LENGTH, "2011", Reason.TOO_LONG, "2011"]
    assert decoder.pending == 0


def test_stream_buffer_is_bounded_by_one_packet() -> None:
    decoder = StreamDecoder(max_segment=1024)
    results = decoder.feed(b"##1024" + b"A" * 5000)  # no CR LF ever comes
    assert [r.reason for r in results if isinstance(r, DecodeError)] == [Reason.LENGTH, Reason.GARBAGE]
    assert decoder.pending < 1024 + 12
    assert decoder.feed(b"x" * 100_000) and decoder.pending <= 1


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=40),
    garbage=st.lists(st.binary(max_size=30).filter(lambda b: b"#" not in b), min_size=6, max_size=6),
)
def test_stream_any_chunking_gives_the_same_packets(cuts: list[int], garbage: list[bytes]) -> None:
    packets = [realtime(n) for n in range(5)] + [EXAMPLE]
    data = b"".join(g + p for g, p in zip(garbage, packets, strict=True))
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    decoder = StreamDecoder()
    results = [r for chunk in chunks for r in decoder.feed(chunk)]
    got = [r.qn for r in results if isinstance(r, Packet)]
    assert got == [hj212.decode(p).qn for p in packets]
    errors = [r for r in results if isinstance(r, DecodeError)]
    assert all(e.reason == Reason.GARBAGE for e in errors)
    # Garbage is reported (a run cut by a read may be reported in two pieces), never more than there was.
    assert sum(len(e.raw) for e in errors) <= sum(len(g) for g in garbage)
    assert bool(errors) == any(g.strip(b"\r\n\t ") for g in garbage)
    assert decoder.pending == 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=700))
def test_stream_survives_any_bytes_and_recovers(noise: bytes, chunk: int) -> None:
    decoder = StreamDecoder()
    data = noise + b"\r\n" + realtime(7)
    results = [r for i in range(0, len(data), chunk) for r in decoder.feed(data[i : i + chunk])]
    assert results and isinstance(results[-1], Packet) and results[-1].qn == hj212.decode(realtime(7)).qn


def test_split_message_reassembled() -> None:
    values = {
        c: {"Avg": 1.0 + i, "Max": 2.0, "Min": 0.5, "ZsAvg": 1.1, "Flag": "N"} for i, c in enumerate(CODES)
    }
    cp = hj212.cp_of(dt.datetime(2026, 3, 1, 12), values).split(";")  # noqa: DTZ001
    head = {"qn": "20260301130000000", "st": "31", "cn": "2061", "pw": "123456", "mn": "M1", "flag": "5"}
    parts = hj212.split(head, cp, max_segment=300)
    assert len(parts) > 2
    assembler = hj212.Reassembler()
    results = []
    for raw in reversed(parts):  # out of order
        results += assembler.add(hj212.decode(raw, max_segment=300))
    (whole,) = results
    assert isinstance(whole, Packet) and whole.values == values and not whole.is_split and whole.wants_ack
    assert assembler.pending == 0


def test_split_parts_that_disagree_and_too_many_pending() -> None:
    assembler = hj212.Reassembler(max_pending=2)

    def part(qn: str, pnum: int, pno: int) -> Packet:
        return hj212.parse_segment(f"QN={qn};ST=31;CN=2061;PW=1;MN=M;Flag=6;PNUM={pnum};PNO={pno};CP=&&&&")

    assert assembler.add(part("1", 2, 1)) == []
    (error,) = assembler.add(part("1", 3, 2))
    assert isinstance(error, DecodeError) and error.reason == Reason.SPLIT
    assembler.add(part("2", 2, 1))
    assembler.add(part("3", 2, 1))
    (dropped,) = assembler.add(part("4", 2, 1))
    assert isinstance(dropped, DecodeError) and "2" in dropped.detail
    assert assembler.pending == 2


# ── the fast path agrees with the field-by-field reading ──

_VALUE_TEXTS = st.one_of(
    st.sampled_from(
        [
            "0",
            "-0",
            "10.5",
            "0.1234",
            "12345.678901",
            "01",
            "1.",
            ".5",
            "+1",
            "1e5",
            "1E-3",
            "nan",
            "inf",
            "-inf",
            "1_0",
            " 1",
            "1,5",
            "",
            "N",
            "abc",
            "1" * 25,
            "9" * 16,
            "9" * 17,
            "1.2345678",
            "-12.000000",
            "N;x",
            "a=b",
            "&",
            "\x00",
            "值",
        ]
    ),
    st.text(alphabet="0123456789.-+eNaC ,;=&", max_size=8),
)
_KEYS = st.sampled_from(
    [
        "a21026-Rtd",
        "a21026-ZsRtd",
        "a21026-Flag",
        "a21002-Avg",
        "a21002-Cou",
        "a21002-Flag",
        "w01018-Min",
        "w01018-Max",
        "a21026-EFlag",
        "a21026-SampleTime",
        "RtdInterval",
        "DataTime",
        "x" * 17 + "-Rtd",
        "a21026-",
        "-Rtd",
        "a2-b-c",
        "Data_Time",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_KEYS, _VALUE_TEXTS, st.sampled_from([",", ";"])), min_size=1, max_size=8),
    st.sampled_from(["5", "4", "7", "256", "05"]),
    st.sampled_from(["123456", "", "a=b", "x&y"]),
)
def test_the_fast_path_takes_only_what_the_slow_one_takes_and_reads_it_the_same(
    items: list[tuple[str, str, str]], flag: str, password: str
) -> None:
    body = "".join(f"{k}={v}{sep}" for k, v, sep in items)[:-1]
    text = f"QN=20260301120000000;ST=31;CN=2011;PW={password};MN=88888880000001;Flag={flag};CP=&&{body}&&"
    segment = text.encode("utf-8")
    for _ in range(2):  # the second time through the shape the first one made
        fast = hj212._fast_segment(segment)
        try:
            slow: Packet | HJ212Error = hj212._parse_segment(segment)
        except HJ212Error as error:
            slow = error
        if fast is None:
            continue
        assert isinstance(slow, Packet), f"fast path took a packet the slow one refuses: {slow}"
        assert fast == slow and fast.data_time_text == slow.cp.get("DataTime", "")
        assert json.loads(fast.values_json()) == slow.values
        assert fast.data_time == slow.data_time


def test_the_fast_path_takes_the_usual_packets_and_reads_their_values_as_json() -> None:
    for n in range(3):
        segment = hj212.unframe(realtime(n))
        fast = hj212._fast_segment(segment)
        assert fast is not None, "a logger's usual packet goes the fast way"
        slow = hj212._parse_segment(segment)
        assert fast == slow
        assert json.loads(fast.values_json()) == slow.values
        assert fast.values_json().startswith('{"a21026":{"Rtd":')
    # Odd but valid numbers go the slow way, which reads them as before.
    odd = hj212.unframe(realtime(0)).replace(b"a21026-Rtd=10.5000", b"a21026-Rtd=+1e1")
    assert hj212._fast_segment(odd) is None
    assert hj212.parse_segment(odd).values["a21026"]["Rtd"] == 10.0


def test_a_fast_path_packet_refuses_a_bad_number_as_before() -> None:
    good = hj212.unframe(realtime(0))
    hj212.parse_segment(good)  # the shape is known now
    bad = good.replace(b"a21026-Rtd=10.5000", b"a21026-Rtd=10.5x00")
    with pytest.raises(HJ212Error) as refused:
        hj212.parse_segment(bad)
    assert refused.value.reason is Reason.VALUE and refused.value.detail == "a21026-Rtd='10.5x00'"
    with pytest.raises(HJ212Error) as refused:
        hj212.parse_segment(good.replace(b"a21026-Rtd=10.5000", b"a21026-Rtd=nan"))
    assert refused.value.reason is Reason.VALUE
    empty = good[: good.index(b"CP=&&") + 5]
    with pytest.raises(HJ212Error) as refused:
        hj212.parse_segment(empty)
    assert (refused.value.reason, refused.value.detail) == (Reason.SYNTAX, "no CP=&&...&&")


def test_the_fast_path_reads_the_standards_example_and_edge_headers_as_the_slow_one() -> None:
    segment = hj212.unframe(EXAMPLE)
    assert hj212.crc(segment) == 0x1C80 and hj212.crc_many([segment]) == [0x1C80]
    fast = hj212._fast_segment(segment)
    assert fast is not None and fast == hj212._parse_segment(segment)
    assert (fast.qn, fast.st, fast.cn, fast.pw, fast.mn, fast.flag, fast.pnum, fast.pno) == (
        "20160801085857223", "32", "1062", "100000", "010000A8900016F000169DC0", 5, None, None,
    )  # fmt: skip
    assert fast.cp == {"RtdInterval": "30"} and fast.values_json() == "{}" and fast.data_time_text == ""
    assert fast.segment == segment.decode() and hj212.ack(fast) == hj212.ack(hj212._parse_segment(segment))
    many = hj212.decode_many([EXAMPLE, EXAMPLE.replace(b"1C80", b"1C08")])
    assert many[0] == hj212.decode(EXAMPLE)
    assert isinstance(many[1], DecodeError) and many[1].reason is Reason.CRC
    # A header value of 64 characters goes either way alike; one of 65 is refused, by the slow way.
    long = segment.replace(b"PW=100000", b"PW=" + b"7" * 64)
    assert hj212._fast_segment(long) == hj212._parse_segment(long)
    longer = segment.replace(b"PW=100000", b"PW=" + b"7" * 65)
    assert hj212._fast_segment(longer) is None
    with pytest.raises(HJ212Error) as refused:
        hj212.parse_segment(longer)
    assert refused.value.reason is Reason.SYNTAX and refused.value.detail.startswith("header field 'PW=777")
    # Text outside ASCII never goes the fast way; the slow way reads it as before.
    chinese = hj212.unframe(realtime(0)).replace(b"a21026-Flag=N", "a21026-Flag=值".encode())
    assert hj212._fast_segment(chinese) is None
    assert hj212.parse_segment(chinese).values["a21026"]["Flag"] == "值"
    # A number with more decimals than the fast pattern allows: the slow way, the same number.
    precise = hj212.unframe(realtime(0)).replace(b"a21026-Rtd=10.5000", b"a21026-Rtd=10.5000001")
    assert hj212._fast_segment(precise) is None
    assert hj212.parse_segment(precise).values["a21026"]["Rtd"] == 10.5000001


def test_a_read_of_many_packets_checks_their_crcs_together_as_one_by_one() -> None:
    good = [realtime(n) for n in range(12)]
    bad_crc = good[3][:-6] + b"0000\r\n"
    bad_hex = good[5][:-6] + b"00X0\r\n"
    pieces = [*good[:3], bad_crc, good[4], b"junk", bad_hex, *good[6:]]
    together = StreamDecoder().feed(b"".join(pieces))  # 12 framed packets in one read: crc_many
    single = StreamDecoder()
    one_by_one = [item for piece in pieces for item in single.feed(piece)]  # one a read: crc()
    assert together == one_by_one
    reasons = [item.reason if isinstance(item, DecodeError) else "ok" for item in together]
    assert reasons == ["ok"] * 3 + [Reason.CRC, "ok", Reason.GARBAGE, Reason.SYNTAX] + ["ok"] * 6
    assert together[3] == DecodeError(
        Reason.CRC, f"given 0000, computed {hj212.crc(good[3][6:-6]):04X}", good[3][6:86]
    )
    assert together[6] == DecodeError(Reason.SYNTAX, "CRC is not four hex digits", good[5][6:86])
    kept = [good[n] for n in range(12) if n not in (3, 5)]
    assert [p for p in together if isinstance(p, Packet)] == [hj212.decode(g) for g in kept]
    # The standard's example among many: its CRC 1C80 found by the batched way too.
    batch = StreamDecoder().feed(EXAMPLE * hj212.MANY)
    assert batch == [hj212.decode(EXAMPLE)] * hj212.MANY
