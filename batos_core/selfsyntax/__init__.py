"""The Self-style message language of the REPL: lexer, parser, evaluator.

Everything importable from here is pure standard library, so the REPL can
parse and complete client-side without ZODB. The evaluator, which needs the
object model, lives in `batos_core.selfsyntax.evaluator` and is imported
from there (the daemon does; the CLI must not).
"""

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
from batos_core.selfsyntax.selectors import python_to_self, self_to_python

__all__ = [
    "Program",
    "ReadOnlySlot",
    "SelfEvalError",
    "SelfSourceError",
    "SelfSyntaxError",
    "UnknownName",
    "complete_context",
    "parse",
    "python_to_self",
    "self_to_python",
    "unparse",
]
