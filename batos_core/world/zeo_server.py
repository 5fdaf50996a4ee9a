"""A ZEO storage server for one FileStorage image, started and stopped by batos.

The server is ZEO's own ``runzeo`` (``python -m ZEO.runzeo``) in its own
session, so it outlives the command that started it. batos keeps two files
beside the image, both 0600 (`batos_core.private_files`), and the server runs
under umask 077 so that everything it creates is private as well:

* ``IMAGE.zeo.json``: the server's pid and address, written once it listens;
* ``IMAGE.zeo.log``: the server's output (ZEO logs to stderr).

Order of checks in `serve`: an image already served by a live server
(`AlreadyServed`), the address taken (`AddressInUse`, found by binding it
first), then the server's own start: it must listen within the timeout, or
`ServerStartFailed` quotes the last line of its log (a FileStorage locked by a
running daemon is said as such). A server that failed is killed; nothing is
left but its log.

A record whose pid is gone, or belongs to a process that is not ``runzeo``, is
stale: `zeo_record.running` ignores it and `serve` replaces it. The record,
its reading and the address probe live in `batos_core.zeo_record`, which the
image uses too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from batos_core.private_files import PRIVATE_UMASK, make_private_file
from batos_core.world.errors import AddressInUse, AlreadyServed, NotServed, ServerStartFailed
from batos_core.zeo_record import RUNZEO, ServerRecord, is_runzeo, log_path, reachable, record_path, running

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# Servers this process started: their Popen objects reap them (a zombie still answers kill(pid, 0)).
_started: list[subprocess.Popen[bytes]] = []


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to (host, port); ValueError names what is wrong."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected HOST:PORT (for example 127.0.0.1:8100), got {text!r}")
    return host, int(port_text)


def serve(image: Path, host: str, port: int, *, timeout: float = START_TIMEOUT_S) -> ServerRecord:
    """Start a ZEO server for `image` on host:port and wait until it listens.

    Raises AlreadyServed, AddressInUse or ServerStartFailed (see the module
    docstring for the order); OSError if the log cannot be created.
    """
    current = running(image)
    if current is not None:
        raise AlreadyServed(
            f"{image} is already served on {current.host}:{current.port} (pid {current.pid}); "
            f"stop it first: batos image stop {image}"
        )
    _refuse_address_in_use(host, port)
    logfile = log_path(image)
    make_private_file(logfile)
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", RUNZEO, "-a", f"{host}:{port}", "-f", str(image)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=PRIVATE_UMASK,
        )
    _started.append(proc)
    try:
        _wait_listening(proc, host, port, timeout, logfile)
    except ServerStartFailed:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise
    record = ServerRecord(image, proc.pid, host, port)
    _write_record(record)
    log.info("ZEO server pid %d serves %s on %s:%d", proc.pid, image, host, port)
    return record


def stop(image: Path, *, timeout: float = STOP_TIMEOUT_S) -> ServerRecord:
    """SIGTERM the server of `image`, wait until it is gone, remove its record.

    Raises NotServed if none runs. A server that ignores SIGTERM for
    `timeout` seconds is killed.
    """
    record = running(image)
    if record is None:
        record_path(image).unlink(missing_ok=True)
        raise NotServed(f"no storage server started by batos serves {image}")
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    if not _wait_gone(record.pid, timeout):
        log.warning("ZEO server pid %d ignored SIGTERM for %g s: killing it", record.pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
        _wait_gone(record.pid, timeout)
    record_path(image).unlink(missing_ok=True)
    return record


def _refuse_address_in_use(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will bind: SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(
                    f"{host}:{port} is in use by another process: pick another port with --listen HOST:PORT"
                ) from None
            raise ServerStartFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _wait_listening(
    proc: subprocess.Popen[bytes], host: str, port: int, timeout: float, logfile: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reachable(host, port, timeout=0.5):
            return
        try:
            proc.wait(timeout=0.1)  # a bounded wait that notices the server dying
        except subprocess.TimeoutExpired:
            continue
        raise ServerStartFailed(f"the ZEO server exited ({proc.returncode}): {_last_error(logfile)}")
    raise ServerStartFailed(
        f"the ZEO server did not listen on {host}:{port} within {timeout:g} s; see {logfile}"
    )


def _last_error(logfile: Path) -> str:
    try:
        lines = [line.strip() for line in logfile.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    if any("LockError" in line for line in lines[-5:]):
        return "the image is locked by another process (a batos daemon? stop it: batos daemon stop)"
    return lines[-1] if lines else f"no output; see {logfile}"


def _write_record(record: ServerRecord) -> None:
    path = record_path(record.image)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": record.pid, "host": record.host, "port": record.port}, fh)
    os.replace(tmp, path)


def _is_runzeo(pid: int) -> bool:
    for proc in _started:
        if proc.pid == pid:
            return proc.poll() is None
    return is_runzeo(pid)


def _wait_gone(pid: int, timeout: float) -> bool:
    # Usually not our child, so there is nothing to wait() on: poll.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_runzeo(pid):
            return True
        time.sleep(0.05)
    return not _is_runzeo(pid)
