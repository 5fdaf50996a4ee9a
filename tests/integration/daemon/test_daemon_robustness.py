"""Bad input gets a typed error reply or a silent drop, and the daemon keeps serving.

The tests share one daemon (`module_daemon`): each leaves the image as it
found it except for uniquely named methods, and checks only what it caused.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ormsgpack
import pytest

from batos_core.protocol.builders import cancel_request, create_method_request, send_request, status_request

RAISING_SOURCE = "def boom(self):\n    raise ValueError('the method itself failed')\n"


def still_serving(daemon: Any) -> None:
    assert daemon.status()["type"] == "status_reply"
    assert daemon.send("genesis", "printString")["type"] == "send_reply"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\xc1", id="never-used-msgpack-byte"),
        pytest.param(b"\xdb\xff\xff\xff\xff", id="str32-declaring-4GiB"),
        pytest.param(b"\xdf\xff\xff\xff\xff", id="map32-declaring-4G-entries"),
        pytest.param(b"\xdd\xff\xff\xff\xff", id="array32-declaring-4G-items"),
        pytest.param(ormsgpack.packb([1, 2, 3]), id="a-list-not-a-map"),
        pytest.param(ormsgpack.packb({"id": "x"}), id="no-type"),
        pytest.param(b"\x81\x01\xacsend_request", id="non-string-keys"),
    ],
)
def test_signed_but_malformed_body_is_dropped(module_daemon: Any, body: bytes) -> None:
    before = module_daemon.log_text().count("dropped a message: body")
    raw = module_daemon.raw()
    raw.send_frames(raw.sign_bytes(body))
    assert raw.request(status_request())["type"] == "status_reply"
    assert module_daemon.log_text().count("dropped a message: body") == before + 1
    assert raw.receive(timeout=0.2) is None
    still_serving(module_daemon)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "send_request", "id": "t1", "receiver": 123, "selector": "x", "args": [], "review": False},
        {"type": "send_request", "id": "t2", "receiver": "genesis", "selector": ["x"], "args": []},
        {"type": "send_request", "id": "t3", "receiver": "genesis", "selector": "x", "args": "not a list"},
        {"type": "send_request", "id": "t4", "receiver": "genesis", "selector": "x", "review": "yes"},
        {"type": "send_request", "id": "t5"},
        {"type": "create_method_request", "id": "t6", "target": "genesis", "selector": "f", "source": 7},
        {"type": "status_request", "id": 42},
    ],
    ids=["receiver-int", "selector-list", "args-str", "review-str", "fields-missing", "source-int", "id-int"],
)
def test_wrong_field_types_get_a_bad_request_reply(module_daemon: Any, body: dict[str, Any]) -> None:
    raw = module_daemon.raw()
    raw.send_frames(raw.sign(body))
    reply = raw.receive(timeout=30.0)
    assert reply is not None
    assert reply["type"] == "error_reply"
    assert reply["code"] == "bad_request"
    assert reply["id"] == (body["id"] if isinstance(body["id"], str) else "")
    still_serving(module_daemon)


def test_unknown_type_gets_an_unknown_type_reply(module_daemon: Any) -> None:
    reply = module_daemon.raw().request({"type": "frobnicate_request", "id": "u1", "target": "genesis"})
    assert (reply["type"], reply["code"]) == ("error_reply", "unknown_type")
    still_serving(module_daemon)


def test_missing_oid_gets_object_not_found(module_daemon: Any) -> None:
    reply = module_daemon.client().request(send_request("0x7fffff", "printString"))
    assert (reply["type"], reply["code"]) == ("error_reply", "object_not_found")
    reply = module_daemon.client().request(send_request("nosuchname", "printString"))
    assert (reply["type"], reply["code"]) == ("error_reply", "object_not_found")
    still_serving(module_daemon)


def test_a_bad_reference_gets_bad_request(module_daemon: Any) -> None:
    reply = module_daemon.client().request(send_request("zz!", "printString"))
    assert reply["type"] == "error_reply"
    assert reply["code"] == "bad_request"
    still_serving(module_daemon)


def test_a_method_that_raises_gets_user_error_and_changes_nothing(module_daemon: Any) -> None:
    client = module_daemon.client()
    assert client.request(create_method_request("genesis", "boom", RAISING_SOURCE))["type"] == (
        "create_method_reply"
    )
    reply = client.request(send_request("genesis", "boom"))
    assert reply["type"] == "error_reply"
    assert reply["code"] == "user_error"
    assert reply["name"] == "ValueError"
    assert "the method itself failed" in reply["message"]
    still_serving(module_daemon)


def test_a_method_that_writes_then_raises_is_rolled_back(module_daemon: Any) -> None:
    source = "def half(self):\n    self.touched = 1\n    raise RuntimeError('after the write')\n"
    client = module_daemon.client()
    assert client.request(create_method_request("genesis", "half", source))["type"] == "create_method_reply"
    assert client.request(send_request("genesis", "half"))["code"] == "user_error"
    assert client.request(send_request("genesis", "touched"))["code"] == "slot_not_found"


def test_source_that_does_not_compile_gets_syntax_error(module_daemon: Any) -> None:
    reply = module_daemon.client().request(
        create_method_request("genesis", "bad", "def bad(self):\n    return (\n")
    )
    assert reply["type"] == "error_reply"
    assert reply["code"] == "syntax_error"
    still_serving(module_daemon)


def test_a_cancel_request_stops_a_method_stuck_in_a_loop(module_daemon: Any) -> None:
    source = "def stuck(self):\n    self.touched_by_stuck = 1\n    while True:\n        pass\n"
    client = module_daemon.client()
    assert client.request(create_method_request("genesis", "stuck", source))["type"] == "create_method_reply"
    message = send_request("genesis", "stuck")
    replies: list[dict[str, Any]] = []
    sender = threading.Thread(target=lambda: replies.append(module_daemon.client().request(message)))
    sender.start()
    time.sleep(0.5)  # running, in its loop
    cancelled = client.request(cancel_request(message["id"]))
    assert cancelled["cancelled"] is True
    sender.join(10)
    assert replies and replies[0]["code"] == "cancelled", replies
    assert client.request(send_request("genesis", "touched_by_stuck"))["code"] == "slot_not_found"
    assert module_daemon.status()["queue_depth"] == 0  # the worker is free again
    still_serving(module_daemon)
