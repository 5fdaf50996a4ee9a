"""Messages of the Ship-of-Theseus upgrade: hand the image to a new process, and its history."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batos_core.protocol.messages.base import Message, Record, RequestId


class UpgradeRequest(Message):
    """Replace the daemon's process by a new one running ``python`` (``""``: the
    daemon's own interpreter), on the same image, endpoint and key.

    ``environment`` and ``requirements`` are recorded in the new incarnation
    (the client built and verified the environment before asking). If the new
    daemon is not serving within ``ready_timeout_s`` the old one resumes.
    Methods being generated (or waiting for review) get ``generation_grace_s``
    to finish, the old daemon serving meanwhile; then they are stopped.
    """

    type: Literal["upgrade_request"] = "upgrade_request"
    id: RequestId
    python: str = ""
    environment: str = ""
    requirements: list[str] = Field(default_factory=list)
    ready_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    generation_grace_s: float = Field(default=600.0, ge=0, le=86400)


class UpgradeReply(Message):
    """``outcome`` is ``upgraded`` (``new_pid`` serves incarnation ``incarnation``)
    or ``rolled_back`` (``old_pid`` serves on; ``reason`` says what failed).
    ``handover_s`` is the time from the old daemon's last read to the serving
    daemon's first possible read."""

    type: Literal["upgrade_reply"] = "upgrade_reply"
    id: RequestId
    outcome: Literal["upgraded", "rolled_back"]
    old_pid: int
    new_pid: int
    incarnation: int
    reason: str = ""
    handover_s: float = Field(ge=0)


class IncarnationsRequest(Message):
    """The image's incarnations (processes that served it), newest first."""

    type: Literal["incarnations_request"] = "incarnations_request"
    id: RequestId
    limit: int = Field(default=50, ge=1, le=10_000)


class RollbackRecord(Record):
    """An upgrade that failed while this incarnation served (it resumed)."""

    time: float
    python: str
    reason: str


class IncarnationRecord(Record):
    """One incarnation. ``via`` is ``start``, ``upgrade`` or ``restart`` (after a wedge); ``outcome`` is
    ``serving``, ``upgraded`` (replaced by the next one) or ``ended`` (stopped
    or died; the next start cannot tell which). ``packages`` maps distribution
    names to versions. Fields an older image did not record are empty."""

    number: int
    started: float
    pid: int
    python: str
    executable: str
    batos: str
    via: str
    outcome: str
    environment: str
    requirements: list[str]
    packages: dict[str, str]
    rollbacks: list[RollbackRecord]


class IncarnationsReply(Message):
    type: Literal["incarnations_reply"] = "incarnations_reply"
    id: RequestId
    current: int
    entries: list[IncarnationRecord]
