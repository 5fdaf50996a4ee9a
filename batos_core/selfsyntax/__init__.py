"""The Self-style message language of the REPL: lexer, parser, evaluator.

Everything importable from here is pure standard library, so the REPL can
parse and complete client-side without ZODB. The evaluator, which needs the
object model, lives in `batos_core.selfsyntax.evaluator` and is imported
from there (the daemon does; the CLI must not).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batos_core.selfsyntax.ast import Program, unparse
    from batos_core.selfsyntax.completion import complete_context
    from batos_core.selfsyntax.errors import (
        ReadOnlySlot,
        SelfEvalError,
        SelfSourceError,
        SelfSyntaxError,
        UnknownName,
    )
    from batos_core.selfsyntax.parser import parse

# Names are loaded on first use (PEP 562): the REPL imports the lexer for
# highlighting at start-up, and the syntax tree and parser (about 20 ms of
# imports) only when the first line is entered.
_EXPORTS = {
    "Program": "ast",
    "unparse": "ast",
    "complete_context": "completion",
    "ReadOnlySlot": "errors",
    "SelfEvalError": "errors",
    "SelfSourceError": "errors",
    "SelfSyntaxError": "errors",
    "UnknownName": "errors",
    "parse": "parser",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Program",
    "ReadOnlySlot",
    "SelfEvalError",
    "SelfSourceError",
    "SelfSyntaxError",
    "UnknownName",
    "complete_context",
    "parse",
    "unparse",
]
