"""Messages that act on objects: send, eval, inspect, full state, completion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batos_core.protocol.messages.base import (
    Message,
    ObjectRef,
    Record,
    RequestId,
    Selector,
    Version,
    WireMap,
    WireValue,
)


class SendRequest(Message):
    """Send ``selector`` with ``args`` to ``receiver``; ``review`` asks that a
    generated method wait for the user's approval before it is installed."""

    type: Literal["send_request"] = "send_request"
    id: RequestId
    receiver: ObjectRef
    selector: Selector
    args: list[WireValue] = Field(default_factory=list)
    review: bool = False


class SendReply(Message):
    type: Literal["send_reply"] = "send_reply"
    id: RequestId
    result: WireValue


class EvalRequest(Message):
    """Evaluate Self-syntax ``source`` with the REPL's ``variables`` in scope."""

    type: Literal["eval_request"] = "eval_request"
    id: RequestId
    source: str
    variables: WireMap = Field(default_factory=dict)
    review: bool = False  # hold a method generated for this statement for approval


class EvalReply(Message):
    """``variables`` is the full, updated set of REPL variables."""

    type: Literal["eval_reply"] = "eval_reply"
    id: RequestId
    result: WireValue
    variables: WireMap


class InspectRequest(Message):
    type: Literal["inspect_request"] = "inspect_request"
    id: RequestId
    target: ObjectRef


class SlotInfo(Record):
    name: str
    kind: Literal["data", "parent", "method"]
    value: WireValue
    is_constant: bool


class MethodInfo(Record):
    selector: str
    version: Version
    provenance: WireMap
    suspended: bool = False  # it does not run until resumed (`batos methods resume`)


class InspectReply(Message):
    type: Literal["inspect_reply"] = "inspect_reply"
    id: RequestId
    oid: str
    repr: str
    slots: list[SlotInfo]
    methods: list[MethodInfo]


class GetFullStateRequest(Message):
    type: Literal["get_full_state_request"] = "get_full_state_request"
    id: RequestId
    target: ObjectRef = "genesis"


class GetFullStateReply(Message):
    """``state`` maps each slot name of the target to its wire value."""

    type: Literal["get_full_state_reply"] = "get_full_state_reply"
    id: RequestId
    state: WireMap


class CompleteRequest(Message):
    """Selectors of ``receiver`` starting with ``prefix``; ``receiver=""`` completes
    lobby names instead."""

    type: Literal["complete_request"] = "complete_request"
    id: RequestId
    receiver: str = Field(default="", max_length=256)
    prefix: str = ""


class CompleteReply(Message):
    type: Literal["complete_reply"] = "complete_reply"
    id: RequestId
    selectors: list[str]
