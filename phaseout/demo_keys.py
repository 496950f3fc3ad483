"""The demo accounts' TOTP keys, and the code an authenticator app shows for a key (RFC 6238: HMAC-SHA1,
30-second steps, 6 digits, as phaseout.identity.factors.TotpFactor sets devices up). No Django here: the
topology and load tests' HTTP clients (tools/topology_client.py, benchmarks/locustfile.py) sign in with it."""

from __future__ import annotations

import hashlib
import hmac
import struct


def demo_totp_key(username: str) -> str:
    """A demo account's fixed TOTP key (hex, 20 bytes), the same on every machine, printed by `make demo`:
    add it to an authenticator app, or print the current code with `phaseout totp USERNAME`."""
    return hashlib.sha256(f"phaseout-demo-totp:{username}".encode()).hexdigest()[:40]


def totp_code(key_hex: str, unix_time: float, step: int = 30, digits: int = 6) -> str:
    """The code for the step `unix_time` falls in."""
    counter = struct.pack(">Q", int(unix_time // step))
    mac = hmac.new(bytes.fromhex(key_hex), counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"
