"""What the REPL completer should offer at the cursor.

`complete_context` looks at the text before the cursor and answers which
receiver the word being typed is a message to (as source text, for the
daemon to evaluate) and the word typed so far. Pure standard library.
"""

from __future__ import annotations

from batos_core.selfsyntax.ast import Send
from batos_core.selfsyntax.errors import SelfSyntaxError
from batos_core.selfsyntax.lexer import OPERAND_END, Token, TokenKind, tokenize_partial
from batos_core.selfsyntax.parser import parse

K = TokenKind
_OPENERS = {K.RPAREN: (K.LPAREN, K.HASH_PAREN), K.RBRACE: (K.LBRACE,)}
_STATEMENT_BOUNDARY = frozenset({K.PERIOD, K.ASSIGN})


def complete_context(source: str, cursor: int) -> tuple[str | None, str]:
    """``(receiver_text, prefix)`` for completing at `cursor` in `source`.

    `prefix` is the part of the identifier before the cursor ('' after a
    space). `receiver_text` is the source of the expression the word is a
    unary or keyword message to, following precedence: in ``3 + 4 fa`` it is
    ``4``, in ``genesis foo ba`` it is ``genesis foo``, after ``;`` it is the
    cascade's receiver. It is None where the word is a name (start of a
    statement, an argument) or where nothing should be completed (inside a
    string or comment, after a number); then `prefix` may be ''. A receiver
    text returned always parses as one expression. Never raises
    for any input; a cursor outside the text is clamped.
    """
    text = source[: max(0, min(cursor, len(source)))]
    tokens, error = tokenize_partial(text)
    if error is not None:
        return None, ""
    tokens = tokens[:-1]  # the EOF token
    prefix = ""
    if tokens and tokens[-1].end == len(text):
        last = tokens[-1]
        if last.kind is K.IDENT:
            prefix = last.text
            tokens = tokens[:-1]
        elif last.kind in (K.INTEGER, K.FLOAT, K.KEYWORD, K.STRING, K.SYMBOL):
            return None, ""
    if not tokens:
        return None, prefix
    previous = tokens[-1]
    if previous.kind in OPERAND_END:
        return _unary_receiver(text, tokens), prefix
    if previous.kind is K.SEMICOLON:
        return _cascade_receiver(text, tokens), prefix
    return None, prefix


def _matching_opener(tokens: list[Token], close_at: int) -> int | None:
    closer = tokens[close_at].kind
    depth = 0
    for index in range(close_at, -1, -1):
        kind = tokens[index].kind
        if kind is closer:
            depth += 1
        elif kind in _OPENERS.get(closer, ()):
            depth -= 1
            if depth == 0:
                return index
    return None


def _unary_receiver(text: str, tokens: list[Token]) -> str | None:
    """The primary and unary sends that end at the last token."""
    index = len(tokens) - 1
    while True:
        token = tokens[index]
        if token.kind in _OPENERS:
            opener = _matching_opener(tokens, index)
            if opener is None:
                return None
            index = opener
            break
        if token.kind is K.RBRACKET:
            return None
        if token.kind is K.IDENT and index > 0 and tokens[index - 1].kind in OPERAND_END:
            index -= 1  # a unary selector; its receiver is to the left
            continue
        break
    receiver = text[tokens[index].start : tokens[-1].end]
    return receiver if _is_one_expression(receiver) else None


def _is_one_expression(text: str) -> bool:
    # The daemon evaluates the receiver text; offer nothing for one that
    # would only come back as a syntax error.
    try:
        return len(parse(text).statements) == 1
    except SelfSyntaxError:
        return False


def _cascade_receiver(text: str, tokens: list[Token]) -> str | None:
    """The receiver of the first message of the cascade the last ';' belongs to."""
    depth = 0
    start = 0
    for index in range(len(tokens) - 1, -1, -1):
        kind = tokens[index].kind
        if kind in (K.RPAREN, K.RBRACE):
            depth += 1
        elif kind in (K.LPAREN, K.LBRACE, K.HASH_PAREN):
            if depth == 0:
                start = index + 1
                break
            depth -= 1
        elif depth == 0 and kind in _STATEMENT_BOUNDARY:
            start = index + 1
            break
    first_semicolon = next(
        (
            i
            for i in range(start, len(tokens))
            if tokens[i].kind is K.SEMICOLON and _depth_between(tokens, start, i) == 0
        ),
        None,
    )
    if first_semicolon is None or first_semicolon == start:
        return None
    offset = tokens[start].start
    first_part = text[offset : tokens[first_semicolon - 1].end]
    try:
        program = parse(first_part)
    except SelfSyntaxError:
        return None
    if len(program.statements) != 1 or not isinstance(program.statements[0], Send):
        return None
    begin, end = program.statements[0].receiver.span
    return first_part[begin:end]


def _depth_between(tokens: list[Token], start: int, stop: int) -> int:
    depth = 0
    for token in tokens[start:stop]:
        if token.kind in (K.LPAREN, K.LBRACE, K.HASH_PAREN):
            depth += 1
        elif token.kind in (K.RPAREN, K.RBRACE):
            depth -= 1
    return depth
