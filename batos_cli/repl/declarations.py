"""Which tokens of REPL input declare names: block arguments and local variables.

Highlighting colours ``:x`` in ``[ :x | ...]`` as an argument, the names
between ``| ... |`` at the start of a statement, method body or block as
locals, and those bars as punctuation (the lexer sees a bar as the binary
selector ``|``); completion offers the declared names. Works on unfinished
input (whatever `tokenize_partial` returns); never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from batos_core.selfsyntax.lexer import Token, TokenKind

K = TokenKind

ARGUMENT = "argument"
LOCAL = "local"
BAR = "bar"
_OPENS_BODY = frozenset({K.LPAREN, K.LBRACKET, K.PERIOD})


@dataclass(frozen=True)
class Declarations:
    """`roles`: token index -> ARGUMENT (both ``:`` and the name), LOCAL or BAR;
    `names`: the declared names, in order, each once."""

    roles: dict[int, str]
    names: list[str]


def declarations(tokens: Sequence[Token]) -> Declarations:
    """The declaring tokens of `tokens` (see the module docstring)."""
    roles: dict[int, str] = {}
    names: list[str] = []

    def declare(index: int, role: str) -> None:
        roles[index] = role
        if role != BAR and tokens[index].text not in names:
            names.append(tokens[index].text)

    i = 0
    count = len(tokens)
    while i < count:
        token = tokens[i]
        previous = tokens[i - 1] if i else None
        if token.kind is K.LBRACKET:
            i += 1
            while i + 1 < count and _is_argument(tokens[i], tokens[i + 1]):  # [ :a :b |
                roles[i] = ARGUMENT
                declare(i + 1, ARGUMENT)
                i += 2
            if i < count and _is_bar(tokens[i]) and i > 0 and roles.get(i - 1) == ARGUMENT:
                roles[i] = BAR
                i += 1
            continue
        if _is_bar(token) and (previous is None or previous.kind in _OPENS_BODY or roles.get(i - 1) == BAR):
            i = _locals(tokens, i, roles, declare)
            continue
        if _is_bar(token) and i + 1 < count and tokens[i + 1].kind is K.RPAREN:  # the end of (| ... |)
            roles[i] = BAR
        i += 1
    return Declarations(roles, names)


def _locals(
    tokens: Sequence[Token], start: int, roles: dict[int, str], declare: Callable[[int, str], None]
) -> int:
    """``| a b |`` from `start`: mark it if it is a declaration; the index after it."""
    end = start + 1
    while end < len(tokens) and tokens[end].kind is K.IDENT:
        end += 1
    closed = end < len(tokens) and _is_bar(tokens[end])
    unfinished = end >= len(tokens) or tokens[end].kind is K.EOF
    if not (closed or unfinished):  # an object literal's slots, or an ordinary ``|`` send
        if start and tokens[start - 1].kind is K.LPAREN:  # the start of (| ... |)
            roles[start] = BAR
        return start + 1
    roles[start] = BAR
    for index in range(start + 1, end):
        declare(index, LOCAL)
    if closed:
        roles[end] = BAR
        return end + 1
    return end


def _is_bar(token: Token) -> bool:
    return token.kind is K.BINARY and token.text == "|"


def _is_argument(colon: Token, name: Token) -> bool:
    return colon.kind is K.COLON and name.kind is K.IDENT and colon.end == name.start
