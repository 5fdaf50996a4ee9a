"""The REPL's conversation with the daemon: evaluation, inspection, source, completion.

Two protocol clients, because a `Client` belongs to one thread at a time:
the main one runs the user's requests on the REPL thread; the completion one
is used from prompt_toolkit's completer threads, one call at a time (a lock),
with a short timeout and no retries so a slow daemon never stalls typing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batos_core.protocol.client import Client
    from batos_core.protocol.connection import ConnectionInfo

log = logging.getLogger(__name__)

#: Seconds a completion request may take before the completer gives up on it.
COMPLETE_TIMEOUT_S = 0.5
#: Seconds a receiver's selectors stay cached (a short time: the image is live).
CACHE_TTL_S = 3.0

EventCallback = Callable[[dict[str, Any]], None]


class SelectorCache:
    """Selectors per receiver for a few seconds, so each keystroke is local."""

    def __init__(self, ttl: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, receiver: str) -> list[str] | None:
        """The cached selectors of `receiver`, or None if absent or expired."""
        with self._lock:
            entry = self._entries.get(receiver)
        if entry is None or self._clock() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, receiver: str, selectors: list[str]) -> None:
        with self._lock:
            self._entries[receiver] = (self._clock(), selectors)

    def clear(self) -> None:
        """Forget everything (after an evaluation, which may have changed the image)."""
        with self._lock:
            self._entries.clear()


class Remote:
    """Requests the REPL sends; replies come back as dicts (possibly ``error_reply``)."""

    def __init__(self, info: ConnectionInfo, *, timeout: float, complete_timeout: float = COMPLETE_TIMEOUT_S):
        self._info = info
        self._timeout = timeout
        self._complete_timeout = complete_timeout
        self._main: Client | None = None
        self._completion: Client | None = None
        self._completion_lock = threading.Lock()
        self.cache = SelectorCache()

    # -- the user's requests (REPL thread) ----------------------------------

    def request(self, message: Any, on_event: EventCallback | None = None) -> dict[str, Any]:
        """Send `message` on the main client and wait for its reply.

        Raises DaemonUnavailable if the daemon stays silent through the
        retries; KeyboardInterrupt propagates (call `cancel` then).
        """
        if self._main is None:
            self._main = self._client(self._timeout, retries=None)
        return self._main.request(message, on_event=on_event)

    def evaluate(
        self,
        source: str,
        variables: dict[str, Any],
        on_event: EventCallback | None = None,
        *,
        review: bool = False,
    ) -> dict[str, Any]:
        """An `eval_request` for `source` with the REPL `variables` (wire values);
        `review` holds generated methods for approval."""
        from batos_core.protocol.builders import eval_request

        reply = self.request(eval_request(source, variables, review=review), on_event)
        self.cache.clear()
        return reply

    def inspect(self, target: str) -> dict[str, Any]:
        from batos_core.protocol.builders import inspect_request

        return self.request(inspect_request(target))

    def source(self, target: str, selector: str) -> dict[str, Any]:
        from batos_core.protocol.builders import source_request

        return self.request(source_request(target, selector))

    def cancel(self) -> bool | None:
        """After an interrupted request: drop the socket (a late reply is lost).

        Returns what the daemon said to the client's cancel_request (sent as
        the interrupt propagated): True cancelled, False already finished,
        None no answer.
        """
        if self._main is None:
            return None
        cancelled = self._main.last_cancel
        self._main.close()
        self._main = None
        return cancelled

    # -- completion (any thread) --------------------------------------------

    def selectors(self, receiver: str) -> list[str]:
        """What `receiver` understands (Self form), or lobby names for ``""``.

        Cached briefly. Returns [] when the daemon does not answer in time or
        answers with an error (an unknown name, say): completion is a hint,
        never a failure the user must see.
        """
        cached = self.cache.get(receiver)
        if cached is not None:
            return cached
        from batos_core.protocol.builders import complete_request
        from batos_core.protocol.errors import ProtocolError

        with self._completion_lock:
            if self._completion is None:
                self._completion = self._client(self._complete_timeout, retries=0)
            try:
                reply = self._completion.request(complete_request(receiver, ""))
            except ProtocolError as exc:
                log.debug("completion for %r failed: %s", receiver, exc)
                return []
        if reply.get("type") != "complete_reply":
            return []
        selectors = [str(s) for s in reply.get("selectors", [])]
        self.cache.put(receiver, selectors)
        return selectors

    def close(self) -> None:
        self.cancel()
        with self._completion_lock:
            if self._completion is not None:
                self._completion.close()
                self._completion = None

    def _client(self, timeout: float, *, retries: int | None) -> Client:
        from batos_core.protocol.client import DEFAULT_RETRIES, Client

        return Client.from_connection_info(
            self._info, timeout=timeout, retries=DEFAULT_RETRIES if retries is None else retries
        )
