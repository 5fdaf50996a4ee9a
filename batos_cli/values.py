"""Command-line words to wire values, and wire values to display text."""

from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")
_OID = re.compile(r"@?0x[0-9a-fA-F]+|@[0-9a-fA-F]+")


def parse_word(word: str) -> Any:
    """One command-line argument as a wire value.

    ``3`` and ``-2.5`` are numbers; ``nil``/``true``/``false`` are None/True/False;
    ``0x1a``, ``@1a`` and ``@genesis`` are object references; ``'quoted text'``
    is that text; anything else is the word as a string.
    """
    if _INT.fullmatch(word):
        return int(word)
    if _FLOAT.fullmatch(word):
        return float(word)
    if word in ("nil", "true", "false"):
        return {"nil": None, "true": True, "false": False}[word]
    if _OID.fullmatch(word):
        oid = word.lstrip("@")
        return {"$ref": oid if oid.lower().startswith("0x") else "0x" + oid, "repr": ""}
    if word.startswith("@") and word[1:].isidentifier():
        return {"$ref": word[1:], "repr": ""}
    if len(word) >= 2 and word[0] == word[-1] == "'":
        return word[1:-1].replace("''", "'")
    return word


def split_keyword_send(words: list[str]) -> tuple[str, list[str]]:
    """``greet: Ada`` / ``at: 1 put: 2`` as (selector, argument words).

    A selector given whole (``setSlot:value:`` then the arguments) is accepted
    too. A unary selector is one word with no colon.
    """
    if not words:
        raise ValueError("no selector given")
    first = words[0]
    if ":" not in first or first.count(":") > 1:
        return first, words[1:]
    # Interleaved form: part: arg part: arg ...
    parts, args = [], []
    for i, word in enumerate(words):
        if i % 2 == 0:
            if not word.endswith(":"):
                raise ValueError(f"expected a keyword ending in ':' at {word!r}")
            parts.append(word)
        else:
            args.append(word)
    if len(parts) != len(args):
        raise ValueError(f"keyword {parts[-1]!r} has no argument")
    return "".join(parts), args
