"""Messages about the daemon itself: status, shutdown, and cancelling a request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batos_core.protocol.messages.base import Message, RequestId, WireMap


class StatusRequest(Message):
    type: Literal["status_request"] = "status_request"
    id: RequestId


class StatusReply(Message):
    type: Literal["status_reply"] = "status_reply"
    id: RequestId
    pid: int
    image: str
    protocol_version: int
    uptime_s: float = Field(ge=0)
    incarnation: int
    workers: int
    queue_depth: int
    backend: str
    model: str
    stand_ins: int = 0  # threads serving in place of workers that wait for a review decision
    engine: str = ""  # what runs the model: "llama.cpp (llama-cpp-python 0.3.36)", "transformers 4.57 ..."
    quantization: str = ""  # the weights' format: "Q4_K_M", "nf4/bfloat16"; "" when unknown
    storage: str = ""  # the image's storage: "file", "memory", "zeo", "postgresql"
    #: On a shared world: every daemon the world knows (host, pid, instance, incarnation,
    #: started, beat, silent_s, self), as of this daemon's last beat (`world.registry`).
    daemons: list[WireMap] = Field(default_factory=list)


class ShutdownRequest(Message):
    """Drain (finish in-flight requests, commit, close the image) and exit."""

    type: Literal["shutdown_request"] = "shutdown_request"
    id: RequestId


class ShutdownReply(Message):
    """Sent before the daemon stops reading; the process exits shortly after."""

    type: Literal["shutdown_reply"] = "shutdown_reply"
    id: RequestId


class CancelRequest(Message):
    """Cancel the request whose id is ``target`` (sent by a client on Ctrl-C).

    A request still waiting for a worker is answered with an ``error_reply``
    of code ``cancelled`` and never runs; a method being generated for it
    stops at the next token, and nothing is installed. A request already
    running ordinary code finishes (its transaction is short). Answered on
    the daemon's event loop, at once, even while every worker is busy.
    """

    type: Literal["cancel_request"] = "cancel_request"
    id: RequestId
    target: RequestId


class CancelReply(Message):
    """``cancelled``: whether ``target`` was in flight (false: it had finished,
    or was never seen)."""

    type: Literal["cancel_reply"] = "cancel_reply"
    id: RequestId
    target: RequestId
    cancelled: bool
