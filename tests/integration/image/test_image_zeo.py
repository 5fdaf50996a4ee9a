"""Two processes share one image through a real ZEO server (`zeo://host:port`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_probe_client import read_line, start_probe

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Poll the port until it accepts a connection; fail if the server exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        try:
            # A bounded wait that also notices the server dying.
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"ZEO server exited with {proc.returncode}:\n{log.read_text()}")
    pytest.fail(f"ZEO server not listening on port {port} after {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture
def zeo_uri(tmp_path: Path) -> Iterator[str]:
    """A ZEO server on a free loopback port serving `tmp_path/zeo.fs`; stopped at teardown."""
    port = free_port()
    log = tmp_path / "zeo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ZEO.runzeo", "-a", f"127.0.0.1:{port}", "-f", str(tmp_path / "zeo.fs")],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening(proc, port, log)
        yield f"zeo://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_two_processes_see_each_others_commits(zeo_uri: str, tmp_path: Path) -> None:
    increments = 20
    with open_image(zeo_uri, migrations=MIGRATIONS) as img:
        session = img.session()
        session.genesis.from_test = "hello"
        session.genesis.counter = 0
        session.commit()
        peer = start_probe("zeo-peer", zeo_uri, str(increments), cwd=tmp_path)
        try:
            assert peer.stdout is not None
            assert json.loads(read_line(peer.stdout, timeout=60)) == {"ready": True}
            session.transaction_manager.begin()
            assert session.genesis.from_peer == "peer saw hello"  # this process sees the peer's commit
            # Both processes now increment the same counter at the same time.
            for _ in range(increments):
                for attempt in session.transaction_manager.attempts(50):
                    with attempt:
                        genesis = session.genesis
                        genesis.counter = genesis.counter + 1
            # readline, not communicate(): the first readline may have buffered this line already.
            last = read_line(peer.stdout, timeout=60)
            peer.wait(timeout=30)
        finally:
            if peer.poll() is None:
                peer.kill()
            _, err = peer.communicate(timeout=10)
        assert peer.returncode == 0, err
        result = json.loads(last)
        assert result["seen"] == "hello"  # the peer saw this process's commit
        session.transaction_manager.begin()
        assert session.genesis.counter == 2 * increments  # no update lost across processes
        session.close()
    # The image lives in the server: a later client opens it without re-bootstrapping.
    with open_image(zeo_uri, migrations=MIGRATIONS) as img:
        assert img.genesis.counter == 2 * increments
        assert img.default_session.meta.migrations[0]["number"] == 1
