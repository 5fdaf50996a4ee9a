"""The trial subprocess: runs one generated method once, in a sandbox, and reports.

This file runs as a script under ``python -I -S`` (no site-packages, no
batos imports) so it starts fast and sees nothing of the daemon. It must use
the standard library only. ``batos_core.jit.trial`` imports it solely for the
shared constants and its path.

Protocol: the parent writes one ``marshal``-encoded request dict to stdin; the
child writes one JSON report to ``result.json`` in its working directory (a
fresh temp dir) and exits 0. Anything else (a kill by a limit, a crash) is
read by the parent from the exit status.

Sandbox, in order of installation: rlimits (address space, CPU, file size, no
child processes, no core), SIGXCPU and SIGALRM turned into exceptions so a
runaway loop reports the line it was on, then an audit hook that blocks
writes outside the temp dir, process creation, signals to other processes,
sockets and ctypes.

A restricted request (every method but ``display_yourself``) carries code the
parent compiled with the daemon's restricted compiler (``compiled``, by
filename); the child runs it in the daemon's restricted namespace, with the
daemon's audit hook as well (``batos_core.sandbox``, standard library only,
imported from the path given by ``--sandbox``). So the trial checks what
the daemon will run. An unrestricted request (the UI) runs its source with
builtins minus eval/exec/open and friends, as before.
"""

from __future__ import annotations

# Every import here is paid on each trial: json, traceback, linecache, typing
# and the enum-based ``signal`` wrapper together cost more than the interpreter
# start, so the child uses ``_signal`` and writes its small report by hand.
import _signal as signal
import builtins
import io
import marshal
import os
import resource
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

OPAQUE_TAG = "\x00batos:opaque"
REPORT_NAME = "result.json"
GENERATED_PREFIX = "<batos "
#: Builtins generated code never gets: dynamic code, files, frames' globals,
#: the debugger, the terminal. One home: vetting refuses these names
#: (``batos_core.jit.vet.FORBIDDEN_NAMES``) and an unrestricted trial removes them.
REMOVED_BUILTINS = (
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "globals",
    "locals",
    "vars",
    "breakpoint",
    "input",
    "exit",
    "quit",
    "help",
)
_BLOCKED_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
    "os.startfile",
    "pty.spawn",
)
_PATH_EVENTS = (
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.symlink",
    "os.link",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "shutil.rmtree",
    "shutil.copyfile",
    "shutil.move",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class SandboxViolation(PermissionError):
    """Raised by the audit hook when generated code reaches outside the trial."""


class PlaceholderAccess(AttributeError):
    """Generated code used an object the trial only has a placeholder for."""


class Opaque:
    """Stands in for an object that did not travel to the trial (another UvmObject)."""

    def __init__(self, text: str, kind: str) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "kind", kind)

    def __repr__(self) -> str:
        return str(object.__getattribute__(self, "text"))

    def __getattr__(self, name: str) -> Any:
        raise PlaceholderAccess(f"{name} of {self!r}: the trial has only a placeholder for this {self.kind}")


class Stub:
    """A namespace global (the UI ``bridge``) whose every method accepts anything.

    Calls are recorded (``calls``: method name, args, kwargs) so that the UI
    check can answer the callbacks a UI passed, as the real bridge would.
    """

    #: The latest stub made for each name (one method, one trial).
    made: dict[str, Stub] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        Stub.made[name] = self

    def __getattr__(self, attr: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((attr, args, kwargs))

        return call

    def __repr__(self) -> str:
        return f"<stub {self.name}>"


class Receiver:
    """The throwaway receiver: data slots as attributes, methods on its class."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the receiver has no slot named {name}")

    def __repr__(self) -> str:
        return f"<receiver {type(self).__name__}>"


def decode(value: Any) -> Any:
    """Rebuild plain values; opaque markers become ``Opaque`` placeholders."""
    if isinstance(value, tuple):
        if len(value) == 3 and value[0] == OPAQUE_TAG:
            return Opaque(value[1], value[2])
        return tuple(decode(v) for v in value)
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return {decode(k): decode(v) for k, v in value.items()}
    return value


def apply_limits(limits: dict[str, int]) -> None:
    """Set the rlimits; a limit the platform refuses (NPROC as root) is skipped."""
    cpu = limits["cpu_seconds"]
    wanted = [
        (resource.RLIMIT_AS, limits["memory_bytes"]),
        (resource.RLIMIT_FSIZE, limits["file_bytes"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, 0),
    ]
    for which, value in wanted:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            continue
    # Soft limit raises SIGXCPU (turned into an exception); the hard limit one
    # second later kills a method that swallows that exception.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _raise_cpu(signum: int, frame: Any) -> None:
    raise TimeoutError("the method used up its CPU time limit (an endless loop?)")


def _raise_wall(signum: int, frame: Any) -> None:
    raise TimeoutError("the method ran past its wall-clock time limit")


def make_audit_hook(allowed_dir: str, violations: list[str], allow_ctypes: bool) -> Any:
    """An audit hook confining the process to ``allowed_dir`` and blocking escapes.

    ``allow_ctypes`` is for the UI trial only: kivy loads its libraries through
    ctypes on import, and the real UI runs in its own process anyway.
    """
    blocked_prefixes = ("socket.",) if allow_ctypes else ("socket.", "ctypes.")
    prefix = allowed_dir.rstrip(os.sep) + os.sep

    def inside(path: Any) -> bool:
        if path in (os.devnull, os.devnull.encode()):
            return True
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return False  # an fd or dir_fd-relative path: cannot be checked
        full = os.path.realpath(os.path.join(allowed_dir, path))
        return full == allowed_dir or full.startswith(prefix)

    def block(event: str, detail: str) -> None:
        message = f"the trial sandbox blocks {event} {detail}".rstrip()
        violations.append(message)
        raise SandboxViolation(message)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not inside(path):
                block("writing", repr(path))
        elif event.startswith(_BLOCKED_EVENTS):
            block(event, "")
        elif event.startswith(blocked_prefixes):
            block(event, "")
        elif event in _PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, str | bytes) and not inside(path):
                    block(event, repr(path))

    return hook


def safe_builtins(stubs: list[str]) -> dict[str, Any]:
    """Builtins without the dynamic-code and I/O entry points, plus stub globals."""
    names = dict(vars(builtins))
    for name in REMOVED_BUILTINS:
        names.pop(name, None)
    # Imports inside the method still need the import machinery.
    names["__import__"] = builtins.__import__
    for stub in stubs:
        names[stub] = Stub(stub)
    return names


SOURCES: dict[str, list[str]] = {}
#: Restricted mode: code compiled by the parent, and why a source did not compile.
COMPILED: dict[str, Any] = {}
COMPILE_ERRORS: dict[str, str] = {}
#: Restricted mode: the daemon's namespace (``batos_core.sandbox.namespace``), or None.
RESTRICTED: list[Any] = []


class RestrictedCompileError(SyntaxError):
    """The source does not compile under the daemon's restricted compiler."""


def compile_into(source: str, filename: str, namespace: dict[str, Any]) -> None:
    """Compile and run a module defining one function; its lines feed tracebacks.

    In restricted mode the code is the parent's restricted compile of
    ``source``; a source it refused raises RestrictedCompileError with the reason.
    """
    SOURCES[filename] = source.splitlines()
    if RESTRICTED:
        if filename in COMPILE_ERRORS:
            raise RestrictedCompileError(COMPILE_ERRORS[filename])
        code = COMPILED[filename]
    else:
        code = compile(source, filename, "exec")
    exec(code, namespace)


def format_frames(error: BaseException, limit: int) -> str:
    """The last frames that are in generated code, plus the error line."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith(GENERATED_PREFIX):
            frames.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    lines = []
    for filename, lineno, name in frames[-5:]:
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        source_lines = SOURCES.get(filename, [])
        if 0 < lineno <= len(source_lines):
            lines.append(f"    {source_lines[lineno - 1].strip()}")
    message = safe_str(error)
    lines.append(f"{type(error).__name__}: {message}" if message else type(error).__name__)
    return "\n".join(lines)[-limit:]


def to_json(value: Any) -> str:
    """JSON for the report's plain values (dict, list, str, number, bool, None)."""
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value) if value == value and abs(value) != float("inf") else "null"
    if isinstance(value, str):
        return '"' + "".join(_json_char(c) for c in value) + '"'
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(to_json(v) for v in value) + "]"


def _json_char(char: str) -> str:
    if char in '"\\' or not " " <= char <= "~":
        code = ord(char)
        if code > 0xFFFF:  # outside the BMP: a surrogate pair
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        return f"\\u{code:04x}"
    return char


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SlotNotFound(AttributeError):
    """The trial's stand-in for ``batos_core.objects.errors.SlotNotFound``."""


class BatosApi:
    """The ``batos`` global methods see, over the throwaway receiver.

    Mirrors ``batos_core.objects.namespace.batos_api`` so a method that uses it
    runs in the trial too; there is no image here, so there are no parents.
    """

    SlotNotFound = SlotNotFound
    UvmObject = Receiver

    @staticmethod
    def get_slot(obj: Any, name: str) -> Any:
        return getattr(obj, name)

    @staticmethod
    def set_slot(obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)

    @staticmethod
    def remove_slot(obj: Any, name: str) -> Any:
        value = getattr(obj, name)
        delattr(obj, name)
        return value

    @staticmethod
    def slot_names(obj: Any) -> list[str]:
        return list(vars(obj))

    @staticmethod
    def parents(obj: Any) -> list[Any]:
        return []

    @staticmethod
    def responds_to(obj: Any, selector: str) -> bool:
        return callable(getattr(type(obj), selector, None))

    @staticmethod
    def send(obj: Any, selector: str, *args: Any) -> Any:
        return getattr(obj, selector)(*args)

    @staticmethod
    def clone(obj: Any) -> Any:
        copy = type(obj)()
        vars(copy).update(vars(obj))
        return copy

    @staticmethod
    def new(**slots: Any) -> Any:
        obj = Receiver()
        vars(obj).update(slots)
        return obj

    @staticmethod
    def oid(obj: Any) -> str:
        return "0x0"

    @staticmethod
    def print_string(obj: Any) -> str:
        return repr(obj)


def method_globals(stubs: list[str]) -> dict[str, Any]:
    """Globals for one generated function, as the daemon's method namespace has them."""
    if RESTRICTED:
        restricted: dict[str, Any] = RESTRICTED[0].globals_for({stub: Stub(stub) for stub in stubs})
        return restricted
    return {"__builtins__": safe_builtins(stubs), "__name__": "batos.methods", "batos": BatosApi()}


def load_sandbox(root: str) -> Any:
    """Import ``batos_core.sandbox`` from ``root`` (standard library only) and build
    the daemon's restricted namespace over this child's receiver and API."""
    if root not in sys.path:
        sys.path.append(root)
    from batos_core.sandbox import audit  # noqa: F401  (imported now, before any audit hook)
    from batos_core.sandbox.allowlist import METHOD_MODULES
    from batos_core.sandbox.namespace import RestrictedNamespace

    api = {name: getattr(BatosApi, name) for name in dir(BatosApi) if not name.startswith("_")}
    return RestrictedNamespace(METHOD_MODULES, api, writable=(Receiver,))


def enter_restricted_mode(request: dict[str, Any], namespace: Any) -> None:
    """Use the parent's restricted code for this request and the daemon's audit hook."""
    from batos_core.sandbox import audit

    COMPILED.update(request["compiled"])
    COMPILE_ERRORS.update(request["compile_errors"])
    RESTRICTED.append(namespace)
    audit.install()


def placeholder_method(selector: str) -> Callable[..., Any]:
    """Stands in for a receiver's method written in Self (it needs the daemon's Self
    runtime): calling it makes the trial inconclusive, not failed."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise PlaceholderAccess(f"{selector}: the trial has only a placeholder for a method written in Self")

    return method


def build_receiver(request: dict[str, Any], stubs: list[str]) -> tuple[Any, Any, list[str]]:
    """The receiver instance, the method under trial, and methods that failed to load."""
    receiver_class = type(request["receiver_name"] or "receiver", (Receiver,), {})
    skipped = []
    for selector, source in request["methods"].items():
        namespace = method_globals(stubs)
        try:
            compile_into(source, f"{GENERATED_PREFIX}{selector}>", namespace)
            setattr(receiver_class, selector, namespace[selector])
        except Exception:  # an inherited method that does not load is simply absent
            skipped.append(selector)
    for selector in request.get("placeholder_methods", ()):
        setattr(receiver_class, selector, placeholder_method(selector))
    namespace = method_globals(stubs)
    compile_into(request["source"], f"{GENERATED_PREFIX}{request['selector']}>", namespace)
    method = namespace[request["selector"]]
    setattr(receiver_class, request["selector"], method)
    if request.get("self_value"):  # a method for numbers (strings...): self is the value
        return decode(request["self_value"])[0], method, skipped
    receiver = receiver_class()
    for name, value in decode(request["slots"]).items():
        setattr(receiver, name, value)
    return receiver, method, skipped


def run(request: dict[str, Any], violations: list[str]) -> dict[str, Any]:
    """Load and call the method; never raises (every outcome becomes a report)."""
    limit = request["limits"]["max_output_chars"]
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    report: dict[str, Any] = {"ok": False, "blocked": violations}
    started = time.perf_counter()
    try:
        receiver, method, skipped = build_receiver(request, request["stubs"])
        report["skipped_methods"] = skipped
        started = time.perf_counter()
        before = slot_wires(receiver)
        signal.alarm(max(1, int(request["limits"]["wall_seconds"])))
        value = method(receiver, *decode(request["args"])) if request.get("call", True) else None
        behaviour, report["did_nothing"] = observe(value, receiver, before)
        if request.get("self_value"):  # a value has no slots to change: returning it is an answer
            report["did_nothing"] = False
        if request.get("ui_check") is not None:
            report["ui_check_skipped"] = check_ui(value, request)
        if request.get("check") is not None:
            value = run_check(request["check"], receiver, request["stubs"])
        signal.alarm(0)
        report.update(ok=True, value_repr=clip(safe_repr(value), limit), value_type=type(value).__name__)
        report["behaviour"] = clip(behaviour, MAX_BEHAVIOUR_CHARS)
        if request.get("checks"):
            seen = len(violations)
            report["checks"] = run_checks(request, receiver, value)
            del violations[seen:]  # a check's own violation is a failed check, not a failed trial
    except BaseException as error:  # the method's failure is the report, whatever it is
        signal.alarm(0)
        report.update(
            error_name=type(error).__name__,
            error_message=clip(safe_str(error) or default_message(error, request), limit),
            traceback=format_frames(error, limit),
        )
    report["call_s"] = time.perf_counter() - started
    report["stdout"] = clip(captured.getvalue(), limit)
    return report


CHECK_NAME = "check"
MAX_BEHAVIOUR_CHARS = 100_000
#: Wall-clock seconds each candidate check may run (a check that loops stops the rest).
CHECK_SECONDS = 1.0
_WIRE_DEPTH = 20


def wire(value: Any, receiver: Any, depth: int = 0) -> Any:
    """``value`` as plain, comparable data: what two candidates' results are compared by.

    Types are kept (``1``, ``1.0`` and ``True`` differ), dicts and sets are
    sorted, the receiver itself is ``["self"]``, another throwaway object is
    its slots, and anything else is its type name (a repr would hold an
    address, so two equal results would never compare equal).
    """
    if value is receiver:
        return ["self"]
    if value is None or isinstance(value, bool | int | float | str):
        return [type(value).__name__, value]
    if depth >= _WIRE_DEPTH:
        return ["deep"]
    if isinstance(value, bytes):
        return ["bytes", list(value)]
    if isinstance(value, list | tuple):
        return [type(value).__name__, [wire(v, receiver, depth + 1) for v in value]]
    if isinstance(value, dict):
        items = [[wire(k, receiver, depth + 1), wire(v, receiver, depth + 1)] for k, v in value.items()]
        return ["dict", sorted(items, key=to_json)]
    if isinstance(value, set | frozenset):
        return ["set", sorted((wire(v, receiver, depth + 1) for v in value), key=to_json)]
    if isinstance(value, Opaque):
        return ["opaque", repr(value)]
    if isinstance(value, Receiver):
        return ["object", {k: wire(v, receiver, depth + 1) for k, v in sorted(vars(value).items())}]
    return ["other", type(value).__name__]


def slot_wires(receiver: Any) -> dict[str, str]:
    """The receiver's slots, each as the JSON text of its wire form."""
    slots = getattr(receiver, "__dict__", {})  # a plain value (self_value) has none
    return {name: to_json(wire(value, receiver)) for name, value in slots.items()}


def observe(value: Any, receiver: Any, before: dict[str, str]) -> tuple[str, bool]:
    """What the call did, as text (its result and the slots it changed), and
    whether it did nothing observable (returned the receiver, changed no slot)."""
    after = slot_wires(receiver)
    changed = {name: text for name, text in after.items() if before.get(name) != text}
    removed = sorted(name for name in before if name not in after)
    behaviour = to_json({"result": to_json(wire(value, receiver)), "changed": changed, "removed": removed})
    return behaviour, value is receiver and not changed and not removed


def run_checks(request: dict[str, Any], receiver: Any, value: Any) -> list[bool]:
    """Run each candidate check ``check(self, result, *args)`` after the call; one verdict each.

    A check passes when it returns without raising. Checks never fail the
    trial: an exception (an assert, an error in the check itself) is a false
    verdict. A check that runs past CHECK_SECONDS stops the remaining ones
    (they count as failed), so a looping check cannot take the trial down.
    """
    verdicts: list[bool] = []
    sources = request["checks"]
    for index, source in enumerate(sources):
        namespace = method_globals(request["stubs"])
        try:
            compile_into(source, f"{GENERATED_PREFIX}check {index + 1}>", namespace)
            signal.setitimer(signal.ITIMER_REAL, CHECK_SECONDS)
            try:
                namespace[request["check_selector"]](receiver, value, *decode(request["args"]))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            verdicts.append(True)
        except TimeoutError:
            verdicts.append(False)
            break
        except BaseException:  # the check's own failure is a verdict, never the trial's
            verdicts.append(False)
    return verdicts + [False] * (len(sources) - len(verdicts))


#: What the UI check types into the first text input before pressing the buttons.
UI_CHECK_MESSAGE = "genesis printString"


class UICheckFailed(AssertionError):
    """The generated UI does not do what the UI prompt requires."""


def check_ui(value: Any, request: dict[str, Any]) -> str:
    """Build the generated App's widget tree and drive it once, as the UI process would.

    ``display_yourself`` returned ``value``; it must be the App subclass named
    ``request["ui_check"]``. Its ``build()`` runs; the bridge callbacks the UI
    registered are answered with the receiver's state (``get_full_state``) and
    a reply (``send``), by the names in ``request["ui_bridge"]`` (the parent's
    ``batos_core.ui_contract``); a message is typed into the first text input and every
    button pressed. The UI must have asked for the state and sent a message.
    Errors in generated code propagate with their line; the parts that need a
    window are skipped (``ui_check_skipped``) when Kivy has no window provider,
    so a machine without OpenGL does not blame the model. Returns why the
    widget part was skipped, or "".
    """
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.textinput import TextInput
    from kivy.uix.widget import Widget

    name = request["ui_check"]
    names = request["ui_bridge"]
    bridge_name, state_call, send_call = names["bridge"], names["state"], names["send"]
    target = names["target"]
    if isinstance(value, App):  # `return TheApp()`: accepted, as the UI process accepts it
        value = type(value)
    if not (isinstance(value, type) and issubclass(value, App)):
        raise UICheckFailed(
            f"display_yourself must return the App subclass {name} itself, not {safe_repr(value)}"
        )
    if value.__name__ != name:
        raise UICheckFailed(f"the App subclass must be named {name}, not {value.__name__}")
    bridge = Stub.made[bridge_name]
    if not hasattr(value, bridge_name):
        setattr(value, bridge_name, bridge)  # self.bridge, as in the UI process
    if Window is None:
        return "Kivy has no window provider here"
    root = value().build()
    if not isinstance(root, Widget):
        raise UICheckFailed(f"build must return the root widget, not {safe_repr(root)}")
    if root.parent is not None:
        raise UICheckFailed(
            f"build returned a widget that is already inside a {type(root.parent).__name__}; "
            "return the outermost widget, the one that has no parent"
        )
    state = _ui_state(request)
    answered = _answer_bridge(bridge, 0, state, names)
    widgets = list(root.walk(restrict=True))
    if state_call in {call[0] for call in bridge.calls}:
        _require_state_shown(widgets, state, names)
    inputs = [w for w in widgets if isinstance(w, TextInput)]
    if inputs:
        inputs[0].text = UI_CHECK_MESSAGE
    for widget in widgets:
        if isinstance(widget, ButtonBehavior):
            widget.dispatch("on_press")
            widget.dispatch("on_release")
    _answer_bridge(bridge, answered, state, names)
    used = {call[0] for call in bridge.calls}
    if state_call not in used:
        raise UICheckFailed(
            f"build never called {bridge_name}.{state_call}('{target}', callback), so the status label "
            f"cannot show the state of {target}"
        )
    if send_call not in used:
        raise UICheckFailed(
            "typing a message and pressing the buttons never called "
            f"{bridge_name}.{send_call}(text, callback): "
            f"the send button's on_press must call {bridge_name}.{send_call} with the text input's text"
        )
    return ""


_SHOWN_VALUE_CHARS = 24


def _require_state_shown(widgets: list[Any], state: dict[str, Any], names: dict[str, str]) -> None:
    """After the state callback: some widget's text shows a slot of genesis and its value.

    What a person sees is what counts: a UI that asked for the state but
    shows "Status not available" fails here. Values are compared as text;
    only plain scalar values count (a list or dict may be shown many ways; of
    a long one, its first 24 characters, as a UI may clip it),
    and when genesis has none, a slot name alone is enough.
    """
    if not state:
        return
    texts = [w.text for w in widgets if isinstance(getattr(w, "text", None), str)]
    shown = "\n".join(texts)
    scalars = {  # a long value may be clipped on screen: its start is enough
        name: str(value)[:_SHOWN_VALUE_CHARS]
        for name, value in state.items()
        if isinstance(value, str | int | float | bool) and str(value).strip()
    }
    if scalars:
        if any(name in shown and value in shown for name, value in scalars.items()):
            return
    elif any(name in shown for name in state):
        return
    seen = ", ".join(repr(clip(text, 60)) for text in texts if text.strip()) or "no text at all"
    example = next(iter(scalars or state))
    raise UICheckFailed(
        f"after {names['bridge']}.{names['state']} answered with the state of {names['target']}, "
        "no widget shows it: "
        f"the widgets' texts were {clip(seen, 300)}. The state callback must set the status "
        f"label's text to the slot names with their values (for example the slot {example})"
    )


def _ui_state(request: dict[str, Any]) -> dict[str, Any]:
    """The receiver's slots as ``get_full_state`` delivers them: plain values, objects as text."""
    state = {}
    for slot, value in decode(request["slots"]).items():
        plain = value is None or isinstance(value, str | int | float | bool | list | dict)
        state[slot] = value if plain else repr(value)
    state.update(request.get("parent_slots") or {})
    return state


def _answer_bridge(bridge: Stub, start: int, state: dict[str, Any], names: dict[str, str]) -> int:
    """Call back what the UI asked the bridge from call number ``start`` on; returns the next."""
    index = start
    while index < len(bridge.calls):  # a callback may ask again: answer that too
        method, args, kwargs = bridge.calls[index]
        index += 1
        callback = kwargs.get("callback", args[1] if len(args) > 1 else None)
        if method == names["state"] and callable(callback):
            callback(dict(state))
        elif method == names["send"] and callable(callback):
            callback("a UvmObject")
        elif method == names["events"] and args and callable(args[0]):
            args[0]({"type": "event", "id": "trial", "kind": "phase", "data": {"phase": "trial"}})
        if index > 200:
            raise UICheckFailed("the UI keeps calling the bridge from its own callbacks (an endless loop?)")
    return index


class CheckFailed(AssertionError):
    """The method's check (the autotelic act's executable test) returned a false value."""


def run_check(source: str, receiver: Any, stubs: list[str]) -> Any:
    """Load ``check(self)`` from ``source`` and call it on ``receiver``; CheckFailed unless true."""
    namespace = method_globals(stubs)
    compile_into(source, f"{GENERATED_PREFIX}{CHECK_NAME}>", namespace)
    result = namespace[CHECK_NAME](receiver)
    if not result:
        raise CheckFailed(f"the check returned {safe_repr(result)}, not a true value")
    return result


def default_message(error: BaseException, request: dict[str, Any]) -> str:
    """A message for exceptions raised without one (MemoryError, a bare raise)."""
    if isinstance(error, MemoryError):
        mib = request["limits"]["memory_bytes"] // (1024 * 1024)
        return f"the method ran out of memory (the trial allows {mib} MiB)"
    return "raised without a message"


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as error:  # generated __repr__ may fail; report, do not crash
        return f"<repr failed: {type(error).__name__}>"


def safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return "<message unavailable>"


def preload(modules: list[str]) -> None:
    """Import trusted library modules before the audit hook exists.

    Kivy probes the system on import (``ldconfig -p`` through ctypes.util);
    that is the library's doing, not the method's, so it happens first.
    """
    for name in modules:
        try:
            __import__(name)
        except Exception:  # a missing optional module fails later, in the method, with a traceback
            continue


def main() -> None:
    # A spare child builds the sandbox while it waits for its request.
    root = sys.argv[sys.argv.index("--sandbox") + 1] if "--sandbox" in sys.argv else None
    namespace = load_sandbox(root) if root else None
    request = marshal.loads(sys.stdin.buffer.read())
    if "compiled" in request and namespace is None:
        namespace = load_sandbox(request["sandbox_root"])
    report_file = open(REPORT_NAME, "w", encoding="utf-8")  # opened before the hook
    apply_limits(request["limits"])
    signal.signal(signal.SIGXCPU, _raise_cpu)
    signal.signal(signal.SIGALRM, _raise_wall)
    # Past RLIMIT_FSIZE a write then fails with OSError instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    preload(request["preload"])
    violations: list[str] = []
    sys.addaudithook(make_audit_hook(os.path.realpath(os.getcwd()), violations, request["allow_ctypes"]))
    if "compiled" in request:
        enter_restricted_mode(request, namespace)
    report = run(request, violations)
    report_file.seek(0)
    report_file.truncate()
    report_file.write(to_json(report))
    report_file.close()
    # Skip interpreter teardown: generated objects' finalisers do not get to run.
    os._exit(0)


if __name__ == "__main__":
    main()
