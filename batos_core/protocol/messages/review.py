"""Messages of the review of generated methods: list pending proposals, decide one.

A daemon in review mode sends the requesting client an ``event`` of kind
``proposal`` (its data is a :class:`ProposalInfo`'s fields) and waits for an
``approve_request`` from any client before it installs the method.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from batos_core.protocol.messages.base import Message, Record, RequestId, WireMap

#: A proposal id as the daemon hands it out (8 hex digits today; opaque to clients).
ProposalId = Annotated[str, Field(min_length=1, max_length=64)]


class ProposalInfo(Record):
    """A vetted, trialled method waiting for approval. ``target`` is the oid
    that gets the method, ``target_name`` its lobby name (or ``""``);
    ``trial`` summarises the trial run (``ok``, ``value``, ``seconds``);
    ``created`` and ``expires`` are Unix times (after ``expires`` it counts as
    rejected)."""

    proposal: str
    target: str
    target_name: str
    selector: str
    source: str
    trial: WireMap
    created: float
    expires: float


class ProposalsRequest(Message):
    """The proposals waiting for a decision."""

    type: Literal["proposals_request"] = "proposals_request"
    id: RequestId


class ProposalsReply(Message):
    """Pending proposals, oldest first."""

    type: Literal["proposals_reply"] = "proposals_reply"
    id: RequestId
    proposals: list[ProposalInfo]


class ApproveRequest(Message):
    """Decide ``proposal``: install it (``approve``) or drop it. ``approver`` is
    recorded in the method's provenance (a label the client chooses, by
    default the user's login name: every client holding the key is trusted
    alike)."""

    type: Literal["approve_request"] = "approve_request"
    id: RequestId
    proposal: ProposalId
    approve: bool
    approver: str = Field(min_length=1, max_length=128)


class ApproveReply(Message):
    """The decision was handed to the waiting request, whose own reply says
    how the install (or the rejection) went."""

    type: Literal["approve_reply"] = "approve_reply"
    id: RequestId
    proposal: str
    approved: bool
