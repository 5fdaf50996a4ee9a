"""A plain-value picture of a receiver, taken before generation.

The JIT runs outside any transaction (the model takes seconds), so the
pipeline copies what the prompt and the trial need out of the image first:
data slots as values, parent slots as descriptions, and the methods the
receiver already understands (with their source where known). Nothing here
touches ZODB; the snapshot is safe to use from any thread.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = 8
_REPR.maxdict = 6
_REPR.maxlevel = 3


def short_repr(value: object, limit: int = 80) -> str:
    """A bounded repr of ``value``; never raises (a failing ``__repr__`` is named)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a user object's __repr__ may fail; the prompt still needs a line
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: object) -> str:
    """The Python type name shown to the model (``list``, ``int``, ``UvmObject``)."""
    return type(value).__name__


@dataclass(frozen=True)
class ReceiverSnapshot:
    """What the JIT knows about the receiver of the missing message.

    ``data_slots``: data slot name -> value (plain values; objects allowed, the
    trial passes them as opaque placeholders). ``parent_slots``: parent slot
    name (with its ``*``) -> a short description of the parent.
    ``methods``: selector -> source ("" when unknown) of every method the
    receiver understands, local or inherited. ``self_methods``: selector ->
    Self signature (``double: x``) of those written in Self; they are in
    ``methods`` too, with their compiled Python as the source.
    ``value_receiver``/``value``: the receiver is a plain value (see below).
    """

    name: str = "receiver"
    data_slots: Mapping[str, object] = field(default_factory=dict)
    parent_slots: Mapping[str, str] = field(default_factory=dict)
    methods: Mapping[str, str] = field(default_factory=dict)
    self_methods: Mapping[str, str] = field(default_factory=dict)
    #: A miss on a plain value (``5 frob``): the method goes to its per-type
    #: traits object and runs with `self` = the value, which is `value`.
    value_receiver: bool = False
    value: object = None
