"""Envelopes and their HMAC-SHA256 signatures (standard library + ormsgpack).

The signature covers the envelope bytes followed by the body bytes exactly as
they travel, so verification never depends on how a peer orders map keys.
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
from typing import NamedTuple

import ormsgpack

from batos_core.protocol.errors import BadSignature, MalformedEnvelope

SIGNATURE_LENGTH = 64  # hex digits of a SHA-256 digest
_SESSION_RE = re.compile(r"[0-9a-f]{32}")
_HEX_RE = re.compile(rb"[0-9a-f]{64}")
_U64_MAX = (1 << 64) - 1


class Envelope(NamedTuple):
    """Per-message metadata used against replay (immutable).

    ``session`` is 16 random bytes in lowercase hex, chosen once per sender;
    ``counter`` strictly increases within a session; ``ts_ns`` is the sender's
    wall clock (``time.time_ns()``) when the message was signed. A NamedTuple
    rather than a frozen dataclass: one is made for every message, and a
    frozen dataclass's ``__init__`` costs several times more.
    """

    session: str
    counter: int
    ts_ns: int

    def to_bytes(self) -> bytes:
        """Canonical msgpack form (keys sorted), the bytes that get signed."""
        return envelope_bytes(self.session, self.counter, self.ts_ns)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse an envelope frame; raises :class:`MalformedEnvelope`."""
        try:
            fields = ormsgpack.unpackb(data)
        except (ValueError, TypeError) as exc:
            raise MalformedEnvelope(f"envelope is not msgpack: {exc}") from None
        # Every message passes here: one dict probe per field, no set built.
        if type(fields) is not dict or len(fields) != 3:
            raise MalformedEnvelope("envelope must be a map of session, counter, ts_ns")
        session, counter, ts_ns = fields.get("session"), fields.get("counter"), fields.get("ts_ns")
        if session is None or counter is None or ts_ns is None:
            raise MalformedEnvelope("envelope must be a map of session, counter, ts_ns")
        if type(session) is not str or not _SESSION_RE.fullmatch(session):
            raise MalformedEnvelope("envelope session must be 32 lowercase hex digits")
        if type(counter) is not int or not 0 <= counter <= _U64_MAX:
            raise MalformedEnvelope("envelope counter must be an unsigned 64-bit integer")
        if type(ts_ns) is not int or not 0 <= ts_ns <= _U64_MAX:
            raise MalformedEnvelope("envelope ts_ns must be an unsigned 64-bit integer")
        return cls(session, counter, ts_ns)


def envelope_bytes(session: str, counter: int, ts_ns: int) -> bytes:
    """``Envelope(session, counter, ts_ns).to_bytes()`` without making the tuple.

    The keys are written in sorted order, which is what OPT_SORT_KEYS gives.
    """
    return ormsgpack.packb({"counter": counter, "session": session, "ts_ns": ts_ns})


def new_session() -> str:
    """A fresh random session id (16 bytes, lowercase hex)."""
    return os.urandom(16).hex()  # what secrets.token_hex does, without importing it


def compute_signature(key: bytes, envelope: bytes, body: bytes) -> bytes:
    """HMAC-SHA256 of ``envelope + body`` under ``key``, as 64 lowercase hex ASCII bytes."""
    # hmac.digest is OpenSSL's one-shot HMAC: no Python HMAC object per message.
    return binascii.hexlify(hmac.digest(key, envelope + body, "sha256"))


def verify_signature(key: bytes, signature: bytes, envelope: bytes, body: bytes) -> None:
    """Check ``signature`` in constant time; raises :class:`BadSignature`."""
    # compare_digest first: a frame that is not 64 lowercase hex digits never
    # equals a computed signature, so the format is checked only on failure.
    if not hmac.compare_digest(compute_signature(key, envelope, body), signature):
        if not _HEX_RE.fullmatch(signature):
            raise BadSignature("signature frame is not 64 lowercase hex digits")
        raise BadSignature("signature does not match envelope and body")
