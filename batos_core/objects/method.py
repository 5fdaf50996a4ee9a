"""`Method`: a persistent object that holds source, never a Python function.

Pickle stores functions by name, so a function `exec`'d from generated code
cannot live in ZODB (seed defect 1). A Method keeps the source and its
provenance; the compiled function is a per-process cache. Methods are
immutable once made: a new version is a new Method whose `previous` is the one
it replaces, so history is kept and caches never see a method change in place.
"""

from __future__ import annotations

import ast
import hashlib
import threading
import time
from collections.abc import Mapping
from types import FunctionType
from typing import Any

import persistent

from batos_core.objects.errors import MethodCompileError, MethodSuspended
from batos_core.selectors import shown_selector

# Compiled code per (selector, source, trusted) in this process. Methods are
# immutable, so a code object compiled once serves every copy of the Method in
# every connection; only the cheap FunctionType wrapper is made per copy.
_code_cache: dict[tuple[str, str, bool], Any] = {}

#: Filename prefixes methods are compiled under. The sandbox's audit hook
#: knows restricted code by the first (``sandbox.audit``); tracebacks show both.
RESTRICTED_FILENAME = "<method {selector}>"
TRUSTED_FILENAME = "<trusted method {selector}>"
_code_lock = threading.Lock()


class Method(persistent.Persistent):
    """A method installed in a slot: selector, source, provenance, version."""

    selector: str
    source: str
    provenance: dict[str, Any]
    version: int
    previous: Method | None
    #: Set (who, why, when, which request) while the method is suspended: it
    #: does not run until resumed (`batos_core.daemon.suspension`). A class
    #: default, so Methods stored before it existed read None.
    suspended: dict[str, Any] | None = None

    def __init__(
        self,
        selector: str,
        source: str,
        provenance: Mapping[str, Any] | None = None,
        previous: Method | None = None,
    ) -> None:
        self.selector = selector
        self.source = source
        prov = dict(provenance or {})
        prov.setdefault("created", time.time())
        prov.setdefault("author", "unknown")
        self.provenance = prov
        self.previous = previous
        self.version = 1 if previous is None else previous.version + 1

    @property
    def source_hash(self) -> str:
        """sha256 of the source, for change logs and deduplication."""
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def trusted(self) -> bool:
        """Whether a person installed this method to run unrestricted (``trusted=True``
        in its provenance). Every other method runs restricted (``batos_core.sandbox``)."""
        return self.provenance.get("trusted") is True

    @property
    def function(self) -> FunctionType:
        """The compiled function (cached per process); raises MethodCompileError,
        or MethodSuspended while the method is suspended."""
        suspended = self.suspended
        if suspended is not None:
            raise MethodSuspended(self.selector, suspended)
        return self.compiled()

    def compiled(self) -> FunctionType:
        """The compiled function whether or not the method is suspended (for its
        signature, never to run it); raises MethodCompileError."""
        fn: FunctionType | None = getattr(self, "_v_function", None)
        if fn is None:
            fn = compile_method(self.selector, self.source, trusted=self.trusted)
            self._v_function = fn
        return fn

    @property
    def arity(self) -> int | None:
        """Arguments after ``self`` the method takes, or None if its source does
        not compile. Decides its Self selector: ``do_it_`` taking one argument is
        ``do_it:``, taking two is ``do:it:``."""
        try:
            code = self.compiled().__code__
        except MethodCompileError:
            return None
        return max(code.co_argcount - 1, 0)

    def versions(self) -> list[Method]:
        """This method and every earlier version, newest first."""
        chain: list[Method] = []
        current: Method | None = self
        while current is not None:
            chain.append(current)
            current = current.previous
        return chain

    def __repr__(self) -> str:
        return f"<Method {self.selector} v{self.version}>"


def slot_selector(name: str, value: Any) -> str:
    """The Self selector to show for slot `name` holding `value`: exact for a
    Method (its own arity decides: ``do_it_`` taking one argument is
    ``do_it:``), by the name's shape for a data slot."""
    return shown_selector(name, value.arity if isinstance(value, Method) else None)


def compile_method(selector: str, source: str, *, trusted: bool = False) -> FunctionType:
    """Compile `source` and return the function named `selector`.

    Restricted (the default): RestrictedPython's compile with batos's guards
    and the sandbox namespace (`batos_core.sandbox`): no name starting with
    ``_`` reachable, no module objects, no files or processes. ``trusted``:
    plain Python with the `batos` API (a method a person installed with
    ``trusted=True``). Either way the globals are never the daemon's module
    globals. A syntax error, a construct the restricted compiler refuses, or a
    source that does not define `selector` raises MethodCompileError naming
    the line.
    """
    from batos_core.objects.namespace import method_globals, restricted_namespace
    from batos_core.sandbox import audit

    # Compiling a method another method is about to call is batos's work: the
    # audit hook lets compile and exec through, and watches the code exec runs.
    with audit.trusted_section():
        key = (selector, source, trusted)
        with _code_lock:
            code = _code_cache.get(key)
        if code is None:
            code = _compile_to_code(selector, source, trusted=trusted)
            with _code_lock:
                _code_cache[key] = code
        # Each method gets its own globals, seeded from the controlled namespace,
        # so a top-level `import math` in its source is visible to the function.
        namespace = dict(method_globals()) if trusted else restricted_namespace().globals_for()
        try:
            exec(code, namespace)
        except Exception as exc:
            # Top-level statements run here (e.g. an import that fails): report them
            # as MethodCompileError naming the line, the one error callers expect.
            raise MethodCompileError(
                selector, f"{type(exc).__name__}: {exc}", _error_line(exc, code)
            ) from exc
    fn = namespace.get(selector)
    if not isinstance(fn, FunctionType):
        raise MethodCompileError(selector, f"the source does not define a function {selector!r}")
    return fn


def _compile_to_code(selector: str, source: str, *, trusted: bool) -> Any:
    if not trusted:
        from batos_core.sandbox.compiler import RestrictedCompileError, compile_restricted_method

        try:
            return compile_restricted_method(source, RESTRICTED_FILENAME.format(selector=selector))
        except RestrictedCompileError as exc:
            raise MethodCompileError(selector, exc.reason, exc.lineno) from None
    filename = TRUSTED_FILENAME.format(selector=selector)
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise MethodCompileError(selector, exc.msg, exc.lineno) from None
    return compile(tree, filename, "exec")


def _error_line(exc: BaseException, code: Any) -> int | None:
    """The line of the method's own source where `exc` was raised, if any."""
    lineno = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == code.co_filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def check_source(selector: str, source: str, *, trusted: bool = False) -> None:
    """Raise MethodCompileError unless `source` compiles (restricted unless
    `trusted`) and defines `selector`."""
    compile_method(selector, source, trusted=trusted)
