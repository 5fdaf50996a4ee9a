"""What compiled Self code calls: message sends, blocks, ``^``, loops, slots.

The compiler (`selfsyntax.compiler`) turns Self into restricted Python that
reaches these functions as ``batos.selflang``. They are trusted code, so each
one refuses names starting with ``_`` itself (restricted code may call them
with any string). Arguments ``src`` and ``pos`` are the Self source of the
compiled unit and an offset in it: errors raised here point at the send.

Sending one message (`send`), in order:

* to a UvmObject: a method found by lookup runs with self = the receiver; a
  data slot answers its value; a one-argument keyword ``x:`` with no ``x:``
  method writes data slot ``x`` (ReadOnlySlot if it is constant); a miss
  runs doesNotUnderstand: (the primordial raises SlotNotFound: the JIT).
* to a block: ``value``, ``value:``..., ``numArgs`` are primitives (a wrong
  argument count is a BlockArityError at the block); anything else as for a
  value.
* to a number, string, list, nil, boolean or block: the selector is looked
  up in its per-type traits (``traits number``...) and runs with self = the
  value; else the value's own public Python attribute named by the first
  keyword (``'a-b' split: '-'``); else the traits object's own
  doesNotUnderstand_, else SlotNotFound naming the traits object.
* ``not`` to a boolean is a primitive (a Python keyword cannot name a slot).
* to any other Python value (a dict): its public Python attribute, else a
  SelfEvalError.

Binary operators on values are Python's (``,`` concatenates, ``\\\\`` is
``%``, ``=``/``~=`` are ``==``/``!=``, ``==`` is ``is``); compiled code runs
them directly and calls `binary` only when Python raised TypeError, so a
UvmObject receiver gets a real send (and its miss).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from types import MethodType
from typing import Any

from batos_core.objects import (
    Method,
    SlotNotFound,
    UvmObject,
    ValueNotUnderstood,
    format_oid,
    get_slot,
    has_slot,
    is_constant_slot,
    lookup,
    parents,
    remove_slot,
    set_slot,
    slot_names,
)
from batos_core.objects import uvm_object as uo
from batos_core.objects.namespace import provide_api
from batos_core.sandbox.guards import guarded_getattr
from batos_core.sandbox.modules import FrozenNamespace
from batos_core.selectors import is_binary_selector, self_to_python
from batos_core.selfsyntax import world
from batos_core.selfsyntax.blocks import (
    Activation,
    Block,
    DeadMethodReturn,
    NonLocalReturn,
    position,
    value_selector_arity,
)
from batos_core.selfsyntax.errors import ReadOnlySlot, SelfEvalError, UnknownName
from batos_core.selfsyntax.install import install_self_method
from batos_core.selfsyntax.type_traits import type_trait_name


class NotABoolean(SelfEvalError):
    """An inlined ``ifTrue:``/``whileTrue:``/``and:``... whose receiver is not a boolean."""


class NotANumber(SelfEvalError):
    """An inlined ``to:do:``/``timesRepeat:`` whose bounds are not numbers."""


class ResendError(SelfEvalError):
    """``resend.foo`` that finds no method to resend to."""


OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "\\\\": operator.mod,
    "%": operator.mod,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "=": operator.eq,
    "~=": operator.ne,
    "==": operator.is_,
    ",": operator.add,
    "@": operator.matmul,
    "&": operator.and_,
    "|": operator.or_,
}
"""Binary selectors that are Python operators on values (the compiler inlines these)."""

_python_names: dict[str, str] = {}


def python_name(selector: str) -> str:
    """``at:put:`` -> ``at_put_`` (cached: compiled code sends Self selectors)."""
    name = _python_names.get(selector)
    if name is None:
        name = selector if is_binary_selector(selector) else self_to_python(selector)
        _python_names[selector] = name
    return name


def _refuse_private(selector: str, src: str, pos: int) -> None:
    if selector[:1] == "_":
        raise SelfEvalError(f"{selector!r}: names starting with '_' are reserved", *position(src, pos))


# -- sending -------------------------------------------------------------------


#: ``value``, ``value:``, ... ``value:`` x 8: the block selectors `send` answers first.
_VALUE_SELECTORS = frozenset(["value", *("value:" * n for n in range(1, 9))])


def send(src: str, pos: int, receiver: Any, selector: str, *args: Any) -> Any:
    """Send Self `selector` to `receiver` (see the module docstring for the order)."""
    if type(receiver) is Block and selector in _VALUE_SELECTORS:  # the hot case in loops
        return receiver.call(args)
    _refuse_private(selector, src, pos)
    if isinstance(receiver, UvmObject):
        return _send_to_object(src, pos, receiver, selector, args)
    if type(receiver) is Block:
        arity = value_selector_arity(selector)
        if arity is not None:
            return receiver.call(args)
        if selector == "numArgs":
            return receiver.arity
    elif selector == "not" and type(receiver) is bool:  # a Python keyword: no slot can hold it
        return not receiver
    return _send_to_value(src, pos, receiver, selector, args)


def _send_to_object(src: str, pos: int, receiver: UvmObject, selector: str, args: tuple[Any, ...]) -> Any:
    name = python_name(selector)
    if selector in ("=", "==", "~="):
        return OPERATORS[selector](receiver, args[0]) if selector != "=" else receiver is args[0]
    try:
        member = getattr(receiver, name)  # cached in the receiver (see uvm_object)
    except SlotNotFound:
        if len(args) == 1 and selector.count(":") == 1 and selector.endswith(":"):
            slot = selector[:-1]
            if _assignable(src, pos, receiver, slot):
                set_slot(receiver, slot, args[0])
                return receiver
        return uo.send(receiver, name, *args)  # doesNotUnderstand:
    if type(member) is MethodType:
        return member(*args)
    if args:
        raise TypeError(f"{name!r} of {format_oid(receiver)} is a data slot; it takes no arguments")
    return member


def _assignable(src: str, pos: int, receiver: UvmObject, slot: str) -> bool:
    try:
        found = lookup(receiver, slot)
    except SlotNotFound:
        return False
    if found.kind != "data":
        return False
    if is_constant_slot(found.holder, slot):
        raise ReadOnlySlot(
            f"slot {slot!r} of {format_oid(found.holder)} is constant (declared with '=')",
            *position(src, pos),
        )
    return True


_MISSING = object()


def _send_to_value(src: str, pos: int, receiver: Any, selector: str, args: tuple[Any, ...]) -> Any:
    name = python_name(selector)
    kind = type_trait_name(receiver)
    holder = world.current().type_traits()[kind] if kind is not None else None
    if holder is not None:
        try:
            member = getattr(holder, name)  # cached in the traits object, flushed on change
        except SlotNotFound:
            member = _MISSING
        if type(member) is MethodType:
            return member.__func__(receiver, *args)
        if member is not _MISSING:
            if args:
                raise TypeError(f"traits {kind} {name!r} is a data slot; it takes no arguments")
            return member
    if not is_binary_selector(selector):
        try:
            attribute = guarded_getattr(receiver, selector.split(":", 1)[0])
        except AttributeError:
            attribute = _MISSING
        if attribute is not _MISSING:
            if callable(attribute):
                return attribute(*args)
            if not args:
                return attribute
    if holder is None:
        raise SelfEvalError(
            f"a {type(receiver).__name__} does not understand {selector!r}"
            " (only numbers, strings, lists, nil, booleans and blocks have traits)",
            *position(src, pos),
        )
    return _not_understood(holder, receiver, name, args)


def _not_understood(holder: UvmObject, receiver: Any, name: str, args: tuple[Any, ...]) -> Any:
    """The traits object's own doesNotUnderstand_ (the inherited primordial expects
    an object as self, and the JIT must be told to install here), else
    ValueNotUnderstood (a SlotNotFound naming the traits object, carrying the value)."""
    handler = get_slot(holder, "doesNotUnderstand_") if has_slot(holder, "doesNotUnderstand_") else None
    if isinstance(handler, Method):
        return handler.function(receiver, name, list(args))
    raise ValueNotUnderstood(format_oid(holder), name, holder, list(args), receiver)


def binary(src: str, pos: int, left: Any, selector: str, right: Any) -> Any:
    """A binary send after Python's operator raised TypeError (or one with no operator)."""
    if isinstance(left, UvmObject):
        return _send_to_object(src, pos, left, selector, (right,))
    operation = OPERATORS.get(selector)
    if operation is not None:
        return operation(left, right)  # raises the TypeError again, for values
    return send(src, pos, left, selector, right)


def identical(left: Any, right: Any) -> bool:
    """``==``: the same object."""
    return left is right


def implicit(src: str, pos: int, receiver: Any, name: str) -> Any:
    """A name that is no variable: the unary message `name` to self; UnknownName if
    self does not understand it."""
    if name[:1] == "_":
        raise UnknownName(name, *position(src, pos))
    if isinstance(receiver, UvmObject):
        try:
            member = getattr(receiver, name)
        except SlotNotFound:
            raise UnknownName(name, *position(src, pos)) from None
        return member() if type(member) is MethodType else member
    kind = type_trait_name(receiver)
    if kind is not None:
        holder = world.current().type_traits()[kind]
        try:
            member = getattr(holder, name)
        except SlotNotFound:
            member = _MISSING
        if member is not _MISSING:
            return member.__func__(receiver) if type(member) is MethodType else member
    try:
        attribute = guarded_getattr(receiver, name)
    except AttributeError:
        raise UnknownName(name, *position(src, pos)) from None
    return attribute() if callable(attribute) else attribute


def variable(src: str, pos: int, env: dict[str, Any], receiver: Any, name: str) -> Any:
    """A name at the prompt: a REPL variable, else a unary message to the lobby."""
    if name in env:
        return env[name]
    return implicit(src, pos, receiver, name)


# -- blocks, ^, loops ------------------------------------------------------------


def block(function: Callable[..., Any], arity: int, src: str, pos: int) -> Block:
    return Block(function, arity, src, pos)


def activation(name: str) -> Activation:
    return Activation(name)


def nonlocal_return(src: str, pos: int, home: Activation, value: Any) -> None:
    """``^ value`` in a block: unwind to `home`; DeadMethodReturn if it has returned."""
    if not home.alive:
        raise DeadMethodReturn(
            f"'^' in a block whose method {home.name} has already returned", *position(src, pos)
        )
    raise NonLocalReturn(home, value)


def not_boolean(src: str, pos: int, value: Any, selector: str) -> None:
    raise NotABoolean(
        f"{selector} needs a boolean receiver, not a {type(value).__name__} ({value!r})",
        *position(src, pos),
    )


def interval(src: str, pos: int, start: Any, stop: Any, step: Any = 1) -> Iterable[Any]:
    """The values of ``start to: stop by: step`` (a range for integers)."""
    numbers = (int, float)
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (start, stop, step)):
        raise NotANumber(
            f"to:do: needs numbers, not {start!r} to: {stop!r} by: {step!r}", *position(src, pos)
        )
    if step == 0:
        raise NotANumber("to:by:do: with a step of 0 never ends", *position(src, pos))
    if type(start) is int and type(step) is int:
        end = int(stop // 1) if not isinstance(stop, int) else stop
        return range(start, end + 1, step) if step > 0 else range(start, end - 1, step)
    return _float_steps(start, stop, step)


def _float_steps(start: float, stop: float, step: float) -> Iterator[float]:
    value = start
    while (value <= stop) if step > 0 else (value >= stop):
        yield value
        value += step


# -- resend, object literals, _AddSlots: / _Define: ----------------------------


def resend(
    src: str, pos: int, receiver: Any, current: Any, current_selector: str, selector: str, *args: Any,
) -> Any:
    """``resend.selector``: look `selector` up in the parents of the object holding
    the running method (`current`, named `current_selector`) and run it on `receiver`."""
    _refuse_private(selector, src, pos)
    if not isinstance(receiver, UvmObject):
        raise ResendError("resend works on objects only", *position(src, pos))
    holder = None
    for candidate in uo._walk(receiver):
        method = uo._slots(candidate).get(current_selector)
        if isinstance(method, Method) and getattr(method, "_v_function", None) is current:
            holder = candidate
            break
    if holder is None:
        message = f"resend: the running method {current_selector!r} was not found"
        raise ResendError(message, *position(src, pos))
    name = python_name(selector)
    for parent in parents(holder):
        try:
            found = lookup(parent, name)
        except SlotNotFound:
            continue
        if isinstance(found.value, Method):
            return found.value.function(receiver, *args)
        return found.value
    raise ResendError(f"resend.{selector}: no parent of {format_oid(holder)} has it", *position(src, pos))


def new_object() -> UvmObject:
    return UvmObject()


def data_slot(target: UvmObject, name: str, value: Any, constant: bool) -> None:
    set_slot(target, name, value, constant=constant)


def method_slot(target: Any, selector: str, source: str, self_selector: str, self_source: str) -> None:
    """Install a compiled Self method on `target` (a new version if it has one)."""
    if not isinstance(target, UvmObject):
        raise TypeError(f"only objects take slots, not a {type(target).__name__}")
    current = world.current_or_none()
    install_self_method(
        target, selector, source, self_selector, self_source, author=current.author if current else "user"
    )


def keep_only(target: Any, names: list[str]) -> None:
    """``_Define:``: remove `target`'s own slots not in `names` (before they are written)."""
    if not isinstance(target, UvmObject):
        raise TypeError(f"only objects take slots, not a {type(target).__name__}")
    for name in slot_names(target):
        if name not in names:
            remove_slot(target, name)


def api() -> FrozenNamespace:
    """The ``batos.selflang`` namespace compiled Self code reaches (read-only)."""
    return FrozenNamespace("batos.selflang", dict(
        send=send,
        binary=binary,
        identical=identical,
        implicit=implicit,
        variable=variable,
        block=block,
        activation=activation,
        nonlocal_return=nonlocal_return,
        NonLocalReturn=NonLocalReturn,
        not_boolean=not_boolean,
        interval=interval,
        resend=resend,
        new_object=new_object,
        data_slot=data_slot,
        method_slot=method_slot,
        keep_only=keep_only,
    ))


def provide_runtime() -> None:
    """Make this runtime ``batos.selflang`` in the `batos` API of every method
    compiled from now on (`batos_core.objects.namespace.provide_api`); code
    compiled from Self reaches it there. Idempotent; a composition root calls it
    before any method runs, the evaluator before each statement."""
    provide_api("selflang", api)
