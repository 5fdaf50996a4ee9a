"""Clients that each send ``increment`` to genesis a number of times, in threads, while a
test breaks something under them (a storage server, a daemon): what each got back, and
when enough has been answered that the break comes under load."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from batos_core.protocol.builders import send_request


class IncrementLoad:
    """`increments` increments per client. A reply whose error code is in `retryable` is
    retried with the same request (same id, so exactly-once applies); any other
    non-``send_reply`` fails the client. `enough` is set after `under_load` answers."""

    def __init__(
        self, clients: Iterable[Any], increments: int, under_load: int, retryable: Iterable[str] = ()
    ) -> None:
        self.clients = list(clients)
        self.increments = increments
        self.under_load = under_load
        self.retryable = frozenset(retryable)
        self.replies: list[int] = []
        self.retried: list[str] = []
        self.failures: list[BaseException] = []
        self.enough = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(client,)) for client in self.clients]

    @property
    def total(self) -> int:
        return len(self.clients) * self.increments

    def start(self) -> IncrementLoad:
        for thread in self._threads:
            thread.start()
        return self

    def wait_under_load(self, timeout: float = 60.0) -> int:
        """Wait for `under_load` answers; how many there are by then."""
        assert self.enough.wait(timeout)
        with self._lock:
            return len(self.replies)

    def join(self, timeout: float = 120.0) -> None:
        """Wait for every client; assert that each finished and none failed."""
        for thread in self._threads:
            thread.join(timeout=timeout)
        assert not any(thread.is_alive() for thread in self._threads)
        assert self.failures == []

    def _run(self, client: Any) -> None:
        try:
            for _ in range(self.increments):
                message = send_request("genesis", "increment")
                while True:  # the same request, same id, until it is answered
                    reply = client.request(message)
                    if reply["type"] == "send_reply":
                        break
                    assert reply.get("code") in self.retryable, reply
                    with self._lock:
                        self.retried.append(reply["code"])
                with self._lock:
                    self.replies.append(reply["result"])
                    if len(self.replies) >= self.under_load:
                        self.enough.set()
        except BaseException as exc:
            self.failures.append(exc)
            self.enough.set()
