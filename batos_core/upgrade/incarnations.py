"""The image's record of its incarnations: each process that served it, and how it ended.

`begin` runs in the transaction that opens the image for a daemon: it closes
the previous entry (``upgraded`` after a hand-over, else ``ended``), records
the new one (interpreter, batos and package versions, environment) and, after
a hand-over, stores the upgrade's reply under its request id so that the
client's retry gets it (exactly-once, like any request that changed the image).
"""

from __future__ import annotations

import sys
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from batos_core.daemon import reply_table
from batos_core.daemon.handlers import register
from batos_core.protocol.messages import (
    IncarnationRecord,
    IncarnationsReply,
    IncarnationsRequest,
    RollbackRecord,
    UpgradeReply,
)
from batos_core.protocol.messages.unions import dump_message

if TYPE_CHECKING:
    from batos_core.daemon.context import HandlerContext
    from batos_core.image import Session
    from batos_core.upgrade.handover import HandoverGo

SERVING = "serving"
UPGRADED = "upgraded"
ENDED = "ended"
FAILED = "failed"  # a successor that recorded itself but was rolled back


def installed_packages() -> dict[str, str]:
    """Distribution name -> version of this interpreter's environment (first found wins)."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in packages:
            packages[name] = dist.version
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


def begin(session: Session, facts: dict[str, Any], handover: HandoverGo | None) -> int:
    """Record this process as the next incarnation (in the caller's transaction);
    returns its number."""
    meta = session.meta
    upgrade = handover is not None and handover.via == "upgrade"
    for entry in meta.incarnations:
        if entry.get("outcome", SERVING) == SERVING:
            upgraded = upgrade and handover is not None and entry.get("pid") == handover.old_pid
            entry["outcome"] = UPGRADED if upgraded else ENDED
    info = {
        **facts,
        "via": handover.via if handover is not None else "start",  # upgrade, restart (a wedge) or start
        "outcome": SERVING,
        "environment": sys.prefix,
        "requirements": list(handover.requirements) if handover is not None else [],
        "packages": installed_packages(),
        "rollbacks": [],
    }
    number = meta.record_incarnation(info)
    if handover is not None and upgrade:
        reply = upgrade_reply(
            handover.request_id,
            outcome="upgraded",
            old_pid=handover.old_pid,
            new_pid=int(facts.get("pid", 0)),
            incarnation=number,
            handover_s=max(0.0, time.time() - handover.stopped_at),
        )
        store_reply(session, handover.request_id, reply)
    return number


def record_rollback(session: Session, number: int, python: str, reason: str) -> None:
    """Note a failed upgrade in incarnation `number` (which serves on), and mark
    any later entry (a successor killed after it recorded itself) as failed."""
    for entry in session.meta.incarnations:
        if entry.get("number") == number:
            rollback = {"time": time.time(), "python": python, "reason": reason}
            # Reassigned, not appended: a plain list inside the mapping is not persistent.
            entry["rollbacks"] = [*entry.get("rollbacks", []), rollback]
            entry["outcome"] = SERVING
        elif entry.get("number", 0) > number and entry.get("outcome") == SERVING:
            entry["outcome"] = FAILED


def store_reply(session: Session, request_id: str, reply: dict[str, Any]) -> None:
    reply_table.store_reply(session.root, request_id, reply)


def upgrade_reply(
    request_id: str,
    *,
    outcome: str,
    old_pid: int,
    new_pid: int,
    incarnation: int,
    handover_s: float,
    reason: str = "",
) -> dict[str, Any]:
    """The `upgrade_reply` dict (validated by its model)."""
    return dump_message(
        UpgradeReply(
            id=request_id,
            outcome=outcome,  # type: ignore[arg-type]  # validated by pydantic
            old_pid=old_pid,
            new_pid=new_pid,
            incarnation=incarnation,
            reason=reason,
            handover_s=handover_s,
        )
    )


def to_record(entry: Any) -> IncarnationRecord:
    """An image entry as a wire record; fields an older batos did not record are empty."""
    return IncarnationRecord(
        number=int(entry.get("number", 0)),
        started=float(entry.get("started", 0.0)),
        pid=int(entry.get("pid", 0)),
        python=str(entry.get("python", "")),
        executable=str(entry.get("executable", "")),
        batos=str(entry.get("batos", "")),
        via=str(entry.get("via", "")),
        outcome=str(entry.get("outcome", "")),
        environment=str(entry.get("environment", "")),
        requirements=[str(r) for r in entry.get("requirements", [])],
        packages={str(k): str(v) for k, v in dict(entry.get("packages", {})).items()},
        rollbacks=[
            RollbackRecord(time=float(r["time"]), python=str(r["python"]), reason=str(r["reason"]))
            for r in entry.get("rollbacks", [])
        ],
    )


def handle_incarnations(ctx: HandlerContext, request: IncarnationsRequest) -> IncarnationsReply:
    """`incarnations_request`: newest first, at most `limit`."""
    meta = ctx.session.meta
    entries = list(meta.incarnations)[-request.limit :]
    return IncarnationsReply(
        id=request.id,
        current=int(meta.incarnation),
        entries=[to_record(entry) for entry in reversed(entries)],
    )


register("incarnations_request", handle_incarnations)
