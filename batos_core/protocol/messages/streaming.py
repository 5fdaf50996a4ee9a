"""Messages that are not direct answers: progress events and error replies."""

from __future__ import annotations

import traceback as traceback_module
from typing import Literal

from pydantic import Field

from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.messages.base import Message, RequestId, WireMap


class Event(Message):
    """Progress of request ``id`` before its reply; ``kind`` is e.g. ``phase``,
    ``token``, ``log``, ``state`` or ``keepalive``."""

    type: Literal["event"] = "event"
    id: RequestId
    kind: str = Field(min_length=1, max_length=64)
    data: WireMap = Field(default_factory=dict)


class ErrorReply(Message):
    """The reply to any request that failed. ``id`` is ``""`` only when the
    request's id could not be read."""

    type: Literal["error_reply"] = "error_reply"
    id: str = Field(max_length=128)
    name: str
    message: str
    traceback: str = ""
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")

    @classmethod
    def from_exception(
        cls,
        request_id: str,
        exc: BaseException,
        code: ErrorCode | str = ErrorCode.INTERNAL,
        *,
        with_traceback: bool = True,
    ) -> ErrorReply:
        """Build the error reply for ``exc`` (class name, message, formatted traceback)."""
        text = "".join(traceback_module.format_exception(exc)) if with_traceback else ""
        return cls(
            id=request_id,
            name=type(exc).__name__,
            message=str(exc),
            traceback=text,
            code=str.__str__(code),
        )
