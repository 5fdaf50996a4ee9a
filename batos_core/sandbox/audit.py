"""The second wall: an audit hook that refuses what restricted code must never do.

The guards (``guards``, ``modules``) keep restricted code from *naming* a
file, a process or a frame. This hook catches the operation itself, however
it was reached: ``sys.addaudithook`` sees every ``open``, every ``os``,
``subprocess``, ``socket`` and ``ctypes`` call, every import of a module not
yet loaded, every ``compile``/``exec`` and the introspection CPython audits
(``gi_frame``, ``tb_frame``, ``__code__``, ``sys._getframe``).

The hook acts only while restricted code is on the current thread's stack:
a frame whose code was compiled from a method (its filename starts with one
of ``RESTRICTED_FILENAME_PREFIXES``). Ordinary daemon work (ZODB, logging,
the JIT) on the same thread before or after a method, and on other threads,
is never touched. Events outside ``BLOCKED_EVENTS`` return at once, and the
blocked ones are rare in a daemon, so the hook costs a string check on the
events a send raises (``bench/bench_objects.py`` measures it).

Two events are judged by who asks rather than by what is on the stack, since
logging does both on every record, from trusted code, and must keep working
when a method's send logs something: ``sys._getframe`` is refused when it
would hand out a restricted frame, and the introspection events
(``object.__getattr__`` of ``f_code``, ``gi_frame``, ``tb_frame``,
``__code__``) when restricted code itself performs the access. Audit hooks cannot be removed:
install once per process (``install``), at start.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any

from batos_core.sandbox.guards import SandboxViolation

#: Filenames restricted code is compiled under: daemon methods, trial code.
RESTRICTED_FILENAME_PREFIXES = ("<method ", "<batos ")

#: Audit events refused while restricted code is on the stack (prefix match).
BLOCKED_EVENTS = (
    "open",
    "os.",
    "subprocess.",
    "socket.",
    "ctypes.",
    "import",
    "compile",
    "exec",
    "object.__getattr__",
    "object.__setattr__",
    "object.__delattr__",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "sys.addaudithook",
    "code.__new__",
    "function.__new__",
    "marshal.",
    "pty.",
    "shutil.",
    "signal.",
    "fcntl.",
    "mmap.",
    "resource.",
    "syslog.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "sqlite3.",
    "winreg.",
    "tempfile.",
    "glob.",
    "builtins.input",
    "cpython.run_",
    "setopencodehook",
    "sys.unraisablehook",
    "sys.excepthook",
)
_FRAME_EVENT = "sys._getframe"
_WATCHED = (*BLOCKED_EVENTS, _FRAME_EVENT)
_OBJECT_EVENTS = ("object.__getattr__", "object.__setattr__", "object.__delattr__")

_installed = False
_install_lock = threading.Lock()
_guard = threading.local()


def is_restricted(code: CodeType) -> bool:
    """Whether ``code`` was compiled from a method (restricted) source."""
    return code.co_filename.startswith(RESTRICTED_FILENAME_PREFIXES)


def restricted_frame_on_stack(frame: FrameType | None) -> FrameType | None:
    """The innermost restricted frame at or above ``frame`` and inside the
    innermost trusted section (``trusted_section``), or None."""
    boundaries: list[FrameType] = getattr(_guard, "boundaries", [])
    boundary = boundaries[-1] if boundaries else None
    while frame is not None and frame is not boundary:
        if frame.f_code.co_filename.startswith(RESTRICTED_FILENAME_PREFIXES):
            return frame
        frame = frame.f_back
    return None


class trusted_section:
    """``with trusted_section():`` the caller's frame is trusted machinery run on behalf of a method.

    Compiling a method that another method is about to call (``compile`` and
    ``exec`` of its module code) is batos's work, not the method's: restricted
    frames *outside* the caller's frame are ignored inside the block, while
    restricted code started *inside* it (the compiled module's own top-level
    statements) is watched as ever.
    """

    def __enter__(self) -> None:
        _guard.busy = True  # sys._getframe raises an event of its own
        try:
            caller = sys._getframe(1)
        finally:
            _guard.busy = False
        if not hasattr(_guard, "boundaries"):
            _guard.boundaries = []
        _guard.boundaries.append(caller)

    def __exit__(self, *exc_info: object) -> None:
        _guard.boundaries.pop()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not event.startswith(_WATCHED) or getattr(_guard, "busy", False):
        return
    _guard.busy = True  # our own frame walk raises events too
    try:
        if event == _FRAME_EVENT:
            frame = args[0] if args else None
            if isinstance(frame, FrameType) and is_restricted(frame.f_code):
                raise SandboxViolation("a method's frames cannot be inspected")
            return
        caller = sys._getframe(1)
        if event.startswith(_OBJECT_EVENTS):
            # Introspection counts when restricted code itself does it: logging
            # reads f_code up the stack from trusted code on every record.
            culprit = caller if is_restricted(caller.f_code) else None
        else:
            culprit = restricted_frame_on_stack(caller)
        if culprit is None:
            return
        where = f"{culprit.f_code.co_filename.strip('<>')}, line {culprit.f_lineno}"
    finally:
        _guard.busy = False
    raise SandboxViolation(f"{event} is not allowed while a method runs ({where})")


def install() -> None:
    """Add the hook to this process (once; later calls do nothing)."""
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def installed() -> bool:
    """Whether ``install`` has run in this process."""
    return _installed
