"""Blocks, activations and the non-local return of compiled Self code.

Pure standard library: `type_traits` needs `Block` to find the traits of a
block value, and the object model must not be imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batos_core.selfsyntax.errors import SelfEvalError


def position(source: str, offset: int) -> tuple[int, int, str]:
    """(line, column, source) of `offset` in `source`, for a SelfEvalError."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column, source


class BlockArityError(SelfEvalError):
    """A block called with a number of arguments other than it declares; points at the block."""


class DeadMethodReturn(SelfEvalError):
    """``^`` in a block whose method has already returned; names the method."""


class Activation:
    """One run of a method (or REPL statement) whose blocks may ``^`` out of it."""

    __slots__ = ("alive", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True

    def leave(self) -> None:
        """The method returned (or raised): a later ``^`` to it is a DeadMethodReturn."""
        self.alive = False


class NonLocalReturn(BaseException):
    """``^ value`` in a block, unwinding to the activation `home` that made the block.

    A BaseException, like RequestInterrupted, so that ``except Exception`` in a
    Python method between the block and its home does not swallow it.
    """

    def __init__(self, home: Activation, value: Any) -> None:
        super().__init__(home.name)
        self.home = home
        self.value = value


class Block:
    """A Self block: a closure with `arity` arguments, made at `offset` in `source`."""

    __slots__ = ("arity", "function", "offset", "source")

    def __init__(self, function: Callable[..., Any], arity: int, source: str, offset: int) -> None:
        self.function = function
        self.arity = arity
        self.source = source
        self.offset = offset

    def call(self, args: tuple[Any, ...]) -> Any:
        """Run the block with `args`; BlockArityError (at the block) for a wrong count."""
        if len(args) != self.arity:
            raise BlockArityError(
                f"this block takes {self.arity} argument{'s' if self.arity != 1 else ''}, "
                f"but was sent {len(args)}",
                *position(self.source, self.offset),
            )
        return self.function(*args)

    def __call__(self, *args: Any) -> Any:
        return self.call(args)

    def numArgs(self) -> int:
        return self.arity

    def __repr__(self) -> str:
        line, column, _ = position(self.source, self.offset)
        return f"<block/{self.arity} at line {line}, column {column}>"


def value_selector_arity(selector: str) -> int | None:
    """0 for ``value``, 2 for ``value:value:``...; None for any other selector."""
    if selector == "value":
        return 0
    if selector and selector == "value:" * selector.count(":"):
        return selector.count(":")
    return None
