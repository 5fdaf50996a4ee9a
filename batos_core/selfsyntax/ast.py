"""The syntax tree of the Self-style message language, and its printer.

Nodes are frozen dataclasses. Each carries `span`, the (start, end) offsets of
its source text; spans do not take part in equality, so trees built by hand in
tests compare equal to parsed ones. `unparse` prints a tree back as source
with every send parenthesised, which shows precedence at a glance.
Pure standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from batos_core.selectors import is_binary_selector

LiteralValue: TypeAlias = int | float | str | bool | None


@dataclass(frozen=True)
class Node:
    """Base of all nodes; `span` is the source range (start, end) it came from."""

    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    """A number, a string, or nil / true / false."""

    value: LiteralValue


@dataclass(frozen=True)
class Symbol(Node):
    """``#foo``, ``#at:put:``, ``#+``; also a bare name inside a literal array."""

    name: str


@dataclass(frozen=True)
class LiteralArray(Node):
    """``#(1 'a' foo #(2))``: literals only, evaluated without sending anything."""

    items: tuple[Literal | Symbol | LiteralArray, ...]


@dataclass(frozen=True)
class BraceArray(Node):
    """``{1 + 1. x}``: a list of evaluated expressions."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class SlotDecl(Node):
    """One slot of an object literal.

    `name` ends in ``*`` for a parent slot. `assignable` is True for ``<-``
    (and for a bare name), False for ``=`` (a constant slot). `value` is None
    for a bare name, which holds nil.
    """

    name: str
    assignable: bool
    value: Expr | None


@dataclass(frozen=True)
class MethodDecl(Node):
    """A method slot: ``double: x = ( | t | x * 2 )`` or ``area = ( width * height )``.

    `selector` is in Self form (``at:put:``); `params` are the argument names
    in keyword order; `body` is the code between the parentheses; `source` is
    the slot's own source text (what provenance keeps).
    """

    selector: str
    params: tuple[str, ...]
    body: Body
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class ObjectLiteral(Node):
    """``(| x = 3. y <- 4. parent* = traits. f = ( 1 ) |)``: a new object with these slots."""

    slots: tuple[SlotDecl | MethodDecl, ...]


@dataclass(frozen=True)
class Body(Node):
    """Code: local variables ``| t u |`` and statements; the last one's value is the result."""

    temps: tuple[str, ...]
    statements: tuple[Expr, ...]


@dataclass(frozen=True)
class Block(Node):
    """``[ :a :b | | t | ... ]``: a closure over the variables around it."""

    params: tuple[str, ...]
    body: Body


@dataclass(frozen=True)
class Return(Node):
    """``^ value``: return from the method (in a block: from the method that made it)."""

    value: Expr


@dataclass(frozen=True)
class ResendRef(Node):
    """``resend.`` before a message: look it up in the parents of the method's holder."""


@dataclass(frozen=True)
class Name(Node):
    """A REPL variable or a slot of the lobby."""

    name: str


@dataclass(frozen=True)
class SelfRef(Node):
    """``self``: the lobby."""


@dataclass(frozen=True)
class OidRef(Node):
    """``@1a`` / ``@0x1a``: the stored object with this oid."""

    oid: int


@dataclass(frozen=True)
class Assign(Node):
    """``name := value``: sets a REPL variable."""

    name: str
    value: Expr


@dataclass(frozen=True)
class Send(Node):
    """A unary, binary or keyword message; `selector` is in Self form (``at:put:``)."""

    receiver: Expr
    selector: str
    arguments: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Message(Node):
    """One part of a cascade: a selector and its arguments, without a receiver."""

    selector: str
    arguments: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Cascade(Node):
    """``r foo; bar: 1``: each message sent to the same receiver `receiver`."""

    receiver: Expr
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Program(Node):
    """Statements separated by ``.``; the last one's value is the result.

    `temps` are ``| s t |`` declared at the start: variables of this run only.
    """

    statements: tuple[Expr, ...]
    temps: tuple[str, ...] = ()


Expr: TypeAlias = (
    Literal
    | Symbol
    | LiteralArray
    | BraceArray
    | ObjectLiteral
    | Name
    | SelfRef
    | OidRef
    | Assign
    | Send
    | Cascade
    | Block
    | Return
    | ResendRef
)

_PLAIN_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z|(?:[A-Za-z_][A-Za-z0-9_]*:)+\Z")


def quote_string(text: str) -> str:
    """``it's`` -> ``'it''s'``."""
    return "'" + text.replace("'", "''") + "'"


def _literal(value: LiteralValue) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote_string(value)
    return repr(value)


def _symbol(name: str) -> str:
    if _PLAIN_SYMBOL.match(name) or is_binary_selector(name):
        return "#" + name
    return "#" + quote_string(name)


def _message(selector: str, arguments: tuple[Expr, ...]) -> str:
    if not arguments:
        return selector
    if is_binary_selector(selector):
        return f"{selector} {unparse(arguments[0])}"
    keywords = [part + ":" for part in selector[:-1].split(":")]
    return " ".join(f"{kw} {unparse(arg)}" for kw, arg in zip(keywords, arguments, strict=True))


def _temps(temps: tuple[str, ...]) -> str:
    return "| " + " ".join(temps) + " | " if temps else ""


def _body(body: Body) -> str:
    return _temps(body.temps) + ". ".join(unparse(s) for s in body.statements)


def _method_head(decl: MethodDecl) -> str:
    if not decl.params:
        return decl.selector
    keywords = [part + ":" for part in decl.selector[:-1].split(":")]
    return " ".join(f"{kw} {name}" for kw, name in zip(keywords, decl.params, strict=True))


def _slot(decl: SlotDecl | MethodDecl) -> str:
    if isinstance(decl, MethodDecl):
        return f"{_method_head(decl)} = ( {_body(decl.body)} )"
    if decl.value is None:
        return decl.name
    arrow = "<-" if decl.assignable else "="
    text = unparse(decl.value)
    if isinstance(decl.value, Send) and not isinstance(decl.value.receiver, ResendRef):
        text = text[1:-1]  # ``x = (1 + 2)`` would read back as a method
    return f"{decl.name} {arrow} {text}"


def unparse(node: Node) -> str:
    """Source text for `node`, every send and assignment in parentheses.

    Re-parsing the text gives an equal tree. Raises TypeError for an unknown
    node type.
    """
    match node:
        case Literal(value=value):
            return _literal(value)
        case Symbol(name=name):
            return _symbol(name)
        case LiteralArray(items=items):
            return "#(" + " ".join(unparse(item) for item in items) + ")"
        case BraceArray(items=items):
            return "{" + ". ".join(unparse(item) for item in items) + "}"
        case ObjectLiteral(slots=slots):
            inner = ". ".join(_slot(decl) for decl in slots)
            return f"(| {inner} |)" if inner else "(| |)"
        case Name(name=name):
            return name
        case SelfRef():
            return "self"
        case OidRef(oid=oid):
            return f"@{oid:#x}"
        case Assign(name=name, value=value):
            return f"({name} := {unparse(value)})"
        case Send(receiver=ResendRef(), selector=selector, arguments=arguments):
            return f"(resend.{_message(selector, arguments)})"
        case Send(receiver=receiver, selector=selector, arguments=arguments):
            return f"({unparse(receiver)} {_message(selector, arguments)})"
        case Cascade(receiver=receiver, messages=messages):
            parts = "; ".join(_message(m.selector, m.arguments) for m in messages)
            return f"({unparse(receiver)} {parts})"
        case Program(statements=statements, temps=temps):
            return _temps(temps) + ". ".join(unparse(s) for s in statements)
        case Block(params=params, body=body):
            head = " ".join(":" + p for p in params) + " | " if params else ""
            return f"[ {head}{_body(body)} ]"
        case Return(value=value):
            return f"^ {unparse(value)}"
        case ResendRef():
            return "resend"
    raise TypeError(f"not a syntax node: {node!r}")
