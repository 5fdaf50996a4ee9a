"""Envelopes and their HMAC-SHA256 signatures (standard library + ormsgpack).

The signature covers the envelope bytes followed by the body bytes exactly as
they travel, so verification never depends on how a peer orders map keys.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

import ormsgpack

from batos_core.protocol.errors import BadSignature, MalformedEnvelope

SIGNATURE_LENGTH = 64  # hex digits of a SHA-256 digest
_SESSION_RE = re.compile(r"[0-9a-f]{32}")
_HEX_RE = re.compile(rb"[0-9a-f]{64}")
_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Envelope:
    """Per-message metadata used against replay.

    ``session`` is 16 random bytes in lowercase hex, chosen once per sender;
    ``counter`` strictly increases within a session; ``ts_ns`` is the sender's
    wall clock (``time.time_ns()``) when the message was signed.
    """

    session: str
    counter: int
    ts_ns: int

    def to_bytes(self) -> bytes:
        """Canonical msgpack form (keys sorted), the bytes that get signed."""
        fields = {"session": self.session, "counter": self.counter, "ts_ns": self.ts_ns}
        return ormsgpack.packb(fields, option=ormsgpack.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse an envelope frame; raises :class:`MalformedEnvelope`."""
        try:
            fields = ormsgpack.unpackb(data)
        except (ValueError, TypeError) as exc:
            raise MalformedEnvelope(f"envelope is not msgpack: {exc}") from None
        if not isinstance(fields, dict) or set(fields) != {"session", "counter", "ts_ns"}:
            raise MalformedEnvelope("envelope must be a map of session, counter, ts_ns")
        session, counter, ts_ns = fields["session"], fields["counter"], fields["ts_ns"]
        if not isinstance(session, str) or not _SESSION_RE.fullmatch(session):
            raise MalformedEnvelope("envelope session must be 32 lowercase hex digits")
        for name, value in (("counter", counter), ("ts_ns", ts_ns)):
            if type(value) is not int or not 0 <= value <= _U64_MAX:
                raise MalformedEnvelope(f"envelope {name} must be an unsigned 64-bit integer")
        return cls(session, counter, ts_ns)


def new_session() -> str:
    """A fresh random session id (16 bytes, lowercase hex)."""
    return secrets.token_hex(16)


def compute_signature(key: bytes, envelope: bytes, body: bytes) -> bytes:
    """HMAC-SHA256 of ``envelope + body`` under ``key``, as 64 lowercase hex ASCII bytes."""
    # hmac.digest is OpenSSL's one-shot HMAC: no Python HMAC object per message.
    return hmac.digest(key, envelope + body, "sha256").hex().encode("ascii")


def verify_signature(key: bytes, signature: bytes, envelope: bytes, body: bytes) -> None:
    """Check ``signature`` in constant time; raises :class:`BadSignature`."""
    if not _HEX_RE.fullmatch(signature):
        raise BadSignature("signature frame is not 64 lowercase hex digits")
    if not hmac.compare_digest(compute_signature(key, envelope, body), signature):
        raise BadSignature("signature does not match envelope and body")
