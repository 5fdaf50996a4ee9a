"""The runtime directory and the connection file (standard library only).

The daemon writes one JSON connection file per image into a private runtime
directory; clients read it to learn the endpoint and the signing key (the
model is Jupyter's kernel connection file). Anything that another user could
read or replace is refused with :class:`InsecurePermissions`, never repaired
silently.

A connection file may also name several daemons of one shared world, in the
order a client should try them (`read_daemons_file`, `write_daemons_file`):
``{"daemons": [<connection object>, ...]}``, each with its own key.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from batos_core.protocol.constants import PROTOCOL_VERSION
from batos_core.protocol.errors import ConnectionFileError, InsecurePermissions

RUNTIME_DIR_ENV = "BATOS_RUNTIME_DIR"
KEY_BYTES = 32
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), NUL included.
MAX_IPC_PATH = 103
_IMAGE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TCP_RE = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|\*):(?P<port>[0-9]{1,5})")

Transport = Literal["ipc", "tcp"]
_FIELDS: tuple[tuple[str, type], ...] = (
    ("endpoint", str),
    ("key", str),
    ("transport", str),
    ("image", str),
    ("pid", int),
    ("protocol_version", int),
)


@dataclass(frozen=True)
class ConnectionInfo:
    """What a client needs to reach one daemon. ``key`` is never shown in repr."""

    endpoint: str
    key: bytes = field(repr=False)
    transport: Transport
    image: str
    pid: int
    protocol_version: int = PROTOCOL_VERSION

    def to_json(self) -> dict[str, Any]:
        """The connection file's JSON object (key as hex)."""
        return {
            "endpoint": self.endpoint,
            "key": self.key.hex(),
            "transport": self.transport,
            "image": self.image,
            "pid": self.pid,
            "protocol_version": self.protocol_version,
        }


def new_key() -> bytes:
    """A fresh 32-byte signing key from the OS CSPRNG."""
    # secrets.token_bytes is os.urandom; importing `secrets` costs every CLI start ~10 ms.
    return os.urandom(KEY_BYTES)


def runtime_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The private runtime directory, created with mode 0700 if missing.

    Precedence: ``override``, then ``$BATOS_RUNTIME_DIR``, then platformdirs'
    ``user_runtime_dir("batos")``. Raises :class:`InsecurePermissions` if the
    directory exists but is group/world accessible or owned by someone else,
    ``OSError`` if it cannot be created.
    """
    if override is not None:
        path = Path(override)
    elif os.environ.get(RUNTIME_DIR_ENV):
        path = Path(os.environ[RUNTIME_DIR_ENV])
    else:
        # Imported here: readers of an explicit connection file never pay for it.
        from platformdirs import user_runtime_dir

        path = Path(user_runtime_dir("batos"))
    path = path.expanduser().absolute()
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    check_private(path)
    return path


def check_private(path: Path) -> None:
    """Refuse ``path`` unless it is ours and has no group/other permission bits.

    Raises :class:`InsecurePermissions` naming the path and mode, or
    ``OSError`` (e.g. ``FileNotFoundError``) if it cannot be stat'ed.
    """
    _check_stat(path, os.stat(path))


def check_private_file(path: Path) -> None:
    """Like :func:`check_private`, and refuse a symbolic link too (not followed).

    A connection file is never a link: one could point the daemon's key at a
    file another user controls. Raises :class:`InsecurePermissions`, or
    ``OSError`` if ``path`` cannot be stat'ed.
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise InsecurePermissions(path, stat.S_IMODE(st.st_mode), "is a symbolic link")
    _check_stat(path, st)


def _check_stat(path: Path, st: os.stat_result) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid():
        raise InsecurePermissions(path, mode, f"owned by uid {st.st_uid}, not {os.getuid()}")
    if mode & 0o077:
        raise InsecurePermissions(path, mode, "accessible by group or others")


def image_id_for(image_uri: str) -> str:
    """A short stable id for an image, from its canonical URI (the caller canonicalises)."""
    return hashlib.sha256(image_uri.encode("utf-8")).hexdigest()[:16]


def connection_file_for(image_id: str, runtime_dir: Path) -> Path:
    """Path of the connection file of ``image_id``; raises ``ValueError`` for an id
    that is not a plain file-name token."""
    if not _IMAGE_ID_RE.fullmatch(image_id):
        raise ValueError(f"image id {image_id!r} is not [A-Za-z0-9._-]+")
    return runtime_dir / f"{image_id}.json"


def ipc_endpoint(runtime_dir: Path, name: str) -> str:
    """The default endpoint ``ipc://<runtime_dir>/<name>.sock``.

    Raises ``ValueError`` if the socket path is too long for a Unix socket.
    """
    path = runtime_dir / f"{name}.sock"
    if len(os.fsencode(path)) > MAX_IPC_PATH:
        raise ValueError(f"socket path {path} is longer than {MAX_IPC_PATH} bytes")
    return f"ipc://{path}"


def tcp_endpoint(host_port: str) -> str:
    """``HOST:PORT`` (``--tcp``) to ``tcp://HOST:PORT``; IPv6 hosts go in brackets.

    Raises ``ValueError`` for anything else or a port outside 1..65535.
    """
    match = _TCP_RE.fullmatch(host_port)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"expected HOST:PORT, got {host_port!r}")
    return f"tcp://{host_port}"


def transport_of(endpoint: str) -> Transport:
    """``"ipc"`` or ``"tcp"`` from an endpoint; ``ValueError`` for other schemes."""
    scheme = endpoint.partition("://")[0]
    if scheme == "ipc":
        return "ipc"
    if scheme == "tcp":
        return "tcp"
    raise ValueError(f"unsupported endpoint {endpoint!r} (ipc:// or tcp:// only)")


def write_connection_file(path: Path, info: ConnectionInfo) -> None:
    """Write ``info`` to ``path`` atomically with mode 0600.

    The file is created 0600 under a temporary name in the same directory,
    fsync'ed and renamed over ``path``, so a reader sees the old file or the
    new one, and never a world-readable key. Raises
    :class:`InsecurePermissions` if the directory is not private, ``OSError``
    on I/O failure (the temporary file is removed).
    """
    _write_private_json(path, info.to_json())


def _write_private_json(path: Path, document: dict[str, Any]) -> None:
    check_private(path.parent)
    data = json.dumps(document, indent=2).encode("utf-8") + b"\n"
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_connection_file(path: Path, *, check_dir: bool = True) -> ConnectionInfo:
    """Read and check a connection file.

    Refuses a symlink, a file or (with ``check_dir``) directory that is not
    private (:class:`InsecurePermissions`), and a file that is not
    valid (:class:`ConnectionFileError`). ``FileNotFoundError`` propagates
    unchanged: it means no daemon has published this image. The protocol
    version is returned as found; the client checks it.
    """
    return _info_from_json(path, _read_private_json(path, check_dir))


def read_daemons_file(path: Path, *, check_dir: bool = True) -> list[ConnectionInfo]:
    """The daemons a connection file names, in failover order: one for a daemon's own
    file, several for ``{"daemons": [...]}``. Errors as for `read_connection_file`;
    an empty list is a ConnectionFileError."""
    data = _read_private_json(path, check_dir)
    if not (isinstance(data, dict) and "daemons" in data):
        return [_info_from_json(path, data)]
    daemons = data["daemons"]
    if not isinstance(daemons, list) or not daemons:
        raise ConnectionFileError(path, "field 'daemons' is not a non-empty list")
    return [_info_from_json(path, entry) for entry in daemons]


def write_daemons_file(path: Path, infos: list[ConnectionInfo]) -> None:
    """Write a connection file naming `infos` in failover order (0600, atomic, as
    `write_connection_file`). Raises ValueError for an empty list."""
    if not infos:
        raise ValueError("a connection file names at least one daemon")
    _write_private_json(path, {"daemons": [info.to_json() for info in infos]})


def _read_private_json(path: Path, check_dir: bool) -> object:
    if check_dir:
        check_private(path.parent)
    # O_NOFOLLOW + fstat: the checked file is the one that is read.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link: name it, not the errno
            check_private_file(path)
        raise
    with os.fdopen(fd, "rb") as handle:
        _check_stat(path, os.fstat(handle.fileno()))
        raw = handle.read(64 * 1024)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConnectionFileError(path, f"not JSON: {exc}") from None


def _info_from_json(path: Path, data: object) -> ConnectionInfo:
    if not isinstance(data, dict):
        raise ConnectionFileError(path, "not a JSON object")
    for name, kind in _FIELDS:
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConnectionFileError(path, f"field {name!r} missing or not {kind.__name__}")
    try:
        key = bytes.fromhex(data["key"])
        transport = transport_of(data["endpoint"])
    except ValueError as exc:
        raise ConnectionFileError(path, str(exc)) from None
    if len(key) != KEY_BYTES or transport != data["transport"]:
        raise ConnectionFileError(path, "key is not 32 bytes or transport does not match")
    return ConnectionInfo(
        endpoint=data["endpoint"],
        key=key,
        transport=transport,
        image=data["image"],
        pid=data["pid"],
        protocol_version=data["protocol_version"],
    )
