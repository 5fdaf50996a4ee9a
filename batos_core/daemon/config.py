"""Daemon configuration and the per-image file locations (runtime, state, data dirs).

A daemon's runtime files (socket, connection file, pidfile, vitals) are named
by its *daemon id*: a hash of the canonical image URI, and for a world shared
through a storage server (``zeo://``, ``postgresql://``) the daemon's
*instance* name after a dash, so that several daemons of one world can run on
one machine without taking each other's files. A FileStorage image has one
daemon (its lock says so) and no instance.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from batos_core.settings import DEFAULT_BACKEND

DEFAULT_WORKERS = 4
DEFAULT_MAX_FRAME_BYTES = 1 << 20
DEFAULT_MAX_ATTEMPTS = 50
DEFAULT_REPLY_TABLE_SIZE = 10_000
#: Image URI schemes whose world is shared by several daemons through a server.
SHARED_SCHEMES = ("zeo", "postgresql")
_INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,31}")
#: Seconds without an event-loop beat after which the supervisor restarts a daemon.
DEFAULT_WEDGE_TIMEOUT_S = 10.0


def data_dir() -> Path:
    """Where images live by default (``BATOS_DATA_DIR`` or platformdirs' user data dir)."""
    env = os.environ.get("BATOS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("batos"))


def state_dir() -> Path:
    """Where daemon logs go (``BATOS_STATE_DIR`` or platformdirs' user state dir)."""
    env = os.environ.get("BATOS_STATE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_state_dir

    return Path(user_state_dir("batos"))


def default_image() -> str:
    """The image used when none is named: ``BATOS_IMAGE`` or ``<data dir>/image.fs``."""
    return os.environ.get("BATOS_IMAGE") or str(data_dir() / "image.fs")


def canonical_image_uri(image: str) -> str:
    """A stable spelling of an image location (absolute path for files), never
    with a password (a ``postgresql://`` URI may carry one: it stays in `image`)."""
    if "://" in image and not image.startswith("file://"):
        return _without_password(image)
    path = image[len("file://") :] if image.startswith("file://") else image
    return str(Path(path).expanduser().resolve())


def _without_password(uri: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[2]}"))


def image_id(image: str, instance: str = "") -> str:
    """Short stable id of a daemon of an image: names its socket, pidfile and log.

    Raises ValueError for an instance name that is not ``[A-Za-z0-9][A-Za-z0-9_.]*``
    (at most 32 characters).
    """
    from batos_core.protocol.connection import image_id_for

    base = image_id_for(canonical_image_uri(image))
    if not instance:
        return base
    check_instance(instance)
    return f"{base}-{instance}"


def check_instance(instance: str) -> None:
    """Raise ValueError unless `instance` is a valid daemon instance name."""
    if not _INSTANCE_RE.fullmatch(instance):
        raise ValueError(f"instance name {instance!r} is not [A-Za-z0-9][A-Za-z0-9_.]* (at most 32)")


def is_shared_world(image: str) -> bool:
    """Whether `image` names a world served to several daemons (ZEO, PostgreSQL)."""
    scheme, sep, _ = image.partition("://")
    return bool(sep) and scheme.lower() in SHARED_SCHEMES


@dataclass
class DaemonConfig:
    """Everything a daemon needs to start; built by the CLI or `python -m batos_core.daemon`."""

    image: str = field(default_factory=default_image)
    runtime_dir: Path | None = None
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
    instance: str = ""  # on a shared world: this daemon's name among those on this machine

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
        from batos_core.daemon.lifecycle import build_parser, config_from_args

        return config_from_args(build_parser().parse_args(argv))

    @property
    def image_id(self) -> str:
        return image_id(self.image, self.instance)

    @property
    def shared_world(self) -> bool:
        return is_shared_world(self.image)

    @property
    def image_uri(self) -> str:
        return canonical_image_uri(self.image)

    def resolved_runtime_dir(self) -> Path:
        from batos_core.protocol.connection import runtime_dir

        return runtime_dir(self.runtime_dir)

    def log_path(self) -> Path:
        return state_dir() / f"daemon-{self.image_id}.log"

    def pid_path(self) -> Path:
        return self.resolved_runtime_dir() / f"{self.image_id}.pid"

    def supervisor_pid_path(self) -> Path:
        return self.resolved_runtime_dir() / f"{self.image_id}.supervisor.pid"

    def vitals_path(self) -> Path:
        """The event-loop beat and the workers' requests, for the supervisor (`vitals`)."""
        return self.resolved_runtime_dir() / f"{self.image_id}.vitals"

    def thread_dump_path(self) -> Path:
        """Where faulthandler writes every thread's stack on SIGUSR1."""
        return self.resolved_runtime_dir() / f"{self.image_id}.threads"

    def wedge_report_path(self) -> Path:
        """The supervisor's report of a wedge, applied by the next daemon (`suspension`)."""
        return self.resolved_runtime_dir() / f"{self.image_id}.wedge.json"

    def connection_path(self) -> Path:
        from batos_core.protocol.connection import connection_file_for

        return connection_file_for(self.image_id, self.resolved_runtime_dir())
