"""`batos image pack --days N`: ZODB's pack through the storage (a file with its daemon stopped,
a ZEO world while a daemon serves it); what `batos history` shows is all still there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from world_servers import batos_runner

from batos_core.zeo_record import ServerRecord

VERSIONS = (
    "def greet_(self, name):\n    return 'hi ' + name\n",
    "def greet_(self, name):\n    return 'hello ' + name\n",
)


def define_versions(batos: Any, image: str, tmp_path: Path) -> None:
    """Two versions of genesis greet:, and 20 commits of a slot (old revisions to pack away)."""
    for number, source in enumerate(VERSIONS):
        path = tmp_path / f"greet-{number}.py"
        path.write_text(source)
        done = batos("--image", image, "define", "genesis", "greet:", "--file", str(path))
        assert done.returncode == 0, done.stderr
    for value in range(20):
        assert batos("--image", image, "send", "genesis", "setSlot:value:", "x", str(value)).returncode == 0


def history_of(batos: Any, image: str) -> list[tuple[str, int]]:
    done = batos("--image", image, "history", "--json")
    assert done.returncode == 0, done.stderr
    return [(entry["action"], entry["version"]) for entry in json.loads(done.stdout)]


def test_pack_a_file_once_its_daemon_is_stopped(batos_dirs: Any, tmp_path: Path) -> None:
    batos = batos_runner(batos_dirs)
    image = str(batos_dirs.image)
    define_versions(batos, image, tmp_path)
    before = history_of(batos, image)
    assert [action for action, _ in before] == ["install", "install"]
    refused = batos("image", "pack", image, "--days", "0")
    assert refused.returncode == 11 and "stop it first" in refused.stderr
    assert batos("daemon", "stop").returncode == 0
    size = batos_dirs.image.stat().st_size
    packed = batos("image", "pack", image, "--days", "0")
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout.startswith(f"packed file://{image}, keeping 0 days of revisions: ")
    assert batos_dirs.image.stat().st_size < size  # the 19 old revisions of genesis are gone
    assert history_of(batos, image) == before  # starts a daemon again: history intact
    old = batos("--image", image, "source", "genesis", "greet:", "--version", "1")
    assert old.returncode == 0 and "'hi ' + name" in old.stdout
    assert batos("--image", image, "send", "genesis", "x").stdout.strip() == "19"
    batos("daemon", "stop")


def test_pack_a_zeo_world_while_a_daemon_serves_it(
    batos: Any, zeo_world: ServerRecord, tmp_path: Path
) -> None:
    define_versions(batos, zeo_world.uri, tmp_path)
    before = history_of(batos, zeo_world.uri)
    size = zeo_world.image.stat().st_size
    packed = batos("image", "pack", zeo_world.uri, "--days", "0")
    assert packed.returncode == 0, packed.stderr
    assert zeo_world.image.stat().st_size < size
    assert history_of(batos, zeo_world.uri) == before
    assert batos("--image", zeo_world.uri, "send", "genesis", "greet:", "Ada").stdout.strip() == "hello Ada"


def test_negative_days_are_refused(batos_dirs: Any) -> None:
    refused = batos_runner(batos_dirs)("image", "pack", "--days", "-1")
    assert refused.returncode == 2
