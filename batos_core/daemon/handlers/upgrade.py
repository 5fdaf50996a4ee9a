"""`upgrade_request` (a task on the event loop) and `incarnations_request` (a worker).

The hand-over itself is `batos_core.upgrade.handover`; the daemon takes part
in it through the `batos_core.upgrade.host.HandoverHost` protocol.
"""

from __future__ import annotations

from typing import Any

from batos_core.daemon.context import HandlerContext, LoopContext
from batos_core.protocol.messages import IncarnationsReply, IncarnationsRequest, UpgradeRequest
from batos_core.upgrade import incarnations
from batos_core.upgrade.handover import hand_over
from batos_core.upgrade.host import Emit


async def handle_upgrade(daemon: LoopContext, request: UpgradeRequest, emit: Emit) -> dict[str, Any] | None:
    """Hand the image over to a new daemon process, or roll back.

    Returns the reply dict, or None when the successor serves (it answers the
    client's retry from the reply table). Only a failure to reopen the image
    after a failed hand-over raises (ImageError).
    """
    return await hand_over(daemon.handover, request, emit)


def handle_incarnations(ctx: HandlerContext, request: IncarnationsRequest) -> IncarnationsReply:
    """The image's incarnations, newest first, at most `limit`."""
    meta = ctx.session.meta
    entries = list(meta.incarnations)[-request.limit :]
    return IncarnationsReply(
        id=request.id,
        current=int(meta.incarnation),
        entries=[incarnations.to_record(entry) for entry in reversed(entries)],
    )
