"""Transport.take, the listening worker's receive, on a real socket with a real client."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ZODB

from batos_core.daemon.transport import Transport
from batos_core.image.group_commit import DiskDebt, GroupCommitFileStorage, defer_durability
from batos_core.image.image import Session
from batos_core.protocol.builders import send_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo, ipc_endpoint, new_key
from batos_core.protocol.constants import DEFAULT_MAX_FRAME_BYTES


def _serve(tmp_path: Path, body: Callable[[Transport, ConnectionInfo], Any]) -> Any:
    """Run `body(transport, info)` in a worker thread while the transport is open on a loop."""
    info = ConnectionInfo(
        endpoint=ipc_endpoint(tmp_path, "take"), key=new_key(), transport="ipc", image="test", pid=os.getpid()
    )
    accepted: list[dict[str, Any]] = []

    async def main() -> Any:
        transport = Transport(DEFAULT_MAX_FRAME_BYTES, lambda identity, message: accepted.append(message))
        transport.open(info, None)
        transport.start_reading()
        try:
            return await asyncio.to_thread(body, transport, info)
        finally:
            transport.stop_reading()
            transport.close(linger=0)
            transport.terminate()

    result = asyncio.run(main())
    assert accepted == []  # the loop never listened: the worker received everything
    return result


def _send_in_background(info: ConnectionInfo, message: dict[str, Any], key: bytes | None = None) -> list[Any]:
    replies: list[Any] = []

    def send() -> None:
        with Client(info.endpoint, key or info.key, timeout=3.0, retries=0) as client:
            try:
                replies.append(client.request(message))
            except Exception as exc:  # a silent daemon: DaemonUnavailable
                replies.append(exc)

    threading.Thread(target=send, daemon=True).start()
    return replies


def _take_tracked(
    transport: Transport, info: ConnectionInfo, message: dict[str, Any]
) -> tuple[list[Any], Any]:
    """Send `message` from a client in the background, then take and track it as a
    listening worker does; the client's replies (filled as they come) and the request."""
    replies = _send_in_background(info, message)
    received = transport.take(5.0)
    assert received is not None
    identity, request = received
    assert transport.track(request["id"], identity) is not None
    return replies, request


def _first_of(replies: list[Any]) -> Any:
    deadline = time.monotonic() + 5
    while not replies:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return replies[0]


def test_a_listening_worker_receives_a_request_and_answers_it(tmp_path: Path) -> None:
    def body(transport: Transport, info: ConnectionInfo) -> None:
        message = send_request("genesis", "x")
        replies, request = _take_tracked(transport, info, message)
        assert request["id"] == message["id"] and request["selector"] == "x"
        transport.finish(request["id"], {"type": "send_reply", "id": request["id"], "result": 3})
        assert _first_of(replies)["result"] == 3

    _serve(tmp_path, body)


def test_a_message_signed_with_another_key_is_dropped_on_the_way(tmp_path: Path) -> None:
    def body(transport: Transport, info: ConnectionInfo) -> None:
        forged = _send_in_background(info, send_request("genesis", "forged"), key=new_key())
        time.sleep(0.2)  # the forged one arrives first
        genuine = send_request("genesis", "genuine")
        _send_in_background(info, genuine)
        received = transport.take(5.0)
        assert received is not None and received[1]["id"] == genuine["id"]
        assert forged == []  # never answered

    _serve(tmp_path, body)


def test_wake_and_stop_reading_end_a_wait_at_once(tmp_path: Path) -> None:
    def body(transport: Transport, info: ConnectionInfo) -> None:
        threading.Timer(0.1, transport.wake).start()
        started = time.monotonic()
        assert transport.take(10.0) is None
        assert time.monotonic() - started < 2
        assert transport.take(0.05) is None  # nothing came: the timeout
        transport.stop_reading()
        late = _send_in_background(info, send_request("genesis", "late"))
        time.sleep(0.2)
        started = time.monotonic()
        assert transport.take(10.0) is None  # reading stopped: nothing is received
        assert time.monotonic() - started < 1
        assert late == []

    _serve(tmp_path, body)


def test_a_thread_that_owes_the_disk_sends_its_reply_only_once_the_fsync_is_done(tmp_path: Path) -> None:
    """The transport settles a deferring thread's debt before it sends: a reply
    (or event) that depends on a commit leaves only once the commit is on disk."""
    fsync_entered, fsync_release = threading.Event(), threading.Event()

    def held_fsync(fd: int) -> None:
        fsync_entered.set()
        assert fsync_release.wait(10)
        os.fsync(fd)

    storage = GroupCommitFileStorage(str(tmp_path / "data.fs"), fsync=held_fsync)
    fsync_release.set()  # (the database's own first commit)
    db = ZODB.DB(storage)
    session = Session(db)
    seen_while_held: list[list[Any]] = []

    def body(transport: Transport, info: ConnectionInfo) -> None:
        replies, request = _take_tracked(transport, info, send_request("genesis", "x"))

        def watch_the_held_fsync() -> None:
            assert fsync_entered.wait(5)
            time.sleep(0.2)
            seen_while_held.append(list(replies))
            fsync_release.set()

        defer_durability(DiskDebt())
        try:
            fsync_entered.clear()
            fsync_release.clear()
            session.root["counter"] = 1
            session.commit()  # does not wait for the fsync
            assert not storage.all_durable()
            threading.Thread(target=watch_the_held_fsync, daemon=True).start()
            transport.finish(request["id"], {"type": "send_reply", "id": request["id"], "result": 1})
        finally:
            defer_durability(None)
        assert _first_of(replies)["result"] == 1 and storage.all_durable()

    try:
        _serve(tmp_path, body)
    finally:
        fsync_release.set()
        session.close()
        db.close()
    assert seen_while_held == [[]]  # nothing had left while the fsync was held
