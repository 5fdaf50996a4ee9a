"""Several daemons on one world, served by a real ZEO server (runzeo) or a real PostgreSQL
(RelStorage): what one daemon changes, the next request through any other sees, lookup caches
included; concurrent increments are exact."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
from batos_core.protocol.builders import create_method_request, send_request
from batos_core.protocol.client import Client
from batos_core.world import reply_table

#: Increments per client in the concurrency test: 3 daemons x 4 clients x 300, the issue's size.
FULL_INCREMENTS = 300
#: On PostgreSQL the default is a third of it: on 2 shared cores the full 3600 take about
#: 55-70 s there, against about 35 s on ZEO. BATOS_WORLD_FULL_SIZE=1 runs the full size.
POSTGRESQL_INCREMENTS = 100
#: Replies stored before the increments: as many as about 2000 requests leave, so the reply
#: table starts as full as a long run makes it (when it was a BTree, its inner nodes, written
#: once it held about 1400 entries, made RelStorage's locks deadlock on PostgreSQL).
EARLIER_REPLIES = 2000
#: Seconds the increments may take in all.
DEADLINE_S = 840.0


def increments_for(world: str) -> int:
    if world.startswith("postgresql:") and os.environ.get("BATOS_WORLD_FULL_SIZE", "") in ("", "0"):
        return POSTGRESQL_INCREMENTS
    return FULL_INCREMENTS


def value_of(reply: dict[str, Any]) -> Any:
    assert reply["type"] == "send_reply", reply
    return reply["result"]


def send(client: Client, receiver: str, selector: str, *args: Any) -> Any:
    return value_of(client.request(send_request(receiver, selector, list(args))))


def define(client: Client, target: str, selector: str, source: str) -> None:
    reply = client.request(create_method_request(target, selector, source))
    assert reply["type"] == "create_method_reply", reply


@pytest.fixture(params=["zeo", "postgresql"])
def world(request: pytest.FixtureRequest) -> str:
    """The URI of a fresh shared world: a ZEO server, or a PostgreSQL database (RelStorage)."""
    if request.param == "zeo":
        return str(request.getfixturevalue("zeo_world").uri)
    return str(request.getfixturevalue("pg_world"))


def test_changes_through_one_daemon_reach_the_lookup_caches_of_another(
    world: str, daemon_factory: Any
) -> None:
    a = daemon_factory(image=world, instance="a").client()
    b = daemon_factory(image=world, instance="b").client()
    # An own method, cached by b as a bound method after its first send.
    define(a, "genesis", "version", "def version(self):\n    return 'one'\n")
    assert send(b, "genesis", "version") == "one"
    define(a, "genesis", "version", "def version(self):\n    return 'two'\n")
    assert send(b, "genesis", "version") == "two"
    # A method found by delegation (genesis -> traits), cached on genesis in b.
    define(a, "traits", "inherited", "def inherited(self):\n    return 'from traits 1'\n")
    assert send(b, "genesis", "inherited") == "from traits 1"
    define(a, "traits", "inherited", "def inherited(self):\n    return 'from traits 2'\n")
    assert send(b, "genesis", "inherited") == "from traits 2"
    # A data slot found by delegation, then shadowed by an own method of the receiver.
    send(a, "traits", "setSlot:value:", "shared", 1)
    assert send(b, "genesis", "shared") == 1
    send(a, "traits", "setSlot:value:", "shared", 2)
    assert send(b, "genesis", "shared") == 2
    define(a, "genesis", "inherited", "def inherited(self):\n    return 'own'\n")
    assert send(b, "genesis", "inherited") == "own"
    # And the other way round, so neither daemon is special.
    send(b, "genesis", "setSlot:value:", "x", 41)
    assert send(a, "genesis", "x") == 41


@pytest.mark.slow
@pytest.mark.timeout(DEADLINE_S + 60)
def test_three_daemons_four_clients_each_increment_one_slot_exactly(
    world: str, daemon_factory: Any, request: pytest.FixtureRequest
) -> None:
    increments = increments_for(world)
    store_earlier_replies(world)
    daemons = [daemon_factory(image=world, instance=name) for name in ("a", "b", "c")]
    daemons[0].install_counter()
    clients = [daemon.client(timeout=60.0) for daemon in daemons for _ in range(4)]
    results: list[list[int]] = [[] for _ in clients]
    failures: list[BaseException] = []
    conflicts: list[str] = []  # requests that kept conflicting for the daemon's 50 attempts

    def run(index: int) -> None:
        try:
            for _ in range(increments):
                message = send_request("genesis", "increment")
                while True:  # `conflict` is retryable (docs/protocol.md): the same request, same id
                    reply = clients[index].request(message)
                    if reply.get("code") != "conflict":
                        break
                    conflicts.append(reply["id"])
                results[index].append(value_of(reply))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_S
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    total = len(clients) * increments
    # Every increment ran exactly once, each on the value the one before it committed.
    assert sorted(value for values in results for value in values) == list(range(1, total + 1))
    assert {send(daemon.client(), "genesis", "counter") for daemon in daemons} == {total}
    assert len(conflicts) < total // 10  # the daemons' retries absorb nearly all of them
    if world.startswith("postgresql:"):
        # Lock waits that PostgreSQL had to break (each after its deadlock_timeout, 1 s).
        cluster = request.getfixturevalue("pg_cluster")
        database = world.rsplit("/", 1)[1]
        deadlocks = cluster.sql(f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{database}'")
        assert int(deadlocks) == 0


def store_earlier_replies(world: str) -> None:
    """Fill the world's reply table with EARLIER_REPLIES replies, in one transaction."""
    with open_image(world, migrations=MIGRATIONS) as image, image.session() as session:
        for number in range(EARLIER_REPLIES):
            reply_table.store_reply(session.root, uuid.uuid4().hex, {"type": "send_reply", "id": str(number)})
        session.commit()
