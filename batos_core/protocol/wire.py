"""Framing: turning a message dict into signed frames and back (stdlib + ormsgpack).

A message is exactly four frames (after any ROUTER identity frames)::

    [MAGIC, signature (64 hex bytes), envelope (msgpack map), body (msgpack map)]

Incoming frames are checked in this order, and nothing from the body is
decoded before the signature and the envelope have passed: frame count, frame
sizes, magic, signature, envelope, replay guard, body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import ormsgpack

from batos_core.protocol.constants import DEFAULT_MAX_FRAME_BYTES, MAGIC
from batos_core.protocol.errors import BadFrameCount, BadMagic, FrameTooLarge, MalformedBody
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.signing import (
    Envelope,
    compute_signature,
    envelope_bytes,
    new_session,
    verify_signature,
)

FRAME_COUNT = 4


def encode_body(message: Mapping[str, Any]) -> bytes:
    """Canonical msgpack of a message dict: map keys sorted at every level.

    Sorting makes the bytes independent of how the dict was built (pydantic
    dump or client builder), which is what the golden-bytes tests pin down.
    Raises ``TypeError`` for values msgpack cannot carry (encode them with
    :func:`batos_core.protocol.values.encode_value` first).
    """
    return ormsgpack.packb(message, option=ormsgpack.OPT_SORT_KEYS)


def decode_body(body: bytes) -> dict[str, Any]:
    """Decode a body frame; raises :class:`MalformedBody` unless it is a msgpack
    map with string keys whose ``type`` is a string."""
    try:
        message = ormsgpack.unpackb(body)
    except (ValueError, TypeError) as exc:
        raise MalformedBody(f"body is not msgpack: {exc}") from None
    if type(message) is not dict:
        raise MalformedBody("body must be a map with string keys")
    for key in message:
        if type(key) is not str:
            raise MalformedBody("body must be a map with string keys")
    if type(message.get("type")) is not str:
        raise MalformedBody("body has no string 'type'")
    return message


def split_route(frames: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split a ROUTER message into (identity frames, protocol frames).

    The protocol part is the last :data:`FRAME_COUNT` frames; a DEALER peer
    connected directly yields exactly one identity frame. Raises
    :class:`BadFrameCount` when there is no identity frame at all.
    """
    if len(frames) <= FRAME_COUNT:
        raise BadFrameCount(f"routed message has {len(frames)} frames, expected > {FRAME_COUNT}")
    return list(frames[:-FRAME_COUNT]), list(frames[-FRAME_COUNT:])


class Signer:
    """Signs outgoing messages: one session id, a strictly increasing counter.

    One instance per sending peer (the daemon uses one for all its replies).
    Not thread-safe.
    """

    def __init__(
        self,
        key: bytes,
        *,
        session: str | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._key = key
        self.session = session if session is not None else new_session()
        self.max_frame_bytes = max_frame_bytes
        self._clock = clock
        self._counter = 0

    def sign(self, message: Mapping[str, Any]) -> list[bytes]:
        """Encode and sign ``message``; returns the four protocol frames.

        Raises :class:`FrameTooLarge` if the body exceeds the frame cap (the
        receiver would drop it), ``TypeError`` if it is not msgpack-encodable.
        """
        return self.sign_body(self.encode(message))

    def encode(self, message: Mapping[str, Any]) -> bytes:
        """The body frame of ``message`` (the first half of :meth:`sign`): raises
        :class:`FrameTooLarge` or ``TypeError`` as :meth:`sign` does."""
        body = encode_body(message)
        if len(body) > self.max_frame_bytes:
            raise FrameTooLarge(f"body of {len(body)} bytes exceeds {self.max_frame_bytes}")
        return body

    def sign_body(self, body: bytes) -> list[bytes]:
        """The four frames for a body from :meth:`encode`, with the next counter.

        Receivers require counters to rise in the order messages arrive, so a
        signer shared by threads must sign and send under one lock.
        """
        self._counter += 1
        envelope = envelope_bytes(self.session, self._counter, self._clock())
        return [MAGIC, compute_signature(self._key, envelope, body), envelope, body]


class Received(NamedTuple):
    """A verified incoming message."""

    envelope: Envelope
    message: dict[str, Any]


class Verifier:
    """Verifies incoming protocol frames against a key and a :class:`ReplayGuard`.

    Not thread-safe (the guard is stateful): use one per receiving loop.
    """

    def __init__(
        self,
        key: bytes,
        guard: ReplayGuard | None = None,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self._key = key
        self.guard = guard if guard is not None else ReplayGuard()
        self.max_frame_bytes = max_frame_bytes

    def verify(self, frames: Sequence[bytes]) -> Received:
        """Check and decode four protocol frames (identity frames already removed).

        Raises, in order of the checks: :class:`BadFrameCount`,
        :class:`FrameTooLarge`, :class:`BadMagic`, :class:`BadSignature`,
        :class:`MalformedEnvelope`, :class:`Stale` / :class:`Replayed`,
        :class:`MalformedBody`. All are :class:`WireError` with a ``reason``.
        """
        if len(frames) != FRAME_COUNT:
            raise BadFrameCount(f"{len(frames)} frames, expected {FRAME_COUNT}")
        magic, signature, envelope_bytes, body = frames
        cap = self.max_frame_bytes
        if len(magic) > cap or len(signature) > cap or len(envelope_bytes) > cap or len(body) > cap:
            index = next(i for i, frame in enumerate(frames) if len(frame) > cap)
            raise FrameTooLarge(f"frame {index} has {len(frames[index])} bytes, cap is {cap}")
        if magic != MAGIC:
            raise BadMagic(f"magic {bytes(magic[:16])!r}, expected {MAGIC!r}")
        verify_signature(self._key, signature, envelope_bytes, body)
        envelope = Envelope.from_bytes(envelope_bytes)
        self.guard.check(envelope)
        return Received(envelope, decode_body(body))
