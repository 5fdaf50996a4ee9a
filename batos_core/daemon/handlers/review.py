"""Review requests: list the pending proposals, approve or reject one.

These run on the daemon's event loop thread, not on a worker (see
`batos_core.daemon.routes`): they touch only the review board, never
the image, so they are answered even while every worker is busy, including a
worker that waits for the very approval one of them carries. Each returns
its reply, or an ``error_reply`` model for a proposal that is not pending.
"""

from __future__ import annotations

from batos_core.daemon.context import LoopContext
from batos_core.jit.review import ProposalNotFound
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.messages import (
    ApproveReply,
    ApproveRequest,
    ErrorReply,
    ProposalInfo,
    ProposalsReply,
    ProposalsRequest,
)


def handle_proposals(daemon: LoopContext, request: ProposalsRequest) -> ProposalsReply:
    """The pending proposals, oldest first."""
    pending = daemon.reviews.pending()
    return ProposalsReply(id=request.id, proposals=[ProposalInfo(**p.to_wire()) for p in pending])


def handle_approve(daemon: LoopContext, request: ApproveRequest) -> ApproveReply | ErrorReply:
    """Hand the decision to the pipeline waiting on the proposal.

    A proposal that is not pending (unknown, decided, expired) is an
    ``object_not_found`` error reply.
    """
    try:
        daemon.reviews.decide(request.proposal, approve=request.approve, approver=request.approver)
    except ProposalNotFound as exc:
        return ErrorReply.from_exception(request.id, exc, ErrorCode.OBJECT_NOT_FOUND, with_traceback=False)
    return ApproveReply(id=request.id, proposal=request.proposal, approved=request.approve)
