"""Finding, starting and stopping the daemon of an image, from the client side.

A daemon is running for an image when its connection file names a live pid
and its socket exists, or while its supervisor restarts it after a wedge.
Commands that need one start it when it is not running (and say so on
stderr); `batos daemon start` does the same explicitly. A daemon is started
under its supervisor (`batos_core.daemon.supervisor`) unless the wedge
timeout is 0.

A shared world (``zeo://``, ``postgresql://``) may have several daemons on
this machine, each with its own instance name (`DaemonConfig.instance`). With
no instance named, a client talks to the default instance if it runs, else to
the first live one by name; `batos daemon start` starts the next free one.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from batos_cli.status import CliError, ExitStatus
from batos_core.daemon_config import DaemonConfig
from batos_core.places import pid_exists
from batos_core.settings import Settings

if TYPE_CHECKING:
    import subprocess

    from batos_core.protocol.client import Client
    from batos_core.protocol.connection import ConnectionInfo
    from batos_core.protocol.failover import FailoverClient

START_TIMEOUT_S = 60.0

# Daemons this process started. They run in their own session and outlive us;
# holding the Popen objects keeps Python from warning that they still run
# when a long-lived caller (the REPL, a test) drops them.
_started: list[subprocess.Popen[bytes]] = []


@dataclass
class Target:
    """Which image (and so which daemon) a command talks to, and how to start it."""

    settings: Settings
    image: str | None = None
    runtime_dir: str | None = None

    def config(self) -> DaemonConfig:
        config = DaemonConfig()
        image = self.image or self.settings.image
        if image:
            config.image = image
        if self.runtime_dir:
            config.runtime_dir = Path(self.runtime_dir)
        config.tcp = self.settings.tcp or None
        config.workers = self.settings.workers
        config.backend = self.settings.backend
        config.model = self.settings.model
        config.review = self.settings.review
        config.autotelic = self.settings.autotelic
        config.wedge_timeout = self.settings.wedge_timeout
        config.instance = self.settings.instance
        return config


def running(config: DaemonConfig) -> ConnectionInfo | None:
    """The connection info of a live daemon for this image, or None.

    On a shared world with no instance named: the default instance's daemon,
    else the first live one by instance name.
    """
    if config.shared_world and not config.instance:
        for instance in instances(config):
            info = _running_instance(replace(config, instance=instance))
            if info is not None:
                return info
        return None
    return _running_instance(config)


def instances(config: DaemonConfig) -> list[str]:
    """Instance names with a connection file for this world in the runtime dir,
    the default ("") first, then by name."""
    base = replace(config, instance="").image_id
    names = {path.stem[len(base) + 1 :] for path in config.resolved_runtime_dir().glob(f"{base}-*.json")}
    return ["", *sorted(names - {""})]


def free_instance(config: DaemonConfig) -> str:
    """The first instance name ("" then "2", "3", ...) with no live daemon of this world."""
    for number in range(1, 1000):
        instance = "" if number == 1 else str(number)
        if _running_instance(replace(config, instance=instance)) is None:
            return instance
    raise CliError(f"999 daemons already serve {config.image_uri} on this machine", ExitStatus.ERROR)


def _running_instance(config: DaemonConfig) -> ConnectionInfo | None:
    from batos_core.protocol.connection import read_connection_file
    from batos_core.protocol.errors import ConnectionFileError

    path = config.connection_path()
    if not path.exists():
        return None
    try:
        info = read_connection_file(path)
    except ConnectionFileError:
        return None
    if not _alive(info.pid) and supervisor_pid(config) is None:
        # Dead, and no supervisor is restarting it (that one would answer soon
        # on the same endpoint with the same key).
        return None
    if info.transport == "ipc" and not Path(info.endpoint[len("ipc://") :]).exists():
        return None
    return info


def supervisor_pid(config: DaemonConfig) -> int | None:
    """The pid of the live supervisor of this image's daemon, or None.

    A pidfile left by a supervisor that was killed may name a pid reused by
    another process: where ``/proc`` tells, a pid whose command line is not
    the supervisor's does not count (it must never get our SIGTERM).
    """
    try:
        pid = int(config.supervisor_pid_path().read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except FileNotFoundError:
        return pid if not os.path.isdir("/proc/self") else None  # no /proc here: trust the file
    except OSError:
        return None
    return pid if b"batos_core.daemon.supervisor" in cmdline else None


def _alive(pid: int) -> bool:
    for proc in _started:
        if proc.pid == pid:
            # Our own child: a zombie still answers kill(pid, 0); poll() reaps it.
            return proc.poll() is None
    # Not pid_alive: a stopping daemon counts until its parent has reaped it.
    return pid_exists(pid)


def start(
    config: DaemonConfig, *, foreground: bool = False, timeout: float = START_TIMEOUT_S
) -> ConnectionInfo:
    """Start a daemon for `config` and wait for its ready signal.

    Background mode detaches it (own session, output to its log file, which
    is created 0600 in a directory created 0700).
    Raises CliError if it reports an error or is not ready in time; the
    message names the log file.
    """
    from batos_core.private_files import make_private_dir, make_private_file

    log_path = config.log_path()
    make_private_dir(log_path.parent)
    make_private_file(log_path)  # the daemon's stderr goes here too: private before it is opened
    args = daemon_args(config)
    if config.wedge_timeout > 0:
        supervisor = ["-m", "batos_core.daemon.supervisor", "--wedge-timeout", f"{config.wedge_timeout:g}"]
        args = [*supervisor, *args[2:]]
    if foreground:
        os.execv(sys.executable, [sys.executable, *args])
    import subprocess  # only when starting a daemon: ~8 ms of every other command's start

    read_end, write_end = os.pipe()
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, *args, "--ready-fd", str(write_end), "--log-file", str(log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            pass_fds=(write_end,),
            start_new_session=True,
            close_fds=True,
        )
    os.close(write_end)
    _started.append(proc)
    try:
        line = _read_ready_line(read_end, timeout)
    finally:
        os.close(read_end)
    if line.startswith("ready"):
        info = running(config)
        if info is not None:
            return info
        line = "error: the daemon said it was ready but its connection file is missing"
    if proc.poll() is None and not line:
        proc.terminate()
    message = line[len("error ") :] if line.startswith("error ") else (line or "no ready signal")
    raise CliError(
        f"the daemon did not start: {message}", ExitStatus.DAEMON_UNAVAILABLE, hint=f"see its log: {log_path}"
    )


def daemon_args(config: DaemonConfig) -> list[str]:
    """``python``'s arguments for a daemon with `config` (`DaemonConfig.to_argv`)."""
    return ["-m", "batos_core.daemon", *config.to_argv()]


def _read_ready_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks = b""
    while b"\n" not in chunks:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        data = os.read(fd, 4096)
        if not data:
            break
        chunks += data
    return chunks.decode(errors="replace").strip()


def ensure(target: Target, notice: object = None) -> ConnectionInfo:
    """The running daemon's info, starting one first if needed (said on stderr via `notice`)."""
    config = target.config()
    info = running(config)
    if info is not None:
        return info
    info = start(config)
    if callable(notice):
        notice(f"started the batos daemon (pid {info.pid}) for {config.image_uri}; log: {config.log_path()}")
    return info


def client(target: Target, notice: object = None, *, timeout: float | None = None) -> Client | FailoverClient:
    """A protocol client connected to the image's daemon (started if needed).

    On a shared world with no instance named and several daemons of it live
    on this machine: a FailoverClient that tries the chosen one first, then
    the others by instance name.
    """
    from batos_core.protocol.client import Client

    info = ensure(target, notice)
    wait = timeout or target.settings.timeout
    config = target.config()
    if config.shared_world and not config.instance:
        others = [other for other in live_daemons(config) if other.endpoint != info.endpoint]
        if others:
            from batos_core.protocol.failover import FailoverClient

            return FailoverClient([info, *others], timeout=wait)
    return Client.from_connection_info(info, timeout=wait)


def live_daemons(config: DaemonConfig) -> list[ConnectionInfo]:
    """The live daemons of this (shared) world on this machine, by instance name."""
    found = (_running_instance(replace(config, instance=name)) for name in instances(config))
    return [info for info in found if info is not None]


def stop(config: DaemonConfig, timeout: float = 30.0) -> int | None:
    """Ask the daemon to drain and exit, and its supervisor not to restart it;
    wait until both are gone. Returns the daemon's pid, or None.

    A supervised daemon: the supervisor gets SIGTERM; it passes it on to the
    daemon (which drains as for a ``shutdown_request``), kills it if it is
    wedged, and exits. An unsupervised daemon gets a ``shutdown_request``.
    (Both at once made the request wait out its timeout on a daemon already
    closing its socket.)
    """
    from batos_core.protocol.builders import shutdown_request
    from batos_core.protocol.client import Client
    from batos_core.protocol.errors import DaemonUnavailable

    info = running(config)
    if info is None:
        return None
    supervisor = supervisor_pid(config)
    if supervisor is not None:
        try:
            os.kill(supervisor, signal.SIGTERM)
        except ProcessLookupError:
            supervisor = None  # gone meanwhile: ask the daemon itself
    if supervisor is None and _alive(info.pid):
        with (
            Client.from_connection_info(info, timeout=5.0, retries=0) as c,
            contextlib.suppress(DaemonUnavailable),
        ):
            c.request(shutdown_request())
    deadline = time.monotonic() + timeout
    pids = [info.pid] + ([supervisor] if supervisor is not None else [])
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            raise CliError(f"daemon {pid} did not stop within {timeout:g} s", ExitStatus.ERROR)
    return info.pid
