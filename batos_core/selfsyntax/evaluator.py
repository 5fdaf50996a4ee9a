"""Evaluates the Self-style message language against the live object graph.

Runs inside the daemon's transaction. It changes nothing but the object
graph: REPL variables are returned as a new dict, never written into the
caller's, so the daemon can re-run the same source after the JIT has
installed a missing method.

Dispatch of one message:

* to a UvmObject: an assignment message ``y: 5`` writes the receiver's data
  slot ``y`` when ``y`` is a non-constant data slot and no ``y:`` method
  exists; otherwise the object model's `send` (a miss runs
  doesNotUnderstand: and raises SlotNotFound). ``=``/``~=``/``==`` compare
  identity.
* to a Python value (number, string, list, nil, boolean): binary selectors are
  Python operators (``,`` concatenates, ``=`` is ``==``, ``~=`` is ``!=``,
  ``==`` is ``is``); a unary or keyword send reaches the value's own public
  Python method named by the first keyword (``'a-b' split: '-'``); anything
  else is looked up in the per-type traits (`type_traits`) and run with
  `self` bound to the value; a miss runs that traits object's own
  doesNotUnderstand_ if it has one, else raises SlotNotFound naming the
  traits object (where the JIT should install the method). Other Python
  values (dicts, ...) have no traits: a miss there is a SelfEvalError.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from batos_core.objects import (
    SlotNotFound,
    UvmObject,
    format_oid,
    get_slot,
    has_slot,
    is_constant_slot,
    lookup,
    responds_to,
    send,
    set_slot,
)
from batos_core.objects.errors import InvalidSlotName
from batos_core.objects.method import Method
from batos_core.selfsyntax.ast import (
    Assign,
    BraceArray,
    Cascade,
    Expr,
    Literal,
    LiteralArray,
    Name,
    ObjectLiteral,
    OidRef,
    Program,
    SelfRef,
    Send,
    Symbol,
)
from batos_core.selfsyntax.errors import ReadOnlySlot, SelfEvalError, UnknownName
from batos_core.selfsyntax.parser import parse
from batos_core.selfsyntax.selectors import is_binary_selector, self_to_python
from batos_core.selfsyntax.type_traits import ensure_type_traits, type_trait_name

_PYTHON_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
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
_IDENTITY_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.is_,
    "==": operator.is_,
    "~=": operator.is_not,
}


@dataclass(frozen=True)
class EvalResult:
    """The last statement's value and the REPL variables after the run."""

    value: Any
    variables: dict[str, Any]


def evaluate(
    source: str,
    *,
    lobby: UvmObject,
    variables: dict[str, Any],
    resolve_oid: Callable[[int], Any],
) -> EvalResult:
    """Parse and run `source`; the last statement's value is the result.

    `variables` is not modified: the returned EvalResult carries a new dict
    with the ``:=`` assignments applied. Creates the per-type traits objects
    if they are missing. Raises SelfSyntaxError before running anything if
    the source does not parse; SelfEvalError (UnknownName, ReadOnlySlot, a
    message to a value that has no traits) for language faults;
    SlotNotFound on a message nobody understands (after
    doesNotUnderstand:); anything `resolve_oid`, a method or a Python
    operator raises propagates unchanged. Statements before a failing one
    may have changed the graph: the caller's transaction makes the batch
    atomic.
    """
    program = parse(source)
    evaluator = Evaluator(source, lobby, dict(variables), resolve_oid)
    return EvalResult(evaluator.run(program), evaluator.variables)


class Evaluator:
    """One run of one program; holds the source (for error positions) and variables."""

    def __init__(
        self,
        source: str,
        lobby: UvmObject,
        variables: dict[str, Any],
        resolve_oid: Callable[[int], Any],
    ) -> None:
        self.source = source
        self.lobby = lobby
        self.variables = variables
        self.resolve_oid = resolve_oid
        self.type_traits = ensure_type_traits(lobby)

    def run(self, program: Program) -> Any:
        value: Any = None
        for statement in program.statements:
            value = self.eval(statement)
        return value

    def position(self, node: Expr) -> tuple[int, int, str]:
        """(line, column, source) of `node`, for a SelfEvalError."""
        offset = node.span[0]
        line = self.source.count("\n", 0, offset) + 1
        column = offset - (self.source.rfind("\n", 0, offset) + 1) + 1
        return line, column, self.source

    # -- expressions -------------------------------------------------------

    def eval(self, node: Expr) -> Any:
        match node:
            case Literal(value=value):
                return value
            case Symbol(name=name):
                return name
            case LiteralArray():
                return _literal_array(node)
            case BraceArray(items=items):
                return [self.eval(item) for item in items]
            case ObjectLiteral():
                return self.object_literal(node)
            case Name():
                return self.name(node)
            case SelfRef():
                return self.lobby
            case OidRef(oid=oid):
                return self.resolve_oid(oid)
            case Assign(name=name, value=value_node):
                value = self.eval(value_node)
                self.variables[name] = value
                return value
            case Send(receiver=receiver, selector=selector, arguments=arguments):
                target = self.eval(receiver)
                return self.send(target, selector, [self.eval(a) for a in arguments], node)
            case Cascade(receiver=receiver, messages=messages):
                target = self.eval(receiver)
                result: Any = None
                for message in messages:
                    args = [self.eval(a) for a in message.arguments]
                    result = self.send(target, message.selector, args, node)
                return result
        raise TypeError(f"not an expression node: {node!r}")

    def name(self, node: Name) -> Any:
        """A REPL variable, else a lobby slot (a method there is sent to the lobby)."""
        if node.name in self.variables:
            return self.variables[node.name]
        try:
            found = lookup(self.lobby, node.name)
        except (SlotNotFound, InvalidSlotName):
            raise UnknownName(node.name, *self.position(node)) from None
        if found.kind == "method":
            return send(self.lobby, node.name)
        return found.value

    def object_literal(self, node: ObjectLiteral) -> UvmObject:
        """A new object; it joins the database once something stored refers to it."""
        new = UvmObject()
        for decl in node.slots:
            value = None if decl.value is None else self.eval(decl.value)
            set_slot(new, decl.name, value, constant=not decl.assignable)
        return new

    # -- message sending ---------------------------------------------------

    def send(self, receiver: Any, selector: str, args: Sequence[Any], node: Expr) -> Any:
        if isinstance(receiver, UvmObject):
            return self.send_to_object(receiver, selector, args, node)
        return self.send_to_value(receiver, selector, args, node)

    def send_to_object(
        self, receiver: UvmObject, selector: str, args: Sequence[Any], node: Expr
    ) -> Any:
        if selector in _IDENTITY_OPERATORS:
            return _IDENTITY_OPERATORS[selector](receiver, args[0])
        python_name = self_to_python(selector)
        if len(args) == 1 and selector.count(":") == 1 and selector.endswith(":"):
            slot = selector[:-1]
            if self.assignable(receiver, slot, python_name, node):
                set_slot(receiver, slot, args[0])
                return receiver
        return send(receiver, python_name, *args)

    def assignable(self, receiver: UvmObject, slot: str, python_name: str, node: Expr) -> bool:
        """True if ``slot:`` is an assignment to a data slot; ReadOnlySlot if it is constant."""
        if responds_to(receiver, python_name) or not responds_to(receiver, slot):
            return False
        found = lookup(receiver, slot)
        if found.kind != "data":
            return False
        if is_constant_slot(found.holder, slot):
            raise ReadOnlySlot(
                f"slot {slot!r} of {format_oid(found.holder)} is constant (declared with '=')",
                *self.position(node),
            )
        return True

    def send_to_value(
        self, receiver: Any, selector: str, args: Sequence[Any], node: Expr
    ) -> Any:
        if selector in _PYTHON_OPERATORS:
            return _PYTHON_OPERATORS[selector](receiver, args[0])
        if not is_binary_selector(selector):
            attribute = selector.split(":", 1)[0]
            if not attribute.startswith("_") and hasattr(receiver, attribute):
                member = getattr(receiver, attribute)
                if callable(member):
                    return member(*args)
                if not args:
                    return member
        return self.send_to_type_traits(receiver, selector, args, node)

    def send_to_type_traits(
        self, receiver: Any, selector: str, args: Sequence[Any], node: Expr
    ) -> Any:
        kind = type_trait_name(receiver)
        if kind is None:
            raise SelfEvalError(
                f"a {type(receiver).__name__} does not understand {selector!r}"
                " (only numbers, strings, lists, nil and booleans have traits)",
                *self.position(node),
            )
        holder = self.type_traits[kind]
        python_name = selector if is_binary_selector(selector) else self_to_python(selector)
        try:
            found = lookup(holder, python_name)
        except (SlotNotFound, InvalidSlotName):
            return _not_understood(holder, receiver, python_name, args)
        if isinstance(found.value, Method):
            return found.value.function(receiver, *args)
        if args:
            raise TypeError(f"traits {kind} {python_name!r} is a data slot; it takes no arguments")
        return found.value


def _not_understood(holder: UvmObject, receiver: Any, python_name: str, args: Sequence[Any]) -> Any:
    """A miss in a type's traits: its own doesNotUnderstand_ if it has one, else SlotNotFound.

    Only the traits object's own handler counts: the primordial one inherited
    from `traits` expects an object as self, and the JIT must be told to
    install into this traits object.
    """
    handler = get_slot(holder, "doesNotUnderstand_") if has_slot(holder, "doesNotUnderstand_") else None
    if isinstance(handler, Method):
        return handler.function(receiver, python_name, list(args))
    raise SlotNotFound(format_oid(holder), python_name, holder)


def _literal_array(node: LiteralArray) -> list[Any]:
    items: list[Any] = []
    for item in node.items:
        if isinstance(item, LiteralArray):
            items.append(_literal_array(item))
        elif isinstance(item, Symbol):
            items.append(item.name)
        else:
            items.append(item.value)
    return items
