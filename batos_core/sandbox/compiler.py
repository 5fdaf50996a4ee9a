"""Compiling method source with RestrictedPython, the Zope tool for code stored in ZODB.

``compile_restricted_method`` turns source into a code object whose every
attribute access, write, subscript, iteration, augmented assignment and
``print`` calls the guards of ``sandbox.namespace``. It refuses, at compile
time, any name or literal attribute starting with ``_``, ``exec``/``eval``,
async code, and frame/code/traceback attributes written literally.

Two changes to RestrictedPython's policy. First, speed where it changes
nothing: a *literal* attribute read (``self.balance``) is checked here, at
compile time (no ``_`` prefix, no frame/code attribute), and then compiled as
a plain attribute read, and an item read (``xs[0]``) as a plain subscript.
What ``_getattr_`` would add at run time for a literal name depends only on
the object's type: frames, code objects and tracebacks (which no literal name
can reach: every attribute leading to one is refused here) and ``str.format``
/ ``format_map`` and ``register`` of an abstract base class (still routed
through ``_getattr_``, as is every name
starting with ``gi_``, ``cr_``, ``ag_``, ``f_``, ``tb_`` or ``co_``). A
computed name (``getattr(x, name)``, ``reduce``, ``attrgetter``, a format
field) always goes through ``_getattr_``. With this, a method that reads 100
slots runs at 1.0-1.3x its unrestricted speed instead of 6x
(``bench/bench_objects.py``).

Second, an augmented assignment to an attribute or an item (``self.count += 1``, ``totals[key] += n``), which
RestrictedPython refuses outright, is rewritten to
``target = _inplacevar_('+=', target, value)`` when the target's parts are
plain loads (names, constants, attribute and item reads of those), so the
read goes through ``_getattr_``/``_getitem_`` and the write through
``_write_``. A target with a call in it (``f().x += 1``) is still refused:
rewriting it would run the call twice.

Third, ``nonlocal`` is allowed (names checked like any other): it rebinds a
variable of an enclosing function in the same source and reaches nothing
else. Blocks compiled from Self assign their method's variables with it.
"""

from __future__ import annotations

import ast
import copy
import re
from types import CodeType

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer, copy_locations

_LINE = re.compile(r"^Line (\d+): ")


class RestrictedCompileError(SyntaxError):
    """The source does not compile under the restricted policy: ``reason`` names the first problem."""

    def __init__(self, reason: str, lineno: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lineno = lineno


#: Literal attribute names still read through ``_getattr_`` (see the module docstring).
GUARDED_READS = frozenset({"format", "format_map", "register"})
GUARDED_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")


class BatosRestrictingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, with plain literal reads and augmented
    assignment to plain attribute/item targets."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        transformed: ast.AST = super().visit_Attribute(node)  # type: ignore[assignment]  # checks the name, visits the value
        if (
            isinstance(node.ctx, ast.Load)
            and isinstance(transformed, ast.Call)
            and node.attr not in GUARDED_READS
            and not node.attr.startswith(GUARDED_PREFIXES)
        ):
            plain = ast.Attribute(value=transformed.args[0], attr=node.attr, ctx=ast.Load())
            copy_locations(plain, node)
            return plain
        return transformed

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.ctx, ast.Load):
            # _getitem_ would only do obj[key]: items are data, not attributes.
            return self.node_contents_visit(node)
        transformed: ast.AST = super().visit_Subscript(node)  # type: ignore[assignment]
        return transformed

    def visit_Nonlocal(self, node: ast.Nonlocal) -> ast.AST:
        # RestrictedPython refuses ``nonlocal`` by default. It only rebinds a
        # local of an enclosing function of the same source, so it reaches
        # nothing new; the Self compiler needs it for blocks that assign the
        # variables of the method (or block) that made them.
        for name in node.names:
            self.check_name(node, name)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        target = node.target
        if isinstance(target, ast.Attribute | ast.Subscript) and _plain_load(target):
            read = copy.deepcopy(target)
            read.ctx = ast.Load()
            # The parts are guarded one by one; the call to _inplacevar_ is
            # built after, so the policy does not refuse its own name.
            value = ast.Call(
                func=ast.Name("_inplacevar_", ast.Load()),
                args=[
                    ast.Constant(IOPERATOR_TO_STR[type(node.op)]),
                    self.visit(read),
                    self.visit(node.value),
                ],
                keywords=[],
            )
            assign = ast.Assign(targets=[self.visit(target)], value=value)
            copy_locations(assign, node)
            ast.fix_missing_locations(assign)
            return assign
        refused: ast.AST = super().visit_AugAssign(node)  # type: ignore[assignment]
        return refused


def _plain_load(node: ast.expr) -> bool:
    """Whether evaluating ``node`` twice is the same as once (no calls, no side effects)."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Attribute):
        return _plain_load(node.value)
    if isinstance(node, ast.Subscript):
        return _plain_load(node.value) and _plain_load(node.slice)
    if isinstance(node, ast.UnaryOp):
        return _plain_load(node.operand)
    if isinstance(node, ast.Tuple):
        return all(_plain_load(e) for e in node.elts)
    return False


def compile_restricted_method(source: str, filename: str) -> CodeType:
    """The restricted code object for ``source`` (a module defining a method).

    Raises RestrictedCompileError (reason, line) for a syntax error or a
    construct the policy refuses.
    """
    result = compile_restricted_exec(source, filename=filename, policy=BatosRestrictingTransformer)
    if result.errors or result.code is None:
        first = result.errors[0] if result.errors else "the source does not compile"
        match = _LINE.match(first)
        lineno = int(match.group(1)) if match else None
        reason = _LINE.sub("", first)
        raise RestrictedCompileError(reason, lineno)
    return result.code
