"""`batos image serve | status | stop`, and several daemons of one ZEO world on one machine."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from world_servers import free_port

from batos_cli import connect
from batos_core import zeo_record
from batos_core.daemon_config import DaemonConfig
from batos_core.zeo_record import ServerRecord


def test_serve_status_stop(batos: Any, batos_dirs: Any) -> None:
    """A second image of its own: `zeo_world` is the running server of the other tests."""
    image = batos_dirs.root / "served.fs"
    port = free_port()
    served = batos("image", "serve", str(image), "--listen", f"127.0.0.1:{port}")
    assert served.returncode == 0, served.stderr
    assert f"zeo://127.0.0.1:{port}" in served.stdout
    try:
        status = batos("image", "status", str(image))
        assert status.returncode == 0, status.stderr
        assert f"served at zeo://127.0.0.1:{port}" in status.stdout
        assert zeo_record.reachable("127.0.0.1", port)
        for private in (zeo_record.record_path(image), zeo_record.log_path(image), image):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        again = batos("image", "serve", str(image), "--listen", f"127.0.0.1:{free_port()}")
        assert again.returncode == 11
        assert again.stderr.count("\n") == 1 and "already served" in again.stderr
        # The served file is locked by the server: a daemon on the file is told which URI to open.
        direct = batos("--image", str(image), "daemon", "start", "--wedge-timeout", "0")
        assert direct.returncode == 3
        assert (
            f"served by a ZEO server (pid {served_pid(image)}): open zeo://127.0.0.1:{port}" in direct.stderr
        )
    finally:
        stopped = batos("image", "stop", str(image))
    assert stopped.returncode == 0, stopped.stderr
    assert not zeo_record.reachable("127.0.0.1", port)
    assert not zeo_record.record_path(image).exists()
    gone = batos("image", "status", str(image))
    assert gone.returncode == 3 and "is not served" in gone.stderr
    assert batos("image", "stop", str(image)).returncode == 3


def served_pid(image: Path) -> int:
    record = zeo_record.running(image)
    assert record is not None
    return record.pid


def test_a_port_in_use_is_one_line(batos: Any, batos_dirs: Any, zeo_world: ServerRecord) -> None:
    other = batos_dirs.root / "other.fs"
    refused = batos("image", "serve", str(other), "--listen", f"127.0.0.1:{zeo_world.port}")
    assert refused.returncode == 2
    assert (
        refused.stderr == f"error: 127.0.0.1:{zeo_world.port} is in use by another process: "
        "pick another port with --listen HOST:PORT\n"
    )
    assert not other.exists()  # nothing was started, nothing written


def test_an_unreachable_server_is_one_line_and_quick(batos: Any) -> None:
    port = free_port()
    started = time.monotonic()
    refused = batos("--image", f"zeo://127.0.0.1:{port}", "daemon", "start", "--wedge-timeout", "0")
    assert time.monotonic() - started < 10  # refused at once, not after ClientStorage's wait
    assert refused.returncode == 3
    assert (
        f"no ZEO server answers at zeo://127.0.0.1:{port}: start one with `batos image serve"
        in refused.stderr
    )


def test_two_daemons_of_one_world_on_one_machine(
    batos: Any, batos_dirs: Any, zeo_world: ServerRecord
) -> None:
    config = DaemonConfig(image=zeo_world.uri, runtime_dir=batos_dirs.runtime_dir)
    first = batos("--image", zeo_world.uri, "daemon", "start", "--wedge-timeout", "0")
    assert first.returncode == 0, first.stderr
    second = batos("--image", zeo_world.uri, "daemon", "start", "--wedge-timeout", "0")
    assert second.returncode == 0, second.stderr
    assert "as instance 2" in second.stdout
    assert connect.instances(config) == ["", "2"]
    one, two = (
        connect.running(DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir, instance=i)) for i in ("", "2")
    )
    assert one is not None and two is not None and one.pid != two.pid and one.endpoint != two.endpoint
    # A change through one daemon is seen through the other.
    assert batos("--image", zeo_world.uri, "send", "genesis", "setSlot:value:", "x", "5").returncode == 0
    seen = batos("--image", zeo_world.uri, "send", "genesis", "x", env={"BATOS_INSTANCE": "2"})
    assert seen.stdout.strip() == "5", seen.stderr
    # A daemon started by hand on a taken instance refuses rather than take the other's files.
    clash = subprocess.run(
        [
            sys.executable,
            "-m",
            "batos_core.daemon",
            "--image",
            zeo_world.uri,
            "--instance",
            "2",
            "--runtime-dir",
            str(batos_dirs.runtime_dir),
            "--backend",
            "none",
        ],
        env=batos_dirs.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clash.returncode == 5
    assert f"daemon pid {two.pid} already serves {zeo_world.uri} as instance '2'" in clash.stderr
    assert connect.running(DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir, instance="2")) == two
