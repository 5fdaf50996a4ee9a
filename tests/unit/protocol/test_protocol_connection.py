"""Runtime directory and connection file: private modes, atomic writes, strict reads."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from batos_core.protocol.connection import (
    ConnectionInfo,
    connection_file_for,
    image_id_for,
    ipc_endpoint,
    new_key,
    read_connection_file,
    runtime_dir,
    tcp_endpoint,
    transport_of,
    write_connection_file,
)
from batos_core.protocol.constants import PROTOCOL_VERSION
from batos_core.protocol.errors import ConnectionFileError, InsecurePermissions


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    return runtime_dir(tmp_path / "run")


def make_info(directory: Path) -> ConnectionInfo:
    return ConnectionInfo(
        endpoint=ipc_endpoint(directory, "img"),
        key=new_key(),
        transport="ipc",
        image="file:///tmp/image.fs",
        pid=os.getpid(),
    )


def test_runtime_dir_is_created_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        path = runtime_dir(tmp_path / "a" / "run")
    finally:
        os.umask(old_umask)
    assert path.is_dir() and mode_of(path) == 0o700


def test_runtime_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATOS_RUNTIME_DIR", str(tmp_path / "env"))
    assert runtime_dir() == tmp_path / "env"
    assert runtime_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_runtime_dir_defaults_to_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATOS_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    (tmp_path / "xdg").mkdir(mode=0o700)
    assert runtime_dir() == tmp_path / "xdg" / "batos"


def test_open_runtime_dir_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)
    with pytest.raises(InsecurePermissions) as info:
        runtime_dir(loose)
    assert info.value.path == loose and info.value.mode == 0o755
    assert "0755" in str(info.value) and str(loose) in str(info.value)


def test_connection_file_round_trip_is_0600(private_dir: Path) -> None:
    info = make_info(private_dir)
    path = connection_file_for("img", private_dir)
    write_connection_file(path, info)
    assert mode_of(path) == 0o600
    assert read_connection_file(path) == info
    assert json.loads(path.read_text())["key"] == info.key.hex()
    assert [p.name for p in private_dir.iterdir()] == ["img.json"]  # no temp file left


def test_rewrite_replaces_atomically(private_dir: Path) -> None:
    path = connection_file_for("img", private_dir)
    write_connection_file(path, make_info(private_dir))
    newer = make_info(private_dir)
    write_connection_file(path, newer)
    assert read_connection_file(path) == newer


def test_world_readable_key_file_is_refused(private_dir: Path) -> None:
    path = connection_file_for("img", private_dir)
    write_connection_file(path, make_info(private_dir))
    os.chmod(path, 0o644)
    with pytest.raises(InsecurePermissions) as info:
        read_connection_file(path)
    assert info.value.mode == 0o644


def test_key_file_in_an_open_dir_is_refused(private_dir: Path) -> None:
    path = connection_file_for("img", private_dir)
    write_connection_file(path, make_info(private_dir))
    os.chmod(private_dir, 0o755)
    with pytest.raises(InsecurePermissions):
        read_connection_file(path)
    with pytest.raises(InsecurePermissions):
        write_connection_file(path, make_info(private_dir))


def test_symlinked_connection_file_is_refused(private_dir: Path, tmp_path: Path) -> None:
    real = connection_file_for("img", private_dir)
    write_connection_file(real, make_info(private_dir))
    link = private_dir / "link.json"
    link.symlink_to(real)
    with pytest.raises(InsecurePermissions, match="is a symbolic link"):
        read_connection_file(link)


def test_missing_connection_file_raises_file_not_found(private_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_connection_file(private_dir / "absent.json")


@pytest.mark.parametrize(
    "change",
    [
        {"key": "abcd"},
        {"key": "zz" * 32},
        {"pid": "12"},
        {"pid": True},
        {"endpoint": "inproc://x"},
        {"transport": "tcp"},
        {"protocol_version": None},
    ],
)
def test_invalid_connection_file_is_refused(private_dir: Path, change: dict[str, object]) -> None:
    data = {**make_info(private_dir).to_json(), **change}
    path = private_dir / "bad.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    with pytest.raises(ConnectionFileError):
        read_connection_file(path)


def test_connection_info_hides_the_key() -> None:
    info = ConnectionInfo("tcp://127.0.0.1:5555", b"\x01" * 32, "tcp", "memory://", 1)
    assert "key" not in repr(info)
    assert info.protocol_version == PROTOCOL_VERSION


def test_endpoints() -> None:
    assert ipc_endpoint(Path("/run/user/1/batos"), "abc") == "ipc:///run/user/1/batos/abc.sock"
    with pytest.raises(ValueError, match="longer than"):
        ipc_endpoint(Path("/" + "d" * 200), "abc")
    assert tcp_endpoint("127.0.0.1:5555") == "tcp://127.0.0.1:5555"
    assert tcp_endpoint("[::1]:5555") == "tcp://[::1]:5555"
    for bad in ("5555", "host:0", "host:70000", "a b:1"):
        with pytest.raises(ValueError):
            tcp_endpoint(bad)
    assert transport_of("tcp://h:1") == "tcp" and transport_of("ipc:///x") == "ipc"


def test_image_ids_name_safe_files(tmp_path: Path) -> None:
    image_id = image_id_for("file:///home/u/image.fs")
    assert image_id == image_id_for("file:///home/u/image.fs") and len(image_id) == 16
    assert connection_file_for(image_id, tmp_path) == tmp_path / f"{image_id}.json"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            connection_file_for(bad, tmp_path)


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_file_owned_by_someone_else_is_refused(private_dir: Path) -> None:
    path = connection_file_for("img", private_dir)
    write_connection_file(path, make_info(private_dir))
    os.chown(path, 12345, -1)
    with pytest.raises(InsecurePermissions, match="owned by uid 12345"):
        read_connection_file(path)
