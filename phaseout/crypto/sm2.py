"""SM2 digital signatures (GB/T 32918.2-2016, GM/T 0003.2-2012) with SM3 (GB/T 32905-2016).

The curve arithmetic is gmssl's (a pure-Python implementation); everything around it is here, because
gmssl leaves it to the caller:

- the nonce k comes from `secrets` (gmssl's own helper draws it with `random`, which must never be
  used for a signature: a predictable k gives the private key away);
- the public key is set on the object directly (gmssl's constructor strips a leading "04" with
  `str.lstrip`, which also eats the first digits of a key whose x begins with 0 or 4);
- e = SM3(Z_A || M) with Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) is computed
  here with OpenSSL's SM3, and the identifier is a parameter (GM/T 0009-2012's default
  1234567812345678 unless one is given);
- r and s are checked to lie in [1, n-1] before verifying; a malformed signature is "not valid",
  never an exception.

Signatures are r || s, 64 bytes. `KNOWN_ANSWER` is the signature example of GM/T 0003.2-2012 appendix A
(its example curve over a 256-bit prime field, identifier ALICE123@YAHOO.COM, message "message
digest"); `self_test()` checks it, as the SM4 and SM3 vectors are checked at start.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import hashes
from gmssl.sm2 import CryptSM2

DEFAULT_ID = b"1234567812345678"  # GM/T 0009-2012 §10: the identifier when none is agreed
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 64  # x || y, without the 04 of the uncompressed form


@dataclass(frozen=True)
class Curve:
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    def table(self) -> dict[str, str]:
        """The curve as gmssl takes it (hex strings of 64 digits)."""
        return {
            "p": f"{self.p:064x}",
            "a": f"{self.a:064x}",
            "b": f"{self.b:064x}",
            "g": f"{self.gx:064x}{self.gy:064x}",
            "n": f"{self.n:064x}",
        }


# GB/T 32918.5-2017: the recommended curve (sm2p256v1).
SM2P256V1 = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)

# GM/T 0003.2-2012 appendix A: the example curve of the signature example (not for use).
EXAMPLE_CURVE = Curve(
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)


@dataclass(frozen=True)
class KnownAnswer:
    curve: Curve
    identifier: bytes
    message: bytes
    private_key: int
    public_key: bytes
    k: int
    z: str
    e: str
    signature: str


KNOWN_ANSWER = KnownAnswer(
    curve=EXAMPLE_CURVE,
    identifier=b"ALICE123@YAHOO.COM",
    message=b"message digest",
    private_key=0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263,
    public_key=bytes.fromhex(
        "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A"
        "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857"
    ),
    k=0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F,
    z="F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A",
    e="B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76",
    signature=(
        "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
        "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7"
    ),
)


class SignatureError(ValueError):
    """A key that is not an SM2 key of the curve."""


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _engine(curve: Curve, *, private_key: int = 0, public_key: bytes = b"") -> CryptSM2:
    engine = CryptSM2(private_key=f"{private_key:064x}", public_key="", ecc_table=curve.table())
    engine.public_key = public_key.hex()  # set directly: see the module's note on gmssl's lstrip
    return engine


def check_private_key(private_key: int, curve: Curve = SM2P256V1) -> None:
    if not 1 <= private_key <= curve.n - 2:  # GB/T 32918.1 §6.1: d in [1, n-2]
        raise SignatureError("an SM2 private key lies in [1, n-2]")


def public_key(private_key: int, curve: Curve = SM2P256V1) -> bytes:
    """P = [d]G, as x || y (64 bytes)."""
    check_private_key(private_key, curve)
    point = _engine(curve)._kg(private_key, curve.table()["g"])
    return bytes.fromhex(point)


def is_public_key(public: bytes, curve: Curve = SM2P256V1) -> bool:
    """Whether `public` (x || y, 64 bytes) is a point of the curve (GB/T 32918.1 §6.2: coordinates in
    the field, y^2 = x^3 + ax + b); the point at infinity has no such encoding."""
    if len(public) != PUBLIC_KEY_BYTES:
        return False
    x, y = int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big")
    if not (0 <= x < curve.p and 0 <= y < curve.p):
        return False
    return (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p == 0


def generate_private_key(curve: Curve = SM2P256V1) -> int:
    return secrets.randbelow(curve.n - 2) + 1


def z_value(public: bytes, identifier: bytes = DEFAULT_ID, curve: Curve = SM2P256V1) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5)."""
    if len(public) != PUBLIC_KEY_BYTES:
        raise SignatureError("an SM2 public key is 64 bytes (x || y)")
    if len(identifier) >= 8192:
        raise SignatureError("the identifier is too long")
    entl = (len(identifier) * 8).to_bytes(2, "big")
    parts = [curve.a, curve.b, curve.gx, curve.gy]
    return _sm3(entl + identifier + b"".join(v.to_bytes(32, "big") for v in parts) + public)


def message_digest(message: bytes, public: bytes, identifier: bytes = DEFAULT_ID,
                   curve: Curve = SM2P256V1) -> bytes:  # fmt: skip
    """e = SM3(Z_A || M)."""
    return _sm3(z_value(public, identifier, curve) + message)


def sign(
    private_key: int,
    message: bytes,
    *,
    identifier: bytes = DEFAULT_ID,
    curve: Curve = SM2P256V1,
    k: int | None = None,
    public: bytes | None = None,
) -> bytes:
    """The SM2 signature r || s of `message` (GB/T 32918.2 §6.1). `k` is for the known answer only;
    `public` is the signer's public key when the caller already has it (it goes into Z_A)."""
    public = public or public_key(private_key, curve)
    e = message_digest(message, public, identifier, curve)
    engine = _engine(curve, private_key=private_key, public_key=public)
    for _ in range(16):
        nonce = k if k is not None else secrets.randbelow(curve.n - 1) + 1
        signature = engine.sign(e, f"{nonce:064x}")
        if signature is not None:
            return bytes.fromhex(signature)
        if k is not None:
            break
    raise SignatureError("no signature with this nonce")  # pragma: no cover - probability ~2^-256


def verify(
    public: bytes,
    message: bytes,
    signature: bytes,
    *,
    identifier: bytes = DEFAULT_ID,
    curve: Curve = SM2P256V1,
) -> bool:
    """Whether `signature` (r || s) is the signature of `message` under `public` (§7.1)."""
    if len(signature) != SIGNATURE_BYTES or len(public) != PUBLIC_KEY_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < curve.n and 1 <= s < curve.n):
        return False
    e = message_digest(message, public, identifier, curve)
    try:
        return bool(_engine(curve, public_key=public).verify(signature.hex(), e))
    except (TypeError, ValueError):  # a point that is not on the curve, at infinity
        return False


@cache
def self_test() -> None:
    """The known answer of GM/T 0003.2-2012 appendix A, and a round trip on the recommended curve."""
    ka = KNOWN_ANSWER
    problems = []
    if public_key(ka.private_key, ka.curve) != ka.public_key:
        problems.append("P = [d]G differs from the example")
    if z_value(ka.public_key, ka.identifier, ka.curve).hex().upper() != ka.z:
        problems.append("Z_A differs from the example")
    if message_digest(ka.message, ka.public_key, ka.identifier, ka.curve).hex().upper() != ka.e:
        problems.append("e differs from the example")
    signature = sign(ka.private_key, ka.message, identifier=ka.identifier, curve=ka.curve, k=ka.k)
    if signature.hex().upper() != ka.signature:
        problems.append("(r, s) differs from the example")
    if not verify(ka.public_key, ka.message, signature, identifier=ka.identifier, curve=ka.curve):
        problems.append("the example signature does not verify")
    probe = generate_private_key()
    if not verify(public_key(probe), b"self-test", sign(probe, b"self-test")):
        problems.append("a signature on the recommended curve does not verify")
    if problems:
        raise RuntimeError("SM2 self-test failed: " + "; ".join(problems))
