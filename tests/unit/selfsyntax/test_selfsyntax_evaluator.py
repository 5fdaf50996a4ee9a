"""The evaluator against a real in-memory ZODB image (bootstrap lobby, traits, genesis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import transaction
import ZODB
from ZODB.Connection import Connection

from batos_core.image.migrations import bootstrap
from batos_core.objects import (
    Method,
    SlotNotFound,
    UvmObject,
    get_slot,
    is_constant_slot,
    parents,
    set_slot,
    slot_names,
)
from batos_core.selfsyntax.errors import ReadOnlySlot, SelfEvalError, SelfSyntaxError, UnknownName
from batos_core.selfsyntax.evaluator import EvalResult, evaluate


class World:
    """An open connection to an in-memory image, and evaluate() bound to it."""

    def __init__(self, connection: Connection, manager: transaction.TransactionManager) -> None:
        self.connection = connection
        self.manager = manager
        self.lobby: UvmObject = connection.root()["lobby"]
        self.variables: dict[str, Any] = {}

    def resolve(self, oid: int) -> Any:
        return self.connection.get(oid.to_bytes(8, "big"))

    def run(self, source: str) -> EvalResult:
        result = evaluate(
            source, lobby=self.lobby, variables=self.variables, resolve_oid=self.resolve
        )
        self.variables = result.variables
        return result

    def value(self, source: str) -> Any:
        return self.run(source).value


@pytest.fixture
def world() -> Iterator[World]:
    db = ZODB.DB(None)
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    with manager:
        bootstrap(connection.root())
    try:
        yield World(connection, manager)
    finally:
        manager.abort()
        connection.close()
        db.close()


def add_method(holder: UvmObject, name: str, source: str) -> None:
    set_slot(holder, name, Method(name, source, {"author": "test"}))


VALUES = [
    ("3 + 4 * 2", 14),
    ("3 + (4 * 2)", 11),
    ("2 - -3", 5),
    ("7 // 2", 3),
    ("7 \\\\ 3", 1),
    ("7 / 2", 3.5),
    ("16r1F + 1", 32),
    ("1 < 2", True),
    ("3 = 3", True),
    ("3 ~= 3", False),
    ("nil == nil", True),
    ("'ab' , 'cd'", "abcd"),
    ("'abc' upper", "ABC"),
    ("'a-b' split: '-'", ["a", "b"]),
    ("'banana' replace: 'a' with: 'o'", "bonono"),
    ("3 real", 3),
    ("#(1 2 'a' #(3) foo) , #(bar)", [1, 2, "a", [3], "foo", "bar"]),
    ("{1 + 1. 'x' upper}", [2, "X"]),
    ("#at:put:", "at:put:"),
    ("true & false", False),
    ("x := 3. y := x + 1. y * x", 12),
    ("'it''s' count: ''''", 1),
    ("nil", None),
]


@pytest.mark.parametrize(("source", "expected"), VALUES)
def test_values(world: World, source: str, expected: Any) -> None:
    assert world.value(source) == expected


def test_variables_are_returned_not_written_in_place(world: World) -> None:
    before: dict[str, Any] = {"z": 1}
    result = evaluate("a := 2. z + a", lobby=world.lobby, variables=before, resolve_oid=world.resolve)
    assert result.value == 3
    assert result.variables == {"z": 1, "a": 2}
    assert before == {"z": 1}


def test_names_resolve_variables_then_lobby_slots(world: World) -> None:
    genesis = get_slot(world.lobby, "genesis")
    assert world.value("genesis") is genesis
    assert world.value("self") is world.lobby
    world.run("genesis := 5")
    assert world.value("genesis") == 5


def test_unknown_name_is_a_typed_error_with_position(world: World) -> None:
    with pytest.raises(UnknownName) as info:
        world.run("3 +\n  nosuchname")
    assert (info.value.name, info.value.line, info.value.column) == ("nosuchname", 2, 3)


def test_syntax_error_runs_nothing(world: World) -> None:
    with pytest.raises(SelfSyntaxError):
        world.run("genesis setSlot: 'x' value: 1. (")
    assert "x" not in slot_names(get_slot(world.lobby, "genesis"))


def test_keyword_send_runs_primordial_with_self_bound(world: World) -> None:
    result = world.value("a := genesis clone. a setSlot: 'x' value: 3. a x")
    assert result == 3
    a = world.variables["a"]
    assert isinstance(a, UvmObject)
    assert parents(a) == parents(get_slot(world.lobby, "genesis"))


def test_inherited_method_runs_with_receiver_as_self(world: World) -> None:
    genesis = get_slot(world.lobby, "genesis")
    add_method(genesis, "twice_", "def twice_(self, n):\n    return [self, n * 2]\n")
    value = world.value("a := genesis clone. a twice: 21")
    assert value == [world.variables["a"], 42]


def test_cascade_sends_to_the_receiver_of_the_last_message(world: World) -> None:
    value = world.value(
        "g := genesis clone. g setSlot: 'x' value: 1; setSlot: 'y' value: 2; slotNames"
    )
    assert list(value) == ["parent*", "x", "y"]


def test_object_literal_slots(world: World) -> None:
    obj = world.value("(| x = 3. y <- 4. parent* = genesis. z |)")
    assert isinstance(obj, UvmObject)
    assert slot_names(obj) == ["x", "y", "parent*", "z"]
    assert is_constant_slot(obj, "x") and not is_constant_slot(obj, "y")
    assert get_slot(obj, "z") is None
    assert parents(obj) == [get_slot(world.lobby, "genesis")]
    empty = world.value("(| |)")
    assert slot_names(empty) == []
    with pytest.raises(SlotNotFound):  # no parent: an empty object understands nothing
        world.run("(| |) slotNames")


def test_object_literal_joins_the_database_when_stored(world: World) -> None:
    world.run("genesis setSlot: 'point' value: (| x <- 1 |)")
    world.manager.commit()
    point = get_slot(get_slot(world.lobby, "genesis"), "point")
    assert point._p_oid is not None
    oid = int.from_bytes(point._p_oid, "big")
    assert world.value(f"@{oid:x} x") == 1
    assert world.value(f"@0x{oid:x}") is point


def test_assignable_slot_reads_and_writes(world: World) -> None:
    assert world.value("p := (| y <- 4 |). p y: 5. p y") == 5
    assert world.value("p y: 6") is world.variables["p"]


def test_constant_slot_refuses_assignment(world: World) -> None:
    world.run("p := (| x = 3. parent* = genesis |)")
    with pytest.raises(ReadOnlySlot) as info:
        world.run("3.\n  p x: 4")
    assert (info.value.line, info.value.column) == (2, 3)
    assert world.value("p x") == 3
    with pytest.raises(ReadOnlySlot):  # a constant found in a parent
        world.run("(| parent* = p |) x: 5")


def test_explicit_setter_method_wins_over_assignment(world: World) -> None:
    genesis = get_slot(world.lobby, "genesis")
    add_method(genesis, "y_", "def y_(self, v):\n    return 'setter ran'\n")
    assert world.value("p := (| y <- 1. parent* = genesis |). p y: 2") == "setter ran"
    assert world.value("p y") == 1


def test_miss_on_an_object_raises_slot_not_found(world: World) -> None:
    with pytest.raises(SlotNotFound) as info:
        world.run("genesis frobnicate: 3 with: 4")
    assert info.value.selector == "frobnicate_with_"
    assert info.value.receiver is get_slot(world.lobby, "genesis")


def test_identity_comparisons_on_objects(world: World) -> None:
    assert world.value("genesis = genesis") is True
    assert world.value("genesis == genesis clone") is False
    assert world.value("genesis ~= lobby") is True


def test_type_traits_are_created_on_demand(world: World) -> None:
    traits = get_slot(world.lobby, "traits")
    assert "number" not in slot_names(traits)
    world.run("nil")
    for name in ("number", "string", "list", "nil", "boolean"):
        assert isinstance(get_slot(traits, name), UvmObject)
    assert world.value("traits number") is get_slot(traits, "number")


@pytest.mark.parametrize(
    ("kind", "source", "expected"),
    [
        ("number", "20 double", 40),
        ("number", "1.5 double", 3.0),
        ("string", "'ab' double", "abab"),
        ("list", "#(1) double", [1, 1]),
        ("boolean", "true double", 2),
        ("nil", "nil double", "nil twice"),
    ],
)
def test_messages_to_values_use_per_type_traits(
    world: World, kind: str, source: str, expected: Any
) -> None:
    world.run("nil")  # creates the traits objects
    holder = get_slot(get_slot(world.lobby, "traits"), kind)
    body = "'nil twice'" if kind == "nil" else "self + self"
    add_method(holder, "double", f"def double(self):\n    return {body}\n")
    assert world.value(source) == expected


def test_keyword_method_in_number_traits(world: World) -> None:
    world.run("nil")
    number = get_slot(get_slot(world.lobby, "traits"), "number")
    add_method(number, "between_and_", "def between_and_(self, a, b):\n    return a <= self <= b\n")
    assert world.value("5 between: 1 and: 9") is True


def test_methods_added_from_the_repl_reach_values(world: World) -> None:
    world.run("traits string setSlot: 'greeting' value: 'hi'")
    assert world.value("'x' greeting") == "hi"
    assert world.value("3 printString") == "3"


def test_miss_on_a_value_raises_slot_not_found_for_its_traits(world: World) -> None:
    with pytest.raises(SlotNotFound) as info:
        world.run("3 frobnicate")
    number = get_slot(get_slot(world.lobby, "traits"), "number")
    assert info.value.selector == "frobnicate"
    assert info.value.receiver is number


def test_miss_on_a_value_runs_its_traits_does_not_understand(world: World) -> None:
    world.run("nil")
    string = get_slot(get_slot(world.lobby, "traits"), "string")
    add_method(
        string,
        "doesNotUnderstand_",
        "def doesNotUnderstand_(self, selector, arguments):\n    return [self, selector, arguments]\n",
    )
    assert world.value("'s' zork: 1") == ["s", "zork_", [1]]


def test_private_python_attributes_are_never_reached(world: World) -> None:
    with pytest.raises(SelfEvalError, match="reserved"):
        world.run("'abc' __class__")


def test_values_without_traits_are_an_eval_error(world: World) -> None:
    genesis = get_slot(world.lobby, "genesis")
    set_slot(genesis, "table", {"a": 1})
    assert world.value("genesis table keys") is not None
    with pytest.raises(SelfEvalError):
        world.run("genesis table frobnicate")


def test_python_operator_errors_propagate(world: World) -> None:
    with pytest.raises(ZeroDivisionError):
        world.run("1 / 0")


def test_rerun_after_abort_and_install_succeeds(world: World) -> None:
    """The daemon's JIT loop: miss, abort, install in its own transaction, re-run."""
    source = "x := genesis clone. x setSlot: 'a' value: 20. x plusOne"
    before = dict(world.variables)
    with pytest.raises(SlotNotFound) as info:
        world.run(source)
    assert info.value.selector == "plusOne"
    assert world.variables == before
    world.manager.abort()
    with world.manager:
        add_method(
            get_slot(world.lobby, "genesis"), "plusOne", "def plusOne(self):\n    return self.a + 1\n"
        )
    assert world.value(source) == 21
    assert world.variables["x"].a == 20


def test_miss_on_a_value_after_traits_were_committed_names_a_stored_object(world: World) -> None:
    with world.manager:
        world.run("nil")
    with pytest.raises(SlotNotFound) as info:
        world.run("'text' shout")
    assert info.value.receiver_oid.startswith("0x")
    assert world.resolve(int(info.value.receiver_oid, 16)) is info.value.receiver
