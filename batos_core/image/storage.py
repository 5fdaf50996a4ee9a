"""Storages from a path or URI: FileStorage (default), memory, ZEO, PostgreSQL.

A writable FileStorage is a `GroupCommitFileStorage` (see group_commit).

Nothing is written when opening fails: a path that exists is checked to be a
FileStorage, and not a damaged one (`damage`: ImageDamaged), before ZODB
touches it, and a lock held by another process is reported as ImageLocked.
A new world is made only where no file exists: an empty file is damage.
A new image's directories are created 0700 and its files 0600
(`batos_core.private_files`). A ``zeo://`` address where nothing listens is
refused at once (StorageUnreachable); ``postgresql://`` worlds are opened by
`postgresql` (RelStorage), with its own order of checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from batos_core.image.damage import refuse_if_damaged
from batos_core.image.errors import ImageLocked, NotAnImage, StorageUnreachable, UnknownStorageScheme
from batos_core.private_files import make_private_dir
from batos_core.zeo_record import reachable, running

log = logging.getLogger(__name__)

SCHEMES = ("file", "memory", "zeo", "postgresql")
POSTGRESQL_PORT = 5432
_FILESTORAGE_MAGIC = (b"FS21", b"FS30")


@dataclass(frozen=True)
class StorageSpec:
    """A parsed image location."""

    scheme: str
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    name: str = ""  # memory: the storage's name; postgresql: the database
    read_only: bool = False
    user: str = ""  # postgresql
    password: str = field(default="", repr=False)  # postgresql; never in `uri`

    @property
    def uri(self) -> str:
        """The location as a URI, without any password."""
        if self.scheme == "file":
            return f"file://{self.path}"
        if self.scheme == "zeo":
            return f"zeo://{self.host}:{self.port}"
        if self.scheme == "postgresql":
            user = f"{self.user}@" if self.user else ""
            return f"postgresql://{user}{self.host}:{self.port}/{self.name}"
        return f"memory://{self.name}"


def parse_image_uri(uri: str | Path, *, read_only: bool = False) -> StorageSpec:
    """Parse a path, ``file://PATH``, ``memory://[NAME]``, ``zeo://HOST:PORT`` or
    ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE``; UnknownStorageScheme otherwise."""
    text = str(uri)
    if "://" not in text:
        return StorageSpec("file", path=Path(text).expanduser().resolve(), read_only=read_only)
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        return StorageSpec(
            "file",
            path=Path(parsed.netloc + parsed.path).expanduser().resolve(),
            read_only=read_only or _flag(parsed.query, "read_only"),
        )
    if scheme == "memory":
        return StorageSpec("memory", name=parsed.netloc + parsed.path, read_only=read_only)
    if scheme == "zeo":
        if not parsed.hostname or not parsed.port:
            raise UnknownStorageScheme(f"zeo URI needs host and port: {text!r}")
        return StorageSpec("zeo", host=parsed.hostname, port=parsed.port, read_only=read_only)
    if scheme == "postgresql":
        return _parse_postgresql(text, read_only=read_only)
    known = ", ".join(s + "://" for s in SCHEMES)
    raise UnknownStorageScheme(f"unknown image URI scheme {scheme!r} in {text!r} (known: a path, {known})")


def _parse_postgresql(text: str, *, read_only: bool) -> StorageSpec:
    from urllib.parse import unquote

    parsed = urlparse(text)
    database = unquote(parsed.path.lstrip("/"))
    try:
        port = parsed.port or POSTGRESQL_PORT
    except ValueError:
        port = 0
    if not parsed.hostname or not database or "/" in database or not port:
        raise UnknownStorageScheme(
            f"postgresql URI needs a host, a port (or none for {POSTGRESQL_PORT}) and a database: "
            f"postgresql://USER@HOST:PORT/DATABASE, got {_without_password(text)!r}"
        )
    return StorageSpec(
        "postgresql",
        host=parsed.hostname,
        port=port,
        name=database,
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        read_only=read_only or _flag(parsed.query, "read_only"),
    )


def _without_password(text: str) -> str:
    parsed = urlparse(text)
    if parsed.password is None:
        return text
    return text.replace(f":{parsed.password}@", ":***@", 1)


def _flag(query: str, name: str) -> bool:
    values = parse_qs(query).get(name, [])
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


def open_storage(spec: StorageSpec) -> Any:
    """Open the storage `spec` names. Raises ImageLocked / NotAnImage / ImageDamaged;
    writes nothing on error."""
    if spec.scheme == "file":
        return _open_file_storage(spec)
    if spec.scheme == "memory":
        from ZODB.MappingStorage import MappingStorage

        return MappingStorage(spec.name or "memory")
    if spec.scheme == "postgresql":
        from batos_core.image.postgresql import open_postgresql

        return open_postgresql(spec)
    return _open_zeo_storage(spec)


def _open_zeo_storage(spec: StorageSpec) -> Any:
    """A ZEO ClientStorage; StorageUnreachable when nothing listens at the address
    (ClientStorage alone would wait and then fail with a message that names neither)."""
    from ZEO.ClientStorage import ClientStorage
    from ZEO.Exceptions import ClientDisconnected

    assert spec.host is not None and spec.port is not None
    if not reachable(spec.host, spec.port):
        raise StorageUnreachable(
            f"no ZEO server answers at {spec.uri}: start one with "
            f"`batos image serve IMAGE.fs --listen {spec.host}:{spec.port}`"
        )
    # server_sync: a new transaction round-trips to the server first, so it sees
    # every commit another client finished before it began (without it, ZEO's
    # sync() is a no-op and invalidations arrive whenever they arrive: a message
    # sent after daemon A installed a method could still miss it on daemon B).
    try:
        return ClientStorage(
            (spec.host, spec.port), wait_timeout=10, read_only=spec.read_only, server_sync=True
        )
    except ClientDisconnected:
        raise StorageUnreachable(f"the ZEO server at {spec.uri} did not answer within 10 s") from None


def _open_file_storage(spec: StorageSpec) -> Any:
    import zc.lockfile
    from ZODB.FileStorage import FileStorage

    assert spec.path is not None
    path = spec.path
    if path.is_dir():
        raise NotAnImage(f"{path} is a directory, not a FileStorage image")
    if path.exists():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if not any(known.startswith(magic) for known in _FILESTORAGE_MAGIC):
            raise NotAnImage(f"{path} is not a ZODB FileStorage (starts with {magic!r})")
        refuse_if_damaged(path)
    elif spec.read_only:
        raise NotAnImage(f"{path} does not exist")
    else:
        make_private_dir(path.parent)
    try:
        if spec.read_only:
            return FileStorage(str(path), read_only=True)
        from batos_core.image.group_commit import GroupCommitFileStorage

        return GroupCommitFileStorage(str(path))
    except zc.lockfile.LockError:
        server = running(path)
        if server is not None:
            raise ImageLocked(
                f"{path} is served by a ZEO server (pid {server.pid}): open {server.uri} instead"
            ) from None
        raise ImageLocked(f"{path} is locked by another process (is a batos daemon running on it?)") from None
