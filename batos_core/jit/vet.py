"""Static vetting of generated method source with ``ast``.

Vetting decides whether source is shaped like a method for the selector and
stays inside the object world: one function with the exact name and arity, no
reserved (underscore) attributes, no dynamic code execution, imports only from
an allow-list. It does not run anything; the trial does that in a sandbox.

Every rejection is a ``VetError`` whose reason is one line, names the line, and
tells the model what to write instead.

A module on the allow-list that the method uses without importing it
(``math.gcd(a, b)`` with no ``import math``: the small coders' most common
trial failure on a 2-core CPU, docs/jit.md) is imported for it: the
vetted source starts with ``import math``. That grants nothing the method
could not have written itself.

Under the UI policy, a reply whose App class and imports stand at the top level
beside the function (what chat models write when the backend cannot continue
the prompt's prefill) is first enclosed into the one accepted form
(``ui_shape``); the enclosed source is what is vetted, tried and installed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from batos_core.jit.errors import VetError
from batos_core.jit.signature import MethodSignature, signature_for
from batos_core.jit.trial_child import REMOVED_BUILTINS
from batos_core.jit.ui_shape import (
    app_class_shape,
    enclose_app_class,
    has_top_level_class,
    kept_statements,
)
from batos_core.sandbox.allowlist import METHOD_MODULES
from batos_core.ui_contract import UI_CLASS_NAME

#: The allow-list (one home: ``sandbox.allowlist``, which the method namespace uses too).
DEFAULT_IMPORTS = METHOD_MODULES
UI_IMPORTS = DEFAULT_IMPORTS | {"kivy.*"}
#: The Kivy names a UI is built from, and where each comes from: the UI
#: prompt's prefill imports them, and vetting imports one a reply uses
#: without importing it (a chat reply over the openai backend has no prefill).
UI_NAMES: dict[str, str] = {
    "App": "kivy.app",
    "BoxLayout": "kivy.uix.boxlayout",
    "Button": "kivy.uix.button",
    "Label": "kivy.uix.label",
    "ScrollView": "kivy.uix.scrollview",
    "TextInput": "kivy.uix.textinput",
    "GridLayout": "kivy.uix.gridlayout",
    "Clock": "kivy.clock",
}

#: The builtins generated source may not name: those the trial removes (one home).
FORBIDDEN_NAMES = frozenset(REMOVED_BUILTINS)
# Attributes without a leading underscore that still reach frames, code or
# globals (generator/traceback introspection) or resolve dotted names.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "get_field",
    }
)
_ATTRIBUTE_BY_NAME = frozenset({"getattr", "setattr", "delattr", "hasattr"})
_ATTRIBUTE_BY_STRING = frozenset({"attrgetter", "methodcaller"})
# A string that names a reserved attribute: a dunder word, or ``._x`` in a
# dotted/format path (``'{0.__class__}'``, ``'a._p_changed'``).
_RESERVED_IN_STRING = re.compile(r"__\w+__|\.\s*_[A-Za-z_]")


@dataclass(frozen=True)
class VetPolicy:
    """What generated source may use.

    ``allowed_imports``: module names; an entry allows the module and its
    submodules (``kivy.*`` and ``kivy`` are the same). ``required_class``: a
    class the function must define (the UI profile's App subclass).
    """

    allowed_imports: frozenset[str] = DEFAULT_IMPORTS
    forbidden_names: frozenset[str] = FORBIDDEN_NAMES
    forbidden_attributes: frozenset[str] = FORBIDDEN_ATTRIBUTES
    required_class: str | None = None
    max_source_chars: int = 20_000
    #: Also compile the source the way the daemon will run it
    #: (``sandbox.compiler``), so a construct it refuses is a vetting reason the
    #: repair turn sees. Off for the UI, which runs in its own process.
    restricted: bool = True

    @classmethod
    def default(cls) -> VetPolicy:
        """The policy for ordinary methods."""
        return cls()

    @classmethod
    def ui(cls) -> VetPolicy:
        """The policy for ``display_yourself``: kivy imports, a larger body."""
        return cls(
            allowed_imports=frozenset(UI_IMPORTS),
            required_class=UI_CLASS_NAME,
            max_source_chars=60_000,
            restricted=False,
        )

    def allows_import(self, module: str) -> bool:
        """Whether ``module`` (dotted) is on the allow-list."""
        for entry in self.allowed_imports:
            root = entry.removesuffix(".*")
            if module == root or module.startswith(root + "."):
                return True
        return False


@dataclass(frozen=True)
class VettedMethod:
    """Source that passed vetting, with what vetting learned about it."""

    selector: str
    source: str
    signature: MethodSignature
    imports: tuple[str, ...]


def vet(source: str, selector: str, policy: VetPolicy | None = None) -> VettedMethod:
    """Check ``source`` as the method for ``selector`` (Self or Python form).

    Returns a ``VettedMethod`` on success; its ``source`` is ``source``, or,
    when the policy requires a class and ``source`` defines it at the top
    level, the enclosed form (see the module docstring). Raises ``VetError`` (one-line
    reason, line number of ``source``) on the first rule broken; raises
    ValueError only when ``selector`` itself cannot name a method (a caller
    bug, not model output).
    """
    policy = policy or VetPolicy.default()
    signature = signature_for(selector)
    if len(source) > policy.max_source_chars:
        raise VetError(f"the source is longer than {policy.max_source_chars} characters")
    tree = _parse(source)
    if policy.required_class and has_top_level_class(tree):
        shape = app_class_shape(tree, source, signature, policy.required_class)
        # The same rules, first on the code as the model wrote it, so a
        # rejection names the model's own line; then on the enclosed form.
        checker = _BodyChecker(policy)
        for node in kept_statements(tree, frozenset({signature.selector, policy.required_class})):
            checker.visit(node)
        source = enclose_app_class(shape, signature)
        tree = _parse(source)
    function = _single_function(tree, signature)
    _check_parameters(function, signature)
    checker = _BodyChecker(policy)
    checker.visit(tree)
    if policy.required_class and not _defines_class(function, policy.required_class):
        raise VetError(f"the function must define a class named {policy.required_class}", function.lineno)
    missing = _unimported_names(tree, policy)
    if missing:
        source = "".join(f"{line}\n" for line in missing.values()) + source
    if policy.restricted:
        _check_restricted_compile(source, signature.selector, len(missing))
    return VettedMethod(signature.selector, source, signature, (*missing, *checker.imports))


def _check_restricted_compile(source: str, selector: str, added_lines: int) -> None:
    """VetError unless the daemon's restricted compiler accepts ``source``.

    ``added_lines``: import lines vetting put in front; the reason names the
    line of the model's own source.
    """
    from batos_core.sandbox.compiler import RestrictedCompileError, compile_restricted_method

    try:
        compile_restricted_method(source, f"<method {selector}>")
    except RestrictedCompileError as error:
        line = max((error.lineno or 0) - added_lines, 0)
        raise VetError(f"{error.reason.rstrip('.')} (the restricted compiler refuses it)", line) from None


def _unimported_names(tree: ast.Module, policy: VetPolicy) -> dict[str, str]:
    """Free names ``tree`` reads that an allowed import would bind, with that import.

    An allow-listed module read as a name (``math``) gets ``import math``;
    under a policy that allows kivy, a Kivy name of ``UI_NAMES`` gets its
    ``from ... import``. Conservative: a name bound anywhere in the source (an
    import, an assignment, a parameter, a def, a comprehension variable)
    counts as bound, so only a name that cannot mean anything else is imported.
    """
    bound: set[str] = set()
    read: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.append(node.id)
        elif isinstance(node, ast.Name):
            bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
    lines: dict[str, str] = {}
    for name in sorted(set(read) - bound):
        if policy.allows_import(name):
            lines[name] = f"import {name}"
        elif name in UI_NAMES and policy.allows_import(UI_NAMES[name]):
            lines[name] = f"from {UI_NAMES[name]} import {name}"
    return lines


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(source, filename="<generated>")
    except SyntaxError as error:
        raise VetError(f"syntax error: {error.msg}", error.lineno or 0) from None
    except ValueError as error:  # e.g. NUL bytes in the source
        raise VetError(f"source cannot be parsed: {error}") from None


def _single_function(tree: ast.Module, signature: MethodSignature) -> ast.FunctionDef:
    expected = f"write exactly one function with the header {signature.header()}"
    functions: list[ast.FunctionDef] = []
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef):
            functions.append(node)
        elif isinstance(node, ast.AsyncFunctionDef):
            raise VetError(f"async def is not allowed; {expected}", node.lineno)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            continue
        elif index == 0 and _is_docstring(node):
            continue
        else:
            kind = type(node).__name__.lower()
            raise VetError(
                f"only imports and one function may appear at the top level, "
                f"found a {kind} statement; {expected}",
                node.lineno,
            )
    if not functions:
        raise VetError(f"no function definition found; {expected}", 1)
    if len(functions) > 1:
        names = ", ".join(f.name for f in functions)
        raise VetError(
            f"found {len(functions)} top-level functions ({names}); {expected}",
            functions[1].lineno,
        )
    function = functions[0]
    if function.name != signature.selector:
        raise VetError(
            f"the function is named {function.name} but must be named {signature.selector}; {expected}",
            function.lineno,
        )
    if function.decorator_list:
        raise VetError(f"decorators are not allowed; {expected}", function.lineno)
    return function


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _check_parameters(function: ast.FunctionDef, signature: MethodSignature) -> None:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    expected = f"write exactly {signature.header()}"
    sent = f"{signature.self_form} sends {signature.arity} argument{'' if signature.arity == 1 else 's'}"
    if args.vararg or args.kwarg:
        star = f"*{args.vararg.arg}" if args.vararg else f"**{args.kwarg.arg}"  # type: ignore[union-attr]
        raise VetError(f"{star} is not allowed: {sent}; {expected}", function.lineno)
    if args.kwonlyargs:
        raise VetError(f"keyword-only parameters are not allowed: {sent}; {expected}", function.lineno)
    if not positional or positional[0].arg != "self":
        raise VetError(f"the first parameter must be self; {expected}", function.lineno)
    if len(positional) - 1 != signature.arity:
        raise VetError(
            f"the function takes {len(positional) - 1} parameters besides self but {sent}; {expected}",
            function.lineno,
        )


def _defines_class(function: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.ClassDef) and n.name == name for n in ast.walk(function))


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_super_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


class _BodyChecker(ast.NodeVisitor):
    """Walks the whole module in source order and raises on the first violation."""

    def __init__(self, policy: VetPolicy) -> None:
        self.policy = policy
        self.imports: list[str] = []

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            # super().__init__(...) is how widget subclasses initialise; it
            # reaches nothing the class itself could not.
            if not (attr == "__init__" and _is_super_call(node.value)):
                raise VetError(_reserved_reason(f"attribute {attr}", attr), node.lineno)
        if attr in self.policy.forbidden_attributes:
            raise VetError(f"attribute {attr} is not allowed (interpreter internals)", node.lineno)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in self.policy.forbidden_names:
            raise VetError(f"{name} is not allowed in a method", node.lineno)
        if (name.startswith("__") and name.endswith("__")) or name.startswith(("_p_", "_v_")):
            raise VetError(_reserved_reason(f"name {name}", name), node.lineno)

    def visit_Global(self, node: ast.Global) -> None:
        raise VetError("global statements are not allowed; keep state in slots of self", node.lineno)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        raise VetError("nonlocal statements are not allowed; keep state in slots of self", node.lineno)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_import(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            raise VetError("relative imports are not allowed", node.lineno)
        self._check_import(node.module, node.lineno)
        for alias in node.names:
            if alias.name == "*":
                raise VetError(f"from {node.module} import * is not allowed; import names", node.lineno)
            if alias.name.startswith("_"):
                raise VetError(_reserved_reason(f"name {alias.name}", alias.name), node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node.func)
        if name in _ATTRIBUTE_BY_NAME:
            self._check_attribute_name_argument(name, node)
        elif name in _ATTRIBUTE_BY_STRING:
            for arg in node.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    raise VetError(f"{name} needs literal attribute names", node.lineno)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _RESERVED_IN_STRING.search(node.value):
            raise VetError("a string refers to a reserved underscore attribute", node.lineno)

    def _check_attribute_name_argument(self, name: str, node: ast.Call) -> None:
        if len(node.args) < 2:
            return
        target = node.args[1]
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            if target.value.startswith("_"):
                raise VetError(_reserved_reason(f"{name} of {target.value}", target.value), node.lineno)
        elif name != "hasattr":
            raise VetError(
                f"{name} with a computed attribute name is not allowed; use the slot name directly",
                node.lineno,
            )

    def _check_import(self, module: str, lineno: int) -> None:
        if not self.policy.allows_import(module):
            allowed = ", ".join(sorted(self.policy.allowed_imports))
            raise VetError(f"import of {module} is not allowed; allowed modules: {allowed}", lineno)
        self.imports.append(module)


def _reserved_reason(what: str, name: str) -> str:
    if name == "_p_changed":
        return "_p_changed is not allowed: slot writes are saved automatically, remove it"
    return f"{what} is not allowed: names starting with an underscore are reserved"
