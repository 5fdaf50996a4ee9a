"""Recursive-descent parser of the Self-style message language.

Grammar (Smalltalk precedence: unary > binary > keyword, binary left to
right)::

    program    := [temps] [statement {'.' statement}] ['.']
    temps      := '|' {IDENT} '|'
    statement  := '^' statement | IDENT ':=' statement | cascade
    cascade    := keywordExpr {';' message}
    keywordExpr:= binaryExpr {KEYWORD binaryExpr} | {KEYWORD binaryExpr}   (implicit self)
    binaryExpr := unaryExpr {BINARY unaryExpr}
    unaryExpr  := primary {IDENT}
    primary    := literal | IDENT | OID | '(' statement ')' | objectLiteral | block
                | '{' [statement {'.' statement}] '}' | '#(' literal* ')'
                | 'resend.' message
    block      := '[' [{':' IDENT} ('|' | ']')] [temps] [statement {'.' statement}] ']'
    objectLiteral := '(|' [slot {'.' slot}] ['.'] '|)'
    slot       := IDENT ['*'] [('=' | '<-') keywordExpr]
                | IDENT '=' methodBody | {KEYWORD IDENT} '=' methodBody
    methodBody := '(' [temps] [statement {'.' statement}] ')'

A slot ``name = ( ... )`` whose value is exactly one parenthesised body is a
method (Self's rule); ``name <- ( ... )`` and ``name = ( ... ) + 1`` are data.

Keyword parts after the first may be capitalised Self-style (``at: 1 Put:
2`` is ``at:put:``). Every error is a SelfSyntaxError at the offending token,
or at the opening bracket of one never closed. Pure standard library.

Brackets and assignments nest at most `MAX_NESTING` deep: each level costs
the parser (and later the evaluator) about seven Python frames, so without a
bound a few thousand ``(`` would exhaust the interpreter's recursion limit and
surface as a RecursionError from inside the daemon instead of a syntax error
at the bracket that went too deep.
"""

from __future__ import annotations

from typing import NoReturn

from batos_core.selfsyntax.ast import (
    Assign,
    Block,
    Body,
    BraceArray,
    Cascade,
    Expr,
    Literal,
    LiteralArray,
    Message,
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
from batos_core.selfsyntax.lexer import Token, TokenKind, tokenize

K = TokenKind
RESERVED_NAMES = frozenset({"self", "nil", "true", "false"})
_CONSTANTS: dict[str, bool | None] = {"nil": None, "true": True, "false": False}
_PRIMARY_START = frozenset(
    {K.INTEGER, K.FLOAT, K.STRING, K.SYMBOL, K.IDENT, K.OID, K.LPAREN, K.LBRACE, K.HASH_PAREN,
     K.LBRACKET}
)
_CLOSERS = frozenset({K.RPAREN, K.RBRACE, K.RBRACKET})
#: How deep brackets ('(', '{', '#(', '(|') and assignments may nest.
MAX_NESTING = 64


class Parser:
    """Parses one source text; use `parse` rather than this class directly."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0  # brackets and assignments open around the current token

    # -- token access ------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind is not K.EOF:
            self.index += 1
        return token

    def at(self, kind: TokenKind, text: str | None = None) -> bool:
        return self.token.kind is kind and (text is None or self.token.text == text)

    def at_object_close(self) -> bool:
        """``|)``: the end of an object literal, never a binary ``|`` send."""
        return self.at(K.BINARY, "|") and self.peek().kind is K.RPAREN

    def fail(self, token: Token, message: str) -> NoReturn:
        raise SelfSyntaxError(message, token.line, token.column, self.source)

    def unexpected(self, token: Token, expected: str) -> NoReturn:
        if token.kind in _CLOSERS:
            self.fail(token, f"unmatched {token.text!r}")
        self.fail(token, f"expected {expected}, found {token.describe()}")

    def enter(self, opener: Token) -> None:
        """One level deeper (at `opener`); fails past MAX_NESTING. `leave` undoes it."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(opener, f"nested more than {MAX_NESTING} deep")

    def leave(self) -> None:
        self.depth -= 1

    def span_from(self, start: Token) -> tuple[int, int]:
        return (start.start, self.tokens[self.index - 1].end)

    # -- statements --------------------------------------------------------

    def program(self) -> Program:
        first = self.token
        temps = self.temps()
        statements: list[Expr] = []
        while True:
            while self.at(K.PERIOD):
                self.advance()
            if self.at(K.EOF):
                break
            statements.append(self.statement())
            if self.at(K.PERIOD):
                continue
            if not self.at(K.EOF):
                self.unexpected(self.token, "'.' or the end of the statement")
        return Program(tuple(statements), temps, span=(first.start, self.token.end))

    def temps(self) -> tuple[str, ...]:
        """``| a b |`` at the start of a program, block or method body; () if absent."""
        if not self.at(K.BINARY, "|"):
            return ()
        bar = self.advance()
        names: list[str] = []
        while not self.at(K.BINARY, "|"):
            token = self.token
            if token.kind is K.EOF:
                self.fail(bar, "'|' of local variables was never closed")
            if token.kind is not K.IDENT:
                self.unexpected(token, "a local variable name or '|'")
            self.variable_name(token, names)
            names.append(token.text)
            self.advance()
        self.advance()
        return tuple(names)

    def variable_name(self, token: Token, taken: list[str]) -> None:
        """Fail unless `token` may name a new argument or local variable."""
        if token.text in RESERVED_NAMES or token.text == "resend":
            self.fail(token, f"{token.text!r} cannot be a variable name")
        if token.text.startswith("_"):
            self.fail(token, "variable names must not start with '_'")
        if token.text in taken:
            self.fail(token, f"duplicate variable {token.text!r}")

    def sequence(self, closer: TokenKind, opener: Token) -> tuple[Expr, ...]:
        """Statements up to (not including) `closer`; fails at `opener` if never closed."""
        statements: list[Expr] = []
        while True:
            while self.at(K.PERIOD):
                self.advance()
            if self.at(closer):
                return tuple(statements)
            if self.at(K.EOF):
                self.fail(opener, f"{opener.text!r} was never closed")
            statements.append(self.statement())
            if self.at(K.PERIOD) or self.at(closer):
                continue
            if self.at(K.EOF):
                self.fail(opener, f"{opener.text!r} was never closed")
            self.unexpected(self.token, f"'.' or {closer.value}")

    def statement(self) -> Expr:
        start = self.token
        if start.kind is K.CARET:
            self.advance()
            if self.token.kind not in _PRIMARY_START and self.token.kind is not K.KEYWORD:
                self.unexpected(self.token, "a value to return after '^'")
            self.enter(start)
            value = self.statement()
            self.leave()
            return Return(value, span=self.span_from(start))
        if start.kind is K.IDENT and self.peek().kind is K.ASSIGN:
            if start.text in RESERVED_NAMES:
                self.fail(start, f"cannot assign to {start.text!r}")
            self.advance()
            self.advance()
            if self.token.kind not in _PRIMARY_START and self.token.kind is not K.KEYWORD:
                self.unexpected(self.token, f"a value to assign to {start.text!r}")
            self.enter(start)
            value = self.statement()
            self.leave()
            return Assign(start.text, value, span=self.span_from(start))
        return self.cascade()

    def cascade(self) -> Expr:
        start = self.token
        first = self.keyword_expr()
        if not self.at(K.SEMICOLON):
            return first
        if not isinstance(first, Send):
            self.fail(self.token, "a cascade needs a message before ';'")
        messages = [Message(first.selector, first.arguments, span=first.span)]
        while self.at(K.SEMICOLON):
            self.advance()
            messages.append(self.cascade_message())
        return Cascade(first.receiver, tuple(messages), span=self.span_from(start))

    def cascade_message(self) -> Message:
        start = self.token
        if start.kind is K.IDENT:
            self.advance()
            return Message(start.text, span=self.span_from(start))
        if start.kind is K.BINARY:
            self.advance()
            argument = self.binary_argument(start)
            return Message(start.text, (argument,), span=self.span_from(start))
        if start.kind is K.KEYWORD:
            selector, arguments = self.keyword_parts()
            return Message(selector, arguments, span=self.span_from(start))
        self.unexpected(start, "a message after ';'")

    # -- message expressions -------------------------------------------------

    def keyword_expr(self) -> Expr:
        start = self.token
        if start.kind is K.KEYWORD:  # implicit receiver: ``x: 3`` is ``self x: 3``
            selector, arguments = self.keyword_parts()
            implicit = SelfRef(span=(start.start, start.start))
            return Send(implicit, selector, arguments, span=self.span_from(start))
        receiver = self.binary_expr()
        if not self.at(K.KEYWORD):
            return receiver
        selector, arguments = self.keyword_parts()
        return Send(receiver, selector, arguments, span=self.span_from(start))

    def keyword_parts(self) -> tuple[str, tuple[Expr, ...]]:
        """``at: 1 put: 2`` (or ``at: 1 Put: 2``) -> ("at:put:", (1, 2))."""
        parts: list[str] = []
        arguments: list[Expr] = []
        while self.at(K.KEYWORD):
            keyword = self.advance()
            if self.token.kind not in _PRIMARY_START:
                self.unexpected(self.token, f"an argument after {keyword.text!r}")
            part = keyword.text
            parts.append(part if not parts else part[0].lower() + part[1:])
            arguments.append(self.binary_expr())
        return "".join(parts), tuple(arguments)

    def binary_expr(self) -> Expr:
        start = self.token
        left = self.unary_expr()
        while self.at(K.BINARY) and not self.at_object_close():
            operator = self.advance()
            right = self.binary_argument(operator)
            left = Send(left, operator.text, (right,), span=self.span_from(start))
        return left

    def binary_argument(self, operator: Token) -> Expr:
        if self.token.kind not in _PRIMARY_START:
            self.unexpected(self.token, f"an argument after {operator.text!r}")
        return self.unary_expr()

    def unary_expr(self) -> Expr:
        start = self.token
        node = self.primary()
        while self.at(K.IDENT):
            selector = self.advance()
            node = Send(node, selector.text, span=self.span_from(start))
        return node

    # -- primaries ---------------------------------------------------------

    def primary(self) -> Expr:
        token = self.token
        kind = token.kind
        if kind in (K.INTEGER, K.FLOAT, K.STRING):
            self.advance()
            value = token.value
            assert isinstance(value, int | float | str)
            return Literal(value, span=(token.start, token.end))
        if kind is K.SYMBOL:
            self.advance()
            return Symbol(str(token.value), span=(token.start, token.end))
        if kind is K.IDENT:
            return self.name()
        if kind is K.OID:
            self.advance()
            assert isinstance(token.value, int)
            return OidRef(token.value, span=(token.start, token.end))
        if kind is K.LPAREN:
            if self.peek().kind is K.BINARY and self.peek().text == "|":
                return self.object_literal()
            return self.parenthesised()
        if kind is K.LBRACE:
            return self.brace_array()
        if kind is K.HASH_PAREN:
            return self.literal_array()
        if kind is K.LBRACKET:
            return self.block()
        if kind is K.KEYWORD:
            self.fail(token, f"keyword message {token.text!r} needs a receiver")
        self.unexpected(token, "an expression")

    def name(self) -> Expr:
        token = self.advance()
        span = (token.start, token.end)
        if token.text == "resend" and self.resend_follows(token):
            self.advance()  # the '.'
            return ResendRef(span=(token.start, token.end + 1))
        if token.text in _CONSTANTS:
            return Literal(_CONSTANTS[token.text], span=span)
        if token.text == "self":
            return SelfRef(span=span)
        return Name(token.text, span=span)

    def resend_follows(self, word: Token) -> bool:
        """``resend.foo``: a '.' right after `word` and a message right after it."""
        dot, message = self.token, self.peek()
        return (
            dot.kind is K.PERIOD
            and dot.start == word.end
            and message.start == dot.end
            and message.kind in (K.IDENT, K.KEYWORD)
        )

    def block(self) -> Block:
        opener = self.advance()
        self.enter(opener)
        params: list[str] = []
        while self.at(K.COLON):
            colon = self.advance()
            name = self.token
            if name.kind is not K.IDENT or name.start != colon.end:
                self.fail(colon, "expected a block argument name right after ':'")
            self.variable_name(name, params)
            params.append(name.text)
            self.advance()
        if params:
            if self.at(K.BINARY, "|"):
                self.advance()
            elif not self.at(K.RBRACKET):
                if self.at(K.EOF):
                    self.fail(opener, "'[' was never closed")
                self.unexpected(self.token, "'|' after the block's arguments")
        body_start = self.token
        temps = self.temps()
        statements = self.sequence(K.RBRACKET, opener)
        body = Body(temps, statements, span=(body_start.start, self.token.start))
        self.advance()
        self.leave()
        return Block(tuple(params), body, span=self.span_from(opener))

    def method_body(self) -> Body:
        """``( | t | statements )``: the parentheses of a method slot."""
        opener = self.advance()
        self.enter(opener)
        temps = self.temps()
        statements = self.sequence(K.RPAREN, opener)
        self.advance()
        self.leave()
        return Body(temps, statements, span=self.span_from(opener))

    def close(self, opener: Token, closer: TokenKind, what: str) -> None:
        """Consume `closer`, or fail: at `opener` if the input ended, else here."""
        if self.at(closer):
            self.advance()
            return
        if self.at(K.EOF):
            self.fail(opener, f"{opener.text!r} was never closed")
        self.unexpected(self.token, what)

    def parenthesised(self) -> Expr:
        opener = self.advance()
        if self.at(K.RPAREN):
            self.fail(self.token, "empty parentheses")
        self.enter(opener)
        inner = self.statement()
        self.close(opener, K.RPAREN, "')'")
        self.leave()
        return inner

    def brace_array(self) -> BraceArray:
        opener = self.advance()
        self.enter(opener)
        items: list[Expr] = []
        while not self.at(K.RBRACE):
            if self.at(K.EOF):
                self.fail(opener, "'{' was never closed")
            items.append(self.statement())
            if self.at(K.PERIOD):
                self.advance()
            elif not self.at(K.RBRACE):
                self.close(opener, K.RBRACE, "'.' or '}'")
        self.advance()
        self.leave()
        return BraceArray(tuple(items), span=self.span_from(opener))

    def literal_array(self) -> LiteralArray:
        opener = self.advance()
        self.enter(opener)
        items: list[Literal | Symbol | LiteralArray] = []
        while not self.at(K.RPAREN):
            items.append(self.array_item(opener))
        self.advance()
        self.leave()
        return LiteralArray(tuple(items), span=self.span_from(opener))

    def array_item(self, opener: Token) -> Literal | Symbol | LiteralArray:
        token = self.token
        span = (token.start, token.end)
        kind = token.kind
        if kind in (K.INTEGER, K.FLOAT, K.STRING):
            self.advance()
            assert isinstance(token.value, int | float | str)
            return Literal(token.value, span=span)
        if kind is K.SYMBOL:
            self.advance()
            return Symbol(str(token.value), span=span)
        if kind is K.IDENT:
            self.advance()
            if token.text in _CONSTANTS:
                return Literal(_CONSTANTS[token.text], span=span)
            return Symbol(token.text, span=span)
        if kind is K.KEYWORD:
            return self.keyword_symbol()
        if kind is K.BINARY:
            return self.binary_in_array()
        if kind in (K.HASH_PAREN, K.LPAREN):
            return self.literal_array()
        if kind is K.EOF:
            self.fail(opener, f"{opener.text!r} was never closed")
        self.fail(token, f"{token.describe()} cannot appear in a literal array")

    def keyword_symbol(self) -> Symbol:
        """Adjacent keywords inside ``#( )``, e.g. ``at:put:``, are one symbol."""
        first = self.advance()
        end = first.end
        while self.at(K.KEYWORD) and self.token.start == end:
            end = self.advance().end
        return Symbol(self.source[first.start : end], span=(first.start, end))

    def binary_in_array(self) -> Literal | Symbol:
        operator = self.advance()
        number = self.token
        if (
            operator.text == "-"
            and number.kind in (K.INTEGER, K.FLOAT)
            and number.start == operator.end
        ):
            self.advance()
            assert isinstance(number.value, int | float)
            return Literal(-number.value, span=(operator.start, number.end))
        return Symbol(operator.text, span=(operator.start, operator.end))

    # -- object literals ---------------------------------------------------

    def object_literal(self) -> ObjectLiteral:
        opener = self.advance()
        self.advance()  # the '|'
        self.enter(opener)
        slots: list[SlotDecl | MethodDecl] = []
        seen: set[str] = set()
        while not self.at_object_close():
            if self.at(K.EOF):
                self.fail(opener, "object literal '(|' was never closed")
            decl = self.slot_decl(seen)
            slots.append(decl)
            if self.at(K.PERIOD):
                self.advance()
            elif self.at(K.EOF):
                self.fail(opener, "object literal '(|' was never closed")
            elif not self.at_object_close():
                self.unexpected(self.token, "'.' or '|)' after a slot")
        self.advance()
        self.advance()
        self.leave()
        return ObjectLiteral(tuple(slots), span=self.span_from(opener))

    def keyword_method(self, start: Token, seen: set[str]) -> MethodDecl:
        """``at: i Put: v = ( ... )``."""
        parts: list[str] = []
        params: list[str] = []
        while self.at(K.KEYWORD):
            keyword = self.advance()
            if keyword.text.startswith("_"):
                self.fail(keyword, "slot names must not start with '_'")
            parts.append(keyword.text if not parts else keyword.text[0].lower() + keyword.text[1:])
            name = self.token
            if name.kind is not K.IDENT:
                self.unexpected(name, f"an argument name after {keyword.text!r}")
            self.variable_name(name, params)
            params.append(name.text)
            self.advance()
        selector = "".join(parts)
        if selector in seen:
            self.fail(start, f"duplicate slot {selector!r}")
        seen.add(selector)
        if not self.at(K.BINARY, "="):
            self.unexpected(self.token, f"'=' and a method body '( ... )' after {selector!r}")
        self.advance()
        if not self.at(K.LPAREN):
            self.unexpected(self.token, f"a method body '( ... )' for {selector!r}")
        body = self.method_body()
        span = self.span_from(start)
        return MethodDecl(selector, tuple(params), body, self.source[span[0] : span[1]], span=span)

    def unary_method_body(self) -> Body | Expr | None:
        """What follows ``name =`` when it starts with '(': a Body if it is
        exactly one ``( ... )`` (a method); an already parsed ObjectLiteral for
        ``(| ... |)`` (data); None (position restored) for anything else, which
        the caller parses as a data value."""
        saved = self.index, self.depth
        if self.peek().kind is K.BINARY and self.peek().text == "|":
            if self.locals_ahead():
                return self.method_body()
            literal = self.object_literal()
            if self.at(K.PERIOD) or self.at_object_close():
                return literal
            self.index, self.depth = saved
            return None
        try:
            body = self.method_body()
        except SelfSyntaxError:
            self.index, self.depth = saved
            return None
        if self.at(K.PERIOD) or self.at_object_close():
            return body
        self.index, self.depth = saved
        return None

    def locals_ahead(self) -> bool:
        """At ``( |``: True for ``( | t u | code )`` (a method with locals),
        False for an object literal ``(| ... |)``."""
        ahead = 2
        while self.peek(ahead).kind is K.IDENT:
            ahead += 1
        closing = self.peek(ahead)
        return closing.kind is K.BINARY and closing.text == "|" and self.peek(ahead + 1).kind is not K.RPAREN

    def slot_decl(self, seen: set[str]) -> SlotDecl | MethodDecl:
        start = self.token
        if start.kind is K.KEYWORD:
            return self.keyword_method(start, seen)
        if start.kind is K.BINARY and not self.at_object_close():
            self.fail(start, "binary method slots are not supported (slot names are identifiers)")
        if start.kind is not K.IDENT:
            self.unexpected(start, "a slot name")
        if start.text.startswith("_"):
            self.fail(start, "slot names must not start with '_'")
        if start.text in RESERVED_NAMES:
            self.fail(start, f"{start.text!r} cannot be a slot name")
        self.advance()
        name = start.text
        arrow = ""
        if self.at(K.BINARY) and self.token.text.startswith("*") and self.token.start == start.end:
            name += "*"
            arrow = self.advance().text[1:]
        if arrow not in ("", "=", "<-"):
            self.fail(self.tokens[self.index - 1], f"expected '=' or '<-' after {name!r}")
        if not arrow and (self.at(K.BINARY, "=") or self.at(K.BINARY, "<-")):
            arrow = self.advance().text
        if name in seen:
            self.fail(start, f"duplicate slot {name!r}")
        seen.add(name)
        if not arrow:
            if name.endswith("*"):
                self.unexpected(self.token, f"'=' or '<-' and a parent after {name!r}")
            if not (self.at(K.PERIOD) or self.at_object_close()):
                self.unexpected(self.token, f"'=', '<-', '.' or '|)' after {name!r}")
            return SlotDecl(name, True, None, span=self.span_from(start))
        if self.token.kind not in _PRIMARY_START or self.at_object_close():
            self.unexpected(self.token, f"a value for slot {name!r}")
        if arrow == "=" and not name.endswith("*") and self.at(K.LPAREN):
            ahead = self.unary_method_body()
            if isinstance(ahead, Body):
                span = self.span_from(start)
                return MethodDecl(name, (), ahead, self.source[span[0] : span[1]], span=span)
            if ahead is not None:
                return SlotDecl(name, False, ahead, span=self.span_from(start))
        value = self.keyword_expr()
        return SlotDecl(name, arrow == "<-", value, span=self.span_from(start))


def parse(source: str) -> Program:
    """Parse `source` into a Program.

    Raises SelfSyntaxError with the line and column of the first offending
    token (or of the opening quote/bracket of one never closed, or of the
    bracket nested deeper than MAX_NESTING). An empty or comment-only source
    is a Program with no statements.
    """
    return Parser(source).program()
