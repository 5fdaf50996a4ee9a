"""Syntax highlighting of Self-style source for prompt_toolkit, from the real lexer.

Uses `batos_core.selfsyntax.lexer` (the same tokens the parser sees), so the
colours never disagree with the language. Blocks' brackets and ``^`` have
their own colours; block arguments, locals and the bars around them come
from `declarations`. Unfinished input is highlighted up
to the point where lexing stopped; the rest keeps the colour of the string or
comment that is still open.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from batos_cli.repl.declarations import ARGUMENT, BAR, LOCAL, declarations
from batos_core.selfsyntax.lexer import TokenKind, tokenize_partial

K = TokenKind

_TOKEN_STYLE: dict[TokenKind, str] = {
    K.KEYWORD: "class:self.keyword",
    K.BINARY: "class:self.operator",
    K.ASSIGN: "class:self.operator",
    K.INTEGER: "class:self.number",
    K.FLOAT: "class:self.number",
    K.STRING: "class:self.string",
    K.SYMBOL: "class:self.symbol",
    K.OID: "class:self.oid",
    K.PERIOD: "class:self.punctuation",
    K.SEMICOLON: "class:self.punctuation",
    K.CARET: "class:self.return",
    K.LBRACKET: "class:self.block",
    K.RBRACKET: "class:self.block",
}
_ROLE_STYLE = {ARGUMENT: "class:self.argument", LOCAL: "class:self.local", BAR: "class:self.punctuation"}
_CONSTANTS = frozenset({"self", "nil", "true", "false"})

#: Colours of the REPL (prompt_toolkit style classes used by the lexer and prompt).
STYLE = Style.from_dict(
    {
        "self.keyword": "#5f87ff",
        "self.operator": "#d75f00",
        "self.number": "#00af87",
        "self.string": "#87af00",
        "self.symbol": "#af87ff",
        "self.oid": "#00afaf bold",
        "self.constant": "#d7005f",
        "self.comment": "#808080 italic",
        "self.punctuation": "#808080",
        "self.return": "#d7005f bold",
        "self.block": "#af8700 bold",
        "self.argument": "#00afd7 italic",
        "self.local": "#00afd7",
        "self.meta": "#af5fff bold",
        "prompt": "bold",
    }
)

Span = tuple[int, int, str]


def spans(text: str) -> list[Span]:
    """(start, end, style) for every styled stretch of `text`, in order; never raises."""
    if text.lstrip().startswith(":"):
        return [(0, len(text), "class:self.meta")]
    tokens, error = tokenize_partial(text)
    roles = declarations(tokens).roles
    result: list[Span] = []
    position = 0
    for index, token in enumerate(tokens):
        if token.kind is K.EOF:
            break
        if token.start > position:
            result.extend(_gap(text, position, token.start))
        role = roles.get(index)
        style = _ROLE_STYLE[role] if role is not None else _style_of(token.kind, token.text)
        result.append((token.start, token.end, style))
        position = token.end
    if error is not None and position < len(text):
        rest = text[position:]
        stripped = len(rest) - len(rest.lstrip())
        open_at = position + stripped
        style = "class:self.comment" if text[open_at : open_at + 1] == '"' else "class:self.string"
        if not error.message.startswith("unterminated"):
            style = ""
        if open_at > position:
            result.append((position, open_at, ""))
        result.append((open_at, len(text), style))
    elif position < len(text):
        result.extend(_gap(text, position, len(text)))
    return result


def _style_of(kind: TokenKind, text: str) -> str:
    if kind is K.IDENT and text in _CONSTANTS:
        return "class:self.constant"
    return _TOKEN_STYLE.get(kind, "")


def _gap(text: str, start: int, end: int) -> list[Span]:
    """Blanks and comments between tokens (the lexer skips them)."""
    out: list[Span] = []
    i = start
    while i < end:
        if text[i] == '"':
            close = text.find('"', i + 1)
            stop = end if close < 0 or close >= end else close + 1
            out.append((i, stop, "class:self.comment"))
            i = stop
        else:
            stop = text.find('"', i, end)
            stop = end if stop < 0 else stop
            out.append((i, stop, ""))
            i = stop
    return out


class SelfLexer(Lexer):
    """prompt_toolkit lexer for the REPL's input buffer."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = _styled_lines(document.text)

        def get_line(number: int) -> StyleAndTextTuples:
            return lines[number] if 0 <= number < len(lines) else []

        return get_line


def _styled_lines(text: str) -> list[StyleAndTextTuples]:
    lines: list[StyleAndTextTuples] = [[]]
    for start, end, style in spans(text):
        for index, piece in enumerate(text[start:end].split("\n")):
            if index:
                lines.append([])
            if piece:
                lines[-1].append((style, piece))
    return lines
