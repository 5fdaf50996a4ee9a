"""Messages about the daemon itself: status and shutdown."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batos_core.protocol.messages.base import Message, RequestId


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


class ShutdownRequest(Message):
    """Drain (finish in-flight requests, commit, close the image) and exit."""

    type: Literal["shutdown_request"] = "shutdown_request"
    id: RequestId


class ShutdownReply(Message):
    """Sent before the daemon stops reading; the process exits shortly after."""

    type: Literal["shutdown_reply"] = "shutdown_reply"
    id: RequestId
