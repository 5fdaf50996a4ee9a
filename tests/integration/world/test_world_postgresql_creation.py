"""A new world in PostgreSQL made by several openers at once, and a database without a
(complete) world refused in one line that names the storage and the fix, nothing written.

Opens race for real: each opener is its own process, released together once all have
imported batos (a line on each one's stdin)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from pg_cluster import PgCluster
from world_servers import batos_runner

from batos_core.image import StorageRefused, open_image
from batos_core.image_format import MIGRATIONS

OPENERS = 4
ROUNDS = 3

#: One opener: import, say so, wait for the go, open, print what it found (or the error).
_OPENER = """
import json, sys
from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
print("ready", flush=True)
sys.stdin.readline()
try:
    with open_image(sys.argv[1], migrations=MIGRATIONS) as image:
        meta = image.default_session.meta
        print(json.dumps({"migrations": [m["number"] for m in meta.migrations]}), flush=True)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""


def _race(uri: str, env: dict[str, str]) -> list[dict[str, Any]]:
    with contextlib.ExitStack() as stack:  # Popen's exit closes the pipes and reaps
        openers = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", _OPENER, uri],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
            for _ in range(OPENERS)
        ]
        stack.callback(lambda: [opener.kill() for opener in openers if opener.poll() is None])
        for opener in openers:
            assert opener.stdout is not None and opener.stdout.readline() == "ready\n"
        for opener in openers:  # the go, to all of them at once
            assert opener.stdin is not None
            opener.stdin.write("go\n")
            opener.stdin.flush()
        results = []
        for opener in openers:
            assert opener.stdout is not None
            results.append(json.loads(opener.stdout.readline()))
            assert opener.wait(60) == 0
        return results


def _table_count(cluster: PgCluster, database: str) -> int:
    return int(
        cluster.sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", database)
    )


def test_racing_opens_of_a_new_database_make_one_world(pg_cluster: PgCluster, batos_dirs: Any) -> None:
    for round_ in range(ROUNDS):  # each round a fresh database: the race is at its creation
        database = f"race_{round_}"
        pg_cluster.create_database(database)
        results = _race(pg_cluster.uri(database), batos_dirs.env())
        assert [result.get("error") for result in results] == [None] * OPENERS
        # One bootstrap: every opener sees each migration once, in order.
        assert len({json.dumps(result) for result in results}) == 1
        migrations = results[0]["migrations"]
        assert migrations == list(range(1, len(migrations) + 1))
        made = "SELECT count(*) FROM object_state WHERE zoid = 0 AND prev_tid = 0"
        assert int(pg_cluster.sql(made, database)) == 1  # one root object, made once


def test_two_daemons_started_at_once_on_a_new_database_both_serve(pg_world: str, daemon_factory: Any) -> None:
    started: dict[str, Any] = {}
    failures: list[BaseException] = []

    def start(name: str) -> None:
        try:
            started[name] = daemon_factory(image=pg_world, instance=name)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    started["a"].send("genesis", "setSlot:value:", "x", 7)
    assert started["b"].send("genesis", "x")["result"] == 7


def test_an_empty_database_opened_read_only_is_refused_and_left_empty(
    pg_cluster: PgCluster, pg_world: str
) -> None:
    database = pg_world.rsplit("/", 1)[1]
    with pytest.raises(StorageRefused) as caught:
        open_image(pg_world, read_only=True, migrations=MIGRATIONS)
    uri = f"postgresql://batos@127.0.0.1:{pg_cluster.port}/{database}"
    assert str(caught.value) == (
        f"{uri} holds no batos world yet (no RelStorage schema) and was opened read-only: "
        f"open it once read-write to create one (batos --image {uri} daemon start)"
    )
    assert _table_count(pg_cluster, database) == 0


def test_an_incomplete_relstorage_schema_is_refused_and_left_alone(
    pg_cluster: PgCluster, pg_world: str, batos_dirs: Any
) -> None:
    database = pg_world.rsplit("/", 1)[1]
    open_image(pg_world, migrations=MIGRATIONS).close()
    pg_cluster.sql("DROP TABLE blob_chunk CASCADE", database)
    transactions = pg_cluster.sql("SELECT count(*) FROM transaction", database)
    uri = f"postgresql://batos@127.0.0.1:{pg_cluster.port}/{database}"
    expected = (
        f"{uri} holds an incomplete RelStorage schema (no blob_chunk): restore the database from a "
        f"backup, or use an empty one (createdb -h 127.0.0.1 -p {pg_cluster.port} -U batos {database})"
    )
    with pytest.raises(StorageRefused) as caught:
        open_image(pg_world, migrations=MIGRATIONS)
    assert str(caught.value) == expected
    refused = batos_runner(batos_dirs)("--image", pg_world, "daemon", "start", "--wedge-timeout", "0")
    assert refused.returncode == 3
    assert any(line.endswith(expected) for line in refused.stderr.splitlines()), refused.stderr
    assert sorted(p.name for p in batos_dirs.runtime_dir.iterdir()) == []  # no daemon half-way
    assert pg_cluster.sql("SELECT count(*) FROM transaction", database) == transactions  # nothing written
    assert (
        "blob_chunk"
        not in pg_cluster.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", database
        ).split()
    )


def test_a_history_free_relstorage_schema_is_refused(pg_cluster: PgCluster, pg_world: str) -> None:
    database = pg_world.rsplit("/", 1)[1]
    open_image(pg_world, migrations=MIGRATIONS).close()
    pg_cluster.sql("DROP TABLE transaction, current_object CASCADE", database)
    with pytest.raises(StorageRefused, match="holds a history-free RelStorage schema; batos keeps history"):
        open_image(pg_world, migrations=MIGRATIONS)
