"""Tab completion: selectors a receiver understands, lobby names, variables, meta-commands.

The completer asks `batos_core.selfsyntax.complete_context` what is being
completed (a message to some receiver, or a name), maps the receiver to an
object reference client-side (`targets`), and gets the selectors from the
daemon through a `SelectorSource` (the `Remote`, which caches briefly and
gives up quickly). It is meant to run inside prompt_toolkit's
`ThreadedCompleter`, so a round trip never blocks typing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from batos_cli.repl.continuation import is_meta_command
from batos_cli.repl.declarations import declarations
from batos_cli.repl.targets import receiver_target
from batos_core.selfsyntax.lexer import tokenize_partial

_CONSTANTS = ("self", "nil", "true", "false")


class SelectorSource(Protocol):
    """Where selectors come from: ``selectors("")`` lists the lobby's names."""

    def selectors(self, receiver: str) -> list[str]: ...


def insertion_text(selector: str) -> str:
    """What choosing `selector` types: a keyword selector's first part (``setSlot:``),
    since its arguments go between the parts; other selectors whole."""
    return selector.split(":", 1)[0] + ":" if ":" in selector else selector


class SelfCompleter(Completer):
    """Completes the REPL's input; `variables` returns the current REPL variables."""

    def __init__(
        self,
        source: SelectorSource,
        variables: Callable[[], Mapping[str, Any]],
        meta_commands: Sequence[str] = (),
    ) -> None:
        self.source = source
        self.variables = variables
        self.meta_commands = list(meta_commands)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if is_meta_command(text):
            yield from self._meta(text)
            return
        tokens, error = tokenize_partial(text)
        if error is not None:
            return  # inside an unfinished string or comment
        # Imported on the first completion: it pulls in the parser and syntax
        # tree, which the REPL's start-up does not need.
        from batos_core.selfsyntax.completion import complete_context

        receiver, prefix = complete_context(text, len(text))
        if receiver is None:
            if prefix or complete_event.completion_requested:
                declared = [n for n in declarations(tokens).names if n != prefix]
                yield from self._names(prefix, declared)
            return
        target = receiver_target(receiver, self.variables())
        if target is None:
            return
        for selector in self.source.selectors(target):
            if selector.startswith(prefix):
                kind = "keyword" if ":" in selector else "unary"
                yield Completion(insertion_text(selector), -len(prefix), display=selector, display_meta=kind)

    def _names(self, prefix: str, declared: Sequence[str] = ()) -> Iterable[Completion]:
        """Names that start with `prefix`: the input's own block arguments and
        locals (`declared`), REPL variables, lobby names, constants."""
        variables = self.variables()
        seen: set[str] = set()
        groups = (
            (declared, "local"),
            (sorted(variables), "variable"),
            (self.source.selectors(""), "lobby"),
            (_CONSTANTS, "constant"),
        )
        for names, kind in groups:
            for name in names:
                if name.startswith(prefix) and name not in seen:
                    seen.add(name)
                    yield Completion(name, -len(prefix), display_meta=kind)

    def _meta(self, text: str) -> Iterable[Completion]:
        stripped = text.lstrip()
        if " " not in stripped:
            for command in self.meta_commands:
                if command.startswith(stripped):
                    yield Completion(command, -len(stripped))
            return
        command, _, rest = stripped.partition(" ")
        if command in (":inspect", ":source", ":python") and " " not in rest.strip():
            yield from self._names(rest.strip())
