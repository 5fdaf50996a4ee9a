"""How the REPL shows results, objects, method source and errors (rich).

Values print plainly, objects as a compact slot table headed by their oid
(a method written in Self by its Self signature), method source highlighted
as Python (as Self for a method written in Self), errors as one red line
(the traceback is kept for ``:tb``). Everything goes to one rich Console, so
tests render into ``Console(file=StringIO())`` and compare text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.text import Text

from batos_cli.render import value_text
from batos_core.selectors import shown_selector
from batos_core.selfsyntax.errors import SelfSourceError

if TYPE_CHECKING:
    from rich.console import Console

# A SelfSourceError's str(): the daemon sends it as an error reply's message.
_POSITIONED = re.compile(r"line (\d+), column (\d+): (.*)", re.DOTALL)


class Display:
    """Renders REPL output on `console`."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def value(self, wire: Any) -> None:
        """A plain value (number, text, list, nil...) as a person reads it."""
        self.console.print(Text(value_text(wire)))

    def object(self, reply: dict[str, Any]) -> None:
        """An `inspect_reply` as a compact table: oid and printString, then one row per slot."""
        from rich.table import Table

        # The heading is its own line: a table title would wrap at the table's width.
        self.console.print(Text(f"{reply['oid']}  {reply['repr']}", style="bold"))
        table = Table(
            box=None,
            show_header=False,
            pad_edge=False,
            expand=False,
        )
        table.add_column("slot", style="cyan", no_wrap=True)
        table.add_column("value", overflow="fold")
        methods = {m["selector"]: m for m in reply.get("methods", [])}
        for slot in reply.get("slots", []):
            method = methods.get(slot["name"], {})
            signature = written_in_self(method.get("provenance"))
            name = self_form(slot["name"]) if slot["kind"] == "method" else slot["name"]
            if signature is not None:
                name = signature
            elif slot.get("is_constant"):
                name += " ="
            if slot["kind"] == "method":
                kind = "Self method" if signature is not None else "method"
                shown = Text(f"{kind} v{method.get('version', '?')}", style="dim")
            else:
                shown = Text(value_text(slot["value"]))
            table.add_row(name, shown)
        if not reply.get("slots"):
            table.add_row("(no slots)", "")
        self.console.print(table)

    def source(self, reply: dict[str, Any], *, python: bool = False) -> None:
        """A `source_reply`: a header line, then the source highlighted: a method
        written in Self as Self (as the Python it was compiled to with `python`)."""
        # Imported here: pygments' lexer table costs ~50 ms, paid only when source is shown.
        from rich.syntax import Syntax

        provenance = reply.get("provenance") or {}
        author = value_text(provenance.get("author", "")) if isinstance(provenance, dict) else ""
        header = f"{self_form(reply['selector'])} v{reply['version']} on {reply['target']}"
        self.console.print(Text(header + (f"  ({author})" if author else ""), style="bold"))
        self_text = provenance.get("self_source") if written_in_self(provenance) is not None else None
        if isinstance(self_text, str) and not python:
            self.console.print(Syntax(self_text.rstrip("\n"), "smalltalk", theme="ansi_dark", word_wrap=True))
            python_command = f":python {reply['target']} {self_form(reply['selector'])}"
            self.note(f"written in Self; {python_command} shows its Python")
            return
        self.console.print(Syntax(reply["source"].rstrip("\n"), "python", theme="ansi_dark", word_wrap=True))

    def error(self, name: str, message: str) -> None:
        """One red line: the error's class and message."""
        first = message.strip().splitlines()[0] if message.strip() else ""
        label = f"{name}: {first}" if name else first
        self.console.print(Text(label, style="bold red"))

    def remote_error(self, reply: dict[str, Any], source: str) -> None:
        """An `error_reply`; a positioned language error gets a caret under its column."""
        name = str(reply.get("name", ""))
        message = str(reply.get("message", ""))
        match = _POSITIONED.fullmatch(message)
        if match and source:
            positioned = SelfSourceError(match.group(3), int(match.group(1)), int(match.group(2)), source)
            self.source_error(positioned, name)
            return
        self.error(name, message)

    def source_error(self, exc: SelfSourceError, name: str = "") -> None:
        """A syntax or language error with the offending line and a caret."""
        lines = exc.render().split("\n")
        label = f"{name or type(exc).__name__}: {lines[0]}"
        self.console.print(Text(label, style="bold red"))
        for line in lines[1:]:
            self.console.print(Text(line, style="red"))

    def traceback(self, text: str) -> None:
        """The last error's traceback as the daemon sent it."""
        if text.strip():
            self.console.print(Text(text.rstrip(), style="dim"))
        else:
            self.note("no traceback recorded")

    def note(self, text: str) -> None:
        """A dim informational line."""
        self.console.print(Text(text, style="dim"))

    def markup(self, text: str) -> None:
        """Trusted rich markup (help text written in this package)."""
        self.console.print(text, markup=True, highlight=False)


def written_in_self(provenance: Any) -> str | None:
    """The Self signature (``double: x``) of a method whose provenance says it
    was written in Self; None for any other method."""
    if not isinstance(provenance, dict) or provenance.get("language") != "self":
        return None
    text = provenance.get("self_source")
    if not isinstance(text, str):
        return None
    from batos_core.selfsyntax.signature import self_signature

    return self_signature(text)


def self_form(name: str) -> str:
    """A slot name as the REPL shows selectors: ``setSlot_value_`` -> ``setSlot:value:``.

    The daemon reports Python names; each ``_``-terminated part is one keyword
    (the object model's convention). A name that does not map stays as it is.
    """
    return shown_selector(name)
