"""The Lazy Pirate client against a tiny real ROUTER over ipc://."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import zmq

from batos_core.protocol import builders
from batos_core.protocol.client import Client, raise_for_error
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.errors import DaemonUnavailable, RemoteError, VersionMismatch
from batos_core.protocol.wire import Signer

from .tiny_router import KEY, TinyRouter

Context = zmq.Context[zmq.Socket[bytes]]


def reply_to(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "send_reply", "id": request["id"], "result": 42, **fields}


def test_lost_request_is_retried_with_the_same_id(router: TinyRouter, context: Context) -> None:
    router.handler = lambda request, seen: [] if seen == 1 else [reply_to(request)]
    request = builders.send_request("genesis", "answer")
    with Client(router.endpoint, KEY, timeout=0.3, retries=2, context=context) as client:
        reply = client.request(request)
    assert reply == {"type": "send_reply", "id": request["id"], "result": 42}
    assert [r["id"] for r in router.seen] == [request["id"], request["id"]]
    # Same request, freshly signed: same session, a higher counter.
    (session1, counter1), (session2, counter2) = router.envelopes
    assert session1 == session2 and counter2 > counter1


def test_events_reach_the_callback_before_the_reply(router: TinyRouter, context: Context) -> None:
    def handler(request: dict[str, Any], seen: int) -> list[dict[str, Any]]:
        events = [{"type": "event", "id": request["id"], "kind": "phase", "data": {"n": n}} for n in range(3)]
        other = {"type": "event", "id": "someone-else", "kind": "phase", "data": {}}
        return [*events, other, reply_to(request)]

    router.handler = handler
    received: list[dict[str, Any]] = []
    with Client(router.endpoint, KEY, timeout=2, context=context) as client:
        reply = client.request(builders.status_request(), on_event=received.append)
    assert [event["data"]["n"] for event in received] == [0, 1, 2]
    assert reply["type"] == "send_reply"


def test_badly_signed_reply_is_dropped(
    router: TinyRouter, context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: dict[str, Any], seen: int) -> list[dict[str, Any]]:
        forged = Signer(b"x" * 32).sign(reply_to(request, result="forged"))
        return [{"raw_frames": forged}, reply_to(request, result="genuine")]

    router.handler = handler
    with caplog.at_level(logging.WARNING, logger="batos_core.protocol.client"):
        with Client(router.endpoint, KEY, timeout=2, context=context) as client:
            reply = client.request(builders.status_request())
    assert reply["result"] == "genuine"
    assert "signature does not match" in caplog.text


def test_silent_daemon_raises_daemon_unavailable(router: TinyRouter, context: Context) -> None:
    request = builders.status_request()
    with Client(router.endpoint, KEY, timeout=0.2, retries=1, context=context) as client:
        with pytest.raises(DaemonUnavailable) as info:
            client.request(request)
    assert info.value.attempts == 2 and info.value.request_id == request["id"]
    assert [r["id"] for r in router.seen] == [request["id"]] * 2


def test_no_daemon_at_all_raises_daemon_unavailable(tmp_path: Any, context: Context) -> None:
    with Client(f"ipc://{tmp_path}/absent.sock", KEY, timeout=0.1, retries=0, context=context) as client:
        with pytest.raises(DaemonUnavailable):
            client.request(builders.status_request())


def test_error_replies_are_returned_and_can_be_raised(router: TinyRouter, context: Context) -> None:
    router.handler = lambda request, seen: [
        {
            "type": "error_reply",
            "id": request["id"],
            "name": "SlotNotFound",
            "message": "no foo",
            "traceback": "tb",
            "code": "slot_not_found",
        }
    ]
    with Client(router.endpoint, KEY, timeout=2, context=context) as client:
        reply = client.request(builders.send_request("genesis", "foo"))
    with pytest.raises(RemoteError) as info:
        raise_for_error(reply)
    assert (info.value.name, info.value.code) == ("SlotNotFound", "slot_not_found")
    raise_for_error({"type": "send_reply", "id": "x", "result": None})


def test_client_refuses_another_protocol_version() -> None:
    info = ConnectionInfo("ipc:///nowhere.sock", KEY, "ipc", "memory://", 1, protocol_version=99)
    with pytest.raises(VersionMismatch):
        Client.from_connection_info(info)
