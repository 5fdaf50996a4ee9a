"""The REPL's input and output for the Self language: declarations (block
arguments, locals), their highlighting and completion, continuation inside
blocks and method bodies, Self signatures and Self source in the display,
and ``batos source`` showing Self first."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from rich.console import Console

from batos_cli.env import Environment
from batos_cli.render import print_source
from batos_cli.repl.completer import SelfCompleter
from batos_cli.repl.continuation import is_complete
from batos_cli.repl.declarations import declarations
from batos_cli.repl.display import Display
from batos_cli.repl.lexer import spans
from batos_core.selfsyntax.lexer import tokenize_partial
from batos_core.selfsyntax.signature import self_signature


def declared(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    tokens, _ = tokenize_partial(text)
    found = declarations(tokens)
    return [(tokens[i].text, role) for i, role in sorted(found.roles.items())], found.names


def test_block_arguments_and_locals_are_declarations() -> None:
    roles, names = declared("[ :a :b | | t | a + b ]")
    assert roles == [
        (":", "argument"), ("a", "argument"), (":", "argument"), ("b", "argument"),
        ("|", "bar"), ("|", "bar"), ("t", "local"), ("|", "bar"),
    ]
    assert names == ["a", "b", "t"]
    assert declared("| s | s := 0. 1 to: 4 do: [ :i | s := s + i ]. s")[1] == ["s", "i"]
    assert declared("(| f = ( | t | t ) |) f")[1] == ["t"]


def test_a_bar_that_is_a_message_or_a_literal_slot_list_declares_nothing() -> None:
    assert declared("true | false") == ([], [])
    roles, names = declared("(| x <- 3. y = 4 |)")
    assert roles == [("|", "bar"), ("|", "bar")] and names == []


def test_unfinished_declarations_still_count() -> None:
    assert declared("[ :x")[1] == ["x"]
    assert declared("| a b")[1] == ["a", "b"]


def test_highlighting_knows_blocks_returns_arguments_and_locals() -> None:
    text = "| t | [ :x | ^ x ]"
    styled = [(text[start:end], style) for start, end, style in spans(text) if text[start:end].strip()]
    assert styled == [
        ("|", "class:self.punctuation"),
        ("t", "class:self.local"),
        ("|", "class:self.punctuation"),
        ("[", "class:self.block"),
        (":", "class:self.argument"),
        ("x", "class:self.argument"),
        ("|", "class:self.punctuation"),
        ("^", "class:self.return"),
        ("x", ""),
        ("]", "class:self.block"),
    ]
    assert "".join(text[s:e] for s, e, _ in spans(text)) == text


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("[ :x |", False),
        ("[ :x | x * 2 ] value: 3", True),
        ("(| f: x = ( | t |", False),
        ("(| f: x = ( | t | t := x. ^ t ) |) f: 1", True),
        ("3 > 2 ifTrue: [ 'yes'", False),
    ],
)
def test_enter_continues_inside_blocks_and_method_bodies(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


class NoSelectors:
    def selectors(self, receiver: str) -> list[str]:
        return []


def test_completion_offers_the_inputs_block_arguments_and_locals() -> None:
    completer = SelfCompleter(NoSelectors(), lambda: {"total": 1})
    text = "| tally | #(1 2) do: [ :teacup | t"
    offered = [
        (c.text, c.display_meta_text)
        for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    ]
    assert offered[:3] == [("tally", "local"), ("teacup", "local"), ("total", "variable")]


def test_self_signatures() -> None:
    assert self_signature("double: x = ( x * 2 )") == "double: x"
    assert self_signature("at: i Put: v = ( i )") == "at: i put: v"
    assert self_signature("area = ( width * height )") == "area"
    assert self_signature("not a method (") is None


SELF_PROVENANCE = {
    "author": "user",
    "language": "self",
    "self_selector": "double:",
    "self_source": "double: x = ( x * 2 )",
}
SELF_REPLY = {
    "target": "genesis",
    "selector": "double_",
    "version": 2,
    "source": "def double_(self, v1_x):\n    return v1_x * 2\n",
    "provenance": SELF_PROVENANCE,
}


def rendered(show: Any) -> str:
    console = Console(file=StringIO(), width=100, color_system=None)
    show(Display(console))
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_inspect_shows_a_self_method_by_its_signature() -> None:
    reply = {
        "oid": "0x1a",
        "repr": "a UvmObject 0x1a",
        "slots": [{"name": "double_", "kind": "method", "value": "<method>", "is_constant": True}],
        "methods": [{"selector": "double_", "version": 2, "provenance": SELF_PROVENANCE}],
    }
    row = rendered(lambda d: d.object(reply)).splitlines()[1]
    assert row.split() == ["double:", "x", "Self", "method", "v2"]


def test_source_shows_the_self_source_first_and_the_python_on_request() -> None:
    text = rendered(lambda d: d.source(SELF_REPLY))
    assert "double: x = ( x * 2 )" in text and "def double_" not in text
    assert ":python genesis double:" in text
    text = rendered(lambda d: d.source(SELF_REPLY, python=True))
    assert "def double_(self, v1_x):" in text


def test_batos_source_shows_self_first_and_python_with_the_option() -> None:
    def shown(python: bool) -> str:
        out = StringIO()
        env = Environment(stdout=out, stderr=StringIO(), stdin=StringIO(), width=120)
        print_source(env, SELF_REPLY, python=python)
        return out.getvalue()

    text = shown(False)
    assert "double: x = ( x * 2 )" in text and "def double_" not in text
    assert "batos source genesis double_ --python" in text
    assert "self_source" not in text  # shown as the source, not as a provenance line
    assert "def double_(self, v1_x):" in shown(True)
