"""The Python signature a generated method must have for a selector.

A keyword selector ``gcd:with:`` is the Python name ``gcd_with_``; it takes one
argument per ``_``-terminated keyword part. Parameter names are derived from
the keyword parts (``gcd_with_(self, gcd, with_)``) so the prompt can state the
exact header and the vetter can name it when it rejects a wrong one.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

from batos_core.selectors import shown_selector, slot_name

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Names a parameter must not take: they would shadow something the body needs.
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self"}


@dataclass(frozen=True)
class MethodSignature:
    """The header a method for ``selector`` (Python form) must have."""

    selector: str
    parameters: tuple[str, ...]

    @property
    def arity(self) -> int:
        """Number of arguments besides ``self``."""
        return len(self.parameters)

    @property
    def self_form(self) -> str:
        """The selector as the REPL shows it: ``gcd_with_`` -> ``gcd:with:``."""
        return shown_selector(self.selector, self.arity)

    def header(self) -> str:
        """The exact ``def`` line to write, e.g. ``def gcd_with_(self, gcd, with_):``."""
        params = ", ".join(("self", *self.parameters))
        return f"def {self.selector}({params}):"


def python_selector(selector: str) -> str:
    """Normalise a selector to its Python name (``at:put:`` -> ``at_put_``), as
    the object model maps it (`batos_core.selectors.slot_name`).

    Raises ValueError when the result is not a Python identifier or is reserved
    (starts with ``_``), since such a selector can never be a method slot.
    """
    name = slot_name(selector)
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ValueError(f"not a method selector: {selector!r}")
    return name


def keyword_parts(selector: str) -> list[str]:
    """The keyword parts of a Python-form keyword selector; [] for a unary one."""
    if not selector.endswith("_"):
        return []
    return selector[:-1].split("_")


def parameter_name(part: str, index: int) -> str:
    """A readable parameter name for one keyword part (``sumOf`` -> ``sum_of``)."""
    if not part:
        return f"arg{index + 1}"
    name = _CAMEL_BOUNDARY.sub("_", part).lower()
    return name + "_" if name in _RESERVED else name


def signature_for(selector: str) -> MethodSignature:
    """The signature for ``selector`` (Self or Python form).

    Raises ValueError for a selector that cannot name a method.
    """
    name = python_selector(selector)
    params: list[str] = []
    for index, part in enumerate(keyword_parts(name)):
        candidate = parameter_name(part, index)
        # Repeated parts (``at:at:``) still need distinct parameter names.
        while candidate in params:
            candidate = f"{candidate}{index + 1}"
        params.append(candidate)
    return MethodSignature(name, tuple(params))
