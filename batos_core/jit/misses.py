"""The doesNotUnderstand: contract: the hook a daemon calls on a miss, what it gets, who hears of it.

Order of events for a miss (on the worker thread that ran the request, after
the dispatcher aborted the request's transaction; `daemon.dispatch`):

1. the daemon tells the observers subscribed to its `MissEvents` (the
   autotelic activity counts misses); an observer never changes the outcome;
2. the daemon's `MissHook` runs. The composition root (`daemon.lifecycle`)
   builds it once: the JIT compiler's ``on_miss``, behind the world's
   generation claims on a shared world (`world.generation_claims`). A daemon
   without a JIT (``--backend none``) has none: the miss is answered
   ``slot_not_found``;
3. the hook answers True when the request should run again (a method was
   installed, here or by another daemon), False for ``slot_not_found``; its
   exception becomes the request's error reply.

This module loads nothing heavy: the dispatcher, the world's claims and the
autotelic activity use it without importing the JIT's pipeline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from batos_core.image import Session
    from batos_core.jit.review import ReviewBoard
    from batos_core.objects import SlotNotFound

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


class MissContext(Protocol):
    """What a miss hook gets of the request that missed (the daemon's HandlerContext is one)."""

    @property
    def session(self) -> Session:
        """The worker's session; no transaction is open when the hook is called."""
        ...

    @property
    def emit(self) -> Emit:
        """Streams an event (``phase``, ``token``, ``proposal``...) to the request's client."""
        ...

    @property
    def cancel(self) -> threading.Event:
        """The request's cancel switch (a ``cancel_request``, a stopping daemon)."""
        ...

    @property
    def reviews(self) -> ReviewBoard | None:
        """The daemon's review board; None where nobody can approve a proposal."""
        ...


class MissHook(Protocol):
    """Fills a miss: what a daemon calls when a request's message was not understood."""

    def __call__(self, miss: SlotNotFound, ctx: MissContext, request: object) -> bool:
        """True when the request should run again; False to answer ``slot_not_found``.

        Any exception becomes the request's error reply (GenerationCancelled,
        with the request's cancel switch set, a ``cancelled`` one).
        """
        ...


@dataclass(frozen=True)
class MissNoticed:
    """A message was not understood: by which request, which selector, on which receiver (oid or ``new``)."""

    request_id: str
    selector: str
    receiver_oid: str


MissObserver = Callable[[MissNoticed], None]


class MissEvents:
    """The observers of a daemon's misses. Thread-safe: workers notify, services subscribe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observers: list[MissObserver] = []

    def subscribe(self, observer: MissObserver) -> Callable[[], None]:
        """Call `observer` for every miss from now on; returns the function that unsubscribes it."""
        with self._lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def notify(self, event: MissNoticed) -> None:
        """Tell every observer, in the order they subscribed. An observer's error
        is logged and the others are still told: observing never fails a request."""
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:
                log.exception("a miss observer failed on %s (request %s)", event.selector, event.request_id)
