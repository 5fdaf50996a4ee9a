"""Installing a method given as source (the blueprint's CreateMethodCommand);
suspending and resuming one (`batos methods suspend | resume`)."""

from __future__ import annotations

from batos_core.daemon import suspension
from batos_core.daemon.context import HandlerContext
from batos_core.daemon.handlers.history import MethodNotFound
from batos_core.methods.install import install_method
from batos_core.objects import Method, SlotNotFound, check_source, format_oid, lookup
from batos_core.protocol.messages import (
    CreateMethodReply,
    CreateMethodRequest,
    SuspensionReply,
    SuspensionRequest,
)
from batos_core.protocol.values import decode_value
from batos_core.selectors import slot_name


def handle_create_method(ctx: HandlerContext, request: CreateMethodRequest) -> CreateMethodReply:
    """Compile-check and install `source` as `selector` on the target (a new version
    if it already has one), recorded in the change log.

    A request carrying the provenance of a recorded change (``batos replay``)
    is logged as a replay; the approver is always the user who sent it. The
    method runs restricted unless the request itself says ``trusted`` (a
    ``trusted`` key in the carried provenance is dropped: a replayed record
    does not vouch for itself).
    """
    target = ctx.session.resolve(request.target)
    selector = slot_name(request.selector)
    check_source(selector, request.source, trusted=request.trusted)
    extra = decode_value(request.provenance)
    provenance = dict(extra) if isinstance(extra, dict) else {}
    provenance.pop("trusted", None)
    replay = bool(provenance)
    provenance.update({"via": "replay" if replay else "create_method", "approver": "user"})
    if request.trusted:
        provenance["trusted"] = True
    provenance.setdefault("author", "user")
    version = install_method(
        ctx.session, target, selector, request.source, provenance, action="replay" if replay else "install"
    )
    return CreateMethodReply(id=request.id, version=version)


def handle_suspension(ctx: HandlerContext, request: SuspensionRequest) -> SuspensionReply:
    """Suspend or resume the method `selector` found from the target (on its
    holder), recorded in the change log. Raises MethodNotFound when the lookup
    finds no method."""
    target = ctx.session.resolve(request.target)
    selector = slot_name(request.selector)
    try:
        found = lookup(target, selector)
    except SlotNotFound:
        found = None
    if found is None or not isinstance(found.value, Method):
        raise MethodNotFound(f"{request.target} has no method {request.selector!r}")
    holder = found.holder
    if request.suspend:
        reason = request.reason or "suspended by a person"
        changed = suspension.suspend(
            ctx.session, holder, selector, reason=reason, by="user", request_id=request.id
        )
    else:
        changed = suspension.resume(ctx.session, holder, selector, by="user")
    return SuspensionReply(
        id=request.id,
        holder=format_oid(holder),
        selector=selector,
        version=found.value.version,
        suspended=request.suspend,
        changed=changed is not None,
    )
