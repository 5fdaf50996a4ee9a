"""From a ``display_yourself`` Method's source to a Kivy App class, in the UI process.

The source comes from the image (``source_request``), is vetted with the UI
policy (the same rules the JIT applied when it was generated: one function,
kivy imports, no reserved names), compiled under a filename that names the
method and version so tracebacks point into it, and run with a namespace that
holds the ``bridge``. Its function is called with a read-only snapshot of the
receiver and must return an ``App`` subclass. Every failure is a
:class:`UiError` carrying the offending line.
"""

from __future__ import annotations

import builtins
import linecache
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from batos_core.gui.errors import UiError
from batos_core.jit.errors import VetError
from batos_core.jit.vet import VetPolicy, vet
from batos_core.ui_contract import BRIDGE_NAME, UI_CLASS_NAME, UI_SELECTOR


@dataclass(frozen=True)
class UiSource:
    """The UI's source and where it came from (for messages and tracebacks)."""

    target: str
    source: str
    version: int = 0
    origin: str = "image"

    @property
    def filename(self) -> str:
        """The filename its code is compiled under: the file it was read from, or a
        pseudo filename naming the method, e.g. ``<genesis display_yourself v3>``."""
        if self.origin != "image":
            return self.origin
        version = f" v{self.version}" if self.version else ""
        return f"<{self.target} {UI_SELECTOR}{version}>"

    def line(self, number: int) -> str:
        """Text of line ``number`` (1-based), or ``""``."""
        lines = self.source.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


class RemoteObject:
    """What ``self`` is inside ``display_yourself`` in the UI process: a read-only snapshot.

    The receiver lives in the daemon; the UI sees its slots as they were when
    the UI started (``self.motto``). Live state comes through the bridge.
    """

    def __init__(self, name: str, state: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_state", dict(state))

    def __getattr__(self, slot: str) -> Any:
        state: dict[str, Any] = object.__getattribute__(self, "_state")
        if slot.startswith("_") or slot not in state:
            name = object.__getattribute__(self, "_name")
            raise AttributeError(f"{name} has no slot {slot!r} (use bridge.get_full_state for live state)")
        return state[slot]

    def __setattr__(self, slot: str, value: Any) -> None:
        name = object.__getattribute__(self, "_name")
        raise AttributeError(
            f"{name} is read-only in the UI; change it with bridge.send, e.g. "
            f"{name} setSlot: '{slot}' value: ..."
        )

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_name')} (snapshot)>"


def load_app_class(ui: UiSource, bridge: object, receiver: object) -> type:
    """Vet, compile and run ``ui``; call its function on ``receiver``; return the App class.

    Runs the source as vetted (a top-level App class enclosed into the
    function, ``jit.ui_shape``). Raises UiError (with the line) when vetting
    refuses the source, when its top-level code or the function raises, or
    when it returns anything but a subclass of ``kivy.app.App`` (or an
    unstarted instance of one). The class gets the bridge as its ``bridge``
    attribute unless it defines one.
    Imports Kivy: call after ``display.prepare``.
    """
    try:
        vetted = vet(ui.source, UI_SELECTOR, VetPolicy.ui())
    except VetError as exc:
        line = exc.lineno or None
        raise UiError(
            f"the UI source was refused: {exc.reason}",
            line=line,
            line_text=ui.line(line) if line else "",
            where=ui.filename,
        ) from None
    # What runs is what was vetted: a top-level App class is enclosed into the function.
    ui = replace(ui, source=vetted.source)
    function = _define(ui, bridge)
    try:
        result = function(receiver)
    except Exception as exc:
        raise failure_in_source(exc, ui, f"{UI_SELECTOR} raised") from None
    app_class = _app_class(ui, result)
    if not hasattr(app_class, BRIDGE_NAME):
        setattr(app_class, BRIDGE_NAME, bridge)  # the prompt offers self.bridge too
    return app_class


def _define(ui: UiSource, bridge: object) -> Any:
    # Register the source so tracebacks (and our reports) can show its lines.
    linecache.cache[ui.filename] = (len(ui.source), None, ui.source.splitlines(True), ui.filename)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "batos.ui", BRIDGE_NAME: bridge}
    try:
        code = compile(ui.source, ui.filename, "exec")
        exec(code, namespace)  # vetted above; this is the process's purpose
    except SyntaxError as exc:
        line = exc.lineno or None
        raise UiError(
            f"the UI source does not compile: {exc.msg}",
            line=line,
            line_text=ui.line(line) if line else "",
            where=ui.filename,
        ) from None
    except Exception as exc:
        raise failure_in_source(exc, ui, "the UI source's top-level code raised") from None
    return namespace[UI_SELECTOR]


def _app_class(ui: UiSource, result: object) -> type:
    from kivy.app import App

    if isinstance(result, type) and issubclass(result, App):
        return result
    if isinstance(result, App):
        # Asked for the class, small models often end with `return TheApp()`. An
        # App that has not been run is harmless: use its class.
        return type(result)
    what = f"an instance of {type(result).__name__}" if not isinstance(result, type) else result.__name__
    raise UiError(
        f"{UI_SELECTOR} must return the App subclass {UI_CLASS_NAME} itself, but returned {what}",
        where=ui.filename,
    )


def failure_in_source(exc: BaseException, ui: UiSource, doing: str) -> UiError:
    """A UiError for ``exc``, pointing at the innermost frame that ran ``ui``'s code.

    Without such a frame (the failure was inside Kivy), the error names only
    the exception.
    """
    line = _innermost_line(exc.__traceback__, ui.filename)
    return UiError(
        f"{doing}: {type(exc).__name__}: {exc}",
        line=line,
        line_text=ui.line(line) if line else "",
        where=ui.filename,
    )


def _innermost_line(tb: TracebackType | None, filename: str) -> int | None:
    line: int | None = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
