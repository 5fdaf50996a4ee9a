"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` in a temporary
directory, listening on a free loopback port with password (scram-sha-256) authentication.

As root (CI runs as root), the cluster runs as the ``postgres`` user that Debian's
package creates: PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "batos"
PASSWORD = "batos-test-password"


@dataclass(frozen=True)
class PgCluster:
    """A running cluster: where it listens, and its superuser (USER / PASSWORD)."""

    root: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"

    def uri(self, database: str, *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; returns its output (raises CalledProcessError)."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                statement,
            ],
            env={**os.environ, "PGPASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {name}")


def find_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def start_cluster(bin_dir: Path, port: int) -> PgCluster:
    """initdb + pg_ctl start (waits until it accepts connections); raises CalledProcessError."""
    root = Path(tempfile.mkdtemp(prefix="batos-pg-"))
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    owner = _cluster_owner()
    if owner is not None:
        shutil.chown(root, owner.pw_uid, owner.pw_gid)
        shutil.chown(pwfile, owner.pw_uid, owner.pw_gid)
    data = root / "data"
    _run_as(
        owner,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    )
    cluster = PgCluster(root=root, bin_dir=bin_dir, port=port)
    start_server(cluster)
    return cluster


def start_server(cluster: PgCluster) -> None:
    """pg_ctl start on the cluster's data directory; returns once it accepts connections."""
    options = (
        f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1"
        " -c fsync=off -c full_page_writes=off"
    )
    _run_as(
        _cluster_owner(),
        [
            str(cluster.bin_dir / "pg_ctl"),
            "-D",
            str(cluster.root / "data"),
            "-l",
            str(cluster.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
    )


def stop_server(cluster: PgCluster, mode: str = "fast") -> None:
    """pg_ctl stop (`mode`: smart, fast or immediate, pg_ctl's -m); returns once it is down."""
    _run_as(
        _cluster_owner(),
        [str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.root / "data"), "-m", mode, "-w", "stop"],
    )


def stop_cluster(cluster: PgCluster) -> None:
    try:
        if (cluster.root / "data" / "postmaster.pid").exists():
            stop_server(cluster)
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)


def _cluster_owner() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def _run_as(owner: pwd.struct_passwd | None, argv: list[str]) -> None:
    if owner is not None:
        argv = ["runuser", "-u", owner.pw_name, "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, timeout=120, cwd="/")
