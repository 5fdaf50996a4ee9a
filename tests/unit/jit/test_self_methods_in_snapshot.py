"""Methods written in Self as the JIT sees them: listed in the receiver's
snapshot by selector and Self signature, named in the prompt as callable
from Python, placeholders in the trial; the standard protocol every object
inherits stays out of the prompt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import transaction
import ZODB

from batos_core.image_format import MIGRATIONS
from batos_core.jit.pipeline import snapshot_of
from batos_core.jit.prompt import method_messages
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.jit.trial import TrialPolicy, run_trial
from batos_core.jit.vet import vet
from batos_core.selfsyntax import world
from batos_core.selfsyntax.evaluator import evaluate

#: What genesis understood before the standard protocol existed.
PRIMORDIALS = [
    "clone", "doesNotUnderstand_", "printString", "removeSlot_", "respondsTo_", "setSlot_value_", "slotNames",
]


@pytest.fixture
def lobby() -> Iterator[Any]:
    db = ZODB.DB(None)
    manager = transaction.TransactionManager()
    conn = db.open(transaction_manager=manager)
    with manager:
        for _number, _title, migrate in MIGRATIONS:
            migrate(conn.root())
    try:
        yield conn.root()["lobby"]
    finally:
        manager.abort()
        conn.close()
        db.close()


def run(lobby: Any, source: str) -> Any:
    with world.entered(lobby):
        return evaluate(source, lobby=lobby, variables={}, resolve_oid=lambda oid: None).value


def test_the_inherited_standard_protocol_stays_out_of_the_snapshot(lobby: Any) -> None:
    snapshot = snapshot_of(lobby.genesis, "genesis")
    assert sorted(snapshot.methods) == PRIMORDIALS
    assert snapshot.self_methods == {}
    user = method_messages("frob", snapshot)[1]["content"]
    assert "Written in Self" not in user


def test_self_methods_are_listed_by_selector_and_self_signature(lobby: Any) -> None:
    run(lobby, "genesis _AddSlots: (| scale: k By: m = ( k * m ). area = ( 12 ) |)")
    snapshot = snapshot_of(lobby.genesis, "genesis")
    assert snapshot.self_methods == {"scale_by_": "scale: k by: m", "area": "area"}
    assert snapshot.methods["scale_by_"].startswith("b__send = batos.selflang.send")  # the compiled Python
    user = method_messages("frob", snapshot)[1]["content"]
    assert (
        "Written in Self, called from Python as ordinary methods: area (area), scale_by_ (scale: k by: m)."
        in user
    )
    # A protocol method the user redefined is the user's: it is listed.
    run(lobby, "traits _AddSlots: (| isNil = ( false ) |)")
    assert snapshot_of(lobby.genesis, "genesis").self_methods["isNil"] == "isNil"


def test_a_method_calling_a_self_method_is_inconclusive_in_the_trial_not_failed() -> None:
    receiver = ReceiverSnapshot(
        name="box",
        data_slots={"width": 3},
        methods={"area": "def area(self):\n    return 12\n", "plain": "def plain(self):\n    return 1\n"},
        self_methods={"area": "area"},
    )
    policy = TrialPolicy(cpu_seconds=1, wall_seconds=2.0)
    source = "def twice(self):\n    return 2 * self.area()\n"
    calls_self = run_trial(vet(source, "twice"), receiver, (), policy)
    assert not calls_self.ok and calls_self.inconclusive, calls_self
    source = "def twice(self):\n    return 2 * self.plain()\n"
    calls_python = run_trial(vet(source, "twice"), receiver, (), policy)
    assert calls_python.ok and calls_python.value_repr == "2"


def test_a_miss_on_a_value_is_prompted_and_tried_with_self_the_value() -> None:
    from batos_core.jit.pipeline import value_snapshot

    receiver = value_snapshot(5)
    assert receiver.value_receiver and receiver.methods == {}
    user = method_messages("tripled", receiver)[1]["content"]
    assert "The object 5 (a Python int) received the message tripled" in user
    assert "self is a Python int, here 5; the method serves every int." in user
    policy = TrialPolicy(cpu_seconds=1, wall_seconds=2.0)
    tripled = run_trial(vet("def tripled(self):\n    return self * 3\n", "tripled"), receiver, (), policy)
    assert tripled.ok and tripled.value_repr == "15"
    same = run_trial(vet("def itself(self):\n    return self\n", "itself"), receiver, (), policy)
    assert same.ok and not same.did_nothing  # returning the value is an answer for a value
    source = "def words(self):\n    return self.split()\n"
    words = run_trial(vet(source, "words"), value_snapshot("a b"), (), policy)
    assert words.ok and words.value_repr == "['a', 'b']"
