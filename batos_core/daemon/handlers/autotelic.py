"""`cem_request`, `autotelic_request`, `dataset_request`: the autotelic loop seen from a client.

The service lives on the daemon (``ctx.info.autotelic``); these handlers only
read from it or flip its switch, so none of them writes through the request's
own session. A forced act (``run_once``) starts on the act's own thread and
the reply comes back at once with its seq; the client polls ``status``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from batos_core.autotelic.dataset import dataset_record
from batos_core.autotelic.service import AutotelicService
from batos_core.daemon.context import HandlerContext
from batos_core.methods.changelog import change_log
from batos_core.protocol.messages import (
    AutotelicReply,
    AutotelicRequest,
    CemReply,
    CemRequest,
    DatasetReply,
    DatasetRequest,
)

#: A dataset page stops growing past this many characters of content (the frame cap is 1 MiB).
PAGE_CHARS = 400_000


class AutotelicUnavailable(RuntimeError):
    """The daemon runs without the autotelic service (it failed to start; its log says why)."""


def _service(ctx: HandlerContext) -> AutotelicService:
    service = ctx.info.autotelic
    if not isinstance(service, AutotelicService):
        raise AutotelicUnavailable("this daemon has no autotelic service")
    return service


def handle_cem(ctx: HandlerContext, request: CemRequest) -> CemReply:
    """The CEM now (incremental refresh), the trend and the last acts."""
    service = _service(ctx)
    reading = service.reading()
    return CemReply(
        id=request.id,
        value=reading.value,
        components=reading.components,
        weights=reading.weights,
        facts={k: float(v) for k, v in reading.facts.items()},
        threshold=float(service.config.threshold),
        trend=[[float(t), float(v)] for t, v in service.trend],
        acts=[ctx.encode_map(a) for a in service.recent_acts(request.acts)] if request.acts else [],
        enabled=service.enabled,
        running=service.running,
    )


def handle_autotelic(ctx: HandlerContext, request: AutotelicRequest) -> AutotelicReply:
    """Switch on/off, report status, or start one act now (budgets still apply)."""
    service = _service(ctx)
    started = 0
    if request.action == "on":
        service.set_enabled(True)
        message = "autotelic is on"
    elif request.action == "off":
        service.set_enabled(False)
        message = "autotelic is off" + (" (stopping the running act)" if service.running else "")
    elif request.action == "run_once":
        seq, message = service.start_act("run-once requested")
        started = seq or 0
    else:
        message = service.heartbeat.last_decision or ("on" if service.enabled else "off")
    return AutotelicReply(
        id=request.id,
        enabled=service.enabled,
        running=service.running,
        started=started,
        message=message,
        budget=ctx.encode_map(service.budget().to_dict()),
        settings=ctx.encode_map(_settings(service)),
        acts=[ctx.encode_map(a) for a in service.recent_acts(5)],
    )


def handle_dataset(ctx: HandlerContext, request: DatasetRequest) -> DatasetReply:
    """One page of accepted generations in chat format, oldest first."""
    records = change_log(ctx.session.root).records
    page: list[dict[str, Any]] = []
    chars = 0
    next_seq = request.after_seq
    done = True
    for seq in records.keys(min=request.after_seq + 1):
        if len(page) >= request.limit or (page and chars >= PAGE_CHARS):
            done = False
            break
        next_seq = int(seq)
        record = dataset_record({**dict(records[seq]), "seq": seq})
        if record is None:
            continue
        chars += sum(len(m["content"]) for m in record["messages"])
        page.append(record)
    return DatasetReply(
        id=request.id, records=[ctx.encode_map(r) for r in page], next_seq=next_seq, done=done
    )


def _settings(service: AutotelicService) -> dict[str, Any]:
    settings = asdict(service.config)
    settings["backend"] = service.compiler.backend.name if service.compiler else "none"
    return settings
