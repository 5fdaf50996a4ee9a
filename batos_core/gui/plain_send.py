"""Turning one typed message into a ``send_request``, for daemons without ``eval``.

The bridge sends what the user typed as an ``eval_request`` (the REPL's whole
language). A daemon that answers ``unknown_type`` to that still understands
``send_request``; this module maps the common case, one message to a named
object with literal arguments (``genesis setSlot: 'x' value: 3``), onto it.
Anything richer is refused with a ValueError that says what is supported.
"""

from __future__ import annotations

from batos_core.protocol.builders import SendRequestDict, send_request
from batos_core.protocol.values import WireValue, wire_ref
from batos_core.selfsyntax import SelfSyntaxError, parse
from batos_core.selfsyntax.ast import Literal, Name, OidRef, SelfRef, Send

SUPPORTED = "one message to a named object with literal arguments, e.g. genesis setSlot: 'x' value: 3"


def send_request_for(text: str) -> SendRequestDict:
    """The ``send_request`` for ``text``.

    Raises ValueError (with the parser's line and column for a syntax error)
    when ``text`` is not one message of the supported shape.
    """
    try:
        program = parse(text)
    except SelfSyntaxError as exc:
        raise ValueError(str(exc)) from None
    if len(program.statements) != 1 or not isinstance(program.statements[0], Send):
        raise ValueError(f"this daemon evaluates no expressions yet; type {SUPPORTED}")
    message = program.statements[0]
    return send_request(_receiver(message), message.selector, [_argument(a) for a in message.arguments])


def _receiver(message: Send) -> str:
    receiver = message.receiver
    if isinstance(receiver, Name):
        return receiver.name
    if isinstance(receiver, OidRef):
        return f"0x{receiver.oid:x}"
    if isinstance(receiver, SelfRef):
        return "lobby"
    raise ValueError(f"the receiver must be a name or an oid; type {SUPPORTED}")


def _argument(node: object) -> WireValue:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return wire_ref(node.name)
    if isinstance(node, OidRef):
        return wire_ref(f"0x{node.oid:x}")
    raise ValueError(f"arguments must be literals or names; type {SUPPORTED}")
