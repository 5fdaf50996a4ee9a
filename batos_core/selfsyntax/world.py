"""The image that compiled Self code is running against, for the current request.

Messages to numbers, strings, lists, nil, booleans and blocks go to the
per-type traits under the lobby's `traits`; a Python value carries no
connection, so the daemon names the lobby around each request (`entered`)
and the REPL evaluator does the same. A context variable, so concurrent
worker threads each see their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from batos_core.objects import UvmObject

_current: ContextVar[World | None] = ContextVar("batos_self_world", default=None)


class NoWorld(RuntimeError):
    """Self code sent a message to a value outside any request (no lobby to find traits in)."""


class World:
    """One lobby and its per-type traits objects (found lazily, created if missing)."""

    def __init__(self, lobby: UvmObject, author: str) -> None:
        self.lobby = lobby
        self.author = author
        self._traits: dict[str, UvmObject] | None = None

    def type_traits(self) -> dict[str, UvmObject]:
        if self._traits is None:
            from batos_core.selfsyntax.type_traits import ensure_type_traits

            self._traits = ensure_type_traits(self.lobby)
        return self._traits


@contextlib.contextmanager
def entered(lobby: Any, *, author: str = "user") -> Iterator[World]:
    """Run the body with `lobby` as the current world."""
    world = World(lobby, author)
    token = _current.set(world)
    try:
        yield world
    finally:
        _current.reset(token)


def current() -> World:
    """The current world; NoWorld outside `entered`."""
    world = _current.get()
    if world is None:
        raise NoWorld("Self code ran outside a request: no lobby to find the per-type traits in")
    return world


def current_or_none() -> World | None:
    return _current.get()
