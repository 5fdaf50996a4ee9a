"""The chat-model shape of a ``display_yourself`` reply, enclosed into the one accepted form.

The UI prompt asks for one function that defines the App class and its
imports inside itself and returns the class. Backends that continue the
prompt's prefill get that form. A chat server that ignores the prefill (the
``openai`` backend, docs/jit.md) gets what chat models write by habit:

    from kivy.app import App            # imports at the top level
    class BatOS_EntropicUI_App(App):    # the App subclass at the top level
        ...
    def display_yourself(self):         # the function that returns it
        return BatOS_EntropicUI_App
    if __name__ == "__main__":          # often: example usage, never run here
        BatOS_EntropicUI_App().run()

``app_class_shape`` checks that shape and ``enclose_app_class`` rewrites it
into the accepted form: the imports and the class move, in their order, to
the start of the function's body. Trailing example usage is dropped, since
a method's source is never run as a program: a main guard (its body runs
only in a program's main module) and calls of the function or the class
(``display_yourself(TheApp())``, ``TheApp().run()``: the 1.5B coder ended
every reply with one over the openai backend, and a repair that quoted it
did not make it stop). A reply with the class and no function at all (the
1.5B coder wrote that too) gets the function the prompt describes, one that
returns the class. Nothing else is accepted at the top level: one
class, named as the prompt asks, whose only base is kivy's ``App`` imported
at the top level, with no decorator and no keyword (no metaclass); a module
docstring; imports; and the function. Any other statement would run when
the source is defined, and is refused, naming it.

The rewrite keeps the model's text (comments, quotes, layout): lines are
re-indented, except the inner lines of multi-line strings, which are part of
a value. The result is checked to hold the same statements as the original
(``ast.dump``); where the text cannot be re-indented faithfully (tabs mixed
with spaces), the function is rebuilt with ``ast.unparse`` instead. Vetting
then checks the result by the ordinary rules (``vet.vet``).
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

from batos_core.jit.errors import VetError
from batos_core.jit.signature import MethodSignature

_APP = "kivy.app.App"


def has_top_level_class(tree: ast.Module) -> bool:
    """Whether ``tree`` defines a class at the top level (the shape handled here)."""
    return any(isinstance(node, ast.ClassDef) for node in tree.body)


def is_main_guard(node: ast.stmt) -> bool:
    """Whether ``node`` is ``if __name__ == "__main__":`` (either order, no ``else``)."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def is_usage_call(node: ast.stmt, names: frozenset[str]) -> bool:
    """Whether ``node`` only calls one of ``names`` (the function, the class), as
    example usage does: ``display_yourself(...)``, ``TheApp().run()``."""
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return False
    callee: ast.expr = node.value
    while isinstance(callee, ast.Call | ast.Attribute):
        callee = callee.func if isinstance(callee, ast.Call) else callee.value
    return isinstance(callee, ast.Name) and callee.id in names


def kept_statements(tree: ast.Module, names: frozenset[str]) -> list[ast.stmt]:
    """The top-level statements the enclosed form keeps: all but the trailing main
    guard and usage calls of ``names`` (the function and the class)."""
    body = list(tree.body)
    while body and (is_main_guard(body[-1]) or is_usage_call(body[-1], names)):
        body.pop()
    return body


@dataclass(frozen=True)
class AppClassShape:
    """A source in the shape: its top-level imports, class and function, and the
    source they were parsed from (with the function added when it was missing)."""

    imports: list[ast.Import | ast.ImportFrom]
    app_class: ast.ClassDef
    function: ast.FunctionDef
    source: str


def app_class_shape(
    tree: ast.Module, source: str, signature: MethodSignature, class_name: str
) -> AppClassShape:
    """The parts of ``tree`` (parsed from ``source``) when it is in the shape (see
    the module docstring). A reply with the class and no function at all gets
    the function the prompt asks for, ``return class_name``.

    Raises ``VetError`` (the line, what to write instead) when the top level
    holds anything but a docstring, imports, one class ``class_name``
    subclassing kivy's ``App``, the function ``signature`` names and
    trailing example usage.
    """
    imports, app_class, function = _parts(tree, signature, class_name)
    _check_app_class(app_class, imports, class_name)
    if function is None:
        source = _with_function(tree, source, signature, class_name)
        imports, app_class, function = _parts(ast.parse(source), signature, class_name)
        assert function is not None  # just added
    return AppClassShape(imports, app_class, function, source)


def enclose_app_class(shape: AppClassShape, signature: MethodSignature) -> str:
    """The source of ``shape`` with its top-level imports and class moved, in their
    order, to the start of the function's body. Never raises."""
    imports, app_class, function = shape.imports, shape.app_class, shape.function
    enclosed = _reindented(shape.source, imports, app_class, function)
    if enclosed is None or not _same_statements(enclosed, imports, app_class, function):
        enclosed = _unparsed(imports, app_class, function, signature)
    return enclosed


def _with_function(tree: ast.Module, source: str, signature: MethodSignature, class_name: str) -> str:
    """``source`` with ``def ...: return class_name`` after its last kept statement."""
    lines = source.splitlines()
    kept = kept_statements(tree, frozenset({signature.selector, class_name}))
    at = _end(kept[-1]) if kept else len(lines)
    added = ["", "", signature.header(), f"    return {class_name}", "", ""]
    return "\n".join([*lines[:at], *added, *lines[at:]]).rstrip("\n") + "\n"


def _parts(
    tree: ast.Module, signature: MethodSignature, class_name: str
) -> tuple[list[ast.Import | ast.ImportFrom], ast.ClassDef, ast.FunctionDef | None]:
    expected = (
        f"write one function {signature.header()} with the imports and the class {class_name} inside it"
    )
    imports: list[ast.Import | ast.ImportFrom] = []
    classes: list[ast.ClassDef] = []
    functions: list[ast.FunctionDef] = []
    for index, node in enumerate(kept_statements(tree, frozenset({signature.selector, class_name}))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.ClassDef):
            classes.append(node)
        elif isinstance(node, ast.FunctionDef):
            functions.append(node)
        elif not (index == 0 and _is_docstring(node)):
            raise VetError(
                f"remove the top-level statement `{_first_line(node)}`: nothing may run when the code "
                f"is loaded, only imports, the class {class_name} and the function stand at the top "
                f"level; {expected}",
                node.lineno,
            )
    if not classes:  # callers check has_top_level_class first
        raise VetError(f"no top-level class found; {expected}", 1)
    if len(classes) > 1:
        names = ", ".join(c.name for c in classes)
        raise VetError(f"found {len(classes)} top-level classes ({names}); {expected}", classes[1].lineno)
    app_class = classes[0]
    if app_class.name != class_name:
        raise VetError(
            f"the class is named {app_class.name} but must be named {class_name}; {expected}",
            app_class.lineno,
        )
    if not functions:
        return imports, app_class, None
    if len(functions) > 1:
        names = ", ".join(f.name for f in functions)
        raise VetError(
            f"found {len(functions)} top-level functions ({names}); {expected}", functions[1].lineno
        )
    function = functions[0]
    if function.name != signature.selector:
        raise VetError(
            f"the function is named {function.name} but must be named {signature.selector}; {expected}",
            function.lineno,
        )
    if function.decorator_list:
        raise VetError(f"decorators are not allowed; {expected}", function.lineno)
    return imports, app_class, function


def _first_line(node: ast.stmt, limit: int = 60) -> str:
    """The statement's first line as code (shortened), to name it to the model."""
    line = ast.unparse(node).split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _check_app_class(
    app_class: ast.ClassDef,
    imports: list[ast.Import | ast.ImportFrom],
    class_name: str,
) -> None:
    what = f"class {class_name}(App) with App imported by from kivy.app import App"
    if app_class.decorator_list:
        raise VetError(f"a class decorator is not allowed; write {what}", app_class.lineno)
    if app_class.keywords:
        raise VetError(f"class keywords (metaclass=...) are not allowed; write {what}", app_class.lineno)
    bindings = _import_bindings(imports)
    bases = [_resolve(base, bindings) for base in app_class.bases]
    if bases != [_APP]:
        raise VetError(
            f"the class {class_name} must be a subclass of kivy's App and nothing else; write {what}",
            app_class.lineno,
        )


def _import_bindings(imports: list[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """Top-level name -> the dotted name it is bound to by the imports."""
    bindings: dict[str, str] = {}
    for node in imports:
        for alias in node.names:
            if isinstance(node, ast.ImportFrom):
                bindings[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif alias.asname:
                bindings[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                bindings[root] = root
    return bindings


def _resolve(expression: ast.expr, bindings: dict[str, str]) -> str | None:
    """The dotted name ``expression`` (``App``, ``kivy.app.App``) stands for, or None."""
    parts: list[str] = []
    while isinstance(expression, ast.Attribute):
        parts.insert(0, expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name) or expression.id not in bindings:
        return None
    return ".".join([bindings[expression.id], *parts])


def _reindented(
    source: str,
    imports: list[ast.Import | ast.ImportFrom],
    app_class: ast.ClassDef,
    function: ast.FunctionDef,
) -> str | None:
    """The enclosed form written from the model's own lines (the function's header
    as written); None if they cannot be re-indented faithfully (tab indentation,
    or the body on the ``def`` line)."""
    lines = source.splitlines()
    body_start = function.body[0]
    indent = lines[body_start.lineno - 1][: body_start.col_offset]
    if indent.strip() or any("\t" in line[: len(line) - len(line.lstrip())] for line in lines):
        return None
    in_string = _string_inner_lines(source)
    hoisted_rows = sorted(
        {row for node in [*imports, app_class] for row in range(node.lineno, _end(node) + 1)}
    )
    docstring = function.body[0] if _is_docstring(function.body[0]) else None
    rest = function.body[1:] if docstring is not None else function.body
    out = lines[function.lineno - 1 : body_start.lineno - 1]
    if docstring is not None:
        out += lines[docstring.lineno - 1 : _end(docstring)]
    previous = None
    for row in hoisted_rows:
        if previous is not None and row != previous + 1:
            out.append("")
        text = lines[row - 1]
        out.append(text if row in in_string or not text.strip() else indent + text)
        previous = row
    if rest:
        out.append("")
        out += lines[rest[0].lineno - 1 : _end(function)]
    return "\n".join(out) + "\n"


def _end(node: ast.stmt) -> int:
    return node.end_lineno if node.end_lineno is not None else node.lineno


def _string_inner_lines(source: str) -> set[int]:
    """Rows (1-based) that continue a string token begun on an earlier row."""
    rows: set[int] = set()
    opened: int | None = None  # the start row of an f-string being tokenized in parts (3.12+)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            name = tokenize.tok_name[token.type]
            if name == "FSTRING_START":
                opened = token.start[0]
            elif name == "FSTRING_END" and opened is not None:
                rows.update(range(opened + 1, token.end[0] + 1))
                opened = None
            elif token.type == tokenize.STRING:
                rows.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return rows  # the source parsed, so this does not happen; the dump check guards it
    return rows


def _same_statements(
    enclosed: str,
    imports: list[ast.Import | ast.ImportFrom],
    app_class: ast.ClassDef,
    function: ast.FunctionDef,
) -> bool:
    """Whether ``enclosed`` is the function with exactly the hoisted statements first."""
    try:
        tree = ast.parse(enclosed)
    except (SyntaxError, ValueError):
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return False
    expected = _enclosed_body(imports, app_class, function)
    return [ast.dump(s) for s in tree.body[0].body] == [ast.dump(s) for s in expected]


def _enclosed_body(
    imports: list[ast.Import | ast.ImportFrom], app_class: ast.ClassDef, function: ast.FunctionDef
) -> list[ast.stmt]:
    hoisted: list[ast.stmt] = sorted([*imports, app_class], key=lambda node: node.lineno)
    body = list(function.body)
    if body and _is_docstring(body[0]):
        return [body[0], *hoisted, *body[1:]]
    return [*hoisted, *body]


def _unparsed(
    imports: list[ast.Import | ast.ImportFrom],
    app_class: ast.ClassDef,
    function: ast.FunctionDef,
    signature: MethodSignature,
) -> str:
    """The enclosed form rebuilt from the syntax tree (comments and layout are lost)."""
    enclosed = ast.FunctionDef(
        name=signature.selector,
        args=function.args,
        body=_enclosed_body(imports, app_class, function),
        decorator_list=[],
        returns=function.returns,
        type_comment=None,
    )
    module = ast.Module(body=[enclosed], type_ignores=[])
    return ast.unparse(ast.fix_missing_locations(module)) + "\n"
