"""Wire values: how Python values travel inside messages (standard library only).

Plain data (None, bool, int, float, str, bytes, lists, str-keyed dicts) travels
by value. A persistent object travels as a reference ``{"$ref": oid_hex,
"repr": text}``; anything else as ``{"$repr": text, "$type": type name}``. A dict
whose own keys start with ``$`` is wrapped as ``{"$dict": {...}}`` so that it
cannot be mistaken for one of these markers.

This module must not import the object model: the caller passes ``ref_of`` (to
recognise objects that have an oid) and ``resolve_ref`` (to turn an oid back
into an object).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

#: A value as it appears inside a message (the msgpack data model).
WireValue: TypeAlias = bool | int | float | str | bytes | list["WireValue"] | dict[str, "WireValue"] | None

REF_KEY = "$ref"
REPR_KEY = "$repr"
TYPE_KEY = "$type"
DICT_KEY = "$dict"

#: Nesting deeper than this is sent by repr (and refused when decoding).
DEFAULT_MAX_DEPTH = 32
#: At most this many values are sent by value per call; the rest go by repr.
DEFAULT_MAX_ITEMS = 100_000
#: Longest repr text sent for an opaque value.
MAX_REPR_CHARS = 1_000

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1

RefOf = Callable[[object], "tuple[str, str] | None"]
ResolveRef = Callable[[str], object]


@dataclass(frozen=True)
class RemoteRef:
    """A reference to an object in the image, decoded without a resolver."""

    oid: str
    repr: str


@dataclass(frozen=True)
class OpaqueValue:
    """A value that only travelled as its repr text."""

    repr: str
    type: str


class MalformedValue(ValueError):
    """A wire value violates the encoding rules (bad marker, too deep)."""


_short_repr = reprlib.Repr()
_short_repr.maxstring = 200
_short_repr.maxother = 200
_short_repr.maxlevel = 4


def _opaque(value: object) -> dict[str, WireValue]:
    # repr() of arbitrary objects may be huge, recursive or raise: bound it and
    # never let it fail the whole encoding.
    try:
        text = _short_repr.repr(value)
    except Exception as exc:  # any repr failure is reported as text
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return {REPR_KEY: text[:MAX_REPR_CHARS], TYPE_KEY: type(value).__name__}


class _Encoder:
    """One encoding pass; holds the item budget and the cycle-detection path."""

    def __init__(self, ref_of: RefOf | None, max_depth: int, max_items: int) -> None:
        self.ref_of = ref_of
        self.max_depth = max_depth
        self.budget = max_items
        self.path: set[int] = set()

    def encode(self, value: object, depth: int) -> WireValue:
        self.budget -= 1
        scalar = _scalar(value)
        if scalar is not _NOT_SCALAR:
            return scalar  # type: ignore[return-value]
        if self.ref_of is not None:
            ref = self.ref_of(value)
            if ref is not None:
                return {REF_KEY: ref[0], "repr": ref[1][:MAX_REPR_CHARS]}
        if isinstance(value, (Mapping, list, tuple)) or _is_sequence(value):
            return self._container(value, depth)
        return _opaque(value)

    def _container(self, value: object, depth: int) -> WireValue:
        size = len(value)  # type: ignore[arg-type]
        if depth >= self.max_depth or id(value) in self.path or size > self.budget:
            return _opaque(value)
        self.path.add(id(value))
        try:
            if isinstance(value, Mapping):
                return self._mapping(value, depth)
            return [self.encode(item, depth + 1) for item in value]  # type: ignore[attr-defined]
        finally:
            self.path.discard(id(value))

    def _mapping(self, value: Mapping[object, object], depth: int) -> WireValue:
        if not all(isinstance(key, str) for key in value):
            return _opaque(value)
        encoded = {str(k): self.encode(v, depth + 1) for k, v in value.items()}
        if any(key.startswith("$") for key in encoded):
            return {DICT_KEY: encoded}
        return encoded


_NOT_SCALAR = object()


def _scalar(value: object) -> object:
    """Return the wire form of a scalar, or ``_NOT_SCALAR``.

    Subclasses (str enums, int enums, bytearray...) travel as their base value.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return int(value)
        # msgpack integers are at most 64 bits wide.
        return {REPR_KEY: repr(int(value))[:MAX_REPR_CHARS], TYPE_KEY: "int"}
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return _NOT_SCALAR


def _is_sequence(value: object) -> bool:
    # PersistentList and other UserList-likes are Sequences; sets, generators
    # and iterators are not sent by value (they have no stable order or length).
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def encode_value(
    value: object,
    ref_of: RefOf | None = None,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> WireValue:
    """Encode ``value`` as a wire value.

    ``ref_of(obj)`` returns ``(oid_hex, repr)`` for objects that live in the
    image and ``None`` otherwise; it is called for every non-scalar value before
    containers are examined. Never raises for odd input: cycles, nesting beyond
    ``max_depth``, containers that would exceed the ``max_items`` budget,
    non-string dict keys, integers outside 64 bits and unknown types all travel
    as ``{"$repr", "$type"}``. Exceptions raised by ``ref_of`` propagate.
    """
    return _Encoder(ref_of, max_depth, max_items).encode(value, 0)


def decode_value(
    wire: object,
    resolve_ref: ResolveRef | None = None,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH + 2,
) -> object:
    """Decode a wire value.

    References become ``resolve_ref(oid)`` or, without a resolver,
    :class:`RemoteRef`; opaque values become :class:`OpaqueValue`. Raises
    :class:`MalformedValue` for a malformed marker, a non-string dict key, a
    non-wire type or nesting deeper than ``max_depth``. Exceptions raised by
    ``resolve_ref`` (e.g. an unknown oid) propagate.
    """
    return _decode(wire, resolve_ref, max_depth)


def _decode(wire: object, resolve_ref: ResolveRef | None, depth: int) -> object:
    if depth < 0:
        raise MalformedValue("wire value nested too deeply")
    if wire is None or type(wire) in (bool, int, float, str, bytes):
        return wire
    if isinstance(wire, list):
        return [_decode(item, resolve_ref, depth - 1) for item in wire]
    if isinstance(wire, dict):
        return _decode_dict(wire, resolve_ref, depth)
    raise MalformedValue(f"not a wire value: {type(wire).__name__}")


def _decode_dict(wire: dict[object, object], resolve_ref: ResolveRef | None, depth: int) -> object:
    if not all(isinstance(key, str) for key in wire):
        raise MalformedValue("wire dict with a non-string key")
    if REF_KEY in wire:
        oid, text = wire[REF_KEY], wire.get("repr", "")
        if set(wire) - {REF_KEY, "repr"} or not isinstance(oid, str) or not isinstance(text, str):
            raise MalformedValue("malformed $ref marker")
        return resolve_ref(oid) if resolve_ref is not None else RemoteRef(oid, text)
    if REPR_KEY in wire:
        text, name = wire[REPR_KEY], wire.get(TYPE_KEY, "")
        extra = set(wire) - {REPR_KEY, TYPE_KEY}
        if extra or not isinstance(text, str) or not isinstance(name, str):
            raise MalformedValue("malformed $repr marker")
        return OpaqueValue(text, name)
    if DICT_KEY in wire:
        inner = wire[DICT_KEY]
        if len(wire) != 1 or not isinstance(inner, dict):
            raise MalformedValue("malformed $dict marker")
        return _plain_dict(inner, resolve_ref, depth)
    if any(isinstance(key, str) and key.startswith("$") for key in wire):
        raise MalformedValue("unknown $ marker in wire dict")
    return _plain_dict(wire, resolve_ref, depth)


def _plain_dict(wire: dict[object, object], resolve_ref: ResolveRef | None, depth: int) -> object:
    if not all(isinstance(key, str) for key in wire):
        raise MalformedValue("wire dict with a non-string key")
    return {key: _decode(value, resolve_ref, depth - 1) for key, value in wire.items()}


def wire_ref(oid: str, repr_text: str = "") -> dict[str, WireValue]:
    """A reference marker for an object known only by its oid (e.g. a CLI argument)."""
    return {REF_KEY: oid, "repr": repr_text}
