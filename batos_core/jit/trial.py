"""The trial run: call a vetted method once, in a sandboxed subprocess.

Generated code never runs in the daemon before it has run here. The child
(``trial_child.py``, started as ``python -I -S``) gets a throwaway copy of the
receiver (its data slots as plain values, other objects as placeholders, its
methods as source), calls the method with the message's arguments, and
reports what happened. The parent enforces a wall-clock timeout by killing the
child's process group; the child enforces memory, CPU and file-size limits
and an audit hook (see ``trial_child``).

Speed: a spare child is started after each trial (and by ``prewarm()``), so
the interpreter start and imports fall between trials. Measured on the 2-core
dev box under load: about 24 ms per trial with the spare warm, about 72 ms
back-to-back (bare ``python -I -S -c pass``: 18-30 ms).

A method that prints and returns None fails the trial as
``PrintedInsteadOfReturning``: the daemon's stdout is nobody's screen, and the
repair prompt can then say exactly that.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import marshal
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import CodeType

from batos_core.jit import trial_child
from batos_core.jit.errors import TrialSetupError
from batos_core.jit.snapshot import ReceiverSnapshot, short_repr, type_name
from batos_core.jit.vet import VettedMethod
from batos_core.ui_contract import BRIDGE_NAME, GET_FULL_STATE, ON_EVENT, SEND, UI_CLASS_NAME, UI_TARGET

log = logging.getLogger(__name__)

_CHILD_SCRIPT = Path(trial_child.__file__).resolve()
_PACKAGE_ROOT = _CHILD_SCRIPT.parent.parent.parent  # the directory holding batos_core
_MAX_REPORT_BYTES = 256 * 1024
_MAX_WIRE_DEPTH = 20
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
PRINTED_INSTEAD_OF_RETURNING = "PrintedInsteadOfReturning"
PLACEHOLDER_ACCESS = "PlaceholderAccess"
# Kivy modules a generated UI commonly imports; importing them runs system
# probes (ldconfig through ctypes.util) that the audit hook would block.
UI_PRELOAD = (
    "kivy.app",
    "kivy.clock",
    "kivy.properties",
    "kivy.metrics",
    "kivy.uix.widget",
    "kivy.uix.label",
    "kivy.uix.button",
    "kivy.uix.boxlayout",
    "kivy.uix.gridlayout",
    "kivy.uix.textinput",
    "kivy.uix.scrollview",
    "kivy.uix.behaviors",
    # The UI check builds the widget tree: the (offscreen) window is made here,
    # before the audit hook, like any other library set-up.
    "kivy.core.window",
    "kivy.core.clipboard",  # its provider probe runs xclip/xsel as subprocesses
)


#: The UI contract as the trial child's UI check reads it from its request.
UI_BRIDGE_NAMES = {
    "bridge": BRIDGE_NAME,
    "state": GET_FULL_STATE,
    "send": SEND,
    "events": ON_EVENT,
    "target": UI_TARGET,
}

@dataclass(frozen=True)
class TrialPolicy:
    """Limits and environment of one trial.

    ``stub_globals``: names made available to the method as do-nothing
    objects (the UI's ``bridge``). ``site_packages``: start the child with
    site-packages (needed to import kivy; slower start). ``allow_ctypes``:
    let ctypes through the audit hook (kivy needs it on import; UI only).
    ``preload``: trusted modules imported before the audit hook is installed.
    ``ui_check``: the App class name a ``display_yourself`` must return; the
    child then builds that App's widget tree and drives it once
    (``trial_child.check_ui``). ``restricted``: compile the method (and the
    receiver's other methods, and the checks) here with the daemon's
    restricted compiler and run them in the child with the daemon's restricted
    namespace and audit hook (``batos_core.sandbox``), so a method that cannot
    run in the daemon fails its trial. Off only for ``display_yourself``,
    which never runs in the daemon (it runs in the UI process, under Kivy).
    """

    memory_bytes: int = 512 * 1024 * 1024
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    file_bytes: int = 1024 * 1024
    max_output_chars: int = 4000
    stub_globals: tuple[str, ...] = ()
    site_packages: bool = False
    allow_ctypes: bool = False
    preload: tuple[str, ...] = ()
    ui_check: str | None = None
    restricted: bool = True

    @classmethod
    def default(cls) -> TrialPolicy:
        """Limits for ordinary methods."""
        return cls()

    @classmethod
    def ui(cls) -> TrialPolicy:
        """Limits for ``display_yourself``: kivy imports, the bridge stub, more memory."""
        return cls(
            memory_bytes=2 * 1024 * 1024 * 1024,
            cpu_seconds=20,
            wall_seconds=30.0,
            stub_globals=(BRIDGE_NAME,),
            site_packages=True,
            allow_ctypes=True,
            preload=UI_PRELOAD,
            ui_check=UI_CLASS_NAME,
            restricted=False,
        )


@dataclass(frozen=True)
class TrialResult:
    """What one trial run showed.

    ``ok``: the method returned (and did not merely print). On failure
    ``error_name``/``error_message`` name the exception and ``traceback`` holds
    the last frames in generated code with their line numbers. ``duration_s``
    is the whole trial's wall time, subprocess included; ``call_s`` the
    method call alone. ``blocked`` lists sandbox violations (each also fails
    the trial).
    """

    ok: bool
    value_repr: str | None
    error_name: str | None
    error_message: str | None
    traceback: str | None
    duration_s: float
    call_s: float = 0.0
    value_type: str | None = None
    stdout: str = ""
    blocked: tuple[str, ...] = ()
    skipped_methods: tuple[str, ...] = field(default=())
    #: Why the UI check did not build the widget tree (no window provider), or "".
    ui_check_skipped: str = ""
    #: What the call did (its result's wire form and the slots it changed) as a
    #: sha256 hex digest; equal digests mean the same observable behaviour. "" on failure.
    behaviour: str = ""
    #: The call returned the receiver itself and changed no slot.
    did_nothing: bool = False
    #: One verdict per candidate check (``run_trial(checks=...)``), in order.
    checks: tuple[bool, ...] = ()

    @property
    def printed_instead_of_returning(self) -> bool:
        """The method returned None after printing output."""
        return self.error_name == PRINTED_INSTEAD_OF_RETURNING

    @property
    def inconclusive(self) -> bool:
        """The method needed an object the trial only had a placeholder for."""
        return self.error_name == PLACEHOLDER_ACCESS


def run_trial(
    method: VettedMethod,
    receiver: ReceiverSnapshot,
    args: Sequence[object] = (),
    policy: TrialPolicy | None = None,
    *,
    check: str | None = None,
    call: bool = True,
    checks: Sequence[str] = (),
    check_selector: str = "",
) -> TrialResult:
    """Run ``method`` once on a throwaway copy of ``receiver`` with ``args``.

    ``check``: source of one function ``check(self)`` (vetted by the caller)
    run on the same receiver after the call; the trial fails as
    ``CheckFailed`` unless it returns a true value, or with its exception.
    ``call=False`` skips the plain call (the check then exercises the method).
    ``checks``: vetted sources of functions named ``check_selector`` taking
    ``(self, result, *args)``, run after a successful call; each verdict is in
    ``TrialResult.checks`` and none of them fails the trial.

    Never runs generated code in this process. Every outcome of the method
    (a value, an exception, a limit hit, a kill) is a ``TrialResult``; raises
    ``TrialSetupError`` only when the subprocess cannot be started or the
    temp dir cannot be made (a host fault, not the method's).
    """
    policy = policy or TrialPolicy.default()
    request = _request(method, receiver, args, policy)
    if check is not None:
        request.update(check=check, call=call)
    if checks:
        request.update(checks=list(checks), check_selector=check_selector)
    if policy.restricted:
        request["compiled"], request["compile_errors"] = compile_for_trial(request)
        request["sandbox_root"] = str(_PACKAGE_ROOT)
    payload = marshal.dumps(request)
    started = time.perf_counter()
    warm = not policy.site_packages
    try:
        child = (_SPARE.take() if warm else None) or _Child(policy)
        try:
            returncode, timed_out = child.communicate(payload, policy.wall_seconds + 1.0)
            report = _read_report(child.path / trial_child.REPORT_NAME)
            stderr = child.stderr_tail()
        finally:
            child.dispose()
    except OSError as error:
        raise TrialSetupError(f"cannot run the trial subprocess: {error}") from error
    duration = time.perf_counter() - started
    if warm:
        try:
            _SPARE.refill()
        except OSError as error:  # the next trial starts cold and reports a real failure
            log.warning("cannot start a spare trial child: %s", error)
    if report is None:
        return _killed_result(returncode, timed_out, stderr, duration, policy)
    return _result_from_report(report, duration)


def prewarm() -> None:
    """Start the spare trial child now, so the first trial does not pay for it.

    Optional (the first trial starts one anyway). Raises ``TrialSetupError``
    when the subprocess cannot be started.
    """
    try:
        _SPARE.refill()
    except OSError as error:
        raise TrialSetupError(f"cannot start the trial subprocess: {error}") from error


def shutdown() -> None:
    """Stop the spare trial child and remove its temp dir (also run at exit). Never raises."""
    _SPARE.close()


def to_wire(value: object, depth: int = 0) -> object:
    """``value`` as plain data for the child: scalars, lists, tuples, dicts, sets.

    Anything else (another object, a method) becomes an opaque marker carrying
    its short repr. Never raises.
    """
    if isinstance(value, _SCALARS):
        return value
    if depth >= _MAX_WIRE_DEPTH:
        return _opaque(value)
    if isinstance(value, Mapping):
        return {_wire_key(k): to_wire(v, depth + 1) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(to_wire(v, depth + 1) for v in value)
    if isinstance(value, set | frozenset):
        return _wire_set(value, [to_wire(v, depth + 1) for v in value])
    # PersistentList is a UserList, not a list: accept any Sequence but strings.
    if isinstance(value, Sequence) and not isinstance(value, bytearray):
        return [to_wire(v, depth + 1) for v in value]
    return _opaque(value)


def _wire_set(value: object, items: list[object]) -> object:
    try:
        return set(items) if isinstance(value, set) else frozenset(items)
    except TypeError:  # unhashable after conversion (placeholders): a list keeps the values
        return items


def _wire_key(key: object) -> object:
    return key if isinstance(key, _SCALARS) else short_repr(key)


def _opaque(value: object) -> tuple[str, str, str]:
    return (trial_child.OPAQUE_TAG, short_repr(value), type_name(value))


def _request(
    method: VettedMethod,
    receiver: ReceiverSnapshot,
    args: Sequence[object],
    policy: TrialPolicy,
) -> dict[str, object]:
    slots = {k: to_wire(v) for k, v in receiver.data_slots.items() if not k.startswith("_")}
    methods = {
        name: source
        for name, source in receiver.methods.items()
        if source and name != method.selector and name not in receiver.self_methods
    }
    # Compiled from Self, they need the daemon's Self runtime: the trial has placeholders.
    placeholders = sorted(name for name in receiver.self_methods if name != method.selector)
    return {
        "source": method.source,
        "selector": method.selector,
        "receiver_name": receiver.name,
        "slots": slots,
        "methods": methods,
        "placeholder_methods": placeholders,
        # A miss on a plain value: self is the value, not a receiver object.
        "self_value": [to_wire(receiver.value)] if receiver.value_receiver else [],
        "args": [to_wire(a) for a in args],
        "stubs": list(policy.stub_globals),
        "allow_ctypes": policy.allow_ctypes,
        "preload": list(policy.preload),
        "ui_check": policy.ui_check,
        # The names the UI check drives (the child imports no batos: they travel here).
        "ui_bridge": UI_BRIDGE_NAMES if policy.ui_check else {},
        # get_full_state shows parent slots too (as their printString): the UI check needs them.
        "parent_slots": dict(receiver.parent_slots) if policy.ui_check else {},
        "limits": {
            "memory_bytes": policy.memory_bytes,
            "cpu_seconds": policy.cpu_seconds,
            "wall_seconds": policy.wall_seconds,
            "file_bytes": policy.file_bytes,
            "max_output_chars": policy.max_output_chars,
        },
    }


def compile_for_trial(request: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """Restricted code objects for every source the child will run, by the filename
    the child runs it under, and the reason for each source that does not compile.

    The same compiler as the daemon's (``sandbox.compiler``): what the trial
    runs is what the daemon would run.
    """
    prefix = trial_child.GENERATED_PREFIX
    sources: dict[str, str] = {f"{prefix}{request['selector']}>": str(request["source"])}
    methods: Mapping[str, str] = request["methods"]  # type: ignore[assignment]
    for selector, source in methods.items():
        sources[f"{prefix}{selector}>"] = source
    checks: Sequence[str] = request.get("checks") or ()  # type: ignore[assignment]
    for index, source in enumerate(checks):
        sources[f"{prefix}check {index + 1}>"] = source
    if request.get("check") is not None:
        sources[f"{prefix}{trial_child.CHECK_NAME}>"] = str(request["check"])
    compiled: dict[str, object] = {}
    errors: dict[str, str] = {}
    for filename, source in sources.items():
        code, error = _restricted_code(source, filename)
        if code is None:
            errors[filename] = error
        else:
            compiled[filename] = code
    return compiled, errors


@functools.lru_cache(maxsize=512)
def _restricted_code(source: str, filename: str) -> tuple[CodeType | None, str]:
    """The restricted code of one source, or why it does not compile. Cached: every
    candidate's trial sends the receiver's other methods too, unchanged."""
    from batos_core.sandbox.compiler import RestrictedCompileError, compile_restricted_method

    try:
        return compile_restricted_method(source, filename), ""
    except RestrictedCompileError as error:
        where = f" (line {error.lineno})" if error.lineno else ""
        return None, f"{error.reason}{where}"


def _child_env(tmp: Path, policy: TrialPolicy) -> dict[str, str]:
    env = {"PATH": os.defpath, "HOME": str(tmp), "TMPDIR": str(tmp), "LANG": "C.UTF-8"}
    if policy.site_packages:
        # Kivy writes its config under KIVY_HOME on import; keep it in the temp dir.
        env.update(
            KIVY_HOME=str(tmp / "kivy"),
            KIVY_NO_ARGS="1",
            KIVY_NO_CONSOLELOG="1",
            KIVY_NO_FILELOG="1",
            SDL_VIDEODRIVER="offscreen",
        )
    return env


class _Child:
    """One trial subprocess with its temp dir; used for exactly one trial."""

    def __init__(self, policy: TrialPolicy) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="batos-trial-", ignore_cleanup_errors=True)
        self.path = Path(self._tmp.name)
        self._stderr = (self.path / "stderr.txt").open("wb")
        flags = ["-I"] if policy.site_packages else ["-I", "-S"]
        # A restricted child imports batos_core.sandbox (standard library only)
        # from here, before its request arrives.
        sandbox = ["--sandbox", str(_PACKAGE_ROOT)] if policy.restricted else []
        try:
            self.process = subprocess.Popen(
                [sys.executable, *flags, str(_CHILD_SCRIPT), *sandbox],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                cwd=self.path,
                env=_child_env(self.path, policy),
                start_new_session=True,  # its own process group, so a kill takes everything
                close_fds=True,
            )
        except OSError:
            self._stderr.close()
            self._tmp.cleanup()
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def communicate(self, payload: bytes, timeout: float) -> tuple[int, bool]:
        """Send the request, wait for the exit; returns (exit status, timed out)."""
        timed_out = False
        try:
            self.process.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            self._kill_group()
        return self.process.returncode, timed_out

    def stderr_tail(self) -> str:
        self._stderr.flush()
        return (self.path / "stderr.txt").read_bytes()[-4000:].decode("utf-8", "replace")

    def dispose(self) -> None:
        """Kill what is left of the process group and remove the temp dir. Never raises."""
        self._kill_group()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._stderr.close()
        self._tmp.cleanup()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone, which is the normal case
        self.process.wait()


class _SpareChild:
    """One child started ahead of need: it waits on stdin, its imports done.

    Interpreter start and imports then happen between trials instead of inside
    one. Only for children without site-packages (their env is policy-free);
    limits are applied by the child after it reads the request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: _Child | None = None
        self._registered = False

    def take(self) -> _Child | None:
        with self._lock:
            child, self._spare = self._spare, None
        if child is not None and not child.alive():
            child.dispose()
            return None
        return child

    def refill(self) -> None:
        with self._lock:
            if self._spare is not None:
                return
            if not self._registered:
                atexit.register(self.close)
                self._registered = True
        child = _Child(TrialPolicy.default())
        with self._lock:
            kept = self._spare is None
            if kept:
                self._spare = child
        if not kept:
            child.dispose()  # another thread refilled first

    def close(self) -> None:
        with self._lock:
            child, self._spare = self._spare, None
        if child is not None:
            child.dispose()


_SPARE = _SpareChild()


def _read_report(path: Path) -> dict[str, object] | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        return None
    if not data or len(data) > _MAX_REPORT_BYTES:
        return None
    try:
        report = json.loads(data)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _text(report: Mapping[str, object], key: str) -> str | None:
    value = report.get(key)
    return value if isinstance(value, str) else None


def _result_from_report(report: Mapping[str, object], duration: float) -> TrialResult:
    # The child is untrusted once generated code ran: read every field defensively.
    stdout = _text(report, "stdout") or ""
    call_s = report.get("call_s")
    result = TrialResult(
        ok=report.get("ok") is True,
        value_repr=_text(report, "value_repr"),
        error_name=_text(report, "error_name"),
        error_message=_text(report, "error_message"),
        traceback=_text(report, "traceback"),
        duration_s=duration,
        call_s=float(call_s) if isinstance(call_s, int | float) else 0.0,
        value_type=_text(report, "value_type"),
        stdout=stdout,
        blocked=_texts(report, "blocked"),
        skipped_methods=_texts(report, "skipped_methods"),
        ui_check_skipped=_text(report, "ui_check_skipped") or "",
        behaviour=_digest(_text(report, "behaviour")),
        did_nothing=report.get("did_nothing") is True,
        checks=tuple(v is True for v in _list(report, "checks")),
    )
    if result.ok and result.blocked:
        # The method caught the sandbox's exception and carried on: still a failure.
        return replace(result, ok=False, error_name="SandboxViolation", error_message=result.blocked[0])
    if result.ok and result.value_type == "NoneType" and stdout.strip():
        message = f"the method returned None and printed {short_repr(stdout.strip())}"
        return replace(result, ok=False, error_name=PRINTED_INSTEAD_OF_RETURNING, error_message=message)
    return result


def _texts(report: Mapping[str, object], key: str) -> tuple[str, ...]:
    return tuple(v for v in _list(report, key) if isinstance(v, str))


def _list(report: Mapping[str, object], key: str) -> list[object]:
    values = report.get(key)
    return values if isinstance(values, list) else []


def _digest(behaviour: str | None) -> str:
    return hashlib.sha256(behaviour.encode("utf-8", "replace")).hexdigest() if behaviour else ""


def _killed_result(
    returncode: int, timed_out: bool, stderr: str, duration: float, policy: TrialPolicy
) -> TrialResult:
    if timed_out:
        name, message = "TimeoutError", f"the method ran past {policy.wall_seconds:g} s and was killed"
    elif returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        name, message = "TimeoutError", f"the method used more than {policy.cpu_seconds} s of CPU"
    elif returncode == -signal.SIGSEGV:
        name, message = "MemoryError", "the trial process crashed (memory limit or interpreter fault)"
    else:
        name = "TrialCrashed"
        last = stderr.strip().splitlines()[-1:] or [f"exit status {returncode}"]
        message = f"the trial process ended without a report: {last[0]}"
    log.info("trial ended without a report: rc=%s timed_out=%s", returncode, timed_out)
    return TrialResult(False, None, name, message, None, duration)
