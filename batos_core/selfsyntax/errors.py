"""Errors of the Self-style message language, each pointing into the source.

Pure standard library: the REPL renders syntax errors client-side, before
anything is sent, and the CLI must not import ZODB or pydantic.
"""

from __future__ import annotations


class SelfSourceError(Exception):
    """An error at a place in a Self-language source text.

    `line` and `column` are 1-based; `column` may be one past the end of the
    line (an error at the end of the input). The constructor arguments are
    kept in `args`, so the error pickles and travels as it is.
    """

    def __init__(self, message: str, line: int, column: int, source: str) -> None:
        super().__init__(message, line, column, source)
        self.message = message
        self.line = line
        self.column = column
        self.source = source

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"

    def source_line(self) -> str:
        """The text of the offending line (without its newline)."""
        lines = self.source.split("\n")
        if 1 <= self.line <= len(lines):
            return lines[self.line - 1]
        return ""

    def render(self) -> str:
        """The message, the offending source line and a caret under the column.

        Tabs before the column are kept in the caret line so the caret lines up
        in a terminal whatever its tab width.
        """
        text = self.source_line()
        lead = "".join("\t" if ch == "\t" else " " for ch in text[: self.column - 1])
        pad = " " * max(0, self.column - 1 - len(text))
        return f"{self}\n  {text}\n  {lead}{pad}^"


class SelfSyntaxError(SelfSourceError):
    """Source text that does not lex or parse."""


class SelfEvalError(SelfSourceError):
    """An error found while evaluating a statement that parsed.

    Raised for language-level faults (an unknown name, a write to a constant
    slot); errors raised by the object model or by Python values themselves
    (SlotNotFound, ZeroDivisionError, ...) propagate unchanged.
    """


class UnknownName(SelfEvalError):
    """A name that is neither a REPL variable nor a slot of the lobby."""

    def __init__(self, name: str, line: int, column: int, source: str) -> None:
        super().__init__(f"unknown name {name!r}", line, column, source)
        self.args = (name, line, column, source)
        self.name = name


class ReadOnlySlot(SelfEvalError):
    """An assignment message (`obj x: 3`) to a slot declared constant (`x = ...`)."""
