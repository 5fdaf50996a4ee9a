"""Typed errors of the object model.

`SlotNotFound` is the structured "message not understood": the daemon catches
it (never parses an exception string) to start the JIT compiler for intent.
"""

from __future__ import annotations

from typing import Any


class ObjectModelError(Exception):
    """Base class for errors raised by the object model."""


class SlotNotFound(AttributeError, ObjectModelError):
    """A selector that neither the receiver nor any of its parents has.

    `receiver_oid` is the receiver's oid in `0x` hex (or ``"new"`` for an object
    not yet stored); `receiver` is the object itself when known, so that the
    daemon can hand it to doesNotUnderstand:; `arguments` are the message's
    arguments when known.
    """

    def __init__(
        self, receiver_oid: str, selector: str, receiver: Any = None, arguments: list[Any] | None = None
    ) -> None:
        super().__init__(f"{receiver_oid} does not understand {selector!r}")
        self.receiver_oid = receiver_oid
        self.selector = selector
        self.receiver = receiver
        # The message's arguments when the miss came through a send (None when
        # it came from a plain attribute read): the JIT shows them to the model
        # and runs the trial with them.
        self.arguments = arguments
        # AttributeError's own fields, so tooling that reads them sees sense.
        self.name = selector
        self.obj = receiver


class ValueNotUnderstood(SlotNotFound):
    """A message to a plain value (a number, a string, a list...) that its
    per-type traits object does not understand.

    `receiver_oid` and `receiver` name the traits object (where the JIT
    installs the method); `value` is the value the message was sent to (what
    the method's `self` is when it runs, and in the JIT's trial).
    """

    def __init__(self, holder_oid: str, selector: str, holder: Any, arguments: list[Any], value: Any) -> None:
        super().__init__(holder_oid, selector, holder, arguments)
        self.value = value


class InvalidSlotName(ValueError, ObjectModelError):
    """A slot name that is not an identifier, is a Python keyword, or is reserved."""


class NotAUvmObject(TypeError, ObjectModelError):
    """A parent slot was given something that is not a UvmObject."""


class ParentCycleError(ObjectModelError):
    """Assigning this parent would make an object its own ancestor."""


class ConstantSlotError(ObjectModelError):
    """A write to a slot declared constant (Self's `name = value`)."""


class MethodCompileError(ObjectModelError):
    """A Method's source does not compile, or does not define its selector."""

    def __init__(self, selector: str, message: str, lineno: int | None = None) -> None:
        where = f" (line {lineno})" if lineno is not None else ""
        super().__init__(f"method {selector!r} does not compile{where}: {message}")
        self.selector = selector
        self.lineno = lineno
        self.reason = message


class MethodSuspended(ObjectModelError):
    """A method that a person (or the daemon's supervisor, after it wedged the
    daemon) suspended: it does not run until `batos methods resume` (or a
    revert, or a new version) makes it runnable again.

    `info` is the method's ``suspended`` record: ``holder`` (oid), ``holder_name``
    (lobby name or ""), ``reason``, ``by``, ``time`` and, after a wedge,
    ``request`` (the request id that wedged it). Not an AttributeError: a
    suspended method is understood, so it never reaches doesNotUnderstand:.
    """

    def __init__(self, selector: str, info: dict[str, Any]) -> None:
        holder = str(info.get("holder_name") or info.get("holder") or "?")
        reason = str(info.get("reason") or "suspended")
        super().__init__(
            f"method {selector!r} of {holder} is suspended ({reason}); "
            f"run `batos methods resume {holder} {selector}` to run it again"
        )
        self.selector = selector
        self.holder = holder
        self.info = dict(info)
