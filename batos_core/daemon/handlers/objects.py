"""Handlers that act on objects: send, inspect, full state, completion."""

from __future__ import annotations

from typing import Literal

from batos_core.daemon.context import HandlerContext
from batos_core.objects import (
    Method,
    UvmObject,
    format_oid,
    is_constant_slot,
    lookup,
    print_string,
    send,
    slot_items,
    slot_selector,
    understood_slots,
)
from batos_core.protocol.messages import (
    CompleteReply,
    CompleteRequest,
    GetFullStateReply,
    GetFullStateRequest,
    InspectReply,
    InspectRequest,
    SendReply,
    SendRequest,
)
from batos_core.protocol.messages.objects import MethodInfo, SlotInfo
from batos_core.protocol.values import WireValue
from batos_core.selectors import shown_selector, slot_name
from batos_core.ui_contract import UI_SELECTOR, ui_send_result


def handle_send(ctx: HandlerContext, request: SendRequest) -> SendReply:
    """Send a message; a miss propagates as SlotNotFound (the JIT's trigger)."""
    receiver = ctx.session.resolve(request.receiver)
    selector = slot_name(request.selector)
    if selector == UI_SELECTOR:  # looked up (generated on a miss) here, run only by `batos ui`
        found = lookup(receiver, selector)
        version = found.value.version if isinstance(found.value, Method) else 0
        return SendReply(
            id=request.id, result=ui_send_result(format_oid(receiver), format_oid(found.holder), version)
        )
    args = [ctx.decode(a) for a in request.args]
    result = send(receiver, selector, *args)
    return SendReply(id=request.id, result=ctx.encode(result))


def handle_inspect(ctx: HandlerContext, request: InspectRequest) -> InspectReply:
    """Slots (with kinds), parents and methods (with version and provenance) of an object."""
    obj = ctx.session.resolve(request.target)
    slots: list[SlotInfo] = []
    methods: list[MethodInfo] = []
    for name, value in slot_items(obj):
        kind: Literal["data", "parent", "method"]
        if name.endswith("*"):
            kind = "parent"
        elif isinstance(value, Method):
            kind = "method"
            methods.append(
                MethodInfo(
                    selector=name,
                    version=value.version,
                    provenance=ctx.encode_map(dict(value.provenance)),
                    suspended=value.suspended is not None,
                )
            )
        else:
            kind = "data"
        shown = _method_text(name, value) if kind == "method" else value
        slots.append(
            SlotInfo(name=name, kind=kind, value=ctx.encode(shown), is_constant=is_constant_slot(obj, name))
        )
    return InspectReply(
        id=request.id, oid=format_oid(obj), repr=print_string(obj), slots=slots, methods=methods
    )


def _method_text(name: str, method: Method) -> str:
    state = " suspended" if method.suspended is not None else ""
    return f"<method {slot_selector(name, method)} v{method.version}{state}>"


def handle_get_full_state(ctx: HandlerContext, request: GetFullStateRequest) -> GetFullStateReply:
    """Every slot of the target by value (methods as their Self selector and version)."""
    obj = ctx.session.resolve(request.target)
    state: dict[str, WireValue] = {}
    for name, value in slot_items(obj):
        if isinstance(value, Method):
            state[name] = f"<method {slot_selector(name, value)} v{value.version}>"
        else:
            state[name] = ctx.encode(value)
    return GetFullStateReply(id=request.id, state=state)


def handle_complete(ctx: HandlerContext, request: CompleteRequest) -> CompleteReply:
    """Selectors (Self form) the receiver understands, or lobby names, starting with prefix."""
    if request.receiver:
        target = ctx.session.resolve(request.receiver)
        understood = understood_slots(target) if isinstance(target, UvmObject) else {}
        shown = sorted({slot_selector(name, value) for name, value in understood.items()})
    else:
        shown = sorted({shown_selector(n) for n, _ in slot_items(ctx.session.lobby) if not n.endswith("*")})
    prefix = request.prefix
    return CompleteReply(id=request.id, selectors=[s for s in shown if s.startswith(prefix)])
