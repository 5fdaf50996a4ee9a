"""Installing a method given as source (the blueprint's CreateMethodCommand)."""

from __future__ import annotations

from batos_core.daemon.context import HandlerContext
from batos_core.objects import Method, check_source, has_slot, self_to_python, set_slot
from batos_core.objects import get_slot as own_slot
from batos_core.protocol.messages import CreateMethodReply, CreateMethodRequest


def handle_create_method(ctx: HandlerContext, request: CreateMethodRequest) -> CreateMethodReply:
    """Compile-check and install `source` as `selector` on the target (a new version
    if it already has one)."""
    target = ctx.session.resolve(request.target)
    selector = self_to_python(request.selector)
    check_source(selector, request.source)
    previous = own_slot(target, selector) if has_slot(target, selector) else None
    method = Method(
        selector,
        request.source,
        {"author": "user", "via": "create_method"},
        previous=previous if isinstance(previous, Method) else None,
    )
    set_slot(target, selector, method)
    return CreateMethodReply(id=request.id, version=method.version)
