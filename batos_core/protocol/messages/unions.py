"""The discriminated unions and the functions that parse and dump them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from batos_core.protocol.messages.autotelic import (
    AutotelicReply,
    AutotelicRequest,
    CemReply,
    CemRequest,
    DatasetReply,
    DatasetRequest,
)
from batos_core.protocol.messages.control import (
    CancelReply,
    CancelRequest,
    ShutdownReply,
    ShutdownRequest,
    StatusReply,
    StatusRequest,
)
from batos_core.protocol.messages.methods import (
    CreateMethodReply,
    CreateMethodRequest,
    HistoryReply,
    HistoryRequest,
    RevertReply,
    RevertRequest,
    SourceReply,
    SourceRequest,
    SuspensionReply,
    SuspensionRequest,
)
from batos_core.protocol.messages.objects import (
    CompleteReply,
    CompleteRequest,
    EvalReply,
    EvalRequest,
    GetFullStateReply,
    GetFullStateRequest,
    InspectReply,
    InspectRequest,
    SendReply,
    SendRequest,
)
from batos_core.protocol.messages.review import (
    ApproveReply,
    ApproveRequest,
    ProposalsReply,
    ProposalsRequest,
)
from batos_core.protocol.messages.streaming import ErrorReply, Event
from batos_core.protocol.messages.upgrade import (
    IncarnationsReply,
    IncarnationsRequest,
    UpgradeReply,
    UpgradeRequest,
)

Request = Annotated[
    SendRequest
    | EvalRequest
    | InspectRequest
    | GetFullStateRequest
    | CompleteRequest
    | CreateMethodRequest
    | HistoryRequest
    | SourceRequest
    | RevertRequest
    | SuspensionRequest
    | ProposalsRequest
    | ApproveRequest
    | CemRequest
    | AutotelicRequest
    | DatasetRequest
    | StatusRequest
    | ShutdownRequest
    | CancelRequest
    | UpgradeRequest
    | IncarnationsRequest,
    Field(discriminator="type"),
]

Reply = Annotated[
    SendReply
    | EvalReply
    | InspectReply
    | GetFullStateReply
    | CompleteReply
    | CreateMethodReply
    | HistoryReply
    | SourceReply
    | RevertReply
    | SuspensionReply
    | ProposalsReply
    | ApproveReply
    | CemReply
    | AutotelicReply
    | DatasetReply
    | StatusReply
    | ShutdownReply
    | CancelReply
    | UpgradeReply
    | IncarnationsReply
    | ErrorReply,
    Field(discriminator="type"),
]

#: Anything the daemon sends to a client: a reply, an error reply or an event.
DaemonMessage = Annotated[Reply | Event, Field(discriminator="type")]

#: Request type -> the type of its successful reply (failures are ``error_reply``).
REPLY_TYPE: dict[str, str] = {
    "send_request": "send_reply",
    "eval_request": "eval_reply",
    "inspect_request": "inspect_reply",
    "get_full_state_request": "get_full_state_reply",
    "complete_request": "complete_reply",
    "create_method_request": "create_method_reply",
    "history_request": "history_reply",
    "source_request": "source_reply",
    "revert_request": "revert_reply",
    "suspension_request": "suspension_reply",
    "proposals_request": "proposals_reply",
    "approve_request": "approve_reply",
    "cem_request": "cem_reply",
    "autotelic_request": "autotelic_reply",
    "dataset_request": "dataset_reply",
    "status_request": "status_reply",
    "shutdown_request": "shutdown_reply",
    "cancel_request": "cancel_reply",
    "upgrade_request": "upgrade_reply",
    "incarnations_request": "incarnations_reply",
}

_REQUEST = TypeAdapter[Request](Request)
_DAEMON_MESSAGE = TypeAdapter[DaemonMessage](DaemonMessage)


def parse_request(data: Mapping[str, Any]) -> Request:
    """Validate a decoded body as a request.

    Raises ``pydantic.ValidationError`` (answer it with an ``error_reply`` of
    code ``bad_request``, or ``unknown_type`` when ``type`` is not a request).
    """
    return _REQUEST.validate_python(data)


def parse_daemon_message(data: Mapping[str, Any]) -> DaemonMessage:
    """Validate a decoded body as a reply, error reply or event.

    Raises ``pydantic.ValidationError``.
    """
    return _DAEMON_MESSAGE.validate_python(data)


def dump_message(message: BaseModel) -> dict[str, Any]:
    """The plain dict to hand to :meth:`batos_core.protocol.wire.Signer.sign`.

    Every field is present (defaults included), so a model and the equivalent
    client builder dict encode to the same bytes.
    """
    return message.model_dump(mode="python")
