"""Client-side input handling: continuation, highlighting spans, queries, targets."""

from __future__ import annotations

import pytest
from prompt_toolkit.document import Document

from batos_cli.repl.continuation import is_complete
from batos_cli.repl.lexer import SelfLexer, spans
from batos_cli.repl.queries import Query, parse_query
from batos_cli.repl.targets import receiver_target


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("", True),
        ("genesis clone", True),
        ("(| x <- 3.", False),
        ("(| x <- 3. |)", True),
        ("#(1 2", False),
        ("{1. 2", False),
        ("'an open string", False),
        ("'it''s", False),
        ('"an open comment', False),
        ("3 + )", True),  # too many closers: run it, the user sees the syntax error
        ("3 $", True),  # a bad character is an error, not a reason to continue
        (":help (", True),
    ],
)
def test_enter_continues_only_while_something_is_open(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


def test_highlighting_covers_the_text_and_follows_the_language() -> None:
    text = "a := genesis at: 3 put: 'x'. \"note\" @1a"
    styled = spans(text)
    assert "".join(text[s:e] for s, e, _ in styled) == text
    by_text = {text[s:e]: style for s, e, style in styled}
    assert by_text["at:"] == by_text["put:"] == "class:self.keyword"
    assert by_text["3"] == "class:self.number"
    assert by_text["'x'"] == "class:self.string"
    assert by_text['"note"'] == "class:self.comment"
    assert by_text["@1a"] == "class:self.oid"


def test_an_unfinished_string_keeps_its_colour_to_the_end_of_each_line() -> None:
    get_line = SelfLexer().lex_document(Document("x := 'one\ntwo"))
    assert get_line(0)[-1] == ("class:self.string", "'one")
    assert get_line(1) == [("class:self.string", "two")]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("genesis?", Query("inspect", "genesis")),
        ("a foo?", Query("inspect", "a foo")),
        ("genesis clone??", Query("source", "genesis", "clone")),
        ("a setSlot:value:??", Query("source", "a", "setSlot:value:")),
        ("3 + ??", Query("source", "3", "+")),
        ("clone??", None),
        ("3??", None),
        ("genesis clone", None),
        ("?", None),
    ],
)
def test_introspection_suffixes(text: str, query: Query | None) -> None:
    assert parse_query(text) == query


def test_simple_receivers_map_to_references_without_evaluation() -> None:
    variables = {"a": {"$ref": "0x1a", "repr": "an object"}, "n": 3}
    assert receiver_target("a", variables) == "0x1a"
    assert receiver_target("n", variables) is None
    assert receiver_target("genesis", variables) == "genesis"
    assert receiver_target("self", variables) == "lobby"
    assert receiver_target("@1F", variables) == "0x1f"
    assert receiver_target("nil", variables) is None
    assert receiver_target("genesis clone", variables) is None
