"""Messages about methods as source: create, history, source, revert, suspend and resume."""

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
)


class CreateMethodRequest(Message):
    """Install ``source`` (one Python function) as ``selector`` on ``target``."""

    type: Literal["create_method_request"] = "create_method_request"
    id: RequestId
    target: ObjectRef
    selector: Selector
    source: str
    #: Extra provenance recorded with the method (``batos replay`` passes the
    #: original record's); the daemon adds author/time and never trusts an
    #: ``approver`` from here.
    provenance: WireMap = Field(default_factory=dict)
    #: A person vouches for this source: it runs unrestricted (plain Python),
    #: recorded as ``trusted`` in its provenance. Never taken from ``provenance``.
    trusted: bool = False


class CreateMethodReply(Message):
    type: Literal["create_method_reply"] = "create_method_reply"
    id: RequestId
    version: Version


class HistoryRequest(Message):
    """Change-log entries, newest first; ``""`` means any target / any selector.

    ``before_seq`` > 0 asks for entries older than that sequence number: the
    next page after a reply whose ``more`` is true (pass its last entry's
    ``seq``).
    """

    type: Literal["history_request"] = "history_request"
    id: RequestId
    target: str = Field(default="", max_length=256)
    selector: str = Field(default="", max_length=256)
    limit: int = Field(default=50, ge=1, le=10_000)
    include_source: bool = False
    before_seq: int = Field(default=0, ge=0)


class HistoryEntry(Record):
    """One change-log record. ``action`` is install, revert, replay or reject;
    ``version`` is 0 for a rejection (nothing was installed); ``target_name``
    is the receiver's lobby name when it has one (stable across images);
    ``source`` is sent only when the request asked for it."""

    seq: int
    action: str
    time: float
    target: str
    target_name: str
    selector: str
    version: int = Field(ge=0)
    provenance: WireMap
    source: str = ""


class HistoryReply(Message):
    """``more``: the daemon stopped early to keep the reply well under the frame
    cap; ask again with ``before_seq`` = the last entry's ``seq`` (and the
    limit less what came)."""

    type: Literal["history_reply"] = "history_reply"
    id: RequestId
    entries: list[HistoryEntry]
    more: bool = False


class SourceRequest(Message):
    """Source of ``selector`` on ``target``; ``version=None`` means the current one."""

    type: Literal["source_request"] = "source_request"
    id: RequestId
    target: ObjectRef
    selector: Selector
    version: Version | None = None


class SourceReply(Message):
    type: Literal["source_reply"] = "source_reply"
    id: RequestId
    target: str
    selector: str
    version: Version
    source: str
    provenance: WireMap


class RevertRequest(Message):
    """Make ``version`` of ``selector`` current again (recorded as a new version)."""

    type: Literal["revert_request"] = "revert_request"
    id: RequestId
    target: ObjectRef
    selector: Selector
    version: Version


class RevertReply(Message):
    """``version`` is the new current version number."""

    type: Literal["revert_reply"] = "revert_reply"
    id: RequestId
    version: Version


class SuspensionRequest(Message):
    """Suspend (``suspend`` true) or resume ``selector`` as found from ``target``
    (the method's holder: ``target`` itself or a parent). A suspended method
    does not run (``method_suspended``) until it is resumed."""

    type: Literal["suspension_request"] = "suspension_request"
    id: RequestId
    target: ObjectRef
    selector: Selector
    suspend: bool
    reason: str = Field(default="", max_length=1000)


class SuspensionReply(Message):
    """``holder``: the oid of the object holding the method; ``changed`` is false
    when it already was in the state asked for."""

    type: Literal["suspension_reply"] = "suspension_reply"
    id: RequestId
    holder: str
    selector: str
    version: Version
    suspended: bool
    changed: bool


class MethodsRequest(Message):
    """The methods held in ``target``'s own slots (not inherited ones), in slot
    order; ``suspended_only``: only those that are suspended."""

    type: Literal["methods_request"] = "methods_request"
    id: RequestId
    target: ObjectRef
    suspended_only: bool = False


class MethodListing(Record):
    """One method of a `MethodsReply`. ``selector`` is the Self form
    (``greet:``), ``slot`` the Python slot name (``greet_``); ``language`` is
    ``self`` for a method written in Self, else ``python``; ``suspension``
    is who suspended it, why and when (empty while it runs)."""

    selector: str
    slot: str
    version: Version
    suspended: bool
    suspension: WireMap
    trusted: bool
    language: str
    author: str
    created: float


class MethodsReply(Message):
    type: Literal["methods_reply"] = "methods_reply"
    id: RequestId
    target: str  # the object's oid
    methods: list[MethodListing]
