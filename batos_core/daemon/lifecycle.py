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

The daemon runs under umask 077, set before it creates anything: every file
it or ZODB makes (image, ``.index``, ``.lock``, ``.tmp``, log, directories) is
private whatever the umask it inherited (`batos_core.private_files`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batos_core.daemon.config import DEFAULT_WORKERS, DaemonConfig
from batos_core.daemon.log_format import setup_logging
from batos_core.daemon.supervisor import SUPERVISED_ENV
from batos_core.daemon.vitals import Vitals
from batos_core.image import ImageError, ImageLocked
from batos_core.jit.backends.base import serving_of
from batos_core.private_files import PRIVATE_UMASK
from batos_core.protocol.connection import check_private_file, ipc_endpoint
from batos_core.protocol.errors import InsecurePermissions
from batos_core.protocol.replay import ReplayGuard
from batos_core.settings import DEFAULT_BACKEND, NO_BACKEND

if TYPE_CHECKING:
    from batos_core.jit.pipeline import JitCompiler

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_IMAGE_LOCKED = 3
EXIT_IMAGE_ERROR = 4
EXIT_CONFIG_ERROR = 5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m batos_core.daemon", description="Run a batos UVM daemon."
    )
    parser.add_argument(
        "--image", default=None, help="image path or URI (default: BATOS_IMAGE or the data dir)"
    )
    parser.add_argument("--runtime-dir", default=None, help="private dir for the socket and connection file")
    parser.add_argument("--tcp", default=None, metavar="HOST:PORT", help="listen on TCP instead of ipc")
    parser.add_argument(
        "--instance",
        default="",
        help="on a shared world (zeo://, postgresql://): this daemon's name among those on this machine",
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--max-frame-bytes", type=int, default=None)
    parser.add_argument(
        "--backend",
        default=None,
        help="JIT backend: auto (default: llamacpp for a GGUF on a CPU, else transformers), "
        "llamacpp, transformers, openai, replay, none",
    )
    parser.add_argument("--model", default=None, help="model name, directory or .gguf file")
    parser.add_argument("--review", action="store_true", help="generated methods wait for approval")
    parser.add_argument(
        "--candidates",
        type=_candidate_count,
        default=None,
        metavar="N",
        help="methods written per miss, 1-16 (default: BATOS_JIT_CANDIDATES or 4)",
    )
    parser.add_argument(
        "--autotelic", action="store_true", help="self-improve when idle (off by default; docs/autotelic.md)"
    )
    parser.add_argument(
        "--ready-fd", type=int, default=None, help="write 'ready <endpoint>' here when serving"
    )
    parser.add_argument("--log-file", default=None, help="log here instead of stderr")
    parser.add_argument(
        "--standby",
        action="store_true",
        help="batos upgrade: load everything, write 'standby', open the image on --go-fd's go line",
    )
    parser.add_argument("--go-fd", type=int, default=None, help="with --standby: the old daemon's go pipe")
    parser.add_argument("--log-level", default=os.environ.get("BATOS_LOG_LEVEL", "INFO"))
    # The supervisor's restart after a wedge: accept envelopes signed since the
    # kill (clients re-send at the disconnect, before this process started).
    parser.add_argument("--accept-since-ns", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def _candidate_count(raw: str) -> int:
    from batos_core.jit.candidates import parse_candidates

    try:
        return parse_candidates(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    config = DaemonConfig()
    if args.image:
        config.image = args.image
    if args.runtime_dir:
        config.runtime_dir = Path(args.runtime_dir)
    config.tcp = args.tcp
    config.instance = args.instance
    config.workers = max(1, args.workers)
    if args.max_frame_bytes:
        config.max_frame_bytes = args.max_frame_bytes
    # No backend named: auto (llama.cpp for the catalog's default GGUF on a CPU,
    # transformers on CUDA), loaded on the first miss (`batos model pull` fetches it).
    config.backend = args.backend or os.environ.get("BATOS_BACKEND") or DEFAULT_BACKEND
    config.model = args.model or os.environ.get("BATOS_MODEL", "")
    config.review = args.review
    config.candidates = args.candidates or 0
    config.autotelic = args.autotelic
    config.log_file = args.log_file
    return config


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
    daemon = Daemon(config, on_miss=on_miss)
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


def _miss_hook(config: DaemonConfig, compiler: JitCompiler | None) -> Any:
    """The compiler's miss hook; on a shared world, under the world's generation
    claims, so that daemons that miss one selector at once generate it once
    (`batos_core.world.generation_claims`). Raises ValueError for a bad lease."""
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

    return make_compiler(config)
