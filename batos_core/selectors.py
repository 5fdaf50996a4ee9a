"""Self selectors and the Python slot names they map to: the one mapping.

``setSlot:value:`` <-> ``setSlot_value_``: each colon of a keyword selector
becomes an underscore, and Self's capitalised continuation is folded
(``at:Put:`` -> ``at_put_``). A unary selector is its own Python name; a
binary selector (``+``, ``,``, ``~=``...) is its own form in both directions.

The way back is ambiguous for a name with an inner underscore: ``do_it_`` is
``do_it:`` for a method of one argument and ``do:it:`` for one of two. So
`python_to_self` takes the arity, and the object model passes a Method's own
(`batos_core.objects.method.slot_selector`).

Two kinds of function, for two kinds of caller:

* exact (`selector_arity`, `self_to_python`, `python_to_self`): for the Self
  syntax, whose parser has already checked its input; text that is no
  selector, or an arity a name cannot take, raises ValueError.
* tolerant (`slot_name`, `shown_selector`): for a selector a client sent or a
  slot name shown to a person. They never refuse a name; what does not map
  stays as it is, so a lookup of it answers SlotNotFound and a display shows it
  verbatim.

Standard library only: the object model, the Self syntax, the JIT and the
REPL (client-side, without ZODB) all import it, and it imports none of them.
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
    return _keywords_to_python(selector[:-1].split(":"))


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


def slot_name(selector: str) -> str:
    """The slot name a selector from a client names; never refuses text.

    A selector with a colon maps as `self_to_python` does, but without its
    checks: each non-empty colon-separated part is a keyword (``foo:bar`` ->
    ``foo_bar_``). Anything else (a unary or binary selector, a name already in
    Python form, text that is no selector) is returned unchanged, so looking it
    up answers SlotNotFound. Raises ValueError only for text made of colons.
    """
    if ":" not in selector:
        return selector
    parts = [p for p in selector.split(":") if p]
    if not parts:
        raise ValueError(f"not a selector: {selector!r}")
    return _keywords_to_python(parts)


def shown_selector(name: str, arity: int | None = None) -> str:
    """The Self form to show for slot `name`; never refuses a name.

    With an `arity` the name can take, exact (``do_it_``, 1 -> ``do_it:``).
    Without one (a data slot), or when the name cannot take that many
    arguments (a method declared with ``*args``), each ``_``-terminated part
    is one keyword (``do_it_`` -> ``do:it:``). A name that is no clean keyword
    name (``odd__name_``, ``_private_``) is shown as it is.
    """
    if arity is not None and name.endswith("_"):
        try:
            return python_to_self(name, arity)
        except ValueError:
            pass  # the name's shape decides, below
    if not name.endswith("_"):
        return name
    parts = name[:-1].split("_")
    if any(not p for p in parts):
        return name
    return "".join(part + ":" for part in parts)


def _keywords_to_python(parts: list[str]) -> str:
    """``["at", "Put"]`` -> ``at_put_`` (Self's capitalised continuation folded)."""
    folded = [parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]]
    return "".join(part + "_" for part in folded)
