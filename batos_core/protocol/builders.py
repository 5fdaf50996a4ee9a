"""Plain-dict request builders for clients (standard library only, no pydantic).

Each builder returns a dict with *every* field of the matching model in
:mod:`batos_core.protocol.messages` (defaults included), so it validates into
that model and encodes to the same bytes. Arguments and variables must already
be wire values (see :mod:`batos_core.protocol.values`); builders do not encode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal, TypedDict

from batos_core.protocol.values import WireValue


def new_request_id() -> str:
    """A fresh request id: 16 random bytes as 32 lowercase hex digits."""
    return os.urandom(16).hex()


class SendRequestDict(TypedDict):
    type: Literal["send_request"]
    id: str
    receiver: str
    selector: str
    args: list[WireValue]
    review: bool


class EvalRequestDict(TypedDict):
    type: Literal["eval_request"]
    id: str
    source: str
    variables: dict[str, WireValue]
    review: bool


class InspectRequestDict(TypedDict):
    type: Literal["inspect_request"]
    id: str
    target: str


class GetFullStateRequestDict(TypedDict):
    type: Literal["get_full_state_request"]
    id: str
    target: str


class CompleteRequestDict(TypedDict):
    type: Literal["complete_request"]
    id: str
    receiver: str
    prefix: str


class CreateMethodRequestDict(TypedDict):
    type: Literal["create_method_request"]
    id: str
    target: str
    selector: str
    source: str
    provenance: dict[str, WireValue]
    trusted: bool


class HistoryRequestDict(TypedDict):
    type: Literal["history_request"]
    id: str
    target: str
    selector: str
    limit: int
    include_source: bool
    before_seq: int


class SourceRequestDict(TypedDict):
    type: Literal["source_request"]
    id: str
    target: str
    selector: str
    version: int | None


class RevertRequestDict(TypedDict):
    type: Literal["revert_request"]
    id: str
    target: str
    selector: str
    version: int


class SuspensionRequestDict(TypedDict):
    type: Literal["suspension_request"]
    id: str
    target: str
    selector: str
    suspend: bool
    reason: str


class StatusRequestDict(TypedDict):
    type: Literal["status_request"]
    id: str


class ShutdownRequestDict(TypedDict):
    type: Literal["shutdown_request"]
    id: str


class CancelRequestDict(TypedDict):
    type: Literal["cancel_request"]
    id: str
    target: str


class ProposalsRequestDict(TypedDict):
    type: Literal["proposals_request"]
    id: str


class ApproveRequestDict(TypedDict):
    type: Literal["approve_request"]
    id: str
    proposal: str
    approve: bool
    approver: str


class UpgradeRequestDict(TypedDict):
    type: Literal["upgrade_request"]
    id: str
    python: str
    environment: str
    requirements: list[str]
    ready_timeout_s: float
    generation_grace_s: float


class IncarnationsRequestDict(TypedDict):
    type: Literal["incarnations_request"]
    id: str
    limit: int


class CemRequestDict(TypedDict):
    type: Literal["cem_request"]
    id: str
    acts: int


class AutotelicRequestDict(TypedDict):
    type: Literal["autotelic_request"]
    id: str
    action: Literal["on", "off", "status", "run_once"]


class DatasetRequestDict(TypedDict):
    type: Literal["dataset_request"]
    id: str
    after_seq: int
    limit: int


RequestDict = (
    SendRequestDict
    | EvalRequestDict
    | InspectRequestDict
    | GetFullStateRequestDict
    | CompleteRequestDict
    | CreateMethodRequestDict
    | HistoryRequestDict
    | SourceRequestDict
    | RevertRequestDict
    | SuspensionRequestDict
    | StatusRequestDict
    | ShutdownRequestDict
    | ProposalsRequestDict
    | ApproveRequestDict
    | UpgradeRequestDict
    | IncarnationsRequestDict
    | CemRequestDict
    | AutotelicRequestDict
    | DatasetRequestDict
)


def _id(request_id: str | None) -> str:
    return request_id if request_id is not None else new_request_id()


def send_request(
    receiver: str,
    selector: str,
    args: Sequence[WireValue] = (),
    *,
    review: bool = False,
    request_id: str | None = None,
) -> SendRequestDict:
    """Send ``selector`` (Python or Self form) to ``receiver`` (name or oid)."""
    return {
        "type": "send_request",
        "id": _id(request_id),
        "receiver": receiver,
        "selector": selector,
        "args": list(args),
        "review": review,
    }


def eval_request(
    source: str,
    variables: Mapping[str, WireValue] | None = None,
    *,
    review: bool = False,
    request_id: str | None = None,
) -> EvalRequestDict:
    """Evaluate Self-syntax ``source`` with the REPL's ``variables``; ``review``
    holds any method generated on the way for approval (as ``send_request``'s)."""
    return {
        "type": "eval_request",
        "id": _id(request_id),
        "source": source,
        "variables": dict(variables or {}),
        "review": review,
    }


def inspect_request(target: str, *, request_id: str | None = None) -> InspectRequestDict:
    """Slots and methods of ``target``."""
    return {"type": "inspect_request", "id": _id(request_id), "target": target}


def get_full_state_request(
    target: str = "genesis", *, request_id: str | None = None
) -> GetFullStateRequestDict:
    """All slot values of ``target`` (the UI bridge's state sync)."""
    return {"type": "get_full_state_request", "id": _id(request_id), "target": target}


def complete_request(
    receiver: str = "", prefix: str = "", *, request_id: str | None = None
) -> CompleteRequestDict:
    """Selectors of ``receiver`` (or lobby names if ``receiver == ""``) starting with ``prefix``."""
    return {
        "type": "complete_request",
        "id": _id(request_id),
        "receiver": receiver,
        "prefix": prefix,
    }


def create_method_request(
    target: str,
    selector: str,
    source: str,
    *,
    provenance: Mapping[str, WireValue] | None = None,
    trusted: bool = False,
    request_id: str | None = None,
) -> CreateMethodRequestDict:
    """Install hand-written ``source`` as ``selector`` on ``target`` (restricted
    unless ``trusted``: then it runs as plain Python)."""
    return {
        "type": "create_method_request",
        "id": _id(request_id),
        "target": target,
        "selector": selector,
        "source": source,
        "provenance": dict(provenance or {}),
        "trusted": trusted,
    }


def history_request(
    target: str = "",
    selector: str = "",
    limit: int = 50,
    *,
    include_source: bool = False,
    before_seq: int = 0,
    request_id: str | None = None,
) -> HistoryRequestDict:
    """Change-log entries, newest first (``""`` = any target / selector);
    ``before_seq`` continues after a reply with ``more``."""
    return {
        "type": "history_request",
        "id": _id(request_id),
        "target": target,
        "selector": selector,
        "limit": limit,
        "include_source": include_source,
        "before_seq": before_seq,
    }


def source_request(
    target: str, selector: str, version: int | None = None, *, request_id: str | None = None
) -> SourceRequestDict:
    """Source of ``selector`` on ``target`` (current version if ``version`` is None)."""
    return {
        "type": "source_request",
        "id": _id(request_id),
        "target": target,
        "selector": selector,
        "version": version,
    }


def revert_request(
    target: str, selector: str, version: int, *, request_id: str | None = None
) -> RevertRequestDict:
    """Make ``version`` of ``selector`` current again."""
    return {
        "type": "revert_request",
        "id": _id(request_id),
        "target": target,
        "selector": selector,
        "version": version,
    }


def suspension_request(
    target: str, selector: str, *, suspend: bool, reason: str = "", request_id: str | None = None
) -> SuspensionRequestDict:
    """Suspend (``suspend=True``) or resume the method ``selector`` found from ``target``."""
    return {
        "type": "suspension_request",
        "id": _id(request_id),
        "target": target,
        "selector": selector,
        "suspend": suspend,
        "reason": reason,
    }


def status_request(*, request_id: str | None = None) -> StatusRequestDict:
    """The daemon's status."""
    return {"type": "status_request", "id": _id(request_id)}


def shutdown_request(*, request_id: str | None = None) -> ShutdownRequestDict:
    """Ask the daemon to drain and exit."""
    return {"type": "shutdown_request", "id": _id(request_id)}


def cancel_request(target: str, *, request_id: str | None = None) -> CancelRequestDict:
    """Cancel the in-flight request whose id is ``target``."""
    return {"type": "cancel_request", "id": _id(request_id), "target": target}


def proposals_request(*, request_id: str | None = None) -> ProposalsRequestDict:
    """The generated methods waiting for approval."""
    return {"type": "proposals_request", "id": _id(request_id)}


def approve_request(
    proposal: str, approve: bool, approver: str, *, request_id: str | None = None
) -> ApproveRequestDict:
    """Install (``approve=True``) or drop a pending proposal, as ``approver``."""
    return {
        "type": "approve_request",
        "id": _id(request_id),
        "proposal": proposal,
        "approve": approve,
        "approver": approver,
    }


def upgrade_request(
    python: str = "",
    *,
    environment: str = "",
    requirements: Sequence[str] = (),
    ready_timeout_s: float = 60.0,
    generation_grace_s: float = 600.0,
    request_id: str | None = None,
) -> UpgradeRequestDict:
    """Hand the image to a new daemon process running ``python`` ("" = the same interpreter)."""
    return {
        "type": "upgrade_request",
        "id": _id(request_id),
        "python": python,
        "environment": environment,
        "requirements": list(requirements),
        "ready_timeout_s": float(ready_timeout_s),
        "generation_grace_s": float(generation_grace_s),
    }


def incarnations_request(limit: int = 50, *, request_id: str | None = None) -> IncarnationsRequestDict:
    """The image's incarnations, newest first."""
    return {"type": "incarnations_request", "id": _id(request_id), "limit": limit}


def cem_request(acts: int = 10, *, request_id: str | None = None) -> CemRequestDict:
    """The CEM now, its trend and the last ``acts`` autotelic acts."""
    return {"type": "cem_request", "id": _id(request_id), "acts": acts}


def autotelic_request(
    action: Literal["on", "off", "status", "run_once"] = "status", *, request_id: str | None = None
) -> AutotelicRequestDict:
    """Switch the autotelic heartbeat on/off, ask its status, or force one act."""
    return {"type": "autotelic_request", "id": _id(request_id), "action": action}


def dataset_request(
    after_seq: int = 0, limit: int = 100, *, request_id: str | None = None
) -> DatasetRequestDict:
    """One page of accepted generations (chat format) after change-log seq ``after_seq``."""
    return {"type": "dataset_request", "id": _id(request_id), "after_seq": after_seq, "limit": limit}
