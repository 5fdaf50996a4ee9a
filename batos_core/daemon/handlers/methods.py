"""Installing a method given as source (the blueprint's CreateMethodCommand)."""

from __future__ import annotations

from batos_core.daemon.context import HandlerContext
from batos_core.jit.pipeline import install_method
from batos_core.objects import check_source, self_to_python
from batos_core.protocol.messages import CreateMethodReply, CreateMethodRequest
from batos_core.protocol.values import decode_value


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
    selector = self_to_python(request.selector)
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
