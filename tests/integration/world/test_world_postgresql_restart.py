"""The PostgreSQL server stopped and restarted under load (``pg_ctl stop -m immediate``, then
``pg_ctl start``): every daemon on the world reconnects; its clients see a delay or a typed,
retryable error (``storage_unavailable``) and retry with the same id; nothing is lost and
nothing runs twice."""

from __future__ import annotations

import threading
from typing import Any

from pg_cluster import PgCluster, start_server, stop_server

from batos_core.protocol.builders import send_request

INCREMENTS = 30
BEFORE_STOP = 20
RETRYABLE = {"storage_unavailable", "conflict"}


def test_a_restarted_postgresql_server_loses_nothing(own_pg_cluster: PgCluster, daemon_factory: Any) -> None:
    own_pg_cluster.create_database("world")
    world = own_pg_cluster.uri("world")
    daemons = [daemon_factory(image=world, instance=name) for name in ("a", "b")]
    daemons[0].install_counter()
    clients = [daemon.client(timeout=30.0) for daemon in daemons for _ in range(2)]
    replies: list[int] = []
    retried: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    failures: list[BaseException] = []

    def run(client: Any) -> None:
        try:
            for _ in range(INCREMENTS):
                message = send_request("genesis", "increment")
                while True:  # the same request, same id, until it is answered
                    reply = client.request(message)
                    if reply["type"] == "send_reply":
                        break
                    assert reply.get("code") in RETRYABLE, reply
                    with lock:
                        retried.append(reply["code"])
                with lock:
                    replies.append(reply["result"])
                    if len(replies) >= BEFORE_STOP:
                        enough.set()
        except BaseException as exc:
            failures.append(exc)
            enough.set()

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    try:
        assert enough.wait(60)
        stop_server(own_pg_cluster, "immediate")  # as a crash: no checkpoint, open sessions cut
        with lock:
            answered_while_up = len(replies)
    finally:
        start_server(own_pg_cluster)  # returns once it accepts connections again
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    total = len(clients) * INCREMENTS
    assert BEFORE_STOP <= answered_while_up < total  # the stop came under load
    assert sorted(replies) == list(range(1, total + 1))
    for daemon in daemons:  # both reconnected, and both see every increment
        assert daemon.send("genesis", "counter")["result"] == total
    assert set(retried) <= RETRYABLE
