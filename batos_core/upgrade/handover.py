"""The hand-over between an old daemon and its successor (`batos upgrade`).

The old daemon orchestrates, on its event loop:

1. spawn ``python -m batos_core.daemon --standby`` with the same settings: it
   imports everything, checks its runtime files, writes ``standby`` on its
   ready pipe and waits on a go pipe (the old one keeps serving meanwhile);
2. suspend: stop reading, finish and answer in-flight requests, close the
   image and the socket;
3. write one JSON line on the go pipe (:class:`HandoverGo`: the upgrade's
   request id, the replay guard's state, what to record) and close it;
4. the successor opens the image, records its incarnation and the upgrade's
   reply (in one transaction), binds the same endpoint with the same key and
   writes ``ready <endpoint>``; the old daemon exits;
5. on anything else (no standby, an ``error`` line, exit, no ``ready`` within
   the timeout) the successor is killed and the old daemon reopens the image,
   rebinds and records the rollback: the service never stays down.

Clients lose nothing: requests read before the suspend are answered by the old
daemon; the rest are re-sent with the same id (on disconnect, or after their
timeout) and reach the successor, whose guard continues the old guard (an
envelope signed during the hand-over is accepted at once, none the old daemon
accepted can be replayed). A re-sent ``upgrade_request`` gets its stored reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batos_core.upgrade import incarnations
from batos_core.upgrade.host import Emit, HandoverHost

log = logging.getLogger(__name__)

#: Starting the successor and importing everything (torch included) happens
#: while the old daemon still serves, so this may be generous.
STANDBY_TIMEOUT_S = 180.0
STDERR_TAIL_LINES = 12


@dataclass(frozen=True)
class HandoverGo:
    """What the old daemon tells its successor when the image is free.

    ``via`` is ``upgrade`` (`batos upgrade`: the reply to ``request_id`` is
    stored by the successor) or ``restart`` (the supervisor killed a wedged
    daemon, `restart`: no request, nothing to answer).
    """

    request_id: str
    old_pid: int
    stopped_at: float  # wall clock when the old daemon stopped reading
    guard: dict[str, Any]  # ReplayGuard.export_state() of the old daemon
    python: str = ""
    environment: str = ""
    requirements: list[str] = field(default_factory=list)
    via: str = "upgrade"

    @classmethod
    def restart(cls, killed_ns: int, old_pid: int = 0) -> HandoverGo:
        """The go of a restart after the supervisor killed daemon `old_pid` at
        `killed_ns` (wall clock): the new replay guard accepts what was signed
        since the kill (clients re-send when the connection drops), which the
        killed daemon, wedged, cannot have accepted."""
        guard = {"start_ns": killed_ns, "floor_ns": -1, "sessions": []}
        return cls("", old_pid, killed_ns / 1e9, guard, via="restart")

    def to_line(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> HandoverGo:
        """Parse :meth:`to_line`; raises ValueError on anything else."""
        try:
            data = json.loads(line)
            return cls(**data)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a hand-over message: {exc}") from None


# -- successor side -----------------------------------------------------------


def await_go(fd: int) -> HandoverGo | None:
    """Block until the old daemon's go line arrives on `fd` (then close it).

    Returns None if the pipe closes first (the old daemon gave up or died: the
    standby process should just exit). Raises ValueError for a garbled line.
    """
    data = b""
    with os.fdopen(fd, "rb") as pipe:
        while not data.endswith(b"\n"):
            chunk = pipe.read1(1 << 16)
            if not chunk:
                break
            data += chunk
    return HandoverGo.from_line(data) if data.endswith(b"\n") else None


# -- old daemon side ----------------------------------------------------------


class Successor:
    """The standby process: its pipes, its captured stderr, and how it failed."""

    def __init__(self, proc: subprocess.Popen[bytes], ready_fd: int, go_fd: int, stderr_path: Path) -> None:
        self.proc = proc
        self._ready_fd = ready_fd
        self._go_fd: int | None = go_fd
        self._buffer = b""
        self.stderr_path = stderr_path

    @classmethod
    def spawn(cls, host: HandoverHost, python: str) -> Successor:
        """Start the standby process. Raises OSError if `python` cannot be run."""
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        stderr_path = host.successor_stderr_path()
        args = [python, *host.successor_args(), "--ready-fd", str(ready_w), "--go-fd", str(go_r)]
        try:
            with open(stderr_path, "wb") as stderr:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    pass_fds=(ready_w, go_r),
                    # Its own session: signals aimed at the old daemon's terminal
                    # or process group must not reach the successor.
                    start_new_session=True,
                )
        except OSError:
            for fd in (ready_r, ready_w, go_r, go_w):
                os.close(fd)
            raise
        os.close(ready_w)
        os.close(go_r)
        return cls(proc, ready_r, go_w, stderr_path)

    def read_line(self, timeout: float) -> str | None:
        """The next line on the ready pipe; '' if it closed, None on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._ready_fd], [], [], remaining)[0]:
                return None
            chunk = os.read(self._ready_fd, 4096)
            if not chunk:
                return ""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").strip()

    def send_go(self, go: HandoverGo) -> None:
        """Write the go line and close the pipe. Raises OSError (e.g. it died)."""
        assert self._go_fd is not None
        fd, self._go_fd = self._go_fd, None
        try:
            view = memoryview(go.to_line())
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def why(self, line: str | None, waiting_for: str, timeout: float) -> str:
        """A one-line reason for a successor that did not reach `waiting_for`."""
        if line and line.startswith("error "):
            return line[len("error ") :]
        if line is None:
            return f"the new daemon was not {waiting_for} within {timeout:g} s"
        status = self.proc.poll()
        if line == "" and status is None:
            # The pipe closes as the process exits, a moment before it can be reaped.
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = self.proc.wait(timeout=2.0)
        tail = self.stderr_tail()
        said = f": {tail[-1]}" if tail else ""
        if line:
            return f"the new daemon said {line!r} instead of {waiting_for}{said}"
        return f"the new daemon exited (status {status}) before it was {waiting_for}{said}"

    def stderr_tail(self) -> list[str]:
        with contextlib.suppress(OSError):
            lines = self.stderr_path.read_text(errors="replace").splitlines()
            return [line for line in lines if line.strip()][-STDERR_TAIL_LINES:]
        return []

    def kill(self) -> None:
        """SIGKILL it and wait (its image lock goes with it); close our pipe ends."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.close()

    def close(self) -> None:
        for fd in (self._ready_fd, self._go_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._go_fd = None


async def hand_over(daemon: HandoverHost, request: Any, emit: Emit) -> dict[str, Any] | None:
    """Run an `upgrade_request` on the old daemon's loop.

    Returns the reply to send (a stored one for a retried request, or the
    rollback's), or None when the successor serves (it answers retries from
    the reply table). Any failure of the successor, at any step, rolls back;
    only a failure to reopen the image propagates (ImageError).
    """
    stored = await asyncio.to_thread(daemon.stored_reply, request.id)
    if stored is not None:
        return stored
    python = request.python or sys.executable
    emit("phase", {"phase": "starting the new daemon", "python": python})
    try:
        successor = Successor.spawn(daemon, python)
    except OSError as exc:
        return await _roll_back(daemon, request, python, f"cannot run {python}: {exc}", 0)
    try:
        line = await asyncio.to_thread(successor.read_line, STANDBY_TIMEOUT_S)
        if line != "standby":
            reason = successor.why(line, "in standby", STANDBY_TIMEOUT_S)
            successor.kill()
            return await _roll_back(daemon, request, python, reason, successor.proc.pid)
        # A method being generated would hold the drain, and so every client,
        # for minutes: let it finish first, while the old daemon still serves.
        await daemon.settle_generations(emit, request.generation_grace_s)
        emit("phase", {"phase": "handing over", "pid": successor.proc.pid})
        stopped_at = time.time()
        guard = await daemon.suspend()
        line = await _go(successor, _go_message(request, python, stopped_at, guard), request.ready_timeout_s)
    except Exception:
        successor.kill()
        if not daemon.image_open:
            await daemon.resume()  # a bug here must not leave the image closed
        raise
    except BaseException:
        successor.kill()
        raise
    if line is not None and line.startswith("ready "):
        successor.close()
        log.info("handed the image over to pid %d in %.3f s", successor.proc.pid, time.time() - stopped_at)
        daemon.retire()
        return None
    reason = successor.why(line, "ready", request.ready_timeout_s)
    successor.kill()
    await daemon.resume()
    return await _roll_back(daemon, request, python, reason, successor.proc.pid, stopped_at)


def _go_message(request: Any, python: str, stopped_at: float, guard: dict[str, Any]) -> HandoverGo:
    return HandoverGo(
        request_id=request.id,
        old_pid=os.getpid(),
        stopped_at=stopped_at,
        guard=guard,
        python=python,
        environment=request.environment,
        requirements=list(request.requirements),
    )


async def _go(successor: Successor, go: HandoverGo, timeout: float) -> str | None:
    """Send go and wait for the successor's next line (see `Successor.read_line`)."""
    try:
        await asyncio.to_thread(successor.send_go, go)
    except OSError as exc:
        return f"error cannot hand over: {exc}"
    return await asyncio.to_thread(successor.read_line, timeout)


async def _roll_back(
    daemon: HandoverHost,
    request: Any,
    python: str,
    reason: str,
    new_pid: int,
    stopped_at: float | None = None,
) -> dict[str, Any]:
    log.warning("upgrade rolled back: %s", reason)
    reply = incarnations.upgrade_reply(
        request.id,
        outcome="rolled_back",
        old_pid=os.getpid(),
        new_pid=new_pid,
        incarnation=daemon.incarnation,
        reason=reason,
        handover_s=0.0 if stopped_at is None else time.time() - stopped_at,
    )
    await asyncio.to_thread(daemon.record_rollback, python, reason, request.id, reply)
    return reply
