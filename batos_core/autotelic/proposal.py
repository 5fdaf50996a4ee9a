"""Asking the model for one missing capability: a selector, a one-line intent, a small check.

The reply is three labelled lines (small models keep to a line format better
than to JSON):

    selector: <python name of the new method>
    intent: <one line: what it does>
    check: <one Python expression over self that is true when the method works>

The check becomes the body of ``def check(self): return (<expression>)``,
is vetted like a method (no underscores, no eval, allowed imports only), and
must call the new method; a bare call ``area()`` is read as ``self.area()``.
Small models (Qwen2.5-Coder 0.5B, measured) kept neither the format nor the
check's rule from a description alone, so the system prompt shows one worked
example from another domain (a rectangle's area): a model that copies it
proposes a method whose check then fails in the trial, which costs one act,
not a wrong install.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from batos_core.jit.errors import VetError
from batos_core.jit.snapshot import ReceiverSnapshot, short_repr, type_name
from batos_core.jit.vet import VetPolicy, vet
from batos_core.selectors import slot_name

CHECK_NAME = "check"
MAX_CHECK_CHARS = 400
_LINE = re.compile(r"^\s*[-*]?\s*(selector|intent|check)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)

_SYSTEM = """\
You improve objects in batos, a live object system in which objects receive \
messages and each message runs a Python method of the receiver. You propose \
one new capability for one object: a method it does not have yet that would \
be useful given its slots and existing methods.

Reply with exactly three lines and nothing else:
selector: the Python name of the new method, in snake case, taking no \
arguments besides self
intent: one sentence saying what the method returns
check: one Python expression, using self, that calls the new method and is \
True when the method works; it may read the receiver's slots; it must not \
print, import or use names starting with an underscore

For example, for an object with the slots width and height, a good reply is:
selector: area
intent: return the width multiplied by the height
check: self.area() == self.width * self.height"""


class ProposalError(ValueError):
    """The model's proposal could not be used; the message says why (one line)."""


@dataclass(frozen=True)
class Proposal:
    """A capability to add: Python selector, one-line intent, the expression and its vetted check source."""

    selector: str
    intent: str
    expression: str
    check_source: str


def proposal_messages(receiver: ReceiverSnapshot) -> list[dict[str, str]]:
    """The chat messages asking for one capability of `receiver`. Never raises."""
    lines = [f"The object is {receiver.name}."]
    if receiver.data_slots:
        lines.append("Its data slots:")
        for name, value in list(receiver.data_slots.items())[:30]:
            lines.append(f"- {name}: a {type_name(value)}, now {short_repr(value)}")
    else:
        lines.append("It has no data slots.")
    if receiver.methods:
        names = sorted(receiver.methods)[:40]
        lines.append("Methods it already understands (do not propose these): " + ", ".join(names) + ".")
    lines.append("Propose one new method.")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def parse_proposal(text: str, existing: set[str] | frozenset[str] = frozenset()) -> Proposal:
    """The proposal in the model's reply; raises ProposalError naming what is wrong.

    Rules: all three lines present; the selector is a valid method name that
    takes no arguments and is not in `existing`; the check is one expression
    that calls the selector and passes vetting.
    """
    fields: dict[str, str] = {}
    for key, value in _LINE.findall(text):
        fields.setdefault(key.lower(), value.strip().strip("`").strip())
    missing = [k for k in ("selector", "intent", "check") if not fields.get(k)]
    if missing:
        raise ProposalError(f"the proposal lacks {', '.join(missing)}")
    selector = _selector(fields["selector"])
    if selector in existing:
        raise ProposalError(f"the receiver already understands {selector}")
    expression = fields["check"]
    return Proposal(
        selector, " ".join(fields["intent"].split())[:200], expression, check_source(expression, selector)
    )


def check_source(expression: str, selector: str) -> str:
    """``def check(self): return (<expression>)``, vetted; ProposalError if it is unusable."""
    if len(expression) > MAX_CHECK_CHARS:
        raise ProposalError(f"the check is longer than {MAX_CHECK_CHARS} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ProposalError(f"the check is not one Python expression: {exc.msg}") from None
    tree = _SelfCalls(selector).visit(tree)
    expression = ast.unparse(tree)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == selector
    ]
    if not calls:
        raise ProposalError(f"the check does not call self.{selector}()")
    if any(call.args or call.keywords for call in calls):
        raise ProposalError(f"the check passes arguments to self.{selector}(), which takes none")
    source = f"def {CHECK_NAME}(self):\n    return (\n        {expression}\n    )\n"
    try:
        vet(source, CHECK_NAME, VetPolicy.default())
    except VetError as exc:
        raise ProposalError(f"the check was refused: {exc.reason}") from None
    return source


def _selector(raw: str) -> str:
    name = raw.split("(", 1)[0].strip()
    name = name.removeprefix("self.").removeprefix("def ").strip()
    try:
        python = slot_name(name)
    except ValueError as exc:
        raise ProposalError(f"not a method name: {raw!r} ({exc})") from None
    if not python.isidentifier() or python.startswith("_") or python.endswith("_"):
        raise ProposalError(f"not a method name without arguments: {raw!r}")
    return python


class _SelfCalls(ast.NodeTransformer):
    """Rewrites a bare call of the new selector, ``area()``, as ``self.area()``."""

    def __init__(self, selector: str) -> None:
        self.selector = selector

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == self.selector:
            node.func = ast.Attribute(
                value=ast.Name(id="self", ctx=ast.Load()), attr=self.selector, ctx=ast.Load()
            )
        return node
