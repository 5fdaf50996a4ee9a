"""Self selectors and their Python slot names.

Self keyword selectors map to Python identifiers by replacing each colon with
an underscore: ``setSlot:value:`` -> ``setSlot_value_``. Unary selectors are
unchanged. The REPL always shows the Self form.

The way back is ambiguous for a name with an inner underscore: ``do_it_`` is
``do_it:`` for a method of one argument and ``do:it:`` for one of two. Given
the arity, `python_to_self` answers exactly as the REPL's parser maps
(`batos_core.selfsyntax.selectors`); without it, each ``_``-terminated part is
taken as one keyword. `slot_selector` passes a Method's own arity.
"""

from __future__ import annotations

from typing import Any

from batos_core.selfsyntax import selectors as _exact


def self_to_python(selector: str) -> str:
    """``at:put:`` -> ``at_put_``; ``at:Put:`` (Self's capitalised continuation) too."""
    if ":" not in selector:
        return selector
    parts = [p for p in selector.split(":") if p]
    if not parts:
        raise ValueError(f"not a selector: {selector!r}")
    first, rest = parts[0], parts[1:]
    lowered = [first] + [p[0].lower() + p[1:] for p in rest]
    return "".join(part + "_" for part in lowered)


def python_to_self(name: str, arity: int | None = None) -> str:
    """``setSlot_value_`` -> ``setSlot:value:``; ``printString`` stays as it is.

    Only a name ending in ``_`` is a keyword selector. With `arity` the mapping
    is exact (``do_it_``, 1 -> ``do_it:``); without it, or when the name cannot
    take that many arguments, its arity is the number of underscore-terminated
    parts.
    """
    if arity is not None and name.endswith("_"):
        try:
            return _exact.python_to_self(name, arity)
        except ValueError:
            pass  # e.g. a method declared with *args: fall back to the name's shape
    if not name.endswith("_"):
        return name
    parts = [p for p in name[:-1].split("_")]
    if any(not p for p in parts):
        return name  # e.g. ``odd__name_``: not a clean keyword selector; show as is
    return "".join(part + ":" for part in parts)


def arity(name: str) -> int:
    """Number of arguments a Python-form selector takes (keyword parts)."""
    if not name.endswith("_"):
        return 0
    return python_to_self(name).count(":") or 1


def slot_selector(name: str, value: Any) -> str:
    """The Self selector of slot `name` holding `value` (exact for a Method)."""
    from batos_core.objects.method import Method

    if isinstance(value, Method):
        return python_to_self(name, value.arity)
    return python_to_self(name)
