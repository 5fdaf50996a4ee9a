"""A tiny real ROUTER, standing in for the daemon in client tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import zmq

from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.wire import Signer, Verifier, split_route

KEY = bytes(range(32))

#: (request, how many requests with this id were seen) -> messages to send back.
Handler = Callable[[dict[str, Any], int], list[dict[str, Any]]]


class TinyRouter:
    """Binds a ROUTER on ``endpoint`` in a thread and answers with ``handler``.

    Messages the handler returns are signed with ``reply_key`` (default: the
    shared key), or sent raw if given as a list of frames.
    """

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.context = context
        self.endpoint = endpoint
        self.handler: Handler = lambda request, seen: []
        self.seen: list[dict[str, Any]] = []  # every verified request, in order
        self.envelopes: list[tuple[str, int]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(5), "router did not bind"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        socket = self.context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.bind(self.endpoint)
        self._ready.set()
        signer, verifier = Signer(KEY), Verifier(KEY, ReplayGuard())
        try:
            while not self._stop.is_set():
                if socket.poll(20):
                    self._serve(socket, signer, verifier)
        finally:
            socket.close()

    def _serve(self, socket: zmq.Socket[bytes], signer: Signer, verifier: Verifier) -> None:
        identity, frames = split_route(socket.recv_multipart())
        received = verifier.verify(frames)
        request = received.message
        self.seen.append(request)
        self.envelopes.append((received.envelope.session, received.envelope.counter))
        count = sum(1 for r in self.seen if r["id"] == request["id"])
        for out in self.handler(request, count):
            raw = out.get("raw_frames")
            socket.send_multipart([*identity, *(raw if raw else signer.sign(out))])
