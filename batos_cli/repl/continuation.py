"""When Enter accepts the input and when it opens a continuation line.

Input continues while a bracket, parenthesis, brace, string or comment is
open, so a multi-line object literal or method call can be typed naturally.
Everything else is accepted (and a real syntax error is reported then).
"""

from __future__ import annotations

from batos_core.selfsyntax.lexer import TokenKind, tokenize_partial

_OPENERS = frozenset({TokenKind.LPAREN, TokenKind.LBRACE, TokenKind.LBRACKET, TokenKind.HASH_PAREN})
_CLOSERS = frozenset({TokenKind.RPAREN, TokenKind.RBRACE, TokenKind.RBRACKET})


def is_meta_command(text: str) -> bool:
    """True for REPL commands such as ``:help`` (a line starting with ':')."""
    return text.lstrip().startswith(":")


def is_complete(text: str) -> bool:
    """True if `text` is ready to run; False while something opened is not closed.

    Never raises: text that does not lex for another reason than an unfinished
    string or comment counts as complete, so the user sees the syntax error.
    """
    if not text.strip() or is_meta_command(text):
        return True
    tokens, error = tokenize_partial(text)
    if error is not None:
        return not error.message.startswith("unterminated")
    depth = 0
    for token in tokens:
        if token.kind in _OPENERS:
            depth += 1
        elif token.kind in _CLOSERS:
            depth -= 1
    return depth <= 0


def continuation_prompt(width: int, line_number: int, wrap_count: int) -> str:
    """The prompt of a continuation line: dots lined up under the main prompt."""
    return "." * max(0, width - 1) + " "
