"""Two connections change one object: the loser gets ConflictError, a retry wins, nothing is lost."""

from __future__ import annotations

import threading

import pytest
from ZODB.POSException import ConflictError

from batos_core.image import Image


def test_loser_gets_conflict_error_and_retry_succeeds(image: Image) -> None:
    setup = image.session()
    setup.genesis.counter = 0
    setup.commit()
    a, b = image.session(), image.session()
    a.genesis.counter = a.genesis.counter + 1
    b.genesis.counter = b.genesis.counter + 1  # both read 0
    a.commit()
    with pytest.raises(ConflictError):
        b.commit()
    b.abort()
    runs = 0
    for attempt in b.transaction_manager.attempts():
        with attempt:
            runs += 1
            b.genesis.counter = b.genesis.counter + 1
    assert runs == 1  # the fresh transaction sees A's commit: no conflict left
    setup.transaction_manager.begin()
    assert setup.genesis.counter == 2
    for s in (setup, a, b):
        s.close()


def test_retry_loop_inside_attempts_recovers_from_a_conflict(image: Image) -> None:
    setup = image.session()
    setup.genesis.counter = 0
    setup.commit()
    a, b = image.session(), image.session()
    runs = 0
    for attempt in b.transaction_manager.attempts():
        with attempt:
            runs += 1
            b.genesis.counter = b.genesis.counter + 1
            if runs == 1:
                # Another connection commits between B's read and B's commit.
                a.genesis.counter = a.genesis.counter + 10
                a.commit()
    assert runs == 2
    setup.transaction_manager.begin()
    assert setup.genesis.counter == 11
    for s in (setup, a, b):
        s.close()


def test_concurrent_increments_lose_no_update(image: Image) -> None:
    threads, increments = 4, 25
    setup = image.session()
    setup.genesis.counter = 0
    setup.commit()
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            # Each thread owns its session: its own Connection and TransactionManager.
            with image.session() as session:
                start.wait(timeout=30)
                for _ in range(increments):
                    for attempt in session.transaction_manager.attempts(100):
                        with attempt:
                            genesis = session.genesis
                            genesis.counter = genesis.counter + 1
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool)
    assert errors == []
    setup.transaction_manager.begin()
    assert setup.genesis.counter == threads * increments
    setup.close()
