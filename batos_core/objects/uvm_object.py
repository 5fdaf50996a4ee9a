"""`UvmObject`: Self-style slots and `parent*` delegation on a persistent object.

Persistent state is one ordered dict of slots (`_slots`) plus the set of slots
declared constant. Everything else in the instance `__dict__` is a volatile,
materialised view that makes message sending fast:

* own data slots are copied into `__dict__` under their names, so reading one
  is a plain attribute read served by persistent's C `__getattribute__`;
* a lookup that had to run (an own Method, or anything found through parents)
  is cached in `__dict__` too, as the value or as the Method's function bound
  to this receiver (Self semantics: `self` is the receiver, not the holder).

Cached lookups are flushed whenever any object on the lookup path changes: a
slot write here or on a visited parent, or a ZODB invalidation (another
connection committed, or this transaction aborted). Each visited object keeps,
in a process-wide weak registry, the set of receivers that cached through it.
"""

from __future__ import annotations

import keyword
import threading
import weakref
from collections.abc import Iterator
from types import MethodType
from typing import Any

import persistent
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping

from batos_core.objects.errors import (
    ConstantSlotError,
    InvalidSlotName,
    NotAUvmObject,
    ParentCycleError,
    SlotNotFound,
)
from batos_core.objects.method import Method

_STATE_KEYS = frozenset({"_slots", "_constants", "_v_derived"})

# holder -> receivers whose __dict__ caches a lookup that visited holder.
_dependents: weakref.WeakKeyDictionary[UvmObject, weakref.WeakSet[UvmObject]] = weakref.WeakKeyDictionary()
_dependents_lock = threading.Lock()


class UvmObject(persistent.Persistent):
    """The one class of the prototype world: an object is its slots.

    Attribute access is message sending (see the module docstring). Names that
    start with ``_`` are Python's and persistent's own: they never delegate and
    never reach doesNotUnderstand:, so pickle, copy, rich and IPython probes
    (``__getstate__``, ``__rich__``, ``_repr_html_``) get a plain AttributeError.
    """

    def __init__(self, **slots: Any) -> None:
        d = self.__dict__
        d["_slots"] = {}
        d["_constants"] = frozenset()
        d["_v_derived"] = set()
        for name, value in slots.items():
            set_slot(self, name, value)

    # -- persistence -------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {"_slots": self.__dict__["_slots"]}
        constants = self.__dict__.get("_constants")
        if constants:
            state["_constants"] = constants
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        d = self.__dict__
        d.clear()
        # A copy: copy.copy() passes the original's own dict here, and a shared
        # dict would let writes to the copy reach the original unsaved.
        slots = dict(state["_slots"])
        d["_slots"] = slots
        d["_constants"] = frozenset(state.get("_constants", ()))
        d["_v_derived"] = set()
        for name, value in slots.items():
            if not name.endswith("*") and not isinstance(value, Method):
                d[name] = value
        # New state (a reload after invalidation): whatever was cached through
        # this object's earlier state is stale.
        _flush_dependents(self)

    def _p_invalidate(self) -> None:
        _flush_dependents(self)
        super()._p_invalidate()

    # -- message sending ---------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only called when `name` is not in __dict__: not an own data slot and
        # not yet cached.
        if name[:1] == "_":
            raise AttributeError(name)
        holder, value, visited = _find(self, name)
        if holder is None:
            raise SlotNotFound(format_oid(self), name, self)
        result = MethodType(value.function, self) if isinstance(value, Method) else value
        d = self.__dict__
        d[name] = result
        d["_v_derived"].add(name)
        _register(self, visited)
        return result

    def __setattr__(self, name: str, value: Any) -> None:
        if name[:1] == "_":
            if name.startswith(("_p_", "_v_")):
                super().__setattr__(name, value)
                return
            raise InvalidSlotName(f"slot names must not start with '_': {name!r}")
        set_slot(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name[:1] == "_":
            super().__delattr__(name)
            return
        remove_slot(self, name)

    def __repr__(self) -> str:
        try:
            names = list(self.__dict__["_slots"]) if self._p_state >= 0 else None
        except KeyError:
            names = None
        shown = "" if names is None else " " + " ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        return f"<UvmObject {format_oid(self)}{shown}>"


# -- slot API (module functions, so no Python name can shadow a selector) ------


def validate_slot_name(name: str) -> str:
    """Return `name` if it is a valid slot name, else raise InvalidSlotName.

    Valid: an identifier that is not a Python keyword and does not start with
    ``_``, optionally followed by ``*`` (a parent slot).
    """
    if not isinstance(name, str):
        raise InvalidSlotName(f"slot names are strings, not {type(name).__name__}")
    base = name[:-1] if name.endswith("*") else name
    if not base.isidentifier() or not base.isascii():
        raise InvalidSlotName(f"not an identifier: {name!r}")
    if keyword.iskeyword(base):
        raise InvalidSlotName(f"a Python keyword cannot be a slot name: {name!r}")
    if base.startswith("_"):
        raise InvalidSlotName(f"slot names starting with '_' are reserved: {name!r}")
    return name


def is_parent_slot(name: str) -> bool:
    """A parent slot's name ends in ``*`` (Self)."""
    return name.endswith("*")


def _slots(obj: UvmObject) -> dict[str, Any]:
    slots: dict[str, Any] = obj.__dict__["_slots"] if obj._p_state >= 0 else _activate(obj)
    return slots


def _activate(obj: UvmObject) -> dict[str, Any]:
    obj._p_activate()
    slots: dict[str, Any] = obj.__dict__["_slots"]
    return slots


def set_slot(obj: UvmObject, name: str, value: Any, *, constant: bool = False) -> None:
    """Write slot `name` on `obj` (never on a parent).

    Lists and dicts are stored as persistent containers (recursively), so
    later in-place changes are saved. A parent slot takes only a UvmObject and
    refuses a value that would make `obj` its own ancestor. Writing a constant
    slot raises ConstantSlotError; nothing is written on any error.
    """
    validate_slot_name(name)
    slots = _slots(obj)
    constants: frozenset[str] = obj.__dict__["_constants"]
    if name in constants:
        raise ConstantSlotError(f"slot {name!r} of {format_oid(obj)} is constant")
    if is_parent_slot(name):
        if not isinstance(value, UvmObject):
            raise NotAUvmObject(f"parent slot {name!r} needs a UvmObject, got {type(value).__name__}")
        if value is obj or _is_ancestor(obj, value):
            raise ParentCycleError(
                f"{format_oid(value)} as {name!r} of {format_oid(obj)} would make a parent cycle"
            )
    else:
        value = to_persistent(value)
    slots[name] = value
    d = obj.__dict__
    if constant:
        d["_constants"] = constants | {name}
    obj._p_changed = True
    _after_write(obj, name, value)


def get_slot(obj: UvmObject, name: str) -> Any:
    """The value of `obj`'s own slot `name` (no delegation), or SlotNotFound."""
    try:
        return _slots(obj)[name]
    except KeyError:
        raise SlotNotFound(format_oid(obj), name, obj) from None


def has_slot(obj: UvmObject, name: str) -> bool:
    """True if `obj` itself (not a parent) has slot `name`."""
    return name in _slots(obj)


def remove_slot(obj: UvmObject, name: str) -> Any:
    """Remove `obj`'s own slot `name` and return its value; SlotNotFound if absent."""
    slots = _slots(obj)
    if name not in slots:
        raise SlotNotFound(format_oid(obj), name, obj)
    value = slots.pop(name)
    d = obj.__dict__
    if name in d["_constants"]:
        d["_constants"] = d["_constants"] - {name}
    obj._p_changed = True
    _after_write(obj, name, None, removed=True)
    return value


def slot_names(obj: UvmObject) -> list[str]:
    """Own slot names in slot order (parent slots included, with their ``*``)."""
    return list(_slots(obj))


def slot_items(obj: UvmObject) -> list[tuple[str, Any]]:
    """Own (name, value) pairs in slot order."""
    return list(_slots(obj).items())


def is_constant_slot(obj: UvmObject, name: str) -> bool:
    """True if `name` was declared constant (Self's ``name = value``)."""
    _slots(obj)
    return name in obj.__dict__["_constants"]


def parents(obj: UvmObject) -> list[UvmObject]:
    """Values of `obj`'s parent slots, in slot order."""
    return [v for k, v in _slots(obj).items() if k.endswith("*")]


class LookupResult:
    """Where a selector was found: the holder, the raw slot value, its kind."""

    __slots__ = ("holder", "kind", "selector", "value")

    def __init__(self, selector: str, holder: UvmObject, value: Any) -> None:
        self.selector = selector
        self.holder = holder
        self.value = value
        self.kind = "method" if isinstance(value, Method) else "data"

    def __repr__(self) -> str:
        return f"<LookupResult {self.selector} {self.kind} in {format_oid(self.holder)}>"


def lookup(obj: UvmObject, selector: str) -> LookupResult:
    """Find `selector` in `obj` or its parents (depth first, slot order).

    Raises SlotNotFound when nothing has it, InvalidSlotName for reserved names.
    """
    if selector[:1] == "_":
        raise InvalidSlotName(f"reserved names are never looked up: {selector!r}")
    holder, value, _ = _find(obj, selector)
    if holder is None:
        raise SlotNotFound(format_oid(obj), selector, obj)
    return LookupResult(selector, holder, value)


def responds_to(obj: UvmObject, selector: str) -> bool:
    """True if a lookup of `selector` from `obj` finds a slot."""
    if selector[:1] == "_":
        return False
    return _find(obj, selector)[0] is not None


def send(receiver: UvmObject, selector: str, *args: Any) -> Any:
    """Send `selector` with `args` to `receiver`.

    A Method runs with `self` = receiver. A data slot answers its value (it
    takes no arguments). A miss calls the receiver's `doesNotUnderstand_`
    (found by the same lookup; the primordial raises SlotNotFound).
    """
    if selector[:1] == "_":
        raise InvalidSlotName(f"reserved names are never sent: {selector!r}")
    holder, value, _ = _find(receiver, selector)
    if holder is None:
        dnu_holder, dnu, _ = _find(receiver, "doesNotUnderstand_")
        if dnu_holder is None or not isinstance(dnu, Method):
            raise SlotNotFound(format_oid(receiver), selector, receiver, list(args))
        return dnu.function(receiver, selector, list(args))
    if isinstance(value, Method):
        return value.function(receiver, *args)
    if args:
        raise TypeError(f"{selector!r} of {format_oid(receiver)} is a data slot; it takes no arguments")
    return value


def all_selectors(obj: UvmObject) -> list[str]:
    """Every non-parent slot name `obj` understands, own first, then inherited."""
    return list(understood_slots(obj))


def understood_slots(obj: UvmObject) -> dict[str, Any]:
    """Every non-parent slot name `obj` understands, own first, then inherited,
    with the value a `lookup` of it finds (one walk, not a lookup per name)."""
    seen: dict[str, Any] = {}
    for holder in _walk(obj):
        for name, value in _slots(holder).items():
            if not name.endswith("*") and name not in seen:
                seen[name] = value
    return seen


def clone(obj: UvmObject) -> UvmObject:
    """A new object with a copy of `obj`'s slots.

    Parents and Methods are shared (Self: a clone delegates to the same
    parents); lists and dicts are copied one level deep so the clone does not
    share mutable state with the original.
    """
    new = UvmObject()
    for name, value in _slots(obj).items():
        if isinstance(value, PersistentList):
            value = list(value)
        elif isinstance(value, PersistentMapping):
            value = dict(value)
        set_slot(new, name, value, constant=name in obj.__dict__["_constants"])
    return new


def format_oid(obj: Any) -> str:
    """``0x1a`` for a stored object, ``new`` for one not yet committed."""
    oid = getattr(obj, "_p_oid", None)
    if oid is None:
        return "new"
    return hex(int.from_bytes(oid, "big"))


def to_persistent(value: Any) -> Any:
    """Lists/tuples-of-lists and dicts become persistent containers, recursively."""
    if isinstance(value, list) and not isinstance(value, PersistentList):
        return PersistentList(to_persistent(v) for v in value)
    if isinstance(value, dict) and not isinstance(value, PersistentMapping):
        return PersistentMapping({k: to_persistent(v) for k, v in value.items()})
    if type(value) is tuple:  # plain tuples only: a namedtuple's constructor differs
        return tuple(to_persistent(v) for v in value)
    return value


# -- lookup internals ----------------------------------------------------------


def _walk(obj: UvmObject) -> Iterator[UvmObject]:
    """Objects in lookup order: `obj`, then parents depth first in slot order.

    Each object is yielded once (diamonds through a shared ancestor are fine).
    A cycle, which set_slot refuses but concurrent commits could still build,
    raises ParentCycleError instead of recursing forever.
    """
    done: set[int] = set()
    on_path: set[int] = set()
    # Explicit stack of iterators: no recursion, so depth is unbounded.
    yield obj
    done.add(id(obj))
    on_path.add(id(obj))
    stack: list[tuple[UvmObject, Iterator[UvmObject]]] = [(obj, iter(parents(obj)))]
    while stack:
        current, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            on_path.discard(id(current))
            continue
        key = id(nxt)
        if key in on_path:
            raise ParentCycleError(f"parent cycle through {format_oid(nxt)}")
        if key in done:
            continue
        done.add(key)
        on_path.add(key)
        yield nxt
        stack.append((nxt, iter(parents(nxt))))


def _find(obj: UvmObject, selector: str) -> tuple[UvmObject | None, Any, list[UvmObject]]:
    visited: list[UvmObject] = []
    for holder in _walk(obj):
        visited.append(holder)
        slots = _slots(holder)
        if selector in slots:
            return holder, slots[selector], visited
    return None, None, visited


def _is_ancestor(obj: UvmObject, candidate: UvmObject) -> bool:
    """True if `obj` is reachable from `candidate` through parent slots."""
    try:
        return any(o is obj for o in _walk(candidate))
    except ParentCycleError:
        return True


def _register(receiver: UvmObject, visited: list[UvmObject]) -> None:
    # The receiver also holds the holders (ghosts at worst) while its lookups are
    # cached: a holder that the ZODB cache GC had freed would receive no
    # invalidation when another connection changes it, and nothing would flush.
    held: set[UvmObject] = receiver.__dict__.setdefault("_v_holders", set())
    with _dependents_lock:
        for holder in visited:
            if holder is receiver:
                continue
            held.add(holder)
            deps = _dependents.get(holder)
            if deps is None:
                deps = _dependents[holder] = weakref.WeakSet()
            deps.add(receiver)


def _flush_derived(obj: UvmObject) -> None:
    d = obj.__dict__
    d.pop("_v_holders", None)
    derived = d.get("_v_derived")
    if derived:
        for name in derived:
            d.pop(name, None)
        derived.clear()


def _flush_dependents(holder: UvmObject) -> None:
    with _dependents_lock:
        deps = _dependents.pop(holder, None)
        receivers = list(deps) if deps else []
    for receiver in receivers:
        _flush_derived(receiver)


def _after_write(obj: UvmObject, name: str, value: Any, *, removed: bool = False) -> None:
    d = obj.__dict__
    d["_v_derived"].discard(name)
    if removed or name.endswith("*") or isinstance(value, Method):
        d.pop(name, None)
    else:
        d[name] = value
    if name.endswith("*"):
        _flush_derived(obj)
    _flush_dependents(obj)
