"""Signing, framing and replay protection: what passes and what is rejected, and when."""

from __future__ import annotations

from pathlib import Path

import ormsgpack
import pytest

from batos_core.protocol.constants import MAGIC
from batos_core.protocol.errors import (
    BadFrameCount,
    BadMagic,
    BadSignature,
    FrameTooLarge,
    MalformedBody,
    MalformedEnvelope,
    Replayed,
    Stale,
    WireError,
)
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.signing import Envelope, compute_signature
from batos_core.protocol.wire import Signer, Verifier, encode_body, split_route

KEY = bytes(range(32))
SESSION = "00112233445566778899aabbccddeeff"
NOW = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
MESSAGE = {"type": "status_request", "id": "r1"}


class Clock:
    """A settable clock in nanoseconds."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_pair(clock: Clock | None = None) -> tuple[Signer, Verifier]:
    clock = clock or Clock()
    signer = Signer(KEY, session=SESSION, clock=clock)
    return signer, Verifier(KEY, ReplayGuard(clock=clock))


def test_documented_example_signature() -> None:
    # The worked example in docs/protocol.md ("Signature"): keep both in sync.
    envelope = Envelope(SESSION, 1, NOW).to_bytes()
    body = encode_body(MESSAGE)
    assert envelope.hex() == (
        "83a7636f756e74657201a773657373696f6ed920303031313232333334343535363637373838393961"
        "6162626363646465656666a574735f6e73cf17979cfe362a0000"
    )
    assert body.hex() == "82a26964a27231a474797065ae7374617475735f72657175657374"
    assert compute_signature(KEY, envelope, body) == (
        b"cc05e8e352733a4db443756d4a4fc43036a80bf23946666b406c3405dce5a88f"
    )


def test_signed_message_passes() -> None:
    signer, verifier = make_pair()
    frames = signer.sign(MESSAGE)
    assert frames[0] == MAGIC and len(frames[1]) == 64
    received = verifier.verify(frames)
    assert received.message == MESSAGE
    assert (received.envelope.session, received.envelope.counter) == (SESSION, 1)


@pytest.mark.parametrize("index", [2, 3])
def test_tampered_envelope_or_body_fails(index: int) -> None:
    signer, verifier = make_pair()
    frames = signer.sign(MESSAGE)
    frames[index] = frames[index][:-1] + bytes([frames[index][-1] ^ 1])
    with pytest.raises(BadSignature):
        verifier.verify(frames)


@pytest.mark.parametrize(
    "signature",
    [b"0" * 64, b"", b"zz" * 32, None],
    ids=["wrong", "empty", "not-hex", "uppercase"],
)
def test_bad_signature_fails(signature: bytes | None) -> None:
    signer, verifier = make_pair()
    frames = signer.sign(MESSAGE)
    frames[1] = frames[1].upper() if signature is None else signature
    with pytest.raises(BadSignature):
        verifier.verify(frames)


def test_wrong_key_fails() -> None:
    frames = Signer(b"k" * 32).sign(MESSAGE)
    with pytest.raises(BadSignature):
        Verifier(KEY).verify(frames)


def test_replayed_counter_fails_and_later_counters_pass() -> None:
    signer, verifier = make_pair()
    first, second = signer.sign(MESSAGE), signer.sign(MESSAGE)
    verifier.verify(second)
    with pytest.raises(Replayed):
        verifier.verify(second)
    with pytest.raises(Replayed):
        verifier.verify(first)  # counters must strictly increase, not just differ
    verifier.verify(signer.sign(MESSAGE))


def test_message_signed_before_the_guard_started_is_stale() -> None:
    # A restarted daemon has a fresh guard: captured traffic from before is refused.
    clock = Clock()
    frames = Signer(KEY, clock=clock).sign(MESSAGE)
    clock.now += 60 * SECOND
    restarted = Verifier(KEY, ReplayGuard(clock=clock))
    with pytest.raises(Stale) as info:
        restarted.verify(frames)
    assert "before the receiver started" in info.value.reason


def test_message_outside_the_window_is_stale() -> None:
    clock = Clock()
    guard = ReplayGuard(clock=clock, start_ns=0)
    past = Envelope(SESSION, 1, NOW - 301 * SECOND)
    future = Envelope(SESSION, 1, NOW + 301 * SECOND)
    for envelope in (past, future):
        with pytest.raises(Stale):
            guard.check(envelope)
    guard.check(Envelope(SESSION, 1, NOW + 299 * SECOND))  # small skew is fine
    assert len(guard) == 1


def test_skew_allowance_before_start() -> None:
    guard = ReplayGuard(clock=Clock(), skew_ns=5 * SECOND)
    guard.check(Envelope(SESSION, 1, NOW - 4 * SECOND))


def test_guard_memory_is_bounded_without_reopening_replays() -> None:
    clock = Clock()
    guard = ReplayGuard(clock=clock, max_sessions=2, start_ns=0)
    sessions = [f"{i:032x}" for i in range(3)]
    for offset, session in enumerate(sessions):
        guard.check(Envelope(session, 1, NOW + offset))
    assert len(guard) == 2
    # Session 0 was evicted; replaying its message is still refused.
    with pytest.raises(Stale):
        guard.check(Envelope(sessions[0], 1, NOW))
    # A new session with a current timestamp is accepted.
    guard.check(Envelope("f" * 32, 1, NOW + 10))


def test_expired_sessions_are_dropped() -> None:
    clock = Clock()
    guard = ReplayGuard(clock=clock, start_ns=0, max_sessions=100)
    guard.check(Envelope(SESSION, 1, NOW))
    clock.now += 400 * SECOND
    guard.check(Envelope("a" * 32, 1, clock.now))
    assert len(guard) == 1
    with pytest.raises(Stale):  # the dropped session's messages are out of the window
        guard.check(Envelope(SESSION, 1, NOW))


@pytest.mark.parametrize("count", [0, 3, 5])
def test_wrong_frame_count_fails(count: int) -> None:
    signer, verifier = make_pair()
    frames = [*signer.sign(MESSAGE), b"extra"][:count]
    with pytest.raises(BadFrameCount):
        verifier.verify(frames)


def test_oversize_frame_fails_before_decoding() -> None:
    signer, _ = make_pair()
    verifier = Verifier(KEY, max_frame_bytes=100)
    frames = signer.sign(MESSAGE)
    frames[3] = b"\xc1" * 101  # not even msgpack: a decode would raise something else
    with pytest.raises(FrameTooLarge):
        verifier.verify(frames)


def test_frame_checks_come_before_signature_and_body() -> None:
    _, verifier = make_pair()
    # Garbage everywhere, but the wrong count is what gets reported.
    with pytest.raises(BadFrameCount):
        verifier.verify([b"\xc1"] * 5)
    with pytest.raises(BadMagic):
        verifier.verify([b"batos/2", b"0" * 64, b"\xc1", b"\xc1"])
    with pytest.raises(BadSignature):
        verifier.verify([MAGIC, b"0" * 64, b"\xc1", b"\xc1"])


def test_signer_refuses_an_oversize_body() -> None:
    signer = Signer(KEY, max_frame_bytes=64)
    with pytest.raises(FrameTooLarge):
        signer.sign({"type": "x", "id": "r", "blob": b"\x00" * 100})


def _signed(envelope: bytes, body: bytes) -> list[bytes]:
    return [MAGIC, compute_signature(KEY, envelope, body), envelope, body]


@pytest.mark.parametrize(
    "envelope",
    [
        b"\xc1",
        ormsgpack.packb([1, 2]),
        ormsgpack.packb({"session": "xyz", "counter": 1, "ts_ns": NOW}),
        ormsgpack.packb({"session": SESSION, "counter": -1, "ts_ns": NOW}),
        ormsgpack.packb({"session": SESSION, "counter": True, "ts_ns": NOW}),
        ormsgpack.packb({"session": SESSION, "counter": 1, "ts_ns": NOW, "x": 1}),
    ],
)
def test_malformed_envelope_fails_even_when_signed(envelope: bytes) -> None:
    _, verifier = make_pair()
    with pytest.raises(MalformedEnvelope):
        verifier.verify(_signed(envelope, encode_body(MESSAGE)))


@pytest.mark.parametrize(
    "body",
    [b"\xc1", ormsgpack.packb([1]), ormsgpack.packb({"id": "r"}), ormsgpack.packb({"type": 1})],
)
def test_malformed_body_fails_even_when_signed(body: bytes) -> None:
    _, verifier = make_pair()
    envelope = Envelope(SESSION, 1, NOW).to_bytes()
    with pytest.raises(MalformedBody):
        verifier.verify(_signed(envelope, body))


def test_every_rejection_has_a_reason() -> None:
    _, verifier = make_pair()
    with pytest.raises(WireError) as info:
        verifier.verify([])
    assert info.value.reason == str(info.value) and info.value.reason


def test_split_route_separates_identity_frames() -> None:
    signer, verifier = make_pair()
    identity, frames = split_route([b"peer", *signer.sign(MESSAGE)])
    assert identity == [b"peer"]
    assert verifier.verify(frames).message == MESSAGE
    with pytest.raises(BadFrameCount):
        split_route(signer.sign(MESSAGE))


def test_docs_show_the_same_worked_example() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    flat = "".join(docs.split())  # the hex strings are wrapped over lines there
    envelope = Envelope(SESSION, 1, NOW).to_bytes()
    body = encode_body(MESSAGE)
    assert envelope.hex() in flat
    assert body.hex() in flat
    assert compute_signature(KEY, envelope, body).decode() in flat
    assert KEY.hex() in flat
