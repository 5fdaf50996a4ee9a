"""A world in a real PostgreSQL (RelStorage, history-preserving): made on first open, reopened
as is, and every bad input refused in one line that names the storage and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from pg_cluster import PgCluster
from world_servers import free_port

from batos_core.image import StorageRefused, StorageUnreachable, open_image
from batos_core.image_format import MIGRATIONS


def test_a_new_world_is_made_on_first_open_and_kept(pg_cluster: PgCluster, pg_world: str) -> None:
    with open_image(pg_world, migrations=MIGRATIONS) as image:
        session = image.session()
        for greeting in ("hi", "hello"):
            session.genesis.greeting = greeting
            session.commit()
        session.close()
    database = pg_world.rsplit("/", 1)[1]
    tables = set(
        pg_cluster.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", database
        ).split()
    )
    assert {"object_state", "current_object", "transaction"} <= tables  # RelStorage, history kept
    with open_image(pg_world, migrations=MIGRATIONS) as image:
        assert image.genesis.greeting == "hello"
        assert image.default_session.meta.migrations[0]["number"] == 1  # not bootstrapped twice
        oid = int.from_bytes(image.genesis._p_oid, "big")
    revisions = pg_cluster.sql(f"SELECT count(*) FROM object_state WHERE zoid = {oid}", database)
    assert int(revisions) >= 3  # created, "hi", "hello": every revision is kept


def test_an_unreachable_server(pg_cluster: PgCluster) -> None:
    port = free_port()
    with pytest.raises(StorageUnreachable) as caught:
        open_image(f"postgresql://batos@127.0.0.1:{port}/world", migrations=MIGRATIONS)
    assert str(caught.value) == (
        f"no PostgreSQL server answers at 127.0.0.1:{port} for postgresql://batos@127.0.0.1:{port}/world: "
        "start it, or fix the URI"
    )


def test_a_wrong_password_is_named_and_never_shown(pg_cluster: PgCluster, pg_world: str) -> None:
    database = pg_world.rsplit("/", 1)[1]
    with pytest.raises(StorageRefused) as caught:
        open_image(pg_cluster.uri(database, password="not-the-password"), migrations=MIGRATIONS)
    message = str(caught.value)
    assert "refused the password of user 'batos'" in message and "PGPASSWORD" in message
    assert "not-the-password" not in message and "\n" not in message
    assert (
        pg_cluster.sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", database
        ).strip()
        == "0"
    )  # nothing written


def test_a_missing_database_names_createdb(pg_cluster: PgCluster) -> None:
    with pytest.raises(StorageRefused) as caught:
        open_image(pg_cluster.uri("nowhere"), migrations=MIGRATIONS)
    assert str(caught.value) == (
        f"postgresql://batos@127.0.0.1:{pg_cluster.port}/nowhere: no database 'nowhere': "
        f"create it: createdb -h 127.0.0.1 -p {pg_cluster.port} -U batos nowhere"
    )


def test_a_database_of_something_else_is_left_alone(pg_cluster: PgCluster, pg_world: str) -> None:
    database = pg_world.rsplit("/", 1)[1]
    pg_cluster.sql("CREATE TABLE invoices (id integer)", database)
    with pytest.raises(
        StorageRefused, match="has tables that are not a RelStorage world: use an empty database"
    ):
        open_image(pg_world, migrations=MIGRATIONS)
    assert pg_cluster.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", database
    ).split() == ["invoices"]


def test_a_daemon_on_a_bad_world_does_not_start(
    pg_cluster: PgCluster, pg_world: str, batos_dirs: Any
) -> None:
    from world_servers import batos_runner

    batos = batos_runner(batos_dirs)
    database = pg_world.rsplit("/", 1)[1]
    refused = batos(
        "--image", pg_cluster.uri(database, password="wrong"), "daemon", "start", "--wedge-timeout", "0"
    )
    assert refused.returncode == 3
    assert "refused the password of user 'batos'" in refused.stderr
    assert "wrong" not in refused.stderr.replace("wrong one", "")
    assert sorted(p.name for p in batos_dirs.runtime_dir.iterdir()) == []  # no socket, pidfile or key left


def test_pack_through_relstorage(pg_cluster: PgCluster, pg_world: str) -> None:
    from batos_core.image_tool import pack

    database = pg_world.rsplit("/", 1)[1]
    with open_image(pg_world, migrations=MIGRATIONS) as image:
        session = image.session()
        for value in range(5):
            session.genesis.x = value
            session.commit()
        oid = int.from_bytes(session.genesis._p_oid, "big")
        session.close()
    count = f"SELECT count(*) FROM object_state WHERE zoid = {oid}"
    assert int(pg_cluster.sql(count, database)) >= 6
    status, message = pack(pg_world, 0)
    assert status == "packed", message
    assert "batos-test-password" not in message
    assert int(pg_cluster.sql(count, database)) == 1
    with open_image(pg_world, migrations=MIGRATIONS) as image:
        assert image.genesis.x == 4
