"""Introspection suffixes: ``obj?`` inspects, ``obj selector??`` shows a method's source.

Recognised on the client before anything is parsed or sent ('?' is no
character of the language, so the suffixes cannot clash with real input).
"""

from __future__ import annotations

from dataclasses import dataclass

from batos_core.selfsyntax.lexer import Token, TokenKind, tokenize_partial


@dataclass(frozen=True)
class Query:
    """`kind` is "inspect" or "source"; `selector` is empty for "inspect"."""

    kind: str
    receiver: str
    selector: str = ""


def parse_query(text: str) -> Query | None:
    """The query `text` asks, or None if it is ordinary input.

    ``x sel??`` whose last word is no selector (``3??``) is None too, so the
    user gets the ordinary syntax error for it.
    """
    stripped = text.strip()
    if stripped.endswith("??"):
        return _source_query(stripped[:-2])
    if stripped.endswith("?") and stripped[:-1].strip():
        return Query("inspect", stripped[:-1].strip())
    return None


def _source_query(body: str) -> Query | None:
    tokens, error = tokenize_partial(body)
    if error is not None:
        return None
    tokens = [t for t in tokens if t.kind is not TokenKind.EOF]
    if not tokens:
        return None
    first = len(tokens) - 1
    last = tokens[first]
    if last.kind is TokenKind.KEYWORD:
        # setSlot:value: lexes as adjacent keywords; take them all.
        while first > 0 and _adjacent_keyword(tokens[first - 1], tokens[first].start):
            first -= 1
    elif last.kind not in (TokenKind.IDENT, TokenKind.BINARY):
        return None
    receiver = body[: tokens[first].start].strip()
    selector = body[tokens[first].start : last.end]
    return Query("source", receiver, selector) if receiver else None


def _adjacent_keyword(token: Token, next_start: int) -> bool:
    return token.kind is TokenKind.KEYWORD and token.end == next_start
