"""Short human-readable descriptions of objects (`printString`)."""

from __future__ import annotations

from typing import Any

from batos_core.objects.method import Method


def print_string(obj: Any, *, limit: int = 6, oids: bool = True) -> str:
    """``a UvmObject 0x1a (x: 3, greet_: <method v1>, parent*: 0x2)``; plain repr for others.

    ``oids=False`` leaves the oids out (``a UvmObject (..., parent*: an object)``):
    for a model's prompt, where they mean nothing and would make what the model
    writes depend on where the storage happened to put the object."""
    from batos_core.objects.uvm_object import UvmObject, format_oid, slot_items

    if not isinstance(obj, UvmObject):
        return repr(obj)
    parts = []
    items = slot_items(obj)
    for name, value in items[:limit]:
        parts.append(f"{name}: {_short(value, oids)}")
    if len(items) > limit:
        parts.append(f"... {len(items) - limit} more")
    header = f"a UvmObject {format_oid(obj)}" if oids else "a UvmObject"
    return f"{header} ({', '.join(parts)})"


def _short(value: Any, oids: bool = True) -> str:
    from batos_core.objects.uvm_object import UvmObject, format_oid

    if isinstance(value, UvmObject):
        return format_oid(value) if oids else "an object"
    if isinstance(value, Method):
        return f"<method v{value.version}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
