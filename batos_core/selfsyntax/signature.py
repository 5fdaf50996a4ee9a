"""The Self signature of a method written in Self: ``at: i put: v``, ``+ other``, ``area``.

Read from the Self source that a Method's provenance keeps (``self_source``,
see `selfsyntax.install`). Pure: the parser only, no object model, so the
CLI and the JIT's snapshot can both use it.
"""

from __future__ import annotations

from batos_core.selectors import is_binary_selector
from batos_core.selfsyntax.ast import MethodDecl, ObjectLiteral
from batos_core.selfsyntax.errors import SelfSyntaxError
from batos_core.selfsyntax.parser import parse


def self_signature(self_source: str) -> str | None:
    """``double: x = ( x * 2 )`` -> ``double: x``; None if `self_source` is no method slot."""
    try:
        program = parse(f"(| {self_source} |)")
    except SelfSyntaxError:
        return None
    literal = program.statements[0] if len(program.statements) == 1 else None
    if not isinstance(literal, ObjectLiteral) or len(literal.slots) != 1:
        return None
    decl = literal.slots[0]
    if not isinstance(decl, MethodDecl):
        return None
    return signature(decl.selector, decl.params)


def signature(selector: str, params: tuple[str, ...]) -> str:
    """A selector with its parameter names: (``at:put:``, (i, v)) -> ``at: i put: v``."""
    if not params:
        return selector
    if is_binary_selector(selector):
        return f"{selector} {params[0]}"
    keywords = [part + ":" for part in selector.split(":")[:-1]]
    return " ".join(f"{keyword} {name}" for keyword, name in zip(keywords, params, strict=False))
