"""Running a daemon process: logging, pidfile, the ready signal, exit codes.

`python -m batos_core.daemon` runs `main()`. A parent that wants to know when
the daemon serves passes `--ready-fd N`: the daemon writes one line
``ready <endpoint>`` (or ``error <message>``) to that descriptor and closes it.
Tests and the CLI wait on that line, never on a sleep.

Under a supervisor (``BATOS_SUPERVISED=1``, set by
`batos_core.daemon.supervisor`) the daemon also beats into its vitals file and
dumps every thread's stack on SIGUSR1 (faulthandler), so that a wedge can be
detected and traced from outside. Any daemon applies a wedge report left for
its image before it serves (`suspension`).

`main` is the composition root: it builds the JIT compiler once from the
configuration (`jit.hook.make_compiler`; none with ``--backend none``), puts
the world's generation claims in front of its miss hook on a shared world
(`_miss_hook`), and hands the hook and the compiler to the `Daemon`, which
gives the compiler and its miss events (`jit.misses.MissEvents`) to the
autotelic service when it opens the image.

The daemon runs under umask 077, set before it creates anything: every file
it or ZODB makes (image, ``.index``, ``.lock``, ``.tmp``, log, directories) is
private whatever the umask it inherited (`batos_core.private_files`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from batos_core.daemon.log_format import setup_logging
from batos_core.daemon.supervisor import SUPERVISED_ENV
from batos_core.daemon.vitals import Vitals
from batos_core.daemon_config import DaemonConfig, build_parser, config_from_args
from batos_core.image import ImageError, ImageLocked
from batos_core.jit.backends.base import serving_of
from batos_core.private_files import PRIVATE_UMASK
from batos_core.protocol.connection import check_private_file, ipc_endpoint
from batos_core.protocol.errors import InsecurePermissions
from batos_core.protocol.replay import ReplayGuard
from batos_core.settings import NO_BACKEND

if TYPE_CHECKING:
    from batos_core.jit.misses import MissHook
    from batos_core.jit.pipeline import JitCompiler

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_IMAGE_LOCKED = 3
EXIT_IMAGE_ERROR = 4
EXIT_CONFIG_ERROR = 5


def _signal_ready(fd: int | None, line: str, *, close: bool = True) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, (line.rstrip("\n") + "\n").encode())
        if close:
            os.close(fd)


def write_pidfile(path: Path) -> None:
    tmp = path.with_suffix(".pid.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


def check_runtime_files(config: DaemonConfig, *, successor: bool = False) -> None:
    """Refuse a runtime dir or an existing connection file that others could read,
    and on a shared world, runtime files that another live daemon uses.

    Raises InsecurePermissions (never repairs: a readable key may already have
    leaked, and the user should know), OSError if the dir cannot be created,
    ValueError for a socket path too long for a Unix socket, a bad instance
    name, or (unless this daemon is a `successor` taking over by hand-over)
    another daemon of the same world and instance alive on this machine. A
    FileStorage needs no such check: its lock refuses a second daemon.
    """
    runtime = config.resolved_runtime_dir()  # creates it 0700, or checks it
    connection = config.connection_path()
    if connection.is_symlink() or connection.exists():
        check_private_file(connection)
        if config.shared_world and not successor:
            _refuse_live_sibling(config, connection)
    if not config.tcp:
        ipc_endpoint(runtime, config.image_id)


def _refuse_live_sibling(config: DaemonConfig, connection: Path) -> None:
    from batos_core.protocol.connection import read_connection_file
    from batos_core.protocol.errors import ConnectionFileError

    try:
        other = read_connection_file(connection).pid
    except (ConnectionFileError, OSError):
        return
    if other in (os.getpid(), os.getppid()):
        return  # our own file (a supervisor's restart of this daemon)
    try:
        os.kill(other, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    named = f"instance {config.instance!r}" if config.instance else "the default instance"
    raise ValueError(
        f"daemon pid {other} already serves {config.image_uri} as {named} on this machine: "
        "give this one its own --instance NAME"
    )


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    setup_logging(args.log_file, args.log_level)
    config = config_from_args(args)
    ready_fd: int | None = args.ready_fd
    from batos_core.daemon.server import Daemon

    try:
        check_runtime_files(config, successor=args.standby or args.accept_since_ns is not None)
    except (InsecurePermissions, OSError, ValueError) as exc:
        log.error("refusing to start: %s", exc)
        _signal_ready(ready_fd, f"error {exc}")
        return EXIT_CONFIG_ERROR
    _enter_sandbox()
    compiler = _jit_compiler(config)
    try:
        on_miss = _miss_hook(config, compiler)
    except ValueError as exc:
        log.error("refusing to start: %s", exc)
        _signal_ready(ready_fd, f"error {exc}")
        return EXIT_CONFIG_ERROR
    daemon = Daemon(config, on_miss=on_miss, compiler=compiler)
    if compiler is not None:
        backend = compiler.backend
        daemon.info.backend = backend.name  # what `auto` chose
        daemon.info.serving = lambda: serving_of(backend)
    handover = None
    if args.standby:
        from batos_core.upgrade.handover import await_go

        _signal_ready(ready_fd, "standby", close=False)
        if args.go_fd is None or (handover := await_go(args.go_fd)) is None:
            log.info("standby: the old daemon did not hand over; exiting")
            return EXIT_OK
    if handover is None and args.accept_since_ns is not None:
        from batos_core.upgrade.handover import HandoverGo

        handover = HandoverGo.restart(min(args.accept_since_ns, time.time_ns()))
    try:
        daemon.open(handover)
    except ImageLocked as exc:
        log.error("%s", exc)
        _signal_ready(ready_fd, f"error {exc}")
        return EXIT_IMAGE_LOCKED
    except (ImageError, OSError) as exc:
        log.error("cannot open the image: %s", exc)
        _signal_ready(ready_fd, f"error {exc}")
        return EXIT_IMAGE_ERROR
    pid_path = config.pid_path()
    write_pidfile(pid_path)
    guard = None if handover is None else ReplayGuard.from_state(handover.guard, skew_ns=0)
    if os.environ.get(SUPERVISED_ENV) == "1":
        try:
            daemon.vitals = _supervised(config)
        except OSError as exc:
            log.error("cannot write the vitals file for the supervisor: %s", exc)
    try:
        asyncio.run(
            daemon.serve(ready=lambda info: _signal_ready(ready_fd, f"ready {info.endpoint}"), guard=guard)
        )
    except Exception as exc:
        log.exception("daemon failed")
        _signal_ready(ready_fd, f"error {exc}")
        return EXIT_CONFIG_ERROR
    finally:
        _remove_own_pidfile(pid_path)
    return EXIT_OK


def _supervised(config: DaemonConfig) -> Vitals:
    """The vitals file, and faulthandler's dump of every thread on SIGUSR1 (C code:
    it runs while a worker holds the GIL); raises OSError."""
    import faulthandler
    import signal

    dump = open(config.thread_dump_path(), "ab")
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True, chain=False)
    return Vitals(config.vitals_path())


def _remove_own_pidfile(path: Path) -> None:
    # After a hand-over the file already names the successor: leave it.
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()


def _enter_sandbox() -> None:
    """Build the restricted method namespace, with the Self runtime in its API
    (importing the allow-listed modules here, in trusted code), and install the
    audit hook, before any method runs."""
    from batos_core.objects.namespace import restricted_namespace
    from batos_core.sandbox import audit
    from batos_core.selfsyntax.runtime import provide_runtime

    provide_runtime()
    restricted_namespace()
    audit.install()


def _miss_hook(config: DaemonConfig, compiler: JitCompiler | None) -> MissHook | None:
    """The daemon's miss hook: the compiler's ``on_miss``; on a shared world, behind
    the world's generation claims, so that daemons that miss one selector at once
    generate it once (`batos_core.world.generation_claims`). None without a
    compiler. Raises ValueError for a bad lease."""
    if compiler is None:
        return None
    if not config.shared_world:
        return compiler.on_miss
    from batos_core.world.generation_claims import ClaimedMisses

    return ClaimedMisses(compiler.on_miss)


def _jit_compiler(config: DaemonConfig) -> JitCompiler | None:
    """The doesNotUnderstand: compiler for the configured JIT backend (None: misses are errors)."""
    if config.backend == NO_BACKEND:
        return None
    from batos_core.jit.hook import make_compiler  # the JIT compiler for intent

    return make_compiler(config.backend, config.model, review=config.review, candidates=config.candidates)
