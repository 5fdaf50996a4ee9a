"""Per-type traits: where messages to numbers, strings, lists, nil and booleans go.

Python values have no slots, so methods the image adds for them live in
UvmObjects held in the `traits` object's slots ``number``, ``string``,
``list``, ``nil``, ``boolean`` and ``block`` (``traits number`` in the REPL). A method
found there runs with `self` bound to the Python value itself. Each one is
created with ``parent*`` = `traits`, so it takes ``setSlot:value:`` from the
REPL like any object and values inherit the generic ``printString``.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from numbers import Number
from typing import Any

from batos_core.objects import SlotNotFound, UvmObject, get_slot, has_slot, lookup, set_slot
from batos_core.selfsyntax.blocks import Block

TYPE_TRAIT_NAMES = ("number", "string", "list", "nil", "boolean", "block")


def type_trait_name(value: Any) -> str | None:
    """Which traits slot serves `value`: "number", "string", ...; None for other values."""
    if value is None:
        return "nil"
    if isinstance(value, bool):  # before Number: bool is an int
        return "boolean"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple | MutableSequence):
        return "list"
    if isinstance(value, Block):
        return "block"
    return None


def traits_object(lobby: UvmObject) -> UvmObject:
    """The lobby's `traits` (found by lookup, so an inherited one counts).

    Creates an empty one in the lobby if there is none at all. Raises
    TypeError if `traits` names something that is not a UvmObject.
    """
    if has_slot(lobby, "traits"):
        traits = get_slot(lobby, "traits")
    else:
        try:
            traits = lookup(lobby, "traits").value
        except SlotNotFound:
            traits = UvmObject()
            set_slot(lobby, "traits", traits)
    if not isinstance(traits, UvmObject):
        raise TypeError(f"the lobby's 'traits' is a {type(traits).__name__}, not an object")
    return traits


def ensure_type_traits(lobby: UvmObject) -> dict[str, UvmObject]:
    """The per-type traits objects by name, creating the missing ones.

    Creation writes to the `traits` object, so it belongs in a transaction
    that commits (a bootstrap migration should call this once, so that an
    oid is already assigned when a miss on a number reaches the JIT).
    Raises TypeError if an existing slot holds something other than a UvmObject.
    """
    traits = traits_object(lobby)
    found: dict[str, UvmObject] = {}
    for name in TYPE_TRAIT_NAMES:
        if not has_slot(traits, name):
            set_slot(traits, name, UvmObject(**{"parent*": traits}))
        holder = get_slot(traits, name)
        if not isinstance(holder, UvmObject):
            raise TypeError(f"traits {name} is a {type(holder).__name__}, not an object")
        found[name] = holder
    return found
