"""Runs a REPL statement against the live object graph: compiled, like a method.

There is one execution path. The statement is parsed, compiled by
`selfsyntax.compiler` to a transient ``doit(self, env, oids)`` function in
restricted Python (the same compiler, runtime and sandbox as a method
written in Self), and run once with self = the lobby inside the caller's
transaction. Message dispatch is `selfsyntax.runtime`'s (see its docstring).

REPL variables are a dict the do-it reads and writes; the caller's dict is
never changed (the run gets a copy, returned in the EvalResult), so the
daemon can re-run the same source after the JIT has installed a method.
Names resolve to a ``| temp |`` or block argument, else a REPL variable,
else a unary message to the lobby (UnknownName if it does not understand).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FunctionType
from typing import Any

from batos_core.objects import UvmObject
from batos_core.objects.errors import MethodCompileError
from batos_core.objects.method import RESTRICTED_FILENAME
from batos_core.selfsyntax import world
from batos_core.selfsyntax.compiler import DOIT, compile_doit
from batos_core.selfsyntax.parser import parse

#: Compiled do-its kept per process (a REPL tends to repeat itself).
CACHE_SIZE = 256
_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


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
    author: str = "user",
) -> EvalResult:
    """Parse, compile and run `source`; the last statement's value is the result.

    `variables` is not modified: the returned EvalResult carries a new dict
    with the ``:=`` assignments applied. Creates the per-type traits objects
    if they are missing. Raises SelfSyntaxError before running anything if
    the source does not parse or compile; SelfEvalError (UnknownName,
    ReadOnlySlot, BlockArityError, DeadMethodReturn, NotABoolean, ...) for
    language faults, positioned in `source`; SlotNotFound on a message
    nobody understands (after doesNotUnderstand:); anything `resolve_oid`, a
    method or a Python operator raises propagates unchanged. Statements
    before a failing one may have changed the graph: the caller's
    transaction makes the batch atomic.
    """
    program = parse(source)
    env = dict(variables)
    doit = load_doit(compile_doit(program, source, frozenset(env)))
    with world.entered(lobby, author=author) as current:
        current.type_traits()
        value = doit(lobby, env, resolve_oid)
    return EvalResult(value, env)


def load_doit(python: str) -> FunctionType:
    """The restricted function compiled from `python` (cached per process).

    Raises MethodCompileError if the restricted compiler refuses it (a bug in
    the Self compiler: its output never names anything starting with '_')."""
    with _cache_lock:
        code = _cache.get(python)
    if code is None:
        from batos_core.sandbox.compiler import RestrictedCompileError, compile_restricted_method

        try:
            code = compile_restricted_method(python, RESTRICTED_FILENAME.format(selector=DOIT))
        except RestrictedCompileError as exc:
            raise MethodCompileError(DOIT, exc.reason, exc.lineno) from None
        with _cache_lock:
            if len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[python] = code
    from batos_core.objects.namespace import restricted_namespace
    from batos_core.sandbox import audit
    from batos_core.selfsyntax.runtime import provide_runtime

    provide_runtime()
    namespace = restricted_namespace().globals_for()
    with audit.trusted_section():
        exec(code, namespace)
    function = namespace[DOIT]
    assert isinstance(function, FunctionType)
    return function
