"""Exactly-once across daemons of one world (ZEO and PostgreSQL): the reply of a request that
changed the world is stored in the world, so a retry against another daemon never runs twice;
a client given several daemons fails over in order when one is killed under load."""

from __future__ import annotations

from typing import Any

import pytest
from increment_load import IncrementLoad

from batos_core.protocol.builders import send_request
from batos_core.protocol.connection import read_daemons_file, write_daemons_file
from batos_core.protocol.failover import FailoverClient

#: Increments per client in the kill test (4 clients), and how many land before the kill.
INCREMENTS = 15
BEFORE_KILL = 10


@pytest.fixture(params=["zeo", "postgresql"])
def world(request: pytest.FixtureRequest) -> str:
    if request.param == "zeo":
        return str(request.getfixturevalue("zeo_world").uri)
    return str(request.getfixturevalue("pg_world"))


def test_a_retry_against_another_daemon_gets_the_stored_reply(world: str, daemon_factory: Any) -> None:
    a = daemon_factory(image=world, instance="a")
    b = daemon_factory(image=world, instance="b")
    a.install_counter()
    message = send_request("genesis", "increment", request_id="f" * 32)
    first = a.client().request(message)
    assert first["type"] == "send_reply" and first["result"] == 1
    assert b.client().request(message) == first  # the stored reply, not a second run
    assert b.send("genesis", "counter")["result"] == 1


def test_clients_fail_over_when_a_daemon_is_killed_under_load(world: str, daemon_factory: Any) -> None:
    a = daemon_factory(image=world, instance="a")
    b = daemon_factory(image=world, instance="b")
    a.install_counter()
    listing = a.dirs.runtime_dir / "world.json"
    write_daemons_file(listing, [a.info, b.info])
    daemons = read_daemons_file(listing)
    assert [info.endpoint for info in daemons] == [a.info.endpoint, b.info.endpoint]
    clients = [FailoverClient(daemons, timeout=3.0, retries=0) for _ in range(4)]
    load = IncrementLoad(clients, INCREMENTS, BEFORE_KILL).start()  # no error is retried here
    load.wait_under_load()
    a.kill()  # SIGKILL, mid-stream: requests in flight on a are retried on b
    load.join()
    for client in clients:
        client.close()
    assert all(client.current.endpoint == b.info.endpoint for client in clients)
    # Every request acknowledged exactly once, none run twice, none lost.
    assert sorted(load.replies) == list(range(1, load.total + 1))
    assert b.send("genesis", "counter")["result"] == load.total
