"""The daemon's supervisor: restarts a daemon wedged in C code (standard library only).

A method that runs C code holding the GIL (a catastrophic regular expression,
say) stops the daemon's event loop: no status, no cancel, no stop is
answered until it returns. `python -m batos_core.daemon.supervisor` (what
`batos daemon start` runs) takes the daemon's own arguments, starts
``python -m batos_core.daemon`` as its child with ``BATOS_SUPERVISED=1`` and
watches, from outside, the beat the daemon's event loop writes into its
vitals file (`vitals`). Order of events when the beat stops for
``--wedge-timeout`` seconds (default 10, ``BATOS_WEDGE_TIMEOUT``):

1. SIGUSR1: the daemon's faulthandler (C, no GIL needed) appends every
   thread's stack to ``<image id>.threads``; each thread's CPU time is read
   before and after (``/proc``);
2. if the loop beat meanwhile, the daemon recovered by itself: nothing more;
3. SIGKILL. Nothing acknowledged is lost: a reply is sent only after its
   transaction is durable, and FileStorage drops an unfinished commit;
4. `wedge.find_culprit` names the request and the method; the report goes
   to ``<image id>.wedge.json``;
5. the daemon starts again with the same arguments: a standby process
   (``--standby``, what `batos upgrade` uses), started once the loop had been
   silent for half the wedge timeout, already has everything imported and
   only opens the image on its go line (`HandoverGo.restart`); without one,
   a fresh process with ``--accept-since-ns``. Either way its replay guard
   accepts what was signed since the kill (clients re-send when the
   connection drops), and it suspends the method before it serves
   (`suspension.apply_wedge_report`) and logs it. The client that wedged it
   gets ``method_suspended`` for its re-sent request. A standby whose daemon
   beats again is stopped.

What else the supervisor does, and does not do:

* it follows the pidfile: after `batos upgrade` the successor (not its
  child) is the daemon it watches, and a restart uses the successor's
  command line (``/proc/PID/cmdline``);
* SIGTERM or SIGINT (`batos daemon stop`, Ctrl-C) is passed to the daemon,
  which drains and exits; the supervisor then exits too. A daemon that is
  wedged while stopping is killed after the wedge timeout, its method is
  still reported (suspended at the next start), and it is not restarted;
* a daemon that exits by itself (status 0 or an error status) or crashes
  (killed by a signal the supervisor did not send, or gone with its pidfile
  left behind) is not restarted: the supervisor logs why and exits, and the
  next `batos` command starts a new daemon as it would without a supervisor.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from batos_core import daemon_config
from batos_core.daemon import vitals, wedge
from batos_core.daemon_config import DEFAULT_WEDGE_TIMEOUT_S, DaemonConfig
from batos_core.places import pid_alive
from batos_core.protocol.errors import ProtocolError

log = logging.getLogger("batos_core.daemon.supervisor")

POLL_S = 0.1
#: The longest wait for the faulthandler dump (it is written in milliseconds).
DUMP_WAIT_S = 1.0
#: The least time between the two CPU samples that tell the GIL holder apart.
CPU_SAMPLE_S = 0.2
START_TIMEOUT_S = 120.0
#: A standby is started when the loop has been silent this fraction of the wedge timeout.
STANDBY_AT = 0.5
KILL_WAIT_S = 10.0
SUPERVISED_ENV = "BATOS_SUPERVISED"
EXIT_CONFIG_ERROR = 5  # as the daemon's (`lifecycle`)
#: Options of one daemon process that a restart must not repeat: name -> takes a value.
_ONE_OFF_OPTIONS = {"--standby": False, "--go-fd": True, "--ready-fd": True, "--accept-since-ns": True}


@dataclass(frozen=True)
class ExitVerdict:
    """What the supervisor does after the daemon it watches is gone."""

    follow: int | None  # a successor's pid to watch instead; None: the supervisor exits
    reason: str


def judge_exit(
    *, pid: int, status: int | None, pidfile_pid: int | None, pidfile_pid_alive: bool
) -> ExitVerdict:
    """Decide after daemon `pid` is gone. `status` is its exit status when it was
    our child (negative: killed by that signal), None otherwise."""
    if pidfile_pid is not None and pidfile_pid != pid and pidfile_pid_alive:
        return ExitVerdict(pidfile_pid, f"daemon {pid} handed the image over to {pidfile_pid}")
    if status is None:
        if pidfile_pid == pid:
            return ExitVerdict(None, f"daemon {pid} is gone and left its pidfile (a crash?); not restarted")
        return ExitVerdict(None, f"daemon {pid} stopped")
    if status == 0:
        return ExitVerdict(None, f"daemon {pid} stopped")
    if status < 0:
        return ExitVerdict(None, f"daemon {pid} crashed (signal {-status}); not restarted")
    return ExitVerdict(None, f"daemon {pid} exited with status {status}; not restarted")


def is_wedged(*, beating: bool, last_change: float, now: float, timeout: float) -> bool:
    """A daemon that has beaten at least once and not since `timeout` seconds is wedged."""
    return beating and now - last_change >= timeout


def restart_argv(cmdline: list[str]) -> list[str]:
    """The daemon's command line without its one-off options (``--standby``, the pipes)."""
    argv: list[str] = []
    skip = False
    for arg in cmdline:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _ONE_OFF_OPTIONS:
            skip = _ONE_OFF_OPTIONS[name] and "=" not in arg
            continue
        argv.append(arg)
    return argv


def thread_cpu(pid: int) -> dict[int, int]:
    """CPU ticks (user + system) of each thread of `pid`, by native thread id ({} off Linux)."""
    ticks: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                ticks[int(name)] = int(fields[11]) + int(fields[12])
    return ticks


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return [a.decode(errors="surrogateescape") for a in raw.split(b"\0") if a] or None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and (remaining := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


class Standby:
    """A daemon process started with ``--standby``: imported, not yet serving.

    It writes ``standby`` on its ready pipe when it waits for the go line,
    then, after `go`, ``ready <endpoint>`` (or ``error ...``).
    """

    def __init__(self, command: list[str]) -> None:
        """Start it; raises OSError."""
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        args = [*command, "--standby", "--go-fd", str(go_r), "--ready-fd", str(ready_w)]
        try:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, pass_fds=(ready_w, go_r), env=_supervised_env()
            )
        except OSError:
            for fd in (ready_r, ready_w, go_r, go_w):
                os.close(fd)
            raise
        os.close(ready_w)
        os.close(go_r)
        self._ready_fd, self._go_fd = ready_r, go_w

    def go(self, killed_ns: int, old_pid: int) -> str:
        """Wait until it is on standby, send the go line of a restart, and return
        its ready line ('' if it died or never said it)."""
        from batos_core.upgrade.handover import HandoverGo

        try:
            if _read_line(self._ready_fd, START_TIMEOUT_S) != "standby":
                return ""
            os.write(self._go_fd, HandoverGo.restart(killed_ns, old_pid).to_line())
            os.close(self._go_fd)
            self._go_fd = -1
            return _read_line(self._ready_fd, START_TIMEOUT_S)
        except OSError:
            return ""
        finally:
            self._close()

    def stop(self) -> None:
        """Not needed after all: stop it (it holds nothing yet)."""
        self._close()  # a standby whose go pipe closes exits by itself
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(KILL_WAIT_S)

    def _close(self) -> None:
        for fd in (self._ready_fd, self._go_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._ready_fd = self._go_fd = -1


def _supervised_env() -> dict[str, str]:
    return dict(os.environ, **{SUPERVISED_ENV: "1"})


class Supervisor:
    """Runs and watches the daemon of one image (see the module docstring)."""

    def __init__(self, config: DaemonConfig, daemon_argv: list[str], wedge_timeout: float) -> None:
        self.config = config
        self.wedge_timeout = wedge_timeout
        self.command = [sys.executable, "-m", "batos_core.daemon", *daemon_argv]
        self.runtime_dir = config.resolved_runtime_dir()  # checked as the daemon checks it
        self.child: subprocess.Popen[bytes] | None = None
        self.pid = 0  # the daemon watched now
        self.stopping = False
        self._command_line = self.command  # of the daemon killed last (a successor's after an upgrade)
        self.killed_ns = 0  # wall clock just before the last kill
        self._killed_pid = 0
        self.standby: Standby | None = None  # warmed while the loop is silent

    # -- the process --------------------------------------------------------

    def run(self, ready_fd: int | None) -> int:
        """Start the daemon (its ready line goes to `ready_fd`), watch it until
        it is gone for good; returns the supervisor's exit status."""
        pid_path = self.config.supervisor_pid_path()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop_signal)
        try:
            line = self._start(self.command)
            if line.startswith("ready"):
                # Only now: the daemon holds the image's lock, so no other
                # supervisor of this image got this far.
                pid_path.write_text(f"{os.getpid()}\n")
            _signal_ready(ready_fd, line or "error the daemon exited before it was ready")
            if not line.startswith("ready"):
                assert self.child is not None
                return self.child.wait() or 1
            if self.stopping:  # asked to stop before the daemon had a pid
                self._on_stop_signal(signal.SIGTERM, None)
            log.info(
                "supervising daemon %d (wedge timeout %g s; log lines of the supervisor name it)",
                self.pid,
                self.wedge_timeout,
            )
            self._watch()
            return 0
        finally:
            self._drop_standby()
            if _read_pid(pid_path) == os.getpid():
                pid_path.unlink(missing_ok=True)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("stop requested (signal %d): stopping daemon %d, no restart", signum, self.pid)
        self.stopping = True
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def _start(self, command: list[str]) -> str:
        """Start the daemon as our child and return its ready line ('' if none)."""
        read_end, write_end = os.pipe()
        self.child = subprocess.Popen(
            [*command, "--ready-fd", str(write_end)],
            stdin=subprocess.DEVNULL,
            pass_fds=(write_end,),
            env=_supervised_env(),
        )
        self.pid = self.child.pid
        os.close(write_end)
        try:
            return _read_line(read_end, START_TIMEOUT_S)
        finally:
            os.close(read_end)

    # -- watching -----------------------------------------------------------

    def _status(self) -> tuple[bool, int | None]:
        """Whether the watched daemon lives, and its exit status if it was our child."""
        if self.child is not None and self.child.pid == self.pid:
            status = self.child.poll()
            return status is None, status
        return pid_alive(self.pid), None

    def _watch(self) -> None:
        last: vitals.Beat | None = None
        last_change = time.monotonic()
        beating = False
        vitals_path = self.config.vitals_path()
        while True:
            time.sleep(POLL_S)
            alive, status = self._status()
            if not alive:
                pidfile_pid = _read_pid(self.config.pid_path())
                verdict = judge_exit(
                    pid=self.pid,
                    status=status,
                    pidfile_pid=pidfile_pid,
                    pidfile_pid_alive=pidfile_pid is not None and pid_alive(pidfile_pid),
                )
                log.info("%s", verdict.reason)
                if verdict.follow is None:
                    return
                # The successor may have beaten (and wedged) before we watched it.
                self.pid, last_change = verdict.follow, time.monotonic()
                beating = last is not None and last.pid == self.pid
                if self.stopping:
                    self._on_stop_signal(signal.SIGTERM, None)
                continue
            now = time.monotonic()
            beat = vitals.read_beat(vitals_path)
            if beat != last:
                last, last_change = beat, now
                beating = beat is not None and beat.pid == self.pid
                self._drop_standby()  # it beats: no restart is coming
            if (
                beating
                and self.standby is None
                and not self.stopping
                and (now - last_change >= STANDBY_AT * self.wedge_timeout)
            ):
                self._warm_standby(now - last_change)
            if is_wedged(beating=beating, last_change=last_change, now=now, timeout=self.wedge_timeout):
                if not self._end_wedge(now - last_change, last):
                    last_change = time.monotonic()  # it recovered by itself
                    continue
                if self.stopping or not self._restart():
                    return
                beating, last_change = False, time.monotonic()

    def _end_wedge(self, silent_s: float, beat: vitals.Beat | None) -> bool:
        """Dump, kill and report the wedged daemon; False if it beat again meanwhile."""
        pid = self.pid
        log.warning(
            "daemon %d: its event loop has not run for %.1f s: wedged; dumping its threads", pid, silent_s
        )
        dump_path = self.config.thread_dump_path()
        offset = dump_path.stat().st_size if dump_path.exists() else 0
        cpu_before, sampled = thread_cpu(pid), time.monotonic()
        self._command_line = _cmdline(pid) or self.command
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR1)
        dump = _wait_for_dump(dump_path, offset)
        time.sleep(max(0.0, CPU_SAMPLE_S - (time.monotonic() - sampled)))
        cpu_after = thread_cpu(pid)
        if vitals.read_beat(self.config.vitals_path()) != beat:
            log.warning("daemon %d: its event loop ran again; not killed", pid)
            return False
        # Taken before the kill: clients re-send when they see the disconnect,
        # which can come before this process learns the daemon is gone.
        killed_ns = time.time_ns()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._await_death(pid)
        self.killed_ns, self._killed_pid = killed_ns, pid
        gained = {tid: cpu_after.get(tid, 0) - ticks for tid, ticks in cpu_before.items()}
        report = wedge.find_culprit(
            wedge.parse_dump(dump),
            vitals.read_workers(self.config.vitals_path()),
            gained,
            pid=pid,
            time=time.time(),
            silent_s=silent_s,
        )
        with contextlib.suppress(OSError):
            os.truncate(dump_path, 0)
        if report is None:
            log.error("killed wedged daemon %d; no worker was running a request: nothing to suspend", pid)
            return True
        report.write(self.config.wedge_report_path())
        log.error(
            "killed wedged daemon %d: request %s (%s %s) was running method %s; it will be suspended",
            pid,
            report.request_id,
            report.receiver,
            report.request_selector,
            report.method_selector or report.request_selector or "?",
        )
        for frame in report.stack[:8]:
            log.error("  %s", frame)
        return True

    def _await_death(self, pid: int) -> None:
        if self.child is not None and self.child.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.wait(KILL_WAIT_S)
            return
        deadline = time.monotonic() + KILL_WAIT_S
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _warm_standby(self, silent_s: float) -> None:
        command = restart_argv(_cmdline(self.pid) or self.command)
        try:
            self.standby = Standby(command)
        except OSError as exc:
            log.error("could not start a standby daemon: %s", exc)
            return
        log.info(
            "daemon %d: silent for %.1f s; standby %d ready to replace it",
            self.pid,
            silent_s,
            self.standby.proc.pid,
        )

    def _drop_standby(self) -> None:
        if self.standby is not None:
            self.standby.stop()
            self.standby = None

    def _restart(self) -> bool:
        """Start the daemon again on the same image (the standby, if one was
        started); False if it did not start."""
        started = time.monotonic()
        standby, self.standby = self.standby, None
        line = ""
        if standby is not None:
            self.child, self.pid = standby.proc, standby.proc.pid
            line = standby.go(self.killed_ns, self._killed_pid)
            if not line.startswith("ready"):
                log.error(
                    "the standby daemon did not take over (%s); starting a new one", line or "no ready line"
                )
                standby.stop()
        if not line.startswith("ready"):
            command = [*restart_argv(self._command_line), "--accept-since-ns", str(self.killed_ns)]
            line = self._start(command)
        if not line.startswith("ready"):
            log.error("the restarted daemon did not start (%s); giving up", line or "no ready line")
            return False
        log.warning("restarted the daemon as pid %d in %.2f s", self.pid, time.monotonic() - started)
        if self.stopping:
            self._on_stop_signal(signal.SIGTERM, None)
        return True


def _signal_ready(fd: int | None, line: str) -> None:
    """Pass the daemon's ready (or error) line on to whoever started the supervisor."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, line.encode() + b"\n")
            os.close(fd)


def _wait_for_dump(path: Path, offset: int) -> str:
    """What faulthandler appended to `path` after `offset`, once it stops growing."""
    deadline = time.monotonic() + DUMP_WAIT_S
    size = offset
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            now = path.stat().st_size
        except OSError:
            continue
        if now > offset and now == size:
            break
        size = now
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def build_parser() -> argparse.ArgumentParser:
    """The daemon's own options (one home: `daemon_config.build_parser`) and the
    supervisor's ``--wedge-timeout``; all but that one are passed on to the daemon."""
    parser = daemon_config.build_parser()
    parser.prog = "python -m batos_core.daemon.supervisor"
    parser.description = (
        "Run a batos daemon and restart it when C code wedges it. "
        "Other arguments are the daemon's (python -m batos_core.daemon --help)."
    )
    parser.add_argument(
        "--wedge-timeout",
        type=float,
        default=None,
        metavar="S",
        help=f"seconds without an event-loop beat that count as a wedge "
        f"(default: BATOS_WEDGE_TIMEOUT or {DEFAULT_WEDGE_TIMEOUT_S:g})",
    )
    return parser


def wedge_timeout_from(value: float | None) -> float:
    """The wedge timeout: `value`, else ``BATOS_WEDGE_TIMEOUT``, else the default.
    Raises ValueError for a value that is not a positive number."""
    raw = value if value is not None else os.environ.get("BATOS_WEDGE_TIMEOUT", DEFAULT_WEDGE_TIMEOUT_S)
    timeout = float(raw)
    if not timeout > 0:
        raise ValueError(f"the wedge timeout must be a positive number of seconds, not {raw!r}")
    return timeout


def main(argv: list[str] | None = None) -> int:
    from batos_core.daemon.log_format import setup_logging
    from batos_core.private_files import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)
    argv = list(sys.argv[1:] if argv is None else argv)
    args, _ = build_parser().parse_known_args(argv)
    setup_logging(args.log_file, args.log_level)
    try:
        timeout = wedge_timeout_from(args.wedge_timeout)
    except ValueError as exc:
        log.error("%s", exc)
        _signal_ready(args.ready_fd, f"error {exc}")
        return EXIT_CONFIG_ERROR
    config = daemon_config.config_from_args(args)
    daemon_argv = restart_argv(_without(argv, "--wedge-timeout"))
    try:
        supervisor = Supervisor(config, daemon_argv, timeout)
    except (ProtocolError, OSError, ValueError) as exc:  # the runtime dir, the instance name
        log.error("refusing to start: %s", exc)
        _signal_ready(args.ready_fd, f"error {exc}")
        return EXIT_CONFIG_ERROR
    return supervisor.run(args.ready_fd)


def _without(argv: list[str], option: str) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
