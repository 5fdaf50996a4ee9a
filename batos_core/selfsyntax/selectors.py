"""Self selectors and the Python slot names they map to.

``setSlot:value:`` <-> ``setSlot_value_``; a unary selector is its own Python
name; a binary selector (``+``, ``,``, ``~=``...) is its own form in both
directions. This mirrors `batos_core.objects.selectors` but stays pure
standard library, because the REPL uses it client-side, and it takes the arity
so a Python name with inner underscores maps back without guessing.
"""

from __future__ import annotations

import re

BINARY_SELECTORS = frozenset(
    ["+", "-", "*", "/", "//", "\\\\", "%", "<", ">", "<=", ">=", "=", "~=", "==", ",", "@", "&", "|"]
)
"""The binary selectors the language gives a meaning to on Python values."""

BINARY_CHARS = frozenset("+-*/\\%<>=~,@&|")
"""Characters a binary selector is made of."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORD_SELECTOR = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*:)+\Z")


def is_binary_selector(selector: str) -> bool:
    """True for a selector made only of binary operator characters."""
    return bool(selector) and all(ch in BINARY_CHARS for ch in selector)


def selector_arity(selector: str) -> int:
    """Arguments a Self-form selector takes: 0 unary, 1 binary, one per keyword part.

    Raises ValueError for text that is no selector.
    """
    if is_binary_selector(selector):
        return 1
    if _IDENT.match(selector):
        return 0
    if _KEYWORD_SELECTOR.match(selector):
        return selector.count(":")
    raise ValueError(f"not a selector: {selector!r}")


def self_to_python(selector: str) -> str:
    """``setSlot:value:`` -> ``setSlot_value_``; ``foo`` -> ``foo``; ``+`` -> ``+``.

    Self's capitalised continuation is folded: ``at:Put:`` -> ``at_put_``.
    Raises ValueError for text that is no selector.
    """
    arity = selector_arity(selector)
    if arity == 0 or is_binary_selector(selector):
        return selector
    parts = selector[:-1].split(":")
    folded = [parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]]
    return "".join(part + "_" for part in folded)


def python_to_self(name: str, arity: int) -> str:
    """``setSlot_value_`` with arity 2 -> ``setSlot:value:``; arity 0 -> `name`.

    Underscores inside the first keyword survive: ``do_it_`` with arity 1 is
    ``do_it:`` (the last ``arity - 1`` parts are the continuation keywords).
    Raises ValueError when `name` cannot take `arity` arguments.
    """
    if arity < 0:
        raise ValueError(f"negative arity {arity}")
    if is_binary_selector(name):
        if arity != 1:
            raise ValueError(f"binary selector {name!r} takes one argument, not {arity}")
        return name
    if not _IDENT.match(name):
        raise ValueError(f"not a Python slot name: {name!r}")
    if arity == 0:
        return name
    if not name.endswith("_"):
        raise ValueError(f"{name!r} takes no arguments; a keyword name ends in '_'")
    parts = name[:-1].split("_")
    if len(parts) < arity or any(not p for p in parts[len(parts) - arity + 1 :]):
        raise ValueError(f"{name!r} cannot take {arity} arguments")
    first = "_".join(parts[: len(parts) - arity + 1])
    if not first:
        raise ValueError(f"{name!r} has no first keyword")
    rest = parts[len(parts) - arity + 1 :]
    return "".join(part + ":" for part in [first, *rest])
