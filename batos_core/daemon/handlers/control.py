"""`status_request`, `shutdown_request`, `cancel_request`: the daemon's own controls.

They run on the event loop (see `batos_core.daemon.routes`), so they are
answered at once even while every worker is busy, and never touch the image.
"""

from __future__ import annotations

import logging
import time

from batos_core.daemon.context import LoopContext
from batos_core.protocol.constants import PROTOCOL_VERSION
from batos_core.protocol.messages import (
    CancelReply,
    CancelRequest,
    ShutdownReply,
    ShutdownRequest,
    StatusReply,
    StatusRequest,
)

log = logging.getLogger(__name__)


def handle_status(daemon: LoopContext, request: StatusRequest) -> StatusReply:
    """Who serves the image, since when, how busy, with which model."""
    info = daemon.info
    load = daemon.load()
    serving = info.serving()
    return StatusReply(
        id=request.id,
        pid=info.pid,
        image=info.image,
        protocol_version=PROTOCOL_VERSION,
        uptime_s=max(0.0, time.time() - info.started),
        incarnation=info.incarnation,
        workers=load.workers,
        queue_depth=load.queue_depth,
        stand_ins=load.stand_ins,
        backend=info.backend,
        model=info.model,
        engine=serving.engine,
        quantization=serving.quantization,
        storage=load.storage,
        daemons=load.daemons,
    )


def handle_shutdown(daemon: LoopContext, request: ShutdownRequest) -> ShutdownReply:
    """Start draining: in-flight requests finish and are answered, then the daemon exits."""
    daemon.request_stop()
    return ShutdownReply(id=request.id)


def handle_cancel(daemon: LoopContext, request: CancelRequest) -> CancelReply:
    """Pull the cancel switch of request `target` if it is in flight."""
    cancelled = daemon.cancel(request.target)
    if cancelled:
        log.info("request %s cancelled by a client", request.target)
    return CancelReply(id=request.id, target=request.target, cancelled=cancelled)
