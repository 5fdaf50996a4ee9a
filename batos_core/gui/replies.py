"""What the UI shows of daemon replies: wire values as plain Python and as text.

Generated UIs were told that ``get_full_state`` gives "a dict of slot names to
values" and that ``send`` gives "the reply text". Wire values carry markers
(``$ref``, ``$repr``, ``$dict``) a UI author should never see, so the bridge
flattens them here: an object reference becomes its printString, an opaque
value its repr text. Standard library only; never raises on odd input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 34


def plain_value(wire: Any, depth: int = 0) -> Any:
    """``wire`` with every marker replaced: refs and opaque values become text."""
    if depth > _MAX_DEPTH:
        return "..."
    if isinstance(wire, list):
        return [plain_value(item, depth + 1) for item in wire]
    if isinstance(wire, dict):
        if "$ref" in wire:
            return str(wire.get("repr") or wire["$ref"])
        if "$repr" in wire:
            return str(wire["$repr"])
        inner = wire.get("$dict", wire) if len(wire) == 1 else wire
        if not isinstance(inner, dict):
            return str(inner)
        return {str(key): plain_value(value, depth + 1) for key, value in inner.items()}
    return wire


def plain_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A ``get_full_state_reply`` state map as slot name -> plain value."""
    return {str(name): plain_value(value) for name, value in state.items()}


def value_text(wire: Any, depth: int = 0) -> str:
    """A wire value as the REPL prints it: ``nil``, ``true``, ``'text'``, ``<genesis>``."""
    if depth > _MAX_DEPTH:
        return "..."
    if wire is None:
        return "nil"
    if wire is True:
        return "true"
    if wire is False:
        return "false"
    if isinstance(wire, str):
        return "'" + wire.replace("'", "''") + "'"
    if isinstance(wire, bytes):
        return f"<{len(wire)} bytes>"
    if isinstance(wire, list):
        return "(" + ", ".join(value_text(item, depth + 1) for item in wire) + ")"
    if isinstance(wire, dict):
        if "$ref" in wire or "$repr" in wire:
            return str(plain_value(wire))
        inner = wire.get("$dict", wire) if len(wire) == 1 else wire
        if not isinstance(inner, dict):
            return str(inner)
        return "{" + ", ".join(f"{key}: {value_text(v, depth + 1)}" for key, v in inner.items()) + "}"
    return str(wire)


def error_text(reply: Mapping[str, Any]) -> str:
    """An ``error_reply`` as one line: ``error: SlotNotFound: genesis does not understand foo``."""
    name = str(reply.get("name") or reply.get("code") or "error")
    return f"error: {name}: {reply.get('message', '')}".rstrip(": ")


def reply_text(reply: Mapping[str, Any]) -> str:
    """The text of any final reply: its result, or the error line."""
    if reply.get("type") == "error_reply":
        return error_text(reply)
    if "result" in reply:
        return value_text(reply["result"])
    return str(reply.get("type", "reply"))
