"""A daemon's settings and its command line: ``DaemonConfig``, ``to_argv`` and ``from_argv``.

The contract between whoever starts a daemon (the CLI, `batos upgrade`'s
successor, the supervisor, the tests) and ``python -m batos_core.daemon``.
It lives outside the ``daemon`` package, standard library only, because the
CLI starts daemons and never imports the daemon: ``from_argv(to_argv())``
round-trips here, with the parser beside the writer. Where a daemon's files
are is ``places.DaemonPlaces``, which ``DaemonConfig`` extends.

``--candidates`` takes a count checked by ``parse_candidates`` (1 to
``MAX_CANDIDATES``): the CLI's option, the daemon's and the JIT's settings
share that range.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from batos_core.places import DaemonPlaces
from batos_core.settings import DEFAULT_BACKEND

DEFAULT_WORKERS = 4
DEFAULT_MAX_FRAME_BYTES = 1 << 20
DEFAULT_MAX_ATTEMPTS = 50
DEFAULT_REPLY_TABLE_SIZE = 10_000
#: Seconds without an event-loop beat after which the supervisor restarts a daemon.
DEFAULT_WEDGE_TIMEOUT_S = 10.0
#: The most methods the JIT writes for one miss (``--candidates``).
MAX_CANDIDATES = 16


@dataclass
class DaemonConfig(DaemonPlaces):
    """Everything a daemon needs to start; built by the CLI or `python -m batos_core.daemon`.

    Its image, runtime dir and instance, and so where its files are, come
    from ``DaemonPlaces``."""

    tcp: str | None = None
    workers: int = DEFAULT_WORKERS
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    reply_table_size: int = DEFAULT_REPLY_TABLE_SIZE
    backend: str = DEFAULT_BACKEND
    model: str = ""
    review: bool = False
    autotelic: bool = False  # the idle self-improvement heartbeat (docs/autotelic.md: off by default)
    candidates: int = 0  # K per miss (docs/jit.md); 0: BATOS_JIT_CANDIDATES, else the JIT's default
    log_file: str | None = None  # passed on to a successor by `batos upgrade`
    wedge_timeout: float = DEFAULT_WEDGE_TIMEOUT_S  # the supervisor's; 0: run without one

    #: The settings a daemon's command line carries (``to_argv``/``from_argv``);
    #: the others are the supervisor's (``wedge_timeout``) or fixed.
    ARGV_FIELDS = (
        "image", "runtime_dir", "tcp", "instance", "workers", "max_frame_bytes",
        "backend", "model", "review", "candidates", "autotelic", "log_file",
    )  # fmt: skip

    def to_argv(self) -> list[str]:
        """The options of ``python -m batos_core.daemon`` that start a daemon with these settings.

        The one place the daemon's command line is written: the CLI starting a
        daemon, `batos upgrade`'s successor and the tests use it, and
        ``from_argv(to_argv())`` gives back every field of ``ARGV_FIELDS``. The
        backend is always written, so a successor does not fall back to a
        ``BATOS_BACKEND`` its environment may hold. The runtime dir is written
        when set (a successor's is, by `batos upgrade`).
        """
        argv = ["--image", self.image, "--workers", str(self.workers)]
        argv += ["--max-frame-bytes", str(self.max_frame_bytes), "--backend", self.backend]
        if self.runtime_dir is not None:
            argv += ["--runtime-dir", str(self.runtime_dir)]
        for option, value in (("--tcp", self.tcp), ("--instance", self.instance), ("--model", self.model)):
            if value:
                argv += [option, value]
        if self.candidates:
            argv += ["--candidates", str(self.candidates)]
        if self.log_file:
            argv += ["--log-file", self.log_file]
        argv += [flag for flag, on in (("--review", self.review), ("--autotelic", self.autotelic)) if on]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> DaemonConfig:
        """The settings ``python -m batos_core.daemon ARGV`` runs with (argparse errors exit)."""
        return config_from_args(build_parser().parse_args(argv))


def parse_candidates(raw: object) -> int:
    """``raw`` as a candidate count: an int from 1 to MAX_CANDIDATES.

    Raises ValueError naming the allowed range otherwise (the CLI and the
    daemon's argparse turn it into a usage error).
    """
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"candidates must be a whole number from 1 to {MAX_CANDIDATES}: {raw!r}") from None
    if not 1 <= value <= MAX_CANDIDATES:
        raise ValueError(f"candidates must be from 1 to {MAX_CANDIDATES}, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m batos_core.daemon`` (those ``to_argv`` writes, and the hand-over's)."""
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
    try:
        return parse_candidates(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    """The settings parsed options stand for; the backend and model fall back to
    ``BATOS_BACKEND`` and ``BATOS_MODEL``."""
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
