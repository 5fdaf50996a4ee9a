"""Running the escape corpus through real daemons: start, drive each case, record what came out.

A daemon here is ``python -m batos_core.daemon --backend scripted`` with one
attempt and one candidate per miss (``BATOS_JIT_ATTEMPTS=1``,
``--candidates 1``), so each miss consumes exactly one scripted reply: the
case's attack source. Its ``BATOS_*`` directories lie under the test's tmp
dir; readiness is the ``--ready-fd`` line, never a sleep.

``run_corpus`` drives every case in corpus order before any assertion runs,
so the script's order never depends on which tests pytest selected. Cases
that may damage the whole process (a write to the shared ``batos`` API, to
a class, to ``builtins``) get a daemon of their own; the rest share one,
each on its own selector. A daemon that dies mid-case is recorded against
that case and the remaining cases go on in a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escape_corpus import EscapeCase

from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.builders import (
    get_full_state_request,
    history_request,
    inspect_request,
    send_request,
    shutdown_request,
)
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo, read_connection_file

READY_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
RECEIVER = "genesis"
#: The slot holding another stored object: in the trial it is only a placeholder.
FRIEND_SLOT = "friend"


def fenced(source: str) -> str:
    """The case's source as a model writes it: a python fence with a line of chatter."""
    return f"Here is the method:\n\n```python\n{source.rstrip()}\n```\n"


@dataclass
class EscapeDaemon:
    """One scripted daemon subprocess and where its log and stdout/stderr go."""

    proc: subprocess.Popen[bytes]
    info: ConnectionInfo
    log_path: Path
    output_path: Path

    def call(self, message: Mapping[str, Any], timeout: float = CALL_TIMEOUT_S) -> dict[str, Any]:
        """One request on a fresh client; the reply (maybe an error_reply)."""
        with Client.from_connection_info(self.info, timeout=timeout, retries=0) as client:
            return client.request(message)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_size(self) -> int:
        return _size(self.log_path) + _size(self.output_path)

    def text_since(self, offsets: tuple[int, int]) -> str:
        """The daemon log and its stdout/stderr written since ``offsets`` (see ``offsets``)."""
        return _read_from(self.log_path, offsets[0]) + _read_from(self.output_path, offsets[1])

    def offsets(self) -> tuple[int, int]:
        return _size(self.log_path), _size(self.output_path)

    def stop(self) -> None:
        """Ask for a shutdown and wait; kill when that does not end it."""
        if self.alive():
            with contextlib.suppress(Exception):
                self.call(shutdown_request(), timeout=5.0)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")


def start_daemon(root: Path, replies: Sequence[str]) -> EscapeDaemon:
    """A scripted daemon on the image under `root` (made when new) whose model answers `replies` in order.

    Raises RuntimeError (with the log) when it does not report ready.
    """
    runtime, state, data = root / "run", root / "state", root / "data"
    for folder in (root, runtime, state, data):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(runtime, 0o700)
    image, script = root / "image.fs", root / "script.json"
    script.write_text(json.dumps(list(replies)))
    log_path, output_path = state / "daemon.log", state / "daemon.out"
    env = dict(os.environ)
    env.update(
        BATOS_RUNTIME_DIR=str(runtime),
        BATOS_STATE_DIR=str(state),
        BATOS_DATA_DIR=str(data),
        BATOS_JIT_ATTEMPTS="1",
        BATOS_JIT_CANDIDATES="1",
    )
    read_end, write_end = os.pipe()
    args = ["--image", str(image), "--runtime-dir", str(runtime), "--ready-fd", str(write_end)]
    args += ["--log-file", str(log_path), "--backend", "scripted", "--model", str(script)]
    args += ["--candidates", "1"]
    with output_path.open("ab") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batos_core.daemon", *args],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=(write_end,),
            env=env,
        )
    os.close(write_end)
    try:
        line = _ready_line(read_end, READY_TIMEOUT_S)
    finally:
        os.close(read_end)
    if not line.startswith("ready "):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise RuntimeError(f"the daemon did not start ({line!r}): {_read_from(log_path, 0)}")
    info = read_connection_file(DaemonConfig(image=str(image), runtime_dir=runtime).connection_path())
    return EscapeDaemon(proc, info, log_path, output_path)


def _ready_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


@dataclass
class CallRecord:
    """One send of the case's selector and everything it left behind."""

    label: str  # "first" (the miss: vet, trial, install, call), "later", "other"
    args: list[Any]
    reply: dict[str, Any]
    #: Slots of the receiver whose value this call added or changed (get_full_state form).
    changed_slots: dict[str, Any]
    #: Daemon log plus the daemon's stdout/stderr written during the call.
    log_text: str

    @property
    def failed(self) -> bool:
        return self.reply.get("type") == "error_reply"


@dataclass
class CaseRun:
    """What driving one case through a daemon showed."""

    case: EscapeCase
    sentinel: Path
    calls: list[CallRecord] = field(default_factory=list)
    #: The change-log records of the case's selector (install or reject), sources included.
    history: list[dict[str, Any]] = field(default_factory=list)
    daemon_died: bool = False
    #: Why the run could not be judged (the harness's fault, not the attack's), or "".
    broken: str = ""

    @property
    def installed(self) -> bool:
        return any(record.get("action") == "install" for record in self.history)

    def outcome(self) -> str:
        """``refused`` (vet or trial), ``raised`` (installed, every armed call raised), ``returned``."""
        first = self.calls[0] if self.calls else None
        if first is not None and first.failed and not self.installed:
            return "refused"
        armed = [call for call in self.calls if self.case.armed_on(call.label)]
        return "raised" if armed and all(call.failed for call in armed) else "returned"


def run_corpus(cases: Sequence[EscapeCase], root: Path) -> dict[str, CaseRun]:
    """Drive every case (in order) through daemons under `root`; one CaseRun per case name."""
    sentinels = root / "sentinels"
    sentinels.mkdir(parents=True)
    runs: dict[str, CaseRun] = {}
    batches: list[list[EscapeCase]] = []
    for case in cases:
        if case.isolated or case.reopen or not batches or batches[-1][0].isolated:
            batches.append([case])
        else:
            batches[-1].append(case)
    started = 0
    for batch in batches:
        pending = list(batch)
        while pending:
            started += 1
            replies = [fenced(case.source_for(sentinels / case.name)) for case in pending]
            daemon = start_daemon(root / f"daemon-{started}", replies)
            try:
                _prepare(daemon)
                while pending:
                    case = pending.pop(0)
                    runs[case.name] = _run_case(daemon, case, sentinels / case.name)
                    if runs[case.name].daemon_died:
                        break
            finally:
                daemon.stop()
        if batch[0].reopen and batch[0].name in runs:
            _reopen(root / f"daemon-{started}", runs[batch[0].name])
    return runs


def _reopen(root: Path, run: CaseRun) -> None:
    """Start a daemon on the case's image again and read the receiver: what the image's
    pickles do when they are loaded shows up as a "reopen" call."""
    daemon = start_daemon(root, [])
    try:
        offsets = daemon.offsets()
        state = daemon.call(get_full_state_request(RECEIVER))
        run.calls.append(CallRecord("reopen", [], state, {}, daemon.text_since(offsets)))
    finally:
        daemon.stop()


def _prepare(daemon: EscapeDaemon) -> None:
    """Give the receiver a slot holding another stored object (its parent)."""
    reply = daemon.call(inspect_request(RECEIVER))
    assert reply["type"] == "inspect_reply", reply
    parent = next(slot for slot in reply["slots"] if slot["name"] == "parent*")["value"]
    reply = daemon.call(send_request(RECEIVER, "setSlot:value:", [FRIEND_SLOT, parent]))
    assert reply["type"] == "send_reply", reply


def _run_case(daemon: EscapeDaemon, case: EscapeCase, sentinel: Path) -> CaseRun:
    run = CaseRun(case, sentinel)
    plan = [("first", case.first_args), ("later", case.first_args)]
    if case.other_args is not None:
        plan.append(("other", case.other_args))
    for label, args in plan:
        try:
            run.calls.append(_call(daemon, case, label, list(args)))
        except Exception as error:  # a timeout, a dead socket: judged below
            if not daemon.alive():
                run.daemon_died = True
                return run
            run.broken = f"{label} call: {type(error).__name__}: {error}"
            return run
        if not daemon.alive():
            run.daemon_died = True
            return run
        if label == "first":
            run.history = _history(daemon, case.python_name)
            run.broken = _consumed_other_reply(run, case)
            if run.broken or not run.installed:
                # Refused: a later call would only be another miss, answered by the next case's reply.
                return run
    return run


def _call(daemon: EscapeDaemon, case: EscapeCase, label: str, args: list[Any]) -> CallRecord:
    before = _state(daemon)
    offsets = daemon.offsets()
    reply = daemon.call(send_request(RECEIVER, case.selector, args))
    after = _state(daemon) if daemon.alive() else {}
    changed = {name: value for name, value in after.items() if before.get(name) != value}
    return CallRecord(label, args, reply, changed, daemon.text_since(offsets))


def _state(daemon: EscapeDaemon) -> dict[str, Any]:
    reply = daemon.call(get_full_state_request(RECEIVER))
    if reply.get("type") != "get_full_state_reply":
        return {"<get_full_state failed>": reply}
    state: dict[str, Any] = reply["state"]
    return state


def _history(daemon: EscapeDaemon, python_name: str) -> list[dict[str, Any]]:
    reply = daemon.call(history_request("", python_name, 100, include_source=True))
    assert reply["type"] == "history_reply", reply
    entries: list[dict[str, Any]] = reply["entries"]
    return entries


def _consumed_other_reply(run: CaseRun, case: EscapeCase) -> str:
    """Why the first call's records do not show this case's source (the script got out of step), or ""."""
    header = f"def {case.python_name}("
    if not any(header in str(record.get("source", "")) for record in run.history):
        return f"no change-log record of {case.python_name} holds this case's source: {run.history!r}"
    return ""


def harm_found(run: CaseRun, markers: Sequence[str]) -> list[str]:
    """Every place a harm marker showed up: replies, changed slots, daemon log, change log."""
    found: list[str] = []
    for call in run.calls:
        places = {
            "reply": json.dumps(call.reply, default=repr),
            "slots": json.dumps(call.changed_slots, default=repr),
            "daemon log": call.log_text,
        }
        for place, text in places.items():
            found += [f"{call.label} call: {marker!r} in the {place}" for marker in markers if marker in text]
    # The prompt shows the receiver's slots: an earlier case's leak would be blamed on this one.
    records = [
        {**record, "provenance": {k: v for k, v in record.get("provenance", {}).items() if k != "prompt"}}
        for record in run.history
    ]
    history = json.dumps(records, default=repr)
    found += [f"{marker!r} in the change log" for marker in markers if marker in history]
    return found
