"""The image's record of its incarnations: each process that served it, and how it ended.

`begin` runs in the transaction that opens the image for a daemon: it closes
the previous entry (``upgraded`` after a hand-over, else ``ended``) and records
the new one (interpreter, batos and package versions, environment). After a
hand-over, `handover_reply` is the upgrade's reply, which the daemon stores
under its request id in that same transaction so that the client's retry gets
it (exactly-once, like any request that changed the image).
"""

from __future__ import annotations

import sys
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from batos_core.protocol.messages import IncarnationRecord, RollbackRecord, UpgradeReply
from batos_core.protocol.messages.unions import dump_message

if TYPE_CHECKING:
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
    return int(meta.record_incarnation(info))


def handover_reply(handover: HandoverGo | None, number: int, new_pid: int) -> dict[str, Any] | None:
    """The ``upgrade_reply`` of the upgrade that made incarnation `number` (to store
    under ``handover.request_id``); None when no upgrade request is answered
    (a plain start, or a restart after a wedge)."""
    if handover is None or handover.via != "upgrade":
        return None
    return upgrade_reply(
        handover.request_id,
        outcome="upgraded",
        old_pid=handover.old_pid,
        new_pid=new_pid,
        incarnation=number,
        handover_s=max(0.0, time.time() - handover.stopped_at),
    )


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
