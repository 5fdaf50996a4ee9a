"""The PostgreSQL server stopped and restarted under load (``pg_ctl stop -m immediate``, then
``pg_ctl start``): every daemon on the world reconnects; its clients see a delay or a typed,
retryable error (``storage_unavailable``) and retry with the same id; nothing is lost and
nothing runs twice."""

from __future__ import annotations

from typing import Any

from increment_load import IncrementLoad
from pg_cluster import PgCluster, start_server, stop_server

INCREMENTS = 30
BEFORE_STOP = 20
RETRYABLE = {"storage_unavailable", "conflict"}


def test_a_restarted_postgresql_server_loses_nothing(own_pg_cluster: PgCluster, daemon_factory: Any) -> None:
    own_pg_cluster.create_database("world")
    world = own_pg_cluster.uri("world")
    daemons = [daemon_factory(image=world, instance=name) for name in ("a", "b")]
    daemons[0].install_counter()
    clients = [daemon.client(timeout=30.0) for daemon in daemons for _ in range(2)]
    load = IncrementLoad(clients, INCREMENTS, BEFORE_STOP, RETRYABLE).start()
    try:
        load.wait_under_load()
        stop_server(own_pg_cluster, "immediate")  # as a crash: no checkpoint, open sessions cut
        answered_while_up = len(load.replies)
    finally:
        start_server(own_pg_cluster)  # returns once it accepts connections again
    load.join()
    assert BEFORE_STOP <= answered_while_up < load.total  # the stop came under load
    assert sorted(load.replies) == list(range(1, load.total + 1))
    for daemon in daemons:  # both reconnected, and both see every increment
        assert daemon.send("genesis", "counter")["result"] == load.total
    assert set(load.retried) <= RETRYABLE
