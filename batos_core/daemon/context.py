"""What a request handler gets: on a worker, its session and a way to stream events
(`HandlerContext`); on the event loop, the daemon's loop-side facts and switches
(`LoopContext`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from batos_core.jit.backends.base import Serving
from batos_core.objects import UvmObject, format_oid, print_string
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.values import WireValue, decode_value, encode_value
from batos_core.settings import NO_BACKEND

if TYPE_CHECKING:
    from batos_core.daemon_config import DaemonConfig
    from batos_core.image import Session
    from batos_core.jit.review import ReviewBoard
    from batos_core.upgrade.host import HandoverHost

Emit = Callable[[str, dict[str, Any]], None]


#: Guards, for every Cancellation, the lazy creation of its condition and its
#: withdrawal hooks (see below): both are rare or a few list operations, and
#: one lock for all saves making a Condition for every request.
_GUARD = threading.Lock()


class Cancellation(threading.Event):
    """A request's cancel switch, and why it was pulled.

    An Event, so the JIT hands it to a backend as its ``cancel`` (the
    generation stops at the next token). ``withdrawn``: a client cancelled the
    request, so a job that has not started yet never runs; a daemon that stops
    only stops generations (``code`` ``shutting_down``), and queued requests
    still run while it drains.

    Every request gets one, on the event loop, and almost none is ever pulled
    or waited on, so the Event's condition (a Condition and two locks) is made
    on first use rather than here: `is_set` reads the flag alone, as
    `threading.Event` does. In the daemon, building it cost about a tenth of
    the loop's time on a read-only request (docs/performance.md). The hooks
    every request's running code registers (`when_withdrawn`) are guarded by
    a lock shared by all switches, so registering one does not build it either.
    """

    def __init__(self) -> None:
        # Not Event.__init__: `_cond` comes from __getattr__ when first needed.
        self._flag = False
        self.code = ErrorCode.CANCELLED
        self.reason = ""
        self.withdrawn = False
        self._on_withdraw: list[Callable[[], None]] = []

    def __getattr__(self, name: str) -> Any:
        if name != "_cond":
            raise AttributeError(name)
        with _GUARD:
            cond = self.__dict__.get("_cond")
            if cond is None:
                cond = self.__dict__["_cond"] = threading.Condition(threading.Lock())
        return cond

    def pull(self, code: ErrorCode, reason: str, *, withdrawn: bool = False) -> None:
        """Set the switch (the first reason sticks). A withdrawal also calls the
        `when_withdrawn` callbacks (they stop running code; see daemon.interrupt)."""
        if not self.is_set():
            self.code, self.reason = code, reason
        self.set()
        if withdrawn:
            with _GUARD:
                self.withdrawn = True
                hooks = list(self._on_withdraw)
            for hook in hooks:
                hook()

    def when_withdrawn(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` when a client withdraws the request (at once if it has);
        returns a function that forgets the hook."""
        with _GUARD:
            withdrawn = self.withdrawn
            if not withdrawn:
                self._on_withdraw.append(hook)
        if withdrawn:
            hook()

        def forget() -> None:
            with _GUARD:
                if hook in self._on_withdraw:
                    self._on_withdraw.remove(hook)

        return forget


@dataclass
class DaemonInfo:
    """Facts about the running daemon that status replies report."""

    pid: int
    image: str
    started: float
    incarnation: int = 0
    workers: int = 0
    backend: str = NO_BACKEND
    model: str = ""
    queue_depth: Callable[[], int] = field(default=lambda: 0)
    #: What serves the JIT's generations (engine, quantization), asked at each status.
    serving: Callable[[], Serving] = field(default=lambda: Serving(engine=""))
    #: The autotelic service (batos_core.autotelic.service); None outside a daemon.
    autotelic: Any = None


@dataclass
class HandlerContext:
    """One request's view of the daemon, on the worker thread that runs it."""

    session: Session
    config: DaemonConfig
    info: DaemonInfo
    emit: Emit
    #: The daemon's pending proposals (review of generated methods); None outside a daemon.
    reviews: ReviewBoard | None = None
    #: Pulled by a cancel_request for this request, or when the daemon stops.
    cancel: Cancellation = field(default_factory=Cancellation)

    def encode(self, value: object) -> WireValue:
        """Encode a result for the wire. New objects get an oid (and are stored)
        so that the client can refer to them in later requests."""
        return encode_value(value, self._ref_of)

    def encode_map(self, value: dict[str, Any]) -> dict[str, WireValue]:
        """Encode a str-keyed mapping (provenance, state) for a WireMap field."""
        return {str(k): self.encode(v) for k, v in value.items()}

    def decode(self, wire: object) -> Any:
        """Decode an argument; ``{"$ref": "0x1a"}`` becomes the object."""
        return decode_value(wire, self.session.resolve)

    def _ref_of(self, value: object) -> tuple[str, str] | None:
        if not isinstance(value, UvmObject):
            return None
        if value._p_jar is None:
            self.session.connection.add(value)
        return format_oid(value), print_string(value)


@dataclass(frozen=True)
class DaemonLoad:
    """How busy the daemon is and what it serves from, as a status reply reports it."""

    workers: int
    queue_depth: int
    stand_ins: int
    storage: str  # the image's storage scheme ("" while it is closed for a hand-over)
    daemons: list[dict[str, Any]]  # on a shared world: the world's registry


class LoopContext(Protocol):
    """What a request answered on the event loop may use; the daemon provides it.

    Loop handlers never touch the image and never block: they read the
    daemon's facts, flip its switches, or (``upgrade_request``) start a task on
    the loop. None of these raises.
    """

    @property
    def info(self) -> DaemonInfo: ...

    @property
    def reviews(self) -> ReviewBoard: ...

    @property
    def handover(self) -> HandoverHost: ...

    def load(self) -> DaemonLoad:
        """Workers, queue, stand-ins, storage scheme and the world's daemons, now."""
        ...

    def request_stop(self) -> None:
        """Stop reading; in-flight requests finish and are answered (see `Daemon.request_stop`)."""
        ...

    def cancel(self, target: str) -> bool:
        """Pull the cancel switch of request `target`; False if it is not in flight."""
        ...
