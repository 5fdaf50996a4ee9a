"""Where batos keeps its files: the data, state and runtime directories, and each daemon's files.

Standard library only (platformdirs is asked only when no ``BATOS_*_DIR``
variable names a directory): the CLI, the GUI, the daemon and the
autotelic loop all find files through this module.

- data dir (``BATOS_DATA_DIR``): images, by default ``image.fs``;
- state dir (``BATOS_STATE_DIR``): daemon logs, the REPL's history;
- runtime dir (``BATOS_RUNTIME_DIR``, private): per daemon, its socket,
  connection file, pidfiles, vitals, thread dump and wedge report.

A daemon's runtime files are named by its *daemon id*: a hash of the
canonical image URI, and for a world shared through a storage server
(``zeo://``, ``postgresql://``) the daemon's *instance* name after a dash,
so that several daemons of one world can run on one machine without taking
each other's files. A FileStorage image has one daemon (its lock says so)
and no instance.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Image URI schemes whose world is shared by several daemons through a server.
SHARED_SCHEMES = ("zeo", "postgresql")
_INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,31}")


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
class DaemonPlaces:
    """Which daemon (its image, and its instance on a shared world) and where its files are."""

    image: str = field(default_factory=default_image)
    runtime_dir: Path | None = None
    instance: str = ""  # on a shared world: this daemon's name among those on this machine

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


def pid_exists(pid: int) -> bool:
    """Whether process `pid` exists, a zombie included (``kill(pid, 0)``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (the process a pidfile or a server record names).

    A zombie does not run: a process that is not our child (a daemon's
    successor after an upgrade, a server started by another command) may wait
    a while for its parent to reap it. Without /proc, ``kill(pid, 0)`` decides.
    """
    if not pid_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc: kill() said it exists
