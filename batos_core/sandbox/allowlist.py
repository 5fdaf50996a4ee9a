"""The library modules a method may import: the one list vetting, the prompt and the sandbox share."""

from __future__ import annotations

#: Pure standard-library modules (and their submodules) a method may use.
#: Each is seen through a frozen proxy (``sandbox.modules``), never as a module.
METHOD_MODULES = frozenset(
    {
        "math",
        "random",
        "itertools",
        "functools",
        "collections",
        "statistics",
        "string",
        "re",
        "datetime",
        "json",
        "fractions",
        "decimal",
        "operator",
        "heapq",
        "bisect",
    }
)
