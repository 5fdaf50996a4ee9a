"""Multipart send and receive through pyzmq's backend, for the daemon and the client.

pyzmq's sugar layer turns flags and option values into enums on every call
(about 12 us of a ``send_multipart`` of five frames, 2 us of a
``getsockopt``); the backend methods take plain ints. Every request and reply
goes through these, on both sides.
"""

from __future__ import annotations

import zmq
from zmq.backend import Socket as _BackendSocket

POLLIN = int(zmq.POLLIN)
NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_RCVMORE = int(zmq.RCVMORE)
_SNDMORE = int(zmq.SNDMORE)


def input_waiting(sock: zmq.Socket[bytes]) -> bool:
    """Whether a message can be received now (reading ZMQ_EVENTS, which also
    consumes the edge of the socket's edge-triggered fd)."""
    events = _BackendSocket.get(sock, _EVENTS)
    assert isinstance(events, int)
    return bool(events & POLLIN)


def send_frames(sock: zmq.Socket[bytes], frames: list[bytes], flags: int = 0) -> None:
    """``send_multipart(frames, flags)`` without the per-frame enum arithmetic."""
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        _BackendSocket.send(sock, frame, flags if index == last else flags | _SNDMORE)


def recv_frames(sock: zmq.Socket[bytes], flags: int = 0) -> list[bytes]:
    """``recv_multipart(flags)``: blocking for the first frame unless `flags` has
    NOBLOCK (then ``zmq.Again`` when nothing waits); the rest of a message has
    already arrived with its first frame."""
    frames = [_BackendSocket.recv(sock, flags)]
    while _BackendSocket.get(sock, _RCVMORE):
        frames.append(_BackendSocket.recv(sock, 0))
    return frames  # type: ignore[return-value]
