"""Tokens of the Self-style message language.

Smalltalk lexical rules with Self's additions: ``"comments"``, ``'strings'``
with ``''`` escapes, ``#symbols`` (``#at:put:``, ``#+``, ``#'any text'``),
``#(`` literal arrays, radix integers (``16r1F``), floats, ``@1a`` object
references and ``|`` always on its own (it delimits object literals). A
``-`` or ``@`` directly followed by a digit starts a negative number or an
object reference unless it follows an operand, so ``3-2`` is a subtraction
and ``3 - -2`` subtracts a negative number. Pure standard library.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass

from batos_core.selectors import BINARY_CHARS
from batos_core.selfsyntax.errors import SelfSyntaxError


class TokenKind(enum.Enum):
    """What a token is."""

    IDENT = "identifier"
    KEYWORD = "keyword"
    BINARY = "binary selector"
    ASSIGN = "':='"
    INTEGER = "integer"
    FLOAT = "float"
    STRING = "string"
    SYMBOL = "symbol"
    OID = "object reference"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACE = "'{'"
    RBRACE = "'}'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    HASH_PAREN = "'#('"
    PERIOD = "'.'"
    SEMICOLON = "';'"
    COLON = "':'"
    CARET = "'^'"
    EOF = "end of input"


OPERAND_END = frozenset(
    {
        TokenKind.IDENT,
        TokenKind.INTEGER,
        TokenKind.FLOAT,
        TokenKind.STRING,
        TokenKind.SYMBOL,
        TokenKind.OID,
        TokenKind.RPAREN,
        TokenKind.RBRACE,
        TokenKind.RBRACKET,
    }
)
"""Kinds after which ``-3`` and ``@1a`` read as a binary send instead."""

_PUNCTUATION = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "{": TokenKind.LBRACE,
    "}": TokenKind.RBRACE,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    ".": TokenKind.PERIOD,
    ";": TokenKind.SEMICOLON,
    ":": TokenKind.COLON,
    "^": TokenKind.CARET,
}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGIT_VALUES = {ch: i for i, ch in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, exact text, parsed value and place in the source.

    `start`/`end` are offsets into the source; `line`/`column` are 1-based.
    `value` is the literal's value (int, float, str) or the text otherwise.
    """

    kind: TokenKind
    text: str
    value: object
    start: int
    end: int
    line: int
    column: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.EOF:
            return "end of input"
        return repr(self.text)


def _is_ident_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch == "_")


def _is_ident_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


class Lexer:
    """Turns source text into tokens; one instance per source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.tokens: list[Token] = []
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]

    # -- positions ---------------------------------------------------------

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of `offset`."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def error(self, message: str, offset: int) -> SelfSyntaxError:
        """A SelfSyntaxError at `offset`."""
        line, column = self.line_col(offset)
        return SelfSyntaxError(message, line, column, self.source)

    def _emit(self, kind: TokenKind, start: int, value: object = None) -> None:
        text = self.source[start : self.pos]
        line, column = self.line_col(start)
        self.tokens.append(
            Token(kind, text, text if value is None else value, start, self.pos, line, column)
        )

    def _peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.source[index] if index < len(self.source) else ""

    # -- driver ------------------------------------------------------------

    def run(self) -> list[Token]:
        """Tokenize the whole source; raises SelfSyntaxError at the first bad character."""
        while True:
            self._skip_blanks_and_comments()
            if self.pos >= len(self.source):
                break
            self._next_token()
        self._emit(TokenKind.EOF, self.pos, "")
        return self.tokens

    def _skip_blanks_and_comments(self) -> None:
        src = self.source
        while self.pos < len(src):
            ch = src[self.pos]
            if ch.isspace():
                self.pos += 1
            elif ch == '"':
                close = src.find('"', self.pos + 1)
                if close < 0:
                    raise self.error("unterminated comment", self.pos)
                self.pos = close + 1
            else:
                return

    def _after_operand(self) -> bool:
        return bool(self.tokens) and self.tokens[-1].kind in OPERAND_END

    def _next_token(self) -> None:
        ch = self._peek()
        start = self.pos
        if _is_ident_start(ch):
            self._identifier()
        elif ch.isdigit():
            self._number(start, sign=1)
        elif ch == "'":
            self._emit(TokenKind.STRING, start, self._string_body())
        elif ch == "#":
            self._hash()
        elif ch == ":" and self._peek(1) == "=":
            self.pos += 2
            self._emit(TokenKind.ASSIGN, start)
        elif ch == "-" and self._peek(1).isdigit() and not self._after_operand():
            self.pos += 1
            self._number(start, sign=-1)
        elif ch == "@" and self._peek(1) in _HEX and not self._after_operand():
            self._oid()
        elif ch in _PUNCTUATION:
            self.pos += 1
            self._emit(_PUNCTUATION[ch], start)
        elif ch in BINARY_CHARS:
            self._binary()
        else:
            raise self.error(f"unexpected character {ch!r}", start)

    # -- token kinds -------------------------------------------------------

    def _identifier(self) -> None:
        start = self.pos
        while _is_ident_char(self._peek()):
            self.pos += 1
        if self._peek() == ":" and self._peek(1) != "=":
            self.pos += 1
            self._emit(TokenKind.KEYWORD, start)
        else:
            self._emit(TokenKind.IDENT, start)

    def _digits(self, allowed: str = "0123456789") -> str:
        start = self.pos
        while self._peek() and self._peek() in allowed:
            self.pos += 1
        return self.source[start : self.pos]

    def _number(self, start: int, sign: int) -> None:
        mantissa = self._digits()
        if self._peek() == "r" and _is_ident_char(self._peek(1)):
            self._radix(start, int(mantissa), sign)
            return
        fraction = ""
        if self._peek() == "." and self._peek(1).isdigit():
            self.pos += 1
            fraction = self._digits()
        exponent = 0
        has_exponent = False
        if self._peek() == "e" and (
            self._peek(1).isdigit() or (self._peek(1) == "-" and self._peek(2).isdigit())
        ):
            self.pos += 1
            negative = self._peek() == "-"
            if negative:
                self.pos += 1
            exponent = int(self._digits()) * (-1 if negative else 1)
            has_exponent = True
        if fraction or (has_exponent and exponent < 0):
            text = f"{mantissa}.{fraction or '0'}e{exponent}"
            self._emit(TokenKind.FLOAT, start, sign * float(text))
        else:
            self._emit(TokenKind.INTEGER, start, sign * int(mantissa) * 10**exponent)

    def _radix(self, start: int, base: int, sign: int) -> None:
        if not 2 <= base <= 36:
            raise self.error(f"radix {base} is not between 2 and 36", start)
        self.pos += 1  # the 'r'
        digits_start = self.pos
        value = 0
        while _is_ident_char(self._peek()):
            digit = _DIGIT_VALUES.get(self._peek().lower(), 99)
            if digit >= base:
                raise self.error(f"{self._peek()!r} is not a digit in radix {base}", self.pos)
            value = value * base + digit
            self.pos += 1
        if self.pos == digits_start:
            raise self.error(f"missing digits after {base}r", self.pos)
        self._emit(TokenKind.INTEGER, start, sign * value)

    def _string_body(self) -> str:
        """Consume a quoted string (the opening quote at pos) and return its value."""
        open_at = self.pos
        self.pos += 1
        parts: list[str] = []
        while True:
            close = self.source.find("'", self.pos)
            if close < 0:
                raise self.error("unterminated string", open_at)
            parts.append(self.source[self.pos : close])
            self.pos = close + 1
            if self._peek() != "'":
                return "".join(parts)
            parts.append("'")
            self.pos += 1

    def _hash(self) -> None:
        start = self.pos
        self.pos += 1
        ch = self._peek()
        if ch == "(":
            self.pos += 1
            self._emit(TokenKind.HASH_PAREN, start)
        elif ch == "'":
            self._emit(TokenKind.SYMBOL, start, self._string_body())
        elif _is_ident_start(ch):
            while _is_ident_char(self._peek()):
                self.pos += 1
            # #at:put: -- keyword parts, each an identifier ending in ':'
            while self._peek() == ":":
                self.pos += 1
                if not _is_ident_start(self._peek()):
                    break
                while _is_ident_char(self._peek()):
                    self.pos += 1
                if self._peek() != ":":
                    raise self.error("a keyword symbol ends with ':'", self.pos)
            self._emit(TokenKind.SYMBOL, start, self.source[start + 1 : self.pos])
        elif ch and ch in BINARY_CHARS:
            self._binary_chars()
            self._emit(TokenKind.SYMBOL, start, self.source[start + 1 : self.pos])
        else:
            raise self.error("expected a symbol, '(' or a string after '#'", start)

    def _oid(self) -> None:
        start = self.pos
        self.pos += 1  # '@'
        if self._peek() == "0" and self._peek(1) in ("x", "X") and self._peek(2) in _HEX:
            self.pos += 2
        digits = self._digits("0123456789abcdefABCDEF")
        if _is_ident_char(self._peek()):
            raise self.error("an object reference is '@' and hexadecimal digits", start)
        self._emit(TokenKind.OID, start, int(digits, 16))

    def _binary_chars(self) -> None:
        if self._peek() == "|":
            self.pos += 1
            return
        while self._peek() and self._peek() in BINARY_CHARS and self._peek() != "|":
            self.pos += 1

    def _binary(self) -> None:
        start = self.pos
        self._binary_chars()
        self._emit(TokenKind.BINARY, start)


def tokenize(source: str) -> list[Token]:
    """All tokens of `source`, ending with an EOF token.

    Raises SelfSyntaxError (with line and column) at the first character that
    starts no token, or at the opening quote of an unterminated string or
    comment.
    """
    return Lexer(source).run()


def tokenize_partial(source: str) -> tuple[list[Token], SelfSyntaxError | None]:
    """Tokens up to the first lexical error, and that error (None if there is none).

    For the completer, which looks at unfinished input; the list has no EOF
    token when an error stopped it.
    """
    lexer = Lexer(source)
    try:
        return lexer.run(), None
    except SelfSyntaxError as exc:
        return lexer.tokens, exc
