"""Messages of the autotelic loop: the CEM, the on/off switch and forced acts, the dataset export."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batos_core.protocol.messages.base import Message, RequestId, WireMap


class CemRequest(Message):
    """The Composite Entropy Metric now, its trend and the last ``acts`` acts."""

    type: Literal["cem_request"] = "cem_request"
    id: RequestId
    acts: int = Field(default=10, ge=0, le=1000)


class CemReply(Message):
    """``value`` in [0, 1]; ``components`` and ``weights`` by name (structural,
    novelty, diversity, competence); ``facts`` what they were computed from;
    ``trend`` (time, value) samples, oldest first; ``acts`` newest first."""

    type: Literal["cem_reply"] = "cem_reply"
    id: RequestId
    value: float
    components: dict[str, float]
    weights: dict[str, float]
    facts: dict[str, float]
    threshold: float
    trend: list[list[float]]
    acts: list[WireMap]
    enabled: bool
    running: int = Field(ge=0)


class AutotelicRequest(Message):
    """Switch the heartbeat ``on`` or ``off``, ask its ``status``, or force one act (``run_once``)."""

    type: Literal["autotelic_request"] = "autotelic_request"
    id: RequestId
    action: Literal["on", "off", "status", "run_once"] = "status"


class AutotelicReply(Message):
    """``running``: seq of the act in progress (0: none); ``started``: seq of the act
    this request started (0: none, ``message`` says why); ``budget`` and
    ``settings`` as maps."""

    type: Literal["autotelic_reply"] = "autotelic_reply"
    id: RequestId
    enabled: bool
    running: int = Field(ge=0)
    started: int = Field(ge=0)
    message: str
    budget: WireMap
    settings: WireMap
    acts: list[WireMap]


class DatasetRequest(Message):
    """Accepted generations with change-log seq > ``after_seq``, at most ``limit`` per page."""

    type: Literal["dataset_request"] = "dataset_request"
    id: RequestId
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)


class DatasetReply(Message):
    """``records`` in chat format (``messages`` + ``metadata``), oldest first; ask
    again with ``after_seq=next_seq`` until ``done``."""

    type: Literal["dataset_reply"] = "dataset_reply"
    id: RequestId
    records: list[WireMap]
    next_seq: int = Field(ge=0)
    done: bool
