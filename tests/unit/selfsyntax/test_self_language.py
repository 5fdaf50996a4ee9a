"""The Self language against an in-memory image with every migration: the corpus
both ways (REPL statement and compiled method), a hypothesis test of inlined
against really-sent control flow, and the language's errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import transaction
import ZODB
from hypothesis import given, settings
from hypothesis import strategies as st

from batos_core.image_format import MIGRATIONS
from batos_core.objects import Method, get_slot
from batos_core.selfsyntax.blocks import BlockArityError, DeadMethodReturn
from batos_core.selfsyntax.errors import SelfSyntaxError, UnknownName
from batos_core.selfsyntax.evaluator import evaluate
from batos_core.selfsyntax.install import self_source
from tests.unit.selfsyntax.self_corpus import CORPUS


class Image:
    def __init__(self) -> None:
        self.db = ZODB.DB(None)
        self.manager = transaction.TransactionManager()
        self.connection = self.db.open(transaction_manager=self.manager)
        with self.manager:
            root = self.connection.root()
            for _number, _title, migrate in MIGRATIONS:
                migrate(root)
        self.lobby = self.connection.root()["lobby"]

    def run(self, source: str, variables: dict[str, Any] | None = None) -> Any:
        return evaluate(source, lobby=self.lobby, variables=variables or {}, resolve_oid=self.resolve).value

    def in_method(self, source: str) -> Any:
        return self.run(f"lobby _AddSlots: (| corpusMethod = ( {source} ) |). corpusMethod")

    def resolve(self, oid: int) -> Any:
        return self.connection.get(oid.to_bytes(8, "big"))

    def close(self) -> None:
        self.manager.abort()
        self.connection.close()
        self.db.close()


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    img = Image()
    try:
        yield img
    finally:
        img.close()


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 150


@pytest.mark.parametrize(("source", "expected"), CORPUS)
def test_corpus_at_the_prompt_and_in_a_method(image: Image, source: str, expected: Any) -> None:
    assert image.run(source) == expected
    assert image.in_method(source) == expected


def test_a_method_slot_is_an_ordinary_method_with_self_provenance(image: Image) -> None:
    image.run("lobby _AddSlots: (| triple: x = ( x * 3 ) |)")
    method = get_slot(image.lobby, "triple_")
    assert isinstance(method, Method) and not method.trusted
    assert method.provenance["language"] == "self"
    assert self_source(method) == "triple: x = ( x * 3 )"
    image.run("lobby _AddSlots: (| triple: x = ( x + x + x ) |)")
    newer = get_slot(image.lobby, "triple_")
    assert newer.version == method.version + 1 and newer.previous is method
    assert image.run("triple: 5") == 15


def test_define_replaces_the_slots(image: Image) -> None:
    value = image.run(
        "| o | o := (| a = 1. b = 2 |). o _Define: (| parent* = traits. c = ( 3 ) |). o slotNames"
    )
    assert value == ["parent*", "c"]


def test_wrong_block_arity_points_at_the_block(image: Image) -> None:
    with pytest.raises(BlockArityError) as info:
        image.run("3.\n  [ :a | a ] value: 1 value: 2")
    assert (info.value.line, info.value.column) == (2, 3)
    assert "takes 1 argument, but was sent 2" in info.value.message


def test_return_from_a_dead_method_names_it(image: Image) -> None:
    with pytest.raises(DeadMethodReturn, match="'maker' has already returned"):
        image.run("| b | b := (| maker = ( [ :z | ^ z ] ) |) maker. b value: 3")


def test_unknown_names_and_bad_assignments_are_positioned(image: Image) -> None:
    with pytest.raises(UnknownName) as info:
        image.run("(| f = ( 1 + nosuch ) |) f")
    assert info.value.name == "nosuch"
    with pytest.raises(SelfSyntaxError, match="cannot assign to 'w'"):
        image.run("(| w <- 1. f = ( w := 3 ) |) f")


def test_redefining_a_traits_method_takes_effect_where_not_inlined(image: Image) -> None:
    image.run("traits boolean _AddSlots: (| ifTrue: b = ( 'redefined' ) |)")
    try:
        assert image.run("| b | b := [ 1 ]. true ifTrue: b") == "redefined"
        assert image.run("true ifTrue: [ 1 ]") == 1  # inlined: a literal block
    finally:
        image.manager.abort()


# -- hypothesis: inlined control flow against real sends to the traits ---------------

Pair = tuple[str, str]  # (inlined form, form whose blocks reach the traits by real sends)

_leaf: st.SearchStrategy[Pair] = st.one_of(st.integers(-20, 20).map(str), st.sampled_from(["x", "y"])).map(
    lambda text: (text, text)
)


def _real(block: str) -> str:
    """A block no compiler inlines: it comes out of a collection."""
    return "({" + block + "} first)"


def _expr(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "max:", "min:"]), children).map(
        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", f"({t[0][1]} {t[1]} {t[2][1]})")
    )
    conditional = st.tuples(children, st.sampled_from(["<", ">", "="]), children, children, children).map(
        lambda t: (
            f"(({t[0][0]} {t[1]} {t[2][0]}) ifTrue: [ {t[3][0]} ] ifFalse: [ {t[4][0]} ])",
            f"(({t[0][1]} {t[1]} {t[2][1]}) ifTrue: {_real('[ ' + t[3][1] + ' ]')}"
            f" ifFalse: {_real('[ ' + t[4][1] + ' ]')})",
        )
    )
    block = st.tuples(children, children).map(
        lambda t: (f"([ :x | {t[0][0]} ] value: {t[1][0]})", f"([ :x | {t[0][1]} ] value: {t[1][1]})")
    )
    loop = children.map(
        lambda c: (
            f"([ | s | s := 0. 1 to: 3 do: [ :y | s := s + {c[0]} ]. s ] value)",
            f"([ | s | s := 0. 1 to: 3 do: {_real('[ :y | s := s + ' + c[1] + ' ]')}. s ] value)",
        )
    )
    strings = children.map(
        lambda c: (f"(({c[0]} printString , 'a') size)", f"(({c[1]} printString , 'a') size)")
    )
    return st.one_of(binary, conditional, block, loop, strings)


expressions = st.recursive(_leaf, _expr, max_leaves=8)


@settings(max_examples=80, deadline=None)
@given(expressions)
def test_random_expressions_agree_in_methods_and_through_traits(image: Image, pair: Pair) -> None:
    inlined, real = (f"| x y | x := 3. y := 4. {text}" for text in pair)
    expected = image.run(inlined)
    assert image.in_method(inlined) == expected
    assert image.run(real) == expected
    assert image.in_method(real) == expected
