"""A held-out intent set: 30 selectors the prompt was never tuned on.

``intents.INTENTS`` is the project's suite, and its figures are targets; a
prompt change tuned against it can overfit. These 30 are kept apart and
drawn from the failure classes measured on the daemon's own prompt
(issue 13, item 5; docs/jit.md "What the prompt fixed"):

* pure computations a statement-like rule made return ``self``: unary
  selectors that compute a number from slots, keyword selectors whose
  answer is a dict, a string or a number;
* inherited methods used as values (``'x' in self.slotNames``);
* slots read that the receiver does not have (a receiver with no slots and
  a selector answered from its arguments alone);
* unary commands that must change a slot.

``bench/bench_jit.py --suite heldout`` runs them through a real daemon.
"""

from __future__ import annotations

from intents import Case, Intent, equals

ANY = Case((), lambda _: True, "any reply")


def _any(*args: object) -> Case:
    return Case(tuple(args), lambda _: True, "any reply")


def _mentions(*parts: str) -> Case:
    """A unary case whose reply is a string naming every one of ``parts``."""
    return Case((), lambda v: isinstance(v, str) and all(p in v for p in parts), f"mentions {parts!r}")


HELDOUT: tuple[Intent, ...] = (
    # Unary computations over slots (must not return self).
    Intent("total", (equals((), 12),), {"items": [3, 4, 5]}),
    Intent("area", (equals((), 12),), {"width": 3, "height": 4}),
    Intent("perimeter", (equals((), 14),), {"width": 3, "height": 4}),
    Intent("meanScore", (equals((), 4),), {"scores": [2, 4, 6]}),
    Intent("fullName", (equals((), "Ada Lovelace"),), {"first": "Ada", "last": "Lovelace"}),
    Intent("isAdult", (equals((), True),), {"age": 36}),
    Intent("itemCount", (equals((), 3),), {"items": ["a", "b", "c"]}),
    # Keyword computations answering a dict, a string or a number.
    Intent("wordFrequencies:", (equals(("a b a",), {"a": 2, "b": 1}),)),
    Intent("charCounts:", (equals(("aab",), {"a": 2, "b": 1}),)),
    Intent("pairKeys:withValues:", (equals((["a", "b"], [1, 2]), {"a": 1, "b": 2}),)),
    Intent("join:with:", (equals((["a", "b", "c"], "-"), "a-b-c"),)),
    Intent("repeat:times:", (equals(("ab", 3), "ababab"), equals(("x", 0), ""))),
    Intent("initialsOf:", (equals(("Ada Lovelace",), "AL"),)),
    Intent("percent:of:", (equals((25, 200), 12.5),)),
    Intent("median:", (equals(([3, 1, 2],), 2), equals(([4, 1, 3, 2],), 2.5))),
    Intent("sumOfSquares:", (equals(([1, 2, 3],), 14),)),
    Intent("digitsOf:", (equals((1234,), [1, 2, 3, 4]),)),
    Intent("longestWord:", (equals(("a quick fox",), "quick"),)),
    Intent("countOf:in:", (equals((2, [1, 2, 2, 3]), 2),)),
    Intent("merge:with:", (equals(({"a": 1}, {"b": 2}), {"a": 1, "b": 2}),)),
    Intent("balanceAfter:", (equals((30,), 70),), {"balance": 100}, ("balance", 100)),
    Intent("canAfford:", (equals((50,), True), equals((150,), False)), {"balance": 100}),
    # An inherited method the answer needs (slotNames, respondsTo:).
    Intent("hasSlot:", (equals(("balance",), True), equals(("missing",), False)), {"balance": 1}),
    Intent("describe", (_mentions("Ada", "36"),), {"name": "Ada", "age": 36}),
    # Unary and keyword commands that must change a slot.
    Intent("reset", (ANY,), {"counter": 5}, ("counter", 0)),
    Intent("toggle", (ANY,), {"flag": True}, ("flag", False)),
    Intent("clearItems", (ANY,), {"items": [1, 2]}, ("items", [])),
    Intent("incrementBy:", (_any(5),), {"counter": 1}, ("counter", 6)),
    Intent("addItem:", (_any("x"),), {"items": ["a"]}, ("items", ["a", "x"])),
    Intent("rename:", (_any("Bob"),), {"name": "Ada"}, ("name", "Bob")),
)
