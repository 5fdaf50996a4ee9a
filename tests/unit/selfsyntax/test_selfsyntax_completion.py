"""complete_context: which receiver's selectors the REPL should offer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batos_core.selfsyntax.completion import complete_context
from batos_core.selfsyntax.errors import SelfSyntaxError
from batos_core.selfsyntax.parser import parse


@pytest.mark.parametrize(
    ("before_cursor", "expected"),
    [
        ("genesis pri", ("genesis", "pri")),
        ("genesis ", ("genesis", "")),
        ("gen", (None, "gen")),
        ("", (None, "")),
        ("3 + 4 fa", ("4", "fa")),
        ("(3 + 4) fa", ("(3 + 4)", "fa")),
        ("a foo bar", ("a foo", "bar")),
        ("x := genesis fo", ("genesis", "fo")),
        ("genesis foo; ba", ("genesis", "ba")),
        ("x := a foo: b; ba", ("a", "ba")),
        ("a foo: (b c; ", ("b", "")),
        ("genesis foo. gen", (None, "gen")),
        ("genesis at: 1 pu", ("1", "pu")),
        ("genesis foo: ", (None, "")),
        ("genesis foo: ba", (None, "ba")),
        ("'abc", (None, "")),
        ('"a comment', (None, "")),
        ("12", (None, "")),
        ("#(1 2) ", ("#(1 2)", "")),
        ("(| x = 3 |) x", ("(| x = 3 |)", "x")),
        ("@1a ", ("@1a", "")),
        ("a) foo; ", (None, "")),
    ],
)
def test_complete_context(before_cursor: str, expected: tuple[str | None, str]) -> None:
    assert complete_context(before_cursor + " trailing text", len(before_cursor)) == expected


def test_cursor_is_clamped() -> None:
    assert complete_context("genesis pr", 99) == ("genesis", "pr")


@given(st.text(alphabet="ab :;.()|{}#'\"+-=<123@", max_size=30), st.integers(-2, 40))
def test_never_raises_and_receiver_parses(source: str, cursor: int) -> None:
    receiver, prefix = complete_context(source, cursor)
    assert prefix == "" or prefix.isidentifier()
    if receiver is not None:
        try:
            parse(receiver)
        except SelfSyntaxError as exc:  # pragma: no cover - the assertion below reports it
            raise AssertionError(f"receiver {receiver!r} does not parse: {exc}") from exc


@given(st.text(alphabet="ab :;.()|{}[]#'\"+-=<123@rxe*_", max_size=40))
def test_parse_raises_only_syntax_errors(source: str) -> None:
    try:
        parse(source)
    except SelfSyntaxError as exc:
        assert 1 <= exc.line and 1 <= exc.column
