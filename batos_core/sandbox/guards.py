"""The guard functions restricted code calls (standard library only).

RestrictedPython rewrites ``a.b`` into ``_getattr_(a, "b")``, ``a.b = v`` and
``a[k] = v`` into ``_write_(a).b = v`` / ``_write_(a)[k] = v``, ``a[k]`` into
``_getitem_(a, k)``, ``x += y`` into ``x = _inplacevar_("+=", x, y)``, and
``print`` into a collector. This module is what those names mean in batos.

Invariants, in the order ``guarded_getattr`` checks them:

1. The name is a ``str``; a name starting with ``_`` is refused, whatever
   produced it (syntax, ``getattr`` with a computed string, ``reduce``,
   ``attrgetter``, a format string): ``SandboxViolation``.
2. Frames, code objects and tracebacks answer no attribute at all, and a
   generator's or coroutine's ``gi_``/``cr_``/``ag_`` attributes are refused:
   they lead to frames, and frames lead to globals.
3. ``register`` of an abstract base class (``collections.abc.Mapping``)
   is refused: it would change ``isinstance`` for the whole daemon.
4. ``str.format`` and ``format_map`` are replaced by a formatter whose field
   lookups go through rule 1 (``'{0.__class__}'.format(x)`` is refused).

Writes (``guarded_write``) reach only what a method may change: batos
objects (their slots), mutable containers, and instances of classes the
restricted code defined itself. A module proxy, the ``batos`` API, a class
of the daemon, a function or a library object (a ``decimal`` context) is
refused, so no method can change what another method or client sees.
"""

from __future__ import annotations

import operator
import string
import sys
from abc import ABCMeta
from collections.abc import Callable, MutableMapping, MutableSequence, MutableSet
from types import CodeType, FrameType, TracebackType
from typing import Any

#: ``__name__`` of the globals restricted code runs with: classes it defines
#: get it as ``__module__``, which is how ``guarded_write`` knows them.
RESTRICTED_MODULE_NAME = "batos.methods"

_OPAQUE_TYPES = (FrameType, CodeType, TracebackType)
_INTERNAL_PREFIXES = ("gi_", "cr_", "ag_")


class SandboxViolation(PermissionError):
    """Restricted code tried to reach something outside the object world."""


def check_attribute_name(obj: object, name: object) -> str:
    """``name`` if restricted code may read it on ``obj``; else SandboxViolation."""
    if not isinstance(name, str):
        raise TypeError(f"attribute name must be a string, not {type(name).__name__}")
    if name.startswith("_"):
        raise SandboxViolation(
            f"attribute {name!r} is not allowed: names starting with an underscore are reserved"
        )
    if isinstance(obj, _OPAQUE_TYPES):
        raise SandboxViolation(
            f"{type(obj).__name__} objects are interpreter internals and cannot be inspected"
        )
    if name.startswith(_INTERNAL_PREFIXES):
        raise SandboxViolation(f"attribute {name!r} is not allowed (interpreter internals)")
    if name == "register" and isinstance(obj, ABCMeta):
        # Mapping.register(str) would change isinstance for the whole daemon.
        raise SandboxViolation("registering a class with an abstract base class is not allowed in a method")
    return name


_MISSING = object()


def guarded_getattr(obj: Any, name: Any, default: Any = _MISSING) -> Any:
    """``getattr`` for restricted code (also its builtin ``getattr``)."""
    check_attribute_name(obj, name)
    if name in ("format", "format_map") and _is_str(obj):
        return _safe_str_method(obj, name)
    if default is _MISSING:
        return getattr(obj, name)
    return getattr(obj, name, default)


def guarded_hasattr(obj: Any, name: Any) -> bool:
    """``hasattr`` for restricted code: False for any name it may not read."""
    try:
        guarded_getattr(obj, name)
    except (AttributeError, SandboxViolation):
        return False
    return True


def guarded_setattr(obj: Any, name: Any, value: Any) -> None:
    """``setattr`` for restricted code: a readable name on a writable object."""
    check_attribute_name(obj, name)
    setattr(guarded_write(obj), name, value)


def guarded_delattr(obj: Any, name: Any) -> None:
    """``delattr`` for restricted code."""
    check_attribute_name(obj, name)
    delattr(guarded_write(obj), name)


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]``: items are data, not attributes; nothing more to check."""
    return obj[key]


def guarded_getiter(obj: Any) -> Any:
    return iter(obj)


def guarded_apply(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A call with ``*args``/``**kwargs`` (RestrictedPython routes those here)."""
    return function(*args, **kwargs)


#: Objects whose attributes or items a method may change, besides batos objects
#: (registered by the namespace) and its own classes' instances.
_writable_types: list[type] = [dict, list, set, bytearray, MutableMapping, MutableSequence, MutableSet]


def allow_writes_to(cls: type) -> None:
    """Let restricted code write to instances of ``cls`` (the namespace registers UvmObject)."""
    if cls not in _writable_types:
        _writable_types.append(cls)


def guarded_write(obj: Any) -> Any:
    """``obj`` if restricted code may change it (an attribute or an item); else SandboxViolation."""
    if isinstance(obj, type):
        if obj.__module__ == RESTRICTED_MODULE_NAME:
            return obj
    elif type(obj).__module__ == RESTRICTED_MODULE_NAME or isinstance(obj, tuple(_writable_types)):
        return obj
    raise SandboxViolation(
        f"cannot change a {type(obj).__name__}: a method may change only batos objects, "
        "containers and its own classes' instances"
    )


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """``target op value`` for an augmented assignment."""
    return _INPLACE[op](target, value)


def guarded_unpack_sequence(it: Any, spec: dict[str, Any], getiter: Any) -> list[Any]:
    """Unpacking ``a, (b, c) = it``: each nested level through ``getiter``."""
    values = list(getiter(it))
    if len(values) < spec["min_len"]:
        return values  # the interpreter raises its own ValueError
    for index, child in spec["childs"]:
        values[index] = guarded_unpack_sequence(values[index], child, getiter)
    return values


def guarded_iter_unpack_sequence(it: Any, spec: dict[str, Any], getiter: Any) -> Any:
    """``for a, b in it``: each item unpacked by ``guarded_unpack_sequence``."""
    for item in getiter(it):
        yield guarded_unpack_sequence(item, spec, getiter)


class _SafeTypeMeta(type):
    """Makes ``isinstance(x, type)`` and ``issubclass(c, type)`` work on ``SafeType``."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, type)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return issubclass(sub, type)


class SafeType(metaclass=_SafeTypeMeta):
    """What ``type`` means in restricted code: the class of one object, never a new class.

    ``type(x)`` answers the class; ``type(name, bases, dict)`` (which could
    give a class attributes named ``__getattr__`` or ``__reduce__``) is
    refused. ``isinstance(x, type)`` and ``issubclass(c, type)`` still work.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) != 1 or kwargs:
            raise SandboxViolation("type() with three arguments is not allowed; write a class statement")
        return type(args[0])


class _SafeFormatter(string.Formatter):
    """``str.format`` whose ``{0.attr}``/``{0[key]}`` fields go through the guards."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _split_field(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, part in rest:
            obj = guarded_getattr(obj, part) if is_attribute else obj[part]
        return obj, first


def _split_field(field_name: str) -> Any:
    import _string  # the parser str.format itself uses

    return _string.formatter_field_name_split(field_name)


_FORMATTER = _SafeFormatter()


def safe_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    """``str.format`` for restricted code."""
    return _FORMATTER.vformat(template, args, kwargs)


def safe_format_map(template: str, mapping: Any, /) -> str:
    """``str.format_map`` for restricted code."""
    return _FORMATTER.vformat(template, (), mapping)


class _BoundFormat:
    """``'...'.format`` / ``'...'.format_map`` bound to one template."""

    __slots__ = ("_mapping", "_template")

    def __init__(self, template: str, mapping: bool) -> None:
        self._template = template
        self._mapping = mapping

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        if self._mapping:
            return safe_format_map(self._template, *args, **kwargs)
        return safe_format(self._template, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<built-in method {'format_map' if self._mapping else 'format'} of str object>"


def _is_str(obj: Any) -> bool:
    return isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))


def _safe_str_method(obj: Any, name: str) -> Any:
    if isinstance(obj, type):
        return safe_format_map if name == "format_map" else safe_format
    return _BoundFormat(obj, mapping=name == "format_map")


class PrintCollector:
    """``print`` in restricted code: the text goes to standard output and to ``printed``."""

    def __init__(self, getattr_: Any = None) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def __call__(self) -> str:
        return "".join(self.parts)

    def _call_print(
        self, *objects: Any, sep: Any = " ", end: Any = "\n", flush: bool = False, file: Any = None
    ) -> None:
        # ``file=`` is ignored: printing to an object would call its ``write``.
        text = (" " if sep is None else str(sep)).join(str(o) for o in objects)
        text += "\n" if end is None else str(end)
        self.parts.append(text)
        sys.stdout.write(text)
