"""Which ZEO server serves an image file: the record beside the file, and whether an address answers.

``batos image serve`` (`world.zeo_server`) starts ZEO's ``runzeo`` for a
FileStorage and, once it listens, writes ``IMAGE.zeo.json`` (its pid and
address, 0600) beside the image; its output goes to ``IMAGE.zeo.log``.
This module reads that record. Standard library only, and below both the
image, which names the server when a file is locked by it and refuses a
``zeo://`` address where nothing listens, and the world's server runner
(and the CLI), which must not be imported by the image.

A record whose pid is gone, or belongs to a process that is not ``runzeo``,
is stale: `running` ignores it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from batos_core.places import pid_alive

#: The module ZEO's server runs as (``python -m ZEO.runzeo``).
RUNZEO = "ZEO.runzeo"


@dataclass(frozen=True)
class ServerRecord:
    """A live (or recorded) storage server: its pid and the address it listens on."""

    image: Path
    pid: int
    host: str
    port: int

    @property
    def uri(self) -> str:
        """The image URI daemons open to use this server."""
        return f"zeo://{self.host}:{self.port}"


def record_path(image: Path) -> Path:
    return image.with_name(image.name + ".zeo.json")


def log_path(image: Path) -> Path:
    return image.with_name(image.name + ".zeo.log")


def running(image: Path) -> ServerRecord | None:
    """The live server of `image` that batos started, or None (no record, or a stale one)."""
    try:
        data = json.loads(record_path(image).read_text())
        record = ServerRecord(image, int(data["pid"]), str(data["host"]), int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if is_runzeo(record.pid) else None


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_runzeo(pid: int) -> bool:
    """Whether `pid` is a live ``runzeo`` (without /proc: whether it is alive at all)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return RUNZEO.encode() in fh.read()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return False
    except OSError:
        return False
    return pid_alive(pid)  # no /proc here: a live pid is taken at its word
