"""Forged, tampered, replayed, oversized and mis-framed messages never reach a handler.

Every test here runs a one-worker daemon: requests then run in arrival order,
so a counter read sent after a rejected increment would see that increment
had it been accepted.
"""

from __future__ import annotations

from typing import Any

import pytest

from batos_core.protocol.builders import send_request, status_request
from batos_core.protocol.connection import new_key
from batos_core.protocol.wire import encode_body

ONE_WORKER = ("--workers", "1")


@pytest.fixture
def counted(daemon_factory: Any) -> Any:
    """A one-worker daemon whose genesis has ``counter`` = 0 and ``increment``."""
    daemon = daemon_factory(extra_args=ONE_WORKER)
    daemon.install_counter()
    return daemon


def dropped_lines(daemon: Any) -> list[str]:
    return [line for line in daemon.log_text().splitlines() if "dropped a message" in line]


def assert_dropped(daemon: Any, frames: list[bytes], reason: str, *, counter: int = 0) -> None:
    """Send `frames` on a raw socket: no reply, a 'dropped' log line naming `reason`, counter unchanged."""
    before = len(dropped_lines(daemon))
    raw = daemon.raw()
    raw.send_frames(frames)
    # The loop reads one peer's messages in order: once a later request on the
    # same socket is answered, the forged one has been dealt with.
    assert raw.request(status_request())["type"] == "status_reply"
    new = dropped_lines(daemon)[before:]
    assert len(new) == 1, new
    assert reason in new[0]
    assert daemon.send("genesis", "counter")["result"] == counter
    assert raw.receive(timeout=0.2) is None


def test_wrong_key_is_dropped(counted: Any) -> None:
    forger = counted.raw(key=new_key())
    assert_dropped(counted, forger.sign(send_request("genesis", "increment")), "signature does not match")


def test_missing_signature_frame_is_dropped(counted: Any) -> None:
    magic, _signature, envelope, body = counted.raw().sign(send_request("genesis", "increment"))
    assert_dropped(counted, [magic, envelope, body], "frames")


def test_tampered_body_is_dropped(counted: Any) -> None:
    raw = counted.raw()
    harmless = send_request("genesis", "counter")
    frames = raw.sign(harmless)
    frames[3] = encode_body(send_request("genesis", "increment", request_id=harmless["id"]))
    assert_dropped(counted, frames, "signature does not match")


def test_replayed_frames_are_dropped(counted: Any) -> None:
    raw = counted.raw()
    frames = raw.sign(send_request("genesis", "increment"))
    raw.send_frames(frames)
    reply = raw.receive(timeout=30.0)
    assert reply is not None and reply["result"] == 1
    assert_dropped(counted, frames, "counter", counter=1)


def test_frames_signed_before_a_restart_are_dropped_after_it(daemon_factory: Any) -> None:
    first = daemon_factory(extra_args=ONE_WORKER)
    first.install_counter()
    frames = first.raw().sign(send_request("genesis", "increment"))
    assert first.stop() == 0
    second = daemon_factory(extra_args=ONE_WORKER)
    assert second.info.key == first.info.key  # the key survives; only the guard is new
    assert_dropped(second, frames, "before the receiver started")
    # A message signed now, with the same key, is accepted.
    assert second.raw().request(send_request("genesis", "increment"))["result"] == 1


def test_frame_over_the_size_cap_is_dropped(daemon_factory: Any) -> None:
    daemon = daemon_factory(extra_args=(*ONE_WORKER, "--max-frame-bytes", "4096"))
    daemon.install_counter()
    raw = daemon.raw()
    # 6 KB: above the daemon's cap, below libzmq's transport limit: the daemon drops it.
    frames = raw.sign(send_request("genesis", "setSlot:value:", ["big", "x" * 6000]))
    assert_dropped(daemon, frames, "cap is 4096")
    # 10 KB: libzmq itself refuses it and disconnects the peer; nothing is read.
    huge = raw.sign(send_request("genesis", "setSlot:value:", ["big", "x" * 10_000]))
    raw.send_frames(huge)
    assert daemon.status()["type"] == "status_reply"
    assert daemon.send("genesis", "big")["code"] == "slot_not_found"
    assert daemon.send("genesis", "counter")["result"] == 0


def test_more_frames_than_the_protocol_uses_are_dropped(counted: Any) -> None:
    frames = counted.raw().sign(send_request("genesis", "increment"))
    assert_dropped(counted, [*frames, b"extra"], "magic")
    frames = counted.raw().sign(send_request("genesis", "increment"))
    assert_dropped(counted, [*frames, frames[3]], "magic")
