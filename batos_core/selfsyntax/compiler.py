"""Compiles the Self syntax tree to restricted Python source: one execution path.

A method slot becomes the source of an ordinary `Method` (``def
at_put_(self, v1_i, v2_v): ...``); a REPL statement becomes a transient
``doit(self, env, oids)`` run once in the request's transaction. Both run
restricted, like generated code, so the output never names anything that
starts with ``_``. Runtime support is ``batos.selflang`` (`selfsyntax.runtime`).

Names in the output: Self variables are ``v<n>_<name>`` (unique per unit),
temporaries ``t<n>``, block functions ``b<n>``, runtime helpers and the Self
source ``b__<name>``. Every subexpression is computed into an atom (a name
or a literal) by statements, so an inlined ``ifTrue:`` or loop can be a
Python ``if``/``for``/``while`` anywhere in an expression.

Inlining (the Smalltalk rule, documented in docs/repl.md): ``ifTrue:``,
``ifFalse:``, ``ifTrue:ifFalse:``, ``ifFalse:ifTrue:``, ``and:``, ``or:``
(argument blocks), ``whileTrue:``, ``whileFalse:``, ``whileTrue``,
``whileFalse`` (receiver and argument blocks), ``to:do:``, ``to:by:do:``,
``timesRepeat:`` (the last argument) are compiled inline when each of those
operands is a literal block with the right number of arguments; a loop body
is inlined only if no block inside it survives as a real block (a closure
must see a fresh loop variable). Otherwise the message is really sent, to
the per-type traits, where it can be redefined.

Errors: SelfSyntaxError for a fault found here (assignment to something that
is not a variable, ``@oid`` or ``resend`` where they mean nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batos_core.selectors import self_to_python
from batos_core.selfsyntax.ast import (
    Assign,
    Block,
    Body,
    BraceArray,
    Cascade,
    Expr,
    Literal,
    LiteralArray,
    MethodDecl,
    Name,
    ObjectLiteral,
    OidRef,
    Program,
    ResendRef,
    Return,
    SelfRef,
    Send,
    SlotDecl,
    Symbol,
)
from batos_core.selfsyntax.errors import SelfSyntaxError

#: Binary selectors compiled to a Python operator (`runtime.binary` after a TypeError).
PYTHON_OPERATORS = {
    "+": "+", "-": "-", "*": "*", "/": "/", "//": "//", "\\\\": "%", "%": "%",
    "<": "<", ">": ">", "<=": "<=", ">=": ">=", "=": "==", "~=": "!=", ",": "+",
    "@": "@", "&": "&", "|": "|",
}
_HELPERS = (
    "send binary identical implicit variable block activation nonlocal_return NonLocalReturn "
    "not_boolean interval resend new_object data_slot method_slot keep_only"
).split()
HEADER = "".join(f"b__{name} = batos.selflang.{name}\n" for name in _HELPERS)
DOIT = "doit"
_CONDITIONALS = {"ifTrue:", "ifFalse:", "ifTrue:ifFalse:", "ifFalse:ifTrue:", "and:", "or:"}
_WHILES = {"whileTrue:", "whileFalse:", "whileTrue", "whileFalse"}
_COUNTED = {"to:do:", "to:by:do:", "timesRepeat:"}


@dataclass(frozen=True)
class CompiledMethod:
    """A method slot compiled: its Python selector and source, and its Self form."""

    selector: str
    source: str
    self_selector: str
    self_source: str


@dataclass
class Function:
    """One Python def being emitted (a method, the do-it, or a real block)."""

    kind: str  # "method" | "doit" | "block"
    home: Function | None = None  # the method or do-it; None for those themselves
    lines: list[str] = field(default_factory=list)
    indent: int = 1
    nonlocals: set[str] = field(default_factory=set)
    bound: set[str] = field(default_factory=set)  # Python names local to this def
    needs_home: bool = False
    selector: str = ""

    @property
    def owner(self) -> Function:
        return self.home or self


@dataclass
class Scope:
    """Self variables visible at a point: name -> (Python name, the def that holds it)."""

    names: dict[str, tuple[str, Function]]
    parent: Scope | None

    def find(self, name: str) -> tuple[str, Function] | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None


class Compiler:
    """Compiles one unit (a method or a REPL statement) whose text is `source`.

    Offsets in the tree are into the text the parser saw; `base` is where
    `source` starts in it (a method slot inside a longer REPL statement)."""

    def __init__(self, source: str, base: int = 0, repl_variables: frozenset[str] = frozenset()) -> None:
        self.source = source
        self.base = base
        self.repl_variables = repl_variables
        self.counter = 0
        self.fn = Function("doit")

    # -- plumbing ----------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, line: str) -> None:
        self.fn.lines.append("    " * self.fn.indent + line)

    def pos(self, node: Expr | Body | MethodDecl | SlotDecl) -> int:
        return max(node.span[0] - self.base, 0)

    def fail(self, node: Expr, message: str) -> SelfSyntaxError:
        offset = self.pos(node)
        line = self.source.count("\n", 0, offset) + 1
        column = offset - (self.source.rfind("\n", 0, offset) + 1) + 1
        return SelfSyntaxError(message, line, column, self.source)

    def temp(self, expression: str) -> str:
        name = self.fresh("t")
        self.emit(f"{name} = {expression}")
        return name

    def declare(self, scope: Scope, names: tuple[str, ...], *, init: bool) -> None:
        for name in names:
            python = self.fresh("v") + "_" + name
            scope.names[name] = (python, self.fn)
            self.fn.bound.add(python)
            if init:
                self.emit(f"{python} = None")

    # -- units -------------------------------------------------------------------

    def method(self, decl: MethodDecl) -> CompiledMethod:
        selector = self_to_python(decl.selector)
        if selector.startswith("b__") or selector == DOIT:
            raise self.fail_at(decl, f"{decl.selector!r} is reserved for compiled code")
        self.fn = Function("method", selector=selector)
        scope = Scope({}, None)
        params = []
        for name in decl.params:
            python = self.fresh("v") + "_" + name
            scope.names[name] = (python, self.fn)
            params.append(python)
        body = self.function_body(decl.body, scope, empty="self")
        header = f"def {selector}(self{''.join(', ' + p for p in params)}):"
        text = HEADER + f"b__src = {self.source!r}\n" + header + "\n" + "\n".join(body) + "\n"
        text += f"b__this = {selector}\n"
        return CompiledMethod(selector, text, decl.selector, self.source)

    def fail_at(self, node: MethodDecl, message: str) -> SelfSyntaxError:
        offset = self.pos(node)
        return SelfSyntaxError(message, self.source.count("\n", 0, offset) + 1, 1, self.source)

    def doit(self, program: Program) -> str:
        self.fn = Function("doit", selector=DOIT)
        scope = Scope({}, None)
        whole = Body(program.temps, program.statements, span=program.span)
        body = self.function_body(whole, scope, empty="None")
        header = f"def {DOIT}(self, env, oids):\n"
        return HEADER + f"b__src = {self.source!r}\n" + header + "\n".join(body) + "\n"

    def function_body(self, body: Body, scope: Scope, *, empty: str) -> list[str]:
        """The lines of a method's or do-it's def, with the ``^``-from-a-block machinery if needed."""
        fn = self.fn
        fn.indent = 2
        inner = Scope({}, scope)
        self.declare(inner, body.temps, init=True)
        result = self.statements(body.statements, inner, empty=empty)
        if result is not None:
            self.emit(f"return {result}")
        if not fn.needs_home:
            return ["    " + line[4:] for line in fn.lines]
        name = "the REPL statement" if fn.kind == "doit" else repr(fn.selector)
        return [
            f"    b__home = b__activation({name!r})",
            "    try:",
            *fn.lines,
            "    except b__NonLocalReturn as b__e:",
            "        if b__e.home is b__home:",
            "            return b__e.value",
            "        raise",
            "    finally:",
            "        b__home.leave()",
        ]

    # -- statements --------------------------------------------------------------

    def statements(self, statements: tuple[Expr, ...], scope: Scope, *, empty: str) -> str | None:
        """Emit `statements`; the atom of the last one's value, or None after a ``^``."""
        result = empty
        for statement in statements:
            if isinstance(statement, Return):
                self.return_(statement, scope)
                return None
            result = self.expr(statement, scope)
        return result

    def return_(self, node: Return, scope: Scope) -> None:
        value = self.expr(node.value, scope)
        if self.fn.kind == "block":
            self.fn.owner.needs_home = True
            self.emit(f"b__nonlocal_return(b__src, {self.pos(node)}, b__home, {value})")
        else:
            self.emit(f"return {value}")

    # -- expressions -------------------------------------------------------------

    def expr(self, node: Expr, scope: Scope) -> str:
        match node:
            case Literal(value=value):
                return repr(value)
            case Symbol(name=name):
                return repr(name)
            case LiteralArray():
                return self.temp(repr(_literal_array(node)))
            case BraceArray(items=items):
                atoms = self.operands(items, scope)
                return self.temp("[" + ", ".join(atoms) + "]")
            case ObjectLiteral():
                target = self.temp("b__new_object()")
                self.slots(target, node, scope)
                return target
            case Name(name=name):
                return self.name(node, name, scope)
            case SelfRef():
                return "self"
            case OidRef(oid=oid):
                if self.fn.owner.kind != "doit":
                    raise self.fail(node, "object references '@...' work at the prompt, not in methods")
                return self.temp(f"oids({oid})")
            case Assign(name=name, value=value):
                return self.assign(node, name, value, scope)
            case Send():
                return self.send(node, scope)
            case Cascade(receiver=receiver, messages=messages):
                target = self.snapshot(self.expr(receiver, scope))
                result = "None"
                for message in messages:
                    atoms = self.operands(message.arguments, scope)
                    result = self.message(node, target, message.selector, atoms)
                return result
            case Block():
                return self.block(node, scope)
            case Return():
                raise self.fail(node, "'^' starts a statement")
            case ResendRef():
                raise self.fail(node, "'resend.' must be followed by a message")
        raise TypeError(f"not an expression node: {node!r}")

    def name(self, node: Expr, name: str, scope: Scope) -> str:
        found = scope.find(name)
        if found is not None:
            return found[0]
        if self.fn.owner.kind == "doit":
            if name in self.repl_variables:
                return self.temp(f"env[{name!r}]")
            return self.temp(f"b__variable(b__src, {self.pos(node)}, env, self, {name!r})")
        return self.temp(f"b__implicit(b__src, {self.pos(node)}, self, {name!r})")

    def assign(self, node: Expr, name: str, value_node: Expr, scope: Scope) -> str:
        found = scope.find(name)
        value = self.snapshot(self.expr(value_node, scope))
        if found is not None:
            python, holder = found
            if holder is not self.fn:
                self.fn.nonlocals.add(python)
            self.emit(f"{python} = {value}")
            return value
        if self.fn.owner.kind == "doit":
            self.emit(f"env[{name!r}] = {value}")
            return value
        raise self.fail(
            node, f"cannot assign to {name!r}: it is not an argument or local variable"
            f" (declare it with '| {name} |', or set a slot with '{name}: value')"
        )

    def snapshot(self, atom: str) -> str:
        """`atom` if it cannot change under later statements, else a temporary holding it."""
        if atom.startswith("v") and "_" in atom:
            return self.temp(atom)
        return atom

    def operands(self, nodes: tuple[Expr, ...], scope: Scope) -> list[str]:
        """Atoms of `nodes`, evaluated left to right: an earlier variable read is
        copied before a later operand's statements can assign it."""
        atoms: list[str] = []
        for node in nodes:
            mark = len(self.fn.lines)
            atom = self.expr(node, scope)
            if len(self.fn.lines) > mark:
                for index, earlier in enumerate(atoms):
                    if earlier.startswith("v") and "_" in earlier:
                        copy = self.fresh("t")
                        self.fn.lines.insert(mark, "    " * self.fn.indent + f"{copy} = {earlier}")
                        mark += 1
                        atoms[index] = copy
            atoms.append(atom)
        return atoms

    # -- sends -------------------------------------------------------------------

    def send(self, node: Send, scope: Scope) -> str:
        selector = node.selector
        if isinstance(node.receiver, ResendRef):
            return self.resend(node, scope)
        if selector in ("_AddSlots:", "_Define:"):
            return self.add_slots(node, scope)
        inlined = self.inline(node, scope)
        if inlined is not None:
            return inlined
        receiver, *args = self.operands((node.receiver, *node.arguments), scope)
        return self.message(node, receiver, selector, args)

    def message(self, node: Expr, receiver: str, selector: str, args: list[str]) -> str:
        """Send `selector` to the atom `receiver` with the atoms `args`; the result's atom."""
        pos = self.pos(node)
        if selector == "==":
            return self.temp(f"b__identical({receiver}, {args[0]})")
        operator = PYTHON_OPERATORS.get(selector)
        if operator is not None:
            result = self.fresh("t")
            self.emit("try:")
            self.emit(f"    {result} = {receiver} {operator} {args[0]}")
            self.emit("except TypeError:")
            self.emit(f"    {result} = b__binary(b__src, {pos}, {receiver}, {selector!r}, {args[0]})")
            return result
        call = "".join(", " + a for a in args)
        return self.temp(f"b__send(b__src, {pos}, {receiver}, {selector!r}{call})")

    def resend(self, node: Send, scope: Scope) -> str:
        owner = self.fn.owner
        if owner.kind != "method":
            raise self.fail(node, "'resend.' works inside a method, not at the prompt")
        args = self.operands(node.arguments, scope)
        call = "".join(", " + a for a in args)
        return self.temp(
            f"b__resend(b__src, {self.pos(node)}, self, b__this, {owner.selector!r}, {node.selector!r}{call})"
        )

    # -- object literals ---------------------------------------------------------

    def slots(self, target: str, literal: ObjectLiteral, scope: Scope) -> None:
        for decl in literal.slots:
            if isinstance(decl, MethodDecl):
                start = decl.span[0]
                compiled = Compiler(decl.source, base=start).method(decl)
                self.emit(
                    f"b__method_slot({target}, {compiled.selector!r}, {compiled.source!r}, "
                    f"{compiled.self_selector!r}, {compiled.self_source!r})"
                )
                continue
            value = "None" if decl.value is None else self.expr(decl.value, scope)
            self.emit(f"b__data_slot({target}, {decl.name!r}, {value}, {not decl.assignable})")

    def add_slots(self, node: Send, scope: Scope) -> str:
        """``obj _AddSlots: (| ... |)`` writes the literal's slots into obj;
        ``_Define:`` first removes obj's other slots."""
        (argument,) = node.arguments
        if not isinstance(argument, ObjectLiteral):
            raise self.fail(argument, f"{node.selector} takes an object literal '(| ... |)'")
        target = self.snapshot(self.expr(node.receiver, scope))
        if node.selector == "_Define:":
            names = [
                self_to_python(d.selector) if isinstance(d, MethodDecl) else d.name for d in argument.slots
            ]
            self.emit(f"b__keep_only({target}, {names!r})")
        self.slots(target, argument, scope)
        return target

    # -- blocks ------------------------------------------------------------------

    def block(self, node: Block, scope: Scope) -> str:
        outer = self.fn
        name = self.fresh("b")
        fn = Function("block", home=outer.owner, indent=1)
        self.fn = fn
        inner = Scope({}, scope)
        params = []
        for param in node.params:
            python = self.fresh("v") + "_" + param
            inner.names[param] = (python, fn)
            fn.bound.add(python)
            params.append(python)
        self.declare(inner, node.body.temps, init=True)
        result = self.statements(node.body.statements, inner, empty="None")
        if result is not None:
            self.emit(f"return {result}")
        self.fn = outer
        self.emit(f"def {name}({', '.join(params)}):")
        if fn.nonlocals:
            self.emit("    nonlocal " + ", ".join(sorted(fn.nonlocals)))
            # Assigned here but held further out: the enclosing def must pass them through.
            for python in fn.nonlocals:
                if python not in outer.bound:
                    outer.nonlocals.add(python)
        pad = "    " * outer.indent
        self.fn.lines.extend(pad + line for line in fn.lines)
        return self.temp(f"b__block({name}, {len(params)}, b__src, {self.pos(node)})")

    # -- inlining ----------------------------------------------------------------

    def inline(self, node: Send, scope: Scope) -> str | None:
        selector = node.selector
        if selector in _CONDITIONALS and all(_is_block(a, 0) for a in node.arguments):
            return self.inline_conditional(node, scope)
        blocks_only = _is_block(node.receiver, 0) and all(_is_block(a, 0) for a in node.arguments)
        if selector in _WHILES and blocks_only:
            if all(_loop_safe(b) for b in (node.receiver, *node.arguments)):  # type: ignore[arg-type]
                return self.inline_while(node, scope)
        arity = 0 if selector == "timesRepeat:" else 1
        if selector in _COUNTED and node.arguments and _is_block(node.arguments[-1], arity):
            if _loop_safe(node.arguments[-1]):  # type: ignore[arg-type]
                return self.inline_counted(node, scope)
        return None

    def inline_body(self, block: Block, scope: Scope, params: tuple[str, ...] = ()) -> str | None:
        """Emit `block`'s body in place (its arguments bound to `params`); its value's atom."""
        inner = Scope({}, scope)
        for name, python in zip(block.params, params, strict=True):
            inner.names[name] = (python, self.fn)
        self.declare(inner, block.body.temps, init=True)
        return self.statements(block.body.statements, inner, empty="None")

    def branch(self, block: Block, scope: Scope, result: str) -> None:
        self.fn.indent += 1
        value = self.inline_body(block, scope)
        if value is not None:
            self.emit(f"{result} = {value}")
        self.fn.indent -= 1

    def inline_conditional(self, node: Send, scope: Scope) -> str:
        selector = node.selector
        condition = self.expr(node.receiver, scope)
        blocks: list[Block] = list(node.arguments)  # type: ignore[arg-type]
        result = self.fresh("t")
        on_true: Block | None
        on_false: Block | None
        if selector == "ifTrue:":
            on_true, on_false = blocks[0], None
        elif selector == "ifFalse:":
            on_true, on_false = None, blocks[0]
        elif selector == "ifTrue:ifFalse:":
            on_true, on_false = blocks
        elif selector == "ifFalse:ifTrue:":
            on_false, on_true = blocks
        elif selector == "and:":
            on_true, on_false = blocks[0], None
        else:  # or:
            on_true, on_false = None, blocks[0]
        default_true = "True" if selector == "or:" else "None"
        default_false = "False" if selector == "and:" else "None"
        self.emit(f"if {condition} is True:")
        if on_true is not None:
            self.branch(on_true, scope, result)
        else:
            self.emit(f"    {result} = {default_true}")
        self.emit(f"elif {condition} is False:")
        if on_false is not None:
            self.branch(on_false, scope, result)
        else:
            self.emit(f"    {result} = {default_false}")
        self.emit("else:")
        self.emit(f"    {result} = b__not_boolean(b__src, {self.pos(node)}, {condition}, {selector!r})")
        return result

    def inline_while(self, node: Send, scope: Scope) -> str:
        selector = node.selector
        wanted = "True" if selector.startswith("whileTrue") else "False"
        other = "False" if wanted == "True" else "True"
        self.emit("while True:")
        self.fn.indent += 1
        condition = self.inline_body(node.receiver, scope)  # type: ignore[arg-type]
        if condition is not None:
            self.emit(f"if {condition} is not {wanted}:")
            self.emit(f"    if {condition} is {other}:")
            self.emit("        break")
            self.emit(f"    b__not_boolean(b__src, {self.pos(node)}, {condition}, {selector!r})")
            if node.arguments:
                self.inline_body(node.arguments[0], scope)  # type: ignore[arg-type]
        self.fn.indent -= 1
        return "None"

    def inline_counted(self, node: Send, scope: Scope) -> str:
        selector = node.selector
        pos = self.pos(node)
        if selector == "timesRepeat:":
            count = self.expr(node.receiver, scope)
            bounds = f"1, {count}"
            receiver = count
        else:
            atoms = self.operands((node.receiver, *node.arguments[:-1]), scope)
            receiver = self.snapshot(atoms[0])
            bounds = ", ".join([receiver, *atoms[1:]])
        body: Block = node.arguments[-1]  # type: ignore[assignment]
        variable = self.fresh("v") + "_" + (body.params[0] if body.params else "count")
        self.fn.bound.add(variable)
        self.emit(f"for {variable} in b__interval(b__src, {pos}, {bounds}):")
        self.fn.indent += 1
        self.inline_body(body, scope, (variable,) if body.params else ())
        self.emit("pass")
        self.fn.indent -= 1
        return receiver


def _is_block(node: Expr, arity: int) -> bool:
    return isinstance(node, Block) and len(node.params) == arity


def _loop_safe(block: Block) -> bool:
    """True if no real block would be made inside `block`'s body when inlined."""
    return not any(_makes_block(s) for s in block.body.statements)


def _makes_block(node: Expr) -> bool:
    match node:
        case Block():
            return True
        case Send(receiver=receiver, selector=selector, arguments=arguments):
            parts: list[Expr] = [receiver, *arguments]
            if selector in _CONDITIONALS and all(_is_block(a, 0) for a in arguments):
                parts = [receiver, *(s for a in arguments for s in a.body.statements)]  # type: ignore[union-attr]
            elif selector in _WHILES and _is_block(receiver, 0) and all(_is_block(a, 0) for a in arguments):
                parts = [s for b in (receiver, *arguments) for s in b.body.statements]  # type: ignore[union-attr]
            return any(_makes_block(p) for p in parts)
        case Cascade(receiver=receiver, messages=messages):
            return _makes_block(receiver) or any(_makes_block(a) for m in messages for a in m.arguments)
        case Assign(value=value) | Return(value=value):
            return _makes_block(value)
        case BraceArray(items=items):
            return any(_makes_block(i) for i in items)
        case ObjectLiteral(slots=slots):
            values = (d.value for d in slots if isinstance(d, SlotDecl) and d.value is not None)
            return any(_makes_block(v) for v in values)
    return False


def _literal_array(node: LiteralArray) -> list[object]:
    items: list[object] = []
    for item in node.items:
        if isinstance(item, LiteralArray):
            items.append(_literal_array(item))
        elif isinstance(item, Symbol):
            items.append(item.name)
        else:
            items.append(item.value)
    return items


def compile_method_decl(decl: MethodDecl) -> CompiledMethod:
    """Python source for a method slot (offsets relative to the slot's own source)."""
    return Compiler(decl.source, base=decl.span[0]).method(decl)


def compile_doit(program: Program, source: str, repl_variables: frozenset[str] = frozenset()) -> str:
    """Python source defining ``doit(self, env, oids)`` for a REPL statement."""
    return Compiler(source, repl_variables=repl_variables).doit(program)
