"""Suspending and resuming methods: a method that wedged the daemon does not run again
until a person resumes it.

A suspended Method keeps its source and version; its ``suspended`` record
(who, why, when, which request) makes `Method.function` raise
`MethodSuspended`, so a send that reaches it fails with a typed error that
names the holder, the selector and the way back (`batos methods resume`, a
revert or a new version, which is a new, unsuspended Method). Both changes are
change-log records (``suspend``, ``resume``) in the same transaction.

`apply_wedge_report` runs when a daemon opens its image, before it serves:
the supervisor (`supervisor`) left a `wedge.WedgeReport` naming the request
that held the interpreter and the method it ran; the method is suspended in
one transaction and the report removed, so the re-sent request of the
client that wedged the daemon gets `MethodSuspended` instead of wedging it again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from batos_core.daemon.wedge import BadWedgeReport, WedgeReport
from batos_core.image import Image, ObjectNotFound, Session
from batos_core.methods.changelog import change_log
from batos_core.objects import (
    ConstantSlotError,
    Method,
    SlotNotFound,
    UvmObject,
    format_oid,
    get_slot,
    has_slot,
    lookup,
    set_slot,
    slot_items,
)

log = logging.getLogger(__name__)


class NotAMethod(ObjectNotFound):
    """The holder has no method of that selector in its own slots."""


def suspend(
    session: Session, holder: UvmObject, selector: str, *, reason: str, by: str, request_id: str = ""
) -> Method | None:
    """Suspend `holder`'s own method `selector` (the caller commits). Returns the
    Method, or None if it was already suspended (nothing changes). Raises
    NotAMethod."""
    method = _own_method(holder, selector)
    if method.suspended is not None:
        return None
    info = {
        "holder": format_oid(holder),
        "holder_name": lobby_name(session, holder),
        "reason": reason,
        "by": by,
        "time": time.time(),
        "request": request_id,
    }
    method.suspended = info
    _touch(holder, selector, method)
    _record(session, "suspend", holder, method, info)
    return method


def resume(session: Session, holder: UvmObject, selector: str, *, by: str) -> Method | None:
    """Make `holder`'s suspended method `selector` runnable again (the caller
    commits). Returns the Method, or None if it was not suspended. Raises NotAMethod."""
    method = _own_method(holder, selector)
    if method.suspended is None:
        return None
    info = {"suspended": dict(method.suspended), "by": by, "time": time.time()}
    method.suspended = None
    _touch(holder, selector, method)
    _record(session, "resume", holder, method, info)
    return method


def holder_of(session: Session, receiver_ref: str, selectors: list[str]) -> tuple[UvmObject, str] | None:
    """The object that holds the first of `selectors` found as a method from the
    receiver `receiver_ref` (its lookup path), or from the lobby's objects when
    the receiver is unknown (an eval); None if none is found."""
    receivers: list[Any] = []
    with contextlib.suppress(ObjectNotFound, ValueError):
        if receiver_ref:
            receivers.append(session.resolve(receiver_ref))
    receivers += [value for name, value in slot_items(session.lobby) if not name.endswith("*")]
    for selector in selectors:
        for receiver in receivers:
            if not isinstance(receiver, UvmObject):
                continue
            with contextlib.suppress(SlotNotFound, ValueError):
                found = lookup(receiver, selector)
                if isinstance(found.value, Method):
                    return found.holder, selector
    return None


def apply_wedge_report(image: Image, path: Path) -> None:
    """Suspend the method a supervisor's wedge report at `path` names, in one
    transaction, then remove the report. No report: nothing to do. A report
    that cannot be read, or names no method found, is logged and removed."""
    try:
        report = WedgeReport.read(path)
    except FileNotFoundError:
        return
    except (OSError, BadWedgeReport) as exc:
        log.error("ignoring a wedge report: %s", exc)
        path.unlink(missing_ok=True)
        return
    try:
        found, suspended = _suspend_reported(image, report)
    except Exception:  # a report must never keep the daemon from starting
        log.exception("could not apply the wedge report of request %s", report.request_id)
        path.unlink(missing_ok=True)
        return
    if found is None:
        log.error(
            "the wedge of request %s named no method to suspend (receiver %r, selectors %s)",
            report.request_id,
            report.receiver,
            report.selectors,
        )
    elif suspended is not None:
        assert suspended.suspended is not None
        selector = found[1]
        name = suspended.suspended["holder_name"] or suspended.suspended["holder"]
        log.warning(
            "suspended method %s of %s: request %s (%s %s) wedged daemon %d for %g s; "
            "`batos methods resume %s %s` runs it again",
            selector,
            name,
            report.request_id,
            report.receiver,
            report.request_selector,
            report.pid,
            report.silent_s,
            name,
            selector,
        )
    path.unlink(missing_ok=True)


def _suspend_reported(
    image: Image, report: WedgeReport
) -> tuple[tuple[UvmObject, str] | None, Method | None]:
    """In one transaction: the holder and selector the report names, and the
    Method suspended (None if none was found, or it already was suspended)."""
    reason = f"it held the interpreter for {report.silent_s:g} s and the daemon was restarted"
    found: tuple[UvmObject, str] | None = None
    suspended: Method | None = None
    with image.session() as session:
        for attempt in session.transaction_manager.attempts():
            with attempt:
                found = holder_of(session, report.receiver, report.selectors)
                if found is not None:
                    holder, selector = found
                    suspended = suspend(
                        session,
                        holder,
                        selector,
                        reason=reason,
                        by="supervisor",
                        request_id=report.request_id,
                    )
    return found, suspended


def lobby_name(session: Session, obj: UvmObject) -> str:
    """The lobby slot naming `obj`, or ""."""
    for name, value in slot_items(session.lobby):
        if value is obj and not name.endswith("*"):
            return name
    return ""


def _own_method(holder: UvmObject, selector: str) -> Method:
    value = get_slot(holder, selector) if has_slot(holder, selector) else None
    if not isinstance(value, Method):
        raise NotAMethod(f"{format_oid(holder)} has no method {selector!r}")
    return value


def _touch(holder: UvmObject, selector: str, method: Method) -> None:
    # Writing the slot again flushes the lookups cached through the holder here,
    # and its commit invalidates them in every other connection.
    try:
        set_slot(holder, selector, method)
    except ConstantSlotError:
        holder._p_changed = True


def _record(session: Session, action: str, holder: UvmObject, method: Method, info: dict[str, Any]) -> None:
    change_log(session.root).append(
        action,
        target=format_oid(holder),
        target_name=lobby_name(session, holder),
        selector=method.selector,
        version=method.version,
        source="",
        provenance=info,
    )
