"""What the REPL prints, rendered into a StringIO console and compared as text."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from batos_cli.repl.display import Display, self_form
from batos_core.selfsyntax import SelfSyntaxError, parse


def rendered(show: object) -> str:
    console = Console(file=StringIO(), width=80, color_system=None)
    assert callable(show)
    show(Display(console))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines())


INSPECT = {
    "oid": "0x1a",
    "repr": "a UvmObject 0x1a",
    "slots": [
        {
            "name": "parent*",
            "kind": "parent",
            "value": {"$ref": "0x7", "repr": "traits"},
            "is_constant": True,
        },
        {"name": "x", "kind": "data", "value": 3, "is_constant": False},
        {"name": "at_put_", "kind": "method", "value": "<method>", "is_constant": False},
    ],
    "methods": [{"selector": "at_put_", "version": 2, "provenance": {}}],
}


def test_an_object_is_a_compact_table_headed_by_its_oid() -> None:
    assert rendered(lambda d: d.object(INSPECT)).splitlines() == [
        "0x1a  a UvmObject 0x1a",
        "parent* =  traits",
        "x          3",
        "at:put:    method v2",
    ]


def test_values_print_plainly() -> None:
    assert rendered(lambda d: d.value([1, "two", None, True])) == "[1, 'two', nil, true]"


def test_a_remote_error_is_one_line_even_with_a_long_message() -> None:
    reply = {"type": "error_reply", "name": "ValueError", "message": "bad\nmore detail", "code": "user_error"}
    assert rendered(lambda d: d.remote_error(reply, "x")) == "ValueError: bad"


def test_a_positioned_remote_error_gets_a_caret_from_the_source_we_sent() -> None:
    reply = {"name": "UnknownName", "message": "line 2, column 3: unknown name 'zz'"}
    assert rendered(lambda d: d.remote_error(reply, "1.\n1 zz")).splitlines() == [
        "UnknownName: line 2, column 3: unknown name 'zz'",
        "  1 zz",
        "    ^",
    ]


def test_a_syntax_error_renders_with_the_parsers_caret() -> None:
    try:
        parse("genesis at: ")
    except SelfSyntaxError as exc:
        error = exc
    text = rendered(lambda d: d.source_error(error))
    assert text.splitlines()[0].startswith("SelfSyntaxError: line 1, column")
    assert text.splitlines()[-1].endswith("^")


def test_method_source_shows_its_selector_in_self_form() -> None:
    reply = {
        "target": "0x7",
        "selector": "at_put_",
        "version": 3,
        "source": "def at_put_(self, a, b):\n    return a\n",
        "provenance": {"author": "model"},
    }
    lines = rendered(lambda d: d.source(reply)).splitlines()
    assert lines[0] == "at:put: v3 on 0x7  (model)"
    assert "def at_put_(self, a, b):" in lines[1]


def test_self_form_of_slot_names() -> None:
    assert [self_form(n) for n in ("clone", "setSlot_value_", "do__it_", "_p_x")] == [
        "clone",
        "setSlot:value:",
        "do__it_",
        "_p_x",
    ]
