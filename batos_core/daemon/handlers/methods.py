"""Installing a method given as source (the blueprint's CreateMethodCommand);
suspending and resuming one (`batos methods suspend | resume`); listing an
object's methods (`batos methods list`)."""

from __future__ import annotations

from batos_core.daemon import suspension
from batos_core.daemon.context import HandlerContext
from batos_core.daemon.handlers.history import MethodNotFound
from batos_core.methods.install import install_method
from batos_core.objects import (
    Method,
    SlotNotFound,
    check_source,
    format_oid,
    lookup,
    slot_items,
    slot_selector,
)
from batos_core.protocol.messages import (
    CreateMethodReply,
    CreateMethodRequest,
    SuspensionReply,
    SuspensionRequest,
)
from batos_core.protocol.messages.methods import MethodListing, MethodsReply, MethodsRequest
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


def handle_methods(ctx: HandlerContext, request: MethodsRequest) -> MethodsReply:
    """The methods in the target's own slots, in slot order (only the suspended
    ones if asked). An unknown target raises ObjectNotFound; nothing is written."""
    obj = ctx.session.resolve(request.target)
    listed = [
        _listing(ctx, name, value)
        for name, value in slot_items(obj)
        if isinstance(value, Method) and (value.suspended is not None or not request.suspended_only)
    ]
    return MethodsReply(id=request.id, target=format_oid(obj), methods=listed)


def _listing(ctx: HandlerContext, name: str, method: Method) -> MethodListing:
    provenance = method.provenance
    created = provenance.get("created", 0.0)
    return MethodListing(
        selector=slot_selector(name, method),
        slot=name,
        version=method.version,
        suspended=method.suspended is not None,
        suspension=ctx.encode_map(dict(method.suspended or {})),
        trusted=method.trusted,
        language=str(provenance.get("language") or "python"),
        author=str(provenance.get("author", "")),
        created=float(created) if isinstance(created, (int, float)) else 0.0,
    )
