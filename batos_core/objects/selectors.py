"""Self selectors and their Python slot names.

Self keyword selectors map to Python identifiers by replacing each colon with
an underscore: ``setSlot:value:`` -> ``setSlot_value_``. Unary selectors are
unchanged. The REPL always shows the Self form.
"""

from __future__ import annotations


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


def python_to_self(name: str) -> str:
    """``setSlot_value_`` -> ``setSlot:value:``; ``printString`` stays as it is.

    Only a name ending in ``_`` is a keyword selector; its arity is the number of
    underscore-terminated parts.
    """
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
