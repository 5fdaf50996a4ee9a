"""Pydantic models of every protocol message (imported by the daemon, not the CLI).

Each message has a ``type`` literal; :data:`Request`, :data:`Reply` and
:data:`DaemonMessage` are discriminated unions over it. Field-by-field reference:
``docs/protocol.md``.
"""

from batos_core.protocol.messages.autotelic import (
    AutotelicReply,
    AutotelicRequest,
    CemReply,
    CemRequest,
    DatasetReply,
    DatasetRequest,
)
from batos_core.protocol.messages.base import Message, WireValue
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
    HistoryEntry,
    HistoryReply,
    HistoryRequest,
    RevertReply,
    RevertRequest,
    SourceReply,
    SourceRequest,
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
    MethodInfo,
    SendReply,
    SendRequest,
    SlotInfo,
)
from batos_core.protocol.messages.review import (
    ApproveReply,
    ApproveRequest,
    ProposalInfo,
    ProposalsReply,
    ProposalsRequest,
)
from batos_core.protocol.messages.streaming import ErrorReply, Event
from batos_core.protocol.messages.unions import (
    REPLY_TYPE,
    DaemonMessage,
    Reply,
    Request,
    dump_message,
    parse_daemon_message,
    parse_request,
)
from batos_core.protocol.messages.upgrade import (
    IncarnationRecord,
    IncarnationsReply,
    IncarnationsRequest,
    RollbackRecord,
    UpgradeReply,
    UpgradeRequest,
)

__all__ = [
    "REPLY_TYPE",
    "ApproveReply",
    "ApproveRequest",
    "AutotelicReply",
    "AutotelicRequest",
    "CancelReply",
    "CancelRequest",
    "CemReply",
    "CemRequest",
    "CompleteReply",
    "CompleteRequest",
    "CreateMethodReply",
    "CreateMethodRequest",
    "DaemonMessage",
    "DatasetReply",
    "DatasetRequest",
    "ErrorReply",
    "EvalReply",
    "EvalRequest",
    "Event",
    "GetFullStateReply",
    "GetFullStateRequest",
    "HistoryEntry",
    "HistoryReply",
    "HistoryRequest",
    "IncarnationRecord",
    "IncarnationsReply",
    "IncarnationsRequest",
    "InspectReply",
    "InspectRequest",
    "Message",
    "MethodInfo",
    "ProposalInfo",
    "ProposalsReply",
    "ProposalsRequest",
    "Reply",
    "Request",
    "RevertReply",
    "RevertRequest",
    "RollbackRecord",
    "SendReply",
    "SendRequest",
    "ShutdownReply",
    "ShutdownRequest",
    "SlotInfo",
    "SourceReply",
    "SourceRequest",
    "StatusReply",
    "StatusRequest",
    "UpgradeReply",
    "UpgradeRequest",
    "WireValue",
    "dump_message",
    "parse_daemon_message",
    "parse_request",
]
