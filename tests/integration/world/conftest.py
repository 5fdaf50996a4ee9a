"""Fixtures for one world served to several daemons: a real ZEO server (`batos image serve`'s
own `zeo_server`, so ZEO's runzeo in a subprocess) on a free loopback port, and `batos`
run against it. Daemons a test starts on the world are stopped at teardown.

A test names its world (`zeo_world`, `pg_world`, or a `world` parameter) *before*
`daemon_factory`: fixtures are torn down in reverse order, so the daemons stop
while their storage server still answers (else each waits for it on the way out)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_cluster import PgCluster, find_bin_dir, start_cluster, stop_cluster
from world_servers import Batos, batos_runner, free_port

from batos_cli import connect
from batos_core import zeo_record
from batos_core.daemon_config import DaemonConfig
from batos_core.world import zeo_server
from batos_core.zeo_record import ServerRecord


@pytest.fixture
def zeo_world(tmp_path: Path) -> Iterator[ServerRecord]:
    """A ZEO server serving `tmp_path/world.fs`, started as `batos image serve` does; stopped after."""
    record = zeo_server.serve(tmp_path / "world.fs", "127.0.0.1", free_port())
    try:
        yield record
    finally:
        if zeo_record.running(record.image) is not None:
            zeo_server.stop(record.image)


@pytest.fixture
def batos(batos_dirs: Any, zeo_world: ServerRecord) -> Iterator[Batos]:
    """Run `batos` in this test's directories; stops every daemon of `zeo_world` it started."""
    yield batos_runner(batos_dirs)
    config = DaemonConfig(image=zeo_world.uri, runtime_dir=batos_dirs.runtime_dir)
    for instance in connect.instances(config):
        connect.stop(DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir, instance=instance))


def _in_ci() -> bool:
    """`.ci/run` exports CI=1 (as most CI services do): there, a missing PostgreSQL is a failure."""
    return os.environ.get("CI", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def pg_bin_dir() -> Path:
    """Where PostgreSQL's initdb and pg_ctl are (Debian's `postgresql` package).

    Skipped only where its binaries or RelStorage are absent *and* this is not CI.
    """
    bin_dir = find_bin_dir()
    missing = "initdb/pg_ctl (Debian: apt-get install postgresql)" if bin_dir is None else ""
    if importlib.util.find_spec("relstorage") is None or importlib.util.find_spec("psycopg2") is None:
        missing = missing or "RelStorage/psycopg2 (pip install -e '.[world]')"
    if missing:
        if _in_ci():
            pytest.fail(f"CI needs {missing}")
        pytest.skip(f"no {missing}")
    assert bin_dir is not None
    return bin_dir


@contextlib.contextmanager
def _throwaway_cluster(bin_dir: Path) -> Iterator[PgCluster]:
    cluster = start_cluster(bin_dir, free_port())
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="session")
def pg_cluster(pg_bin_dir: Path) -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for the session."""
    with _throwaway_cluster(pg_bin_dir) as cluster:
        yield cluster


@pytest.fixture
def own_pg_cluster(pg_bin_dir: Path) -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for one test that stops and restarts its server."""
    with _throwaway_cluster(pg_bin_dir) as cluster:
        yield cluster


@pytest.fixture
def pg_world(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> str:
    """The URI of a fresh, empty database in the session's cluster (a new world on first open)."""
    name = "w_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    pg_cluster.create_database(name)
    return pg_cluster.uri(name)
