"""Fixtures for integration tests: a real UVM daemon subprocess on an ipc:// path under `tmp_path`.

Every subprocess gets an environment whose ``BATOS_*`` directories lie under
the test's `tmp_path`, so nothing touches the real home. Daemons signal
readiness on a pipe (``--ready-fd``): the fixtures wait on that line, never on
a sleep.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zmq

from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.builders import create_method_request, send_request, shutdown_request, status_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo, read_connection_file
from batos_core.protocol.constants import MAGIC
from batos_core.protocol.errors import WireError
from batos_core.protocol.signing import Envelope, compute_signature, new_session
from batos_core.protocol.wire import Signer, Verifier

#: A method that can only count right if its transaction is atomic (read, add, write).
INCREMENT_SOURCE = "def increment(self):\n    self.counter = self.counter + 1\n    return self.counter\n"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class BatosDirs:
    """The per-test directories (runtime dir 0700) and the environment that names them."""

    root: Path
    runtime_dir: Path
    state_dir: Path
    data_dir: Path
    image: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """``os.environ`` plus the ``BATOS_*`` variables pointing under `root`."""
        env = dict(os.environ)
        env.update(
            BATOS_RUNTIME_DIR=str(self.runtime_dir),
            BATOS_STATE_DIR=str(self.state_dir),
            BATOS_DATA_DIR=str(self.data_dir),
            BATOS_IMAGE=str(self.image),
            BATOS_CONFIG=str(self.root / "batos.toml"),  # never read the user's config
            BATOS_BACKEND="none",
        )
        env.pop("BATOS_TCP", None)
        env.update(extra or {})
        return env


def make_dirs(root: Path) -> BatosDirs:
    """Create the directories (runtime 0700) under `root`."""
    dirs = BatosDirs(
        root=root,
        runtime_dir=root / "run",
        state_dir=root / "state",
        data_dir=root / "data",
        image=root / "image.fs",
    )
    dirs.runtime_dir.mkdir(mode=0o700)
    os.chmod(dirs.runtime_dir, 0o700)  # mkdir's mode is filtered by the umask
    dirs.state_dir.mkdir()
    dirs.data_dir.mkdir()
    return dirs


@pytest.fixture
def batos_dirs(tmp_path: Path) -> BatosDirs:
    """Fresh batos directories under `tmp_path` (the image is not created yet)."""
    return make_dirs(tmp_path)


def daemon_config(dirs: BatosDirs, image: Path | str | None = None, instance: str = "") -> DaemonConfig:
    """The daemon's view of where its files are (connection file, pidfile) for `image`
    (a path or a URI) and, on a shared world, its `instance`."""
    return DaemonConfig(image=str(image or dirs.image), runtime_dir=dirs.runtime_dir, instance=instance)


class DaemonStartError(RuntimeError):
    """The daemon wrote ``error ...`` on its ready pipe, or exited / timed out before ``ready``."""

    def __init__(self, line: str, returncode: int | None, log: str) -> None:
        super().__init__(f"daemon did not start (exit {returncode}): {line!r}\n{log[-2000:]}")
        self.line = line
        self.returncode = returncode
        self.log = log


@dataclass
class DaemonProcess:
    """A running daemon subprocess and what a test needs to talk to it."""

    proc: subprocess.Popen[bytes]
    info: ConnectionInfo
    dirs: BatosDirs
    image: Path | str
    log_path: Path
    args: list[str]
    instance: str = ""
    clients: list[Client] = field(default_factory=list)
    raw_dealers: list[RawDealer] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def connection_path(self) -> Path:
        return daemon_config(self.dirs, self.image, self.instance).connection_path()

    @property
    def pid_path(self) -> Path:
        return daemon_config(self.dirs, self.image, self.instance).pid_path()

    def client(self, **options: Any) -> Client:
        """A new Client for this daemon (closed at teardown). Options go to `Client`."""
        options.setdefault("timeout", 30.0)
        options.setdefault("retries", 0)
        client = Client.from_connection_info(self.info, **options)
        self.clients.append(client)
        return client

    def raw(self, key: bytes | None = None) -> RawDealer:
        """A RawDealer on this daemon's endpoint, signing with `key` (default: the daemon's)."""
        dealer = RawDealer(self.info.endpoint, self.info.key if key is None else key)
        self.raw_dealers.append(dealer)
        return dealer

    def send(self, receiver: str, selector: str, *args: Any) -> dict[str, Any]:
        """Send one message on a fresh client; returns the reply dict."""
        with Client.from_connection_info(self.info, timeout=30.0, retries=0) as client:
            return client.request(send_request(receiver, selector, list(args)))

    def install_counter(self, receiver: str = "genesis") -> None:
        """Give `receiver` a ``counter`` slot at 0 and an ``increment`` method (INCREMENT_SOURCE)."""
        with Client.from_connection_info(self.info, timeout=30.0, retries=0) as client:
            reply = client.request(send_request(receiver, "setSlot:value:", ["counter", 0]))
            assert reply["type"] == "send_reply", reply
            reply = client.request(create_method_request(receiver, "increment", INCREMENT_SOURCE))
            assert reply["type"] == "create_method_reply", reply

    def status(self, timeout: float = 10.0) -> dict[str, Any]:
        with Client.from_connection_info(self.info, timeout=timeout, retries=0) as client:
            return client.request(status_request())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ask for a shutdown and wait; kill on timeout. Returns the exit code."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        for dealer in self.raw_dealers:
            dealer.close()
        self.raw_dealers.clear()
        if self.proc.poll() is None:
            with (
                contextlib.suppress(Exception),
                Client.from_connection_info(self.info, timeout=5.0, retries=0) as client,
            ):
                client.request(shutdown_request())
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stop_successor(timeout)
        return self.proc.returncode

    def _stop_successor(self, timeout: float) -> None:
        """After `batos upgrade` another process serves this image: stop it too."""
        from batos_cli import connect

        with contextlib.suppress(Exception):
            successor = connect.running(daemon_config(self.dirs, self.image, self.instance))
            if successor is None or successor.pid == self.proc.pid:
                return
            with Client.from_connection_info(successor, timeout=5.0, retries=0) as client:
                client.request(shutdown_request())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    os.kill(successor.pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)
            os.kill(successor.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL, and wait for the process to be gone (clients stay open: threads may use them)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class RawDealer:
    """A bare DEALER socket to a daemon that signs (or forges) its own frames.

    Security tests use it to send exactly the frames they mean: replays,
    tampered bodies, wrong keys, odd frame counts.
    """

    def __init__(self, endpoint: str, key: bytes, *, max_frame_bytes: int = 1 << 24) -> None:
        self.key = key
        self.signer = Signer(key, max_frame_bytes=max_frame_bytes)
        self._verifier = Verifier(key, max_frame_bytes=max_frame_bytes)
        self.socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self._raw_session = new_session()
        self._raw_counter = 0

    def sign(self, message: Mapping[str, Any]) -> list[bytes]:
        return self.signer.sign(message)

    def sign_bytes(self, body: bytes) -> list[bytes]:
        """Correctly signed frames around an arbitrary `body` (malformed-body tests).

        Uses its own envelope session so it never collides with `sign`'s counter.
        """
        self._raw_counter += 1
        envelope = Envelope(self._raw_session, self._raw_counter, time.time_ns()).to_bytes()
        return [MAGIC, compute_signature(self.key, envelope, body), envelope, body]

    def send_frames(self, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart(list(frames))

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next verified message within `timeout` seconds, or None."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not self.socket.poll(max(1, int(remaining * 1000))):
                return None
            try:
                return self._verifier.verify(self.socket.recv_multipart()).message
            except WireError:
                continue
        return None

    def request(self, message: Mapping[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Sign, send and wait for the reply with the same id (events skipped)."""
        self.send_frames(self.sign(message))
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            reply = self.receive(remaining)
            if reply is not None and reply.get("id") == message["id"] and reply["type"] != "event":
                return reply
        raise AssertionError(f"no reply to {message['id']} in {timeout} s")

    def close(self) -> None:
        self.socket.close(linger=0)


def read_ready_line(fd: int, timeout: float) -> str:
    """The first line the daemon writes on its ready pipe ('' if it closed it or timed out)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, 4096)
        if not chunk:  # every writer closed it: the daemon exited (or closed the fd)
            break
        data += chunk
    return data.decode(errors="replace").strip()


Launched = tuple[subprocess.Popen[bytes], str, Path]


def launch_daemon(
    dirs: BatosDirs,
    *,
    image: Path | str | None = None,
    instance: str = "",
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT_S,
    wedge_timeout: float | None = None,
) -> Launched:
    """Start ``python -m batos_core.daemon`` and wait for its ready line; with a
    `wedge_timeout`, under its supervisor (``python -m batos_core.daemon.supervisor``,
    which is then the process returned). `image` may be a URI (``zeo://...``), and
    `instance` names one of several daemons of such a shared world.

    Returns the process, the line (``ready <endpoint>`` or ``error ...``, or ''
    if it exited or timed out without one) and the log path.
    """
    image = image or dirs.image
    log_path = log_path or dirs.state_dir / (f"daemon-{instance}.log" if instance else "daemon.log")
    read_end, write_end = os.pipe()
    args = [
        "--image",
        str(image),
        "--runtime-dir",
        str(dirs.runtime_dir),
        "--ready-fd",
        str(write_end),
        "--log-file",
        str(log_path),
        *(["--instance", instance] if instance else []),
        *extra_args,
    ]
    module = ["batos_core.daemon"]
    if wedge_timeout is not None:
        module = ["batos_core.daemon.supervisor", "--wedge-timeout", str(wedge_timeout)]
    with open(dirs.state_dir / "daemon.stderr", "ab") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", *module, *args],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            pass_fds=(write_end,),
            env=dirs.env(env),
        )
    os.close(write_end)
    try:
        line = read_ready_line(read_end, timeout)
    finally:
        os.close(read_end)
    return proc, line, log_path


def start_daemon(
    dirs: BatosDirs,
    *,
    image: Path | str | None = None,
    instance: str = "",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT_S,
    wedge_timeout: float | None = None,
) -> DaemonProcess:
    """Start a daemon (``env``: extra variables; `wedge_timeout`: under its
    supervisor, whose process is then `DaemonProcess.proc`) and return it once
    it is ready; raises DaemonStartError otherwise."""
    image = image or dirs.image
    proc, line, log_path = launch_daemon(
        dirs,
        image=image,
        instance=instance,
        extra_args=extra_args,
        env=env,
        timeout=timeout,
        wedge_timeout=wedge_timeout,
    )
    if not line.startswith("ready "):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        stderr = dirs.state_dir / "daemon.stderr"  # tracebacks from before logging was set up
        log += stderr.read_text(errors="replace") if stderr.exists() else ""
        raise DaemonStartError(line, proc.returncode, log)
    info = read_connection_file(daemon_config(dirs, image, instance).connection_path())
    assert info.endpoint == line.split(" ", 1)[1]
    assert info.pid == proc.pid or wedge_timeout is not None
    return DaemonProcess(
        proc=proc,
        info=info,
        dirs=dirs,
        image=image,
        log_path=log_path,
        args=list(extra_args),
        instance=instance,
    )


class DaemonFactory:
    """Starts daemons for one test and stops whichever still run at teardown."""

    def __init__(self, dirs: BatosDirs) -> None:
        self.dirs = dirs
        self.started: list[DaemonProcess] = []

    def __call__(
        self,
        *,
        image: Path | str | None = None,
        instance: str = "",
        extra_args: Sequence[str] = (),
        timeout: float = READY_TIMEOUT_S,
        wedge_timeout: float | None = None,
    ) -> DaemonProcess:
        """A ready daemon; with `wedge_timeout`, under its supervisor; `instance` on a shared world."""
        daemon = start_daemon(
            self.dirs,
            image=image,
            instance=instance,
            extra_args=extra_args,
            timeout=timeout,
            wedge_timeout=wedge_timeout,
        )
        self.started.append(daemon)
        return daemon

    def close(self) -> None:
        for daemon in self.started:
            daemon.stop()


@pytest.fixture
def daemon_factory(batos_dirs: BatosDirs) -> Iterator[DaemonFactory]:
    """Call it (optionally with ``extra_args``) to start a daemon on `batos_dirs.image`."""
    factory = DaemonFactory(batos_dirs)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> DaemonProcess:
    """A ready daemon on a fresh image under `tmp_path` (shut down at teardown)."""
    return daemon_factory()


@pytest.fixture(name="launch_daemon")
def launch_daemon_fixture(batos_dirs: BatosDirs) -> Iterator[Callable[..., Launched]]:
    """`launch_daemon(**options)` on `batos_dirs` for tests that expect a start to fail:
    returns (process, ready line, log path) without checking the line. Processes
    still running at teardown are killed."""
    launched: list[subprocess.Popen[bytes]] = []

    def launch(**options: Any) -> Launched:
        result = launch_daemon(batos_dirs, **options)
        launched.append(result[0])
        return result

    yield launch
    for proc in launched:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def module_batos_dirs(tmp_path_factory: pytest.TempPathFactory) -> BatosDirs:
    """Batos directories shared by a test module."""
    return make_dirs(tmp_path_factory.mktemp("batos"))


@pytest.fixture(scope="module")
def module_daemon(module_batos_dirs: BatosDirs) -> Iterator[DaemonProcess]:
    """One daemon shared by a test module, for tests that leave no state others read."""
    factory = DaemonFactory(module_batos_dirs)
    try:
        yield factory()
    finally:
        factory.close()
