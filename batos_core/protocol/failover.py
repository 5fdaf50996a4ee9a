"""A client of several daemons of one shared world, failing over in order (stdlib + zmq only).

`FailoverClient` sends each request to its current daemon through a plain
`Client` (Lazy Pirate retries included). When that daemon stays silent
(`DaemonUnavailable`), the *same* request, with the same id, goes to the next
daemon of the list, and that daemon stays current for later requests.

Why a retry on another daemon never runs a request twice: a request that
changed the world stores its reply in the world, in the same transaction as
its writes (`world.reply_table`, kept in the root of the shared storage).
The next daemon finds that reply and answers it as is; if the first daemon
died before committing, nothing of the request exists and it runs once, on
the next daemon. Two daemons running the same id at once conflict on the
reply table's entry, and the loser's retry finds the winner's reply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from batos_core.protocol.client import Client, EventCallback
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.errors import DaemonUnavailable

log = logging.getLogger(__name__)


class FailoverClient:
    """Clients of `daemons` in order; not thread-safe (one per thread, like `Client`).

    Options are `Client`'s (``timeout``, ``retries``...). Raises ValueError for
    an empty list, VersionMismatch (from `Client.from_connection_info`) for a
    daemon of another protocol version when it is first used.
    """

    def __init__(self, daemons: Sequence[ConnectionInfo], **options: Any) -> None:
        if not daemons:
            raise ValueError("a FailoverClient needs at least one daemon")
        self.daemons = list(daemons)
        self._options = options
        self._index = 0
        self._client: Client | None = None

    @property
    def current(self) -> ConnectionInfo:
        """The daemon the next request goes to first."""
        return self.daemons[self._index]

    def request(
        self, message: Mapping[str, Any], *, on_event: EventCallback | None = None, **options: Any
    ) -> dict[str, Any]:
        """Send `message` to the current daemon, then to each next one while they stay
        silent; its reply. Raises DaemonUnavailable naming every endpoint tried
        once each daemon has failed."""
        failures: list[DaemonUnavailable] = []
        for _ in self.daemons:
            client = self._connected()
            try:
                return client.request(message, on_event=on_event, **options)
            except DaemonUnavailable as exc:
                failures.append(exc)
                self._fail_over()
        endpoints = ", ".join(failure.endpoint for failure in failures)
        last = failures[-1]
        raise DaemonUnavailable(endpoints, last.request_id, sum(f.attempts for f in failures), last.timeout)

    def close(self) -> None:
        """Close the current connection. Idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> FailoverClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connected(self) -> Client:
        if self._client is None:
            self._client = Client.from_connection_info(self.current, **self._options)
        return self._client

    def _fail_over(self) -> None:
        self.close()
        failed = self.current
        self._index = (self._index + 1) % len(self.daemons)
        log.warning(
            "daemon %s (pid %d) did not answer: failing over to %s",
            failed.endpoint,
            failed.pid,
            self.current.endpoint,
        )
