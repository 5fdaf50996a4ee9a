"""The REPL loop: read input with prompt_toolkit, run it against the daemon, show the outcome.

REPL variables (``a := genesis clone``) live here, in the client, as wire
values, and travel with every `eval_request`; the reply carries the updated
set. Source is parsed client-side first, so a syntax error is shown with a
caret before anything is sent. Ctrl-C while a request runs stops waiting
for it (the daemon may still finish it); Ctrl-D on an empty line exits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import ThreadedCompleter
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from batos_cli.repl.completer import SelfCompleter
from batos_cli.repl.continuation import continuation_prompt, is_complete, is_meta_command
from batos_cli.repl.instant_prompt import PROMPT, InstantPrompt
from batos_cli.repl.keybindings import repl_key_bindings
from batos_cli.repl.lexer import STYLE, SelfLexer
from batos_cli.repl.meta_commands import COMMANDS, run_meta_command
from batos_cli.repl.queries import parse_query
from batos_cli.repl.targets import receiver_target, ref_oid

if TYPE_CHECKING:
    from batos_cli.env import Environment
    from batos_cli.repl.display import Display
    from batos_cli.repl.remote import EventCallback, Remote

log = logging.getLogger(__name__)

_MAX_PARENT_WALK = 16


class ReplSession:
    """One interactive session against one daemon.

    `input`/`output` default to the terminal; tests pass a pipe input and a
    DummyOutput. `history` defaults to an in-memory one (the command passes
    a FileHistory).
    """

    def __init__(
        self,
        remote: Remote,
        env: Environment,
        *,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.remote = remote
        self.env = env
        self._display: Display | None = None
        self.variables: dict[str, Any] = {}
        self.last_traceback = ""
        self.review = False
        self.completer = SelfCompleter(remote, lambda: self.variables, list(COMMANDS))
        self.history = history if history is not None else InMemoryHistory()
        self._input = input
        self._output = output
        self._prompt_session: PromptSession[str] | None = None

    @property
    def display(self) -> Display:
        """Where results go (built on first output: rich costs start-up time before the prompt)."""
        if self._display is None:
            from batos_cli.repl.display import Display

            self._display = Display(self.env.out)
        return self._display

    @property
    def prompt_session(self) -> PromptSession[str]:
        """The prompt_toolkit session, built on first use (a script run never needs a terminal)."""
        if self._prompt_session is None:
            self._prompt_session = PromptSession(
                PROMPT,
                history=self.history,
                completer=ThreadedCompleter(self.completer),
                # Typing completes on Tab: prompt_toolkit turns completion-while-typing
                # off anyway when up-arrow searches history by prefix.
                complete_while_typing=False,
                auto_suggest=AutoSuggestFromHistory(),
                enable_history_search=True,
                lexer=SelfLexer(),
                style=STYLE,
                include_default_pygments_style=False,
                multiline=True,
                prompt_continuation=continuation_prompt,
                key_bindings=repl_key_bindings(),
                input=self._input,
                output=self._output,
            )
        return self._prompt_session

    # -- the loop -------------------------------------------------------------

    def run(self, instant: InstantPrompt | None = None) -> None:
        """Prompt and execute until :quit or Ctrl-D. Output from other threads
        (logging) is routed above the prompt instead of through it. `instant`,
        a prompt drawn while this module loaded, is replaced by the real one."""
        with patch_stdout(raw=True):
            while True:
                prompt_session = self.prompt_session
                if instant is not None:
                    instant.hand_over()
                    instant = None
                try:
                    text = prompt_session.prompt()
                except KeyboardInterrupt:
                    continue  # Ctrl-C at the prompt discards the line
                except EOFError:
                    return
                if not self.execute(text):
                    return

    def run_lines(self, lines: Iterable[str]) -> None:
        """Execute input read from a pipe: lines are joined until brackets and strings close."""
        pending = ""
        for line in lines:
            pending += line if line.endswith("\n") else line + "\n"
            if is_complete(pending):
                if not self.execute(pending.rstrip("\n")):
                    return
                pending = ""
        if pending.strip():
            self.execute(pending.rstrip("\n"))

    def execute(self, text: str) -> bool:
        """Run one accepted input; False when the REPL should end."""
        if not text.strip():
            return True
        if is_meta_command(text):
            return run_meta_command(self, text)
        query = parse_query(text)
        if query is not None and query.kind == "inspect":
            self.inspect(query.receiver)
        elif query is not None:
            self.show_source(query.receiver, query.selector)
        else:
            self.run_source(text)
        return True

    # -- operations -------------------------------------------------------------

    def run_source(self, source: str) -> Any:
        """Evaluate `source`; show and return the result's wire value (None after an error)."""
        from batos_core.selfsyntax import SelfSyntaxError, parse

        try:
            parse(source)
        except SelfSyntaxError as exc:
            self.display.source_error(exc)
            return None
        reply = self._call(
            lambda on_event: self.remote.evaluate(source, self.variables, on_event, review=self.review)
        )
        if reply is None or self._failed(reply, source):
            return None
        self.variables = dict(reply["variables"])
        self._show_result(reply["result"])
        return reply["result"]

    def inspect(self, receiver: str) -> None:
        """Show the object `receiver` names (or evaluates to) as a slot table."""
        target = self._target(receiver)
        if target is None:
            return
        reply = self._call(lambda _: self.remote.inspect(target))
        if reply is not None and not self._failed(reply, ""):
            self.display.object(reply)

    def show_source(self, receiver: str, selector: str, *, python: bool = False) -> None:
        """Show method `selector` of `receiver`, highlighted, wherever along its parents it lives.

        Uses the daemon's source_request; when the receiver only inherits the
        method, the holder is found with inspect_request and asked instead. A
        daemon without a source_request handler gets the method's version only.
        """
        target = self._target(receiver)
        if target is None:
            return
        reply = self._source_reply(target, selector)
        if reply is None:
            return
        if reply.get("type") != "error_reply":
            self.display.source(reply, python=python)
            return
        if reply.get("code") not in _SOURCE_FALLBACK_CODES:
            self._failed(reply, "")
            return
        found = self._method_holder(target, selector)
        if found is None:
            return
        holder, version = found
        if reply.get("code") == "unknown_type":
            self.display.note(f"{selector} v{version} on {holder}: this daemon does not serve method source")
            return
        inherited = self._source_reply(holder, selector)
        if inherited is not None and not self._failed(inherited, ""):
            self.display.source(inherited, python=python)

    def history_entries(self) -> list[str]:
        """Inputs of this and earlier sessions, oldest first."""
        return list(self.history.get_strings())

    def review_note(self) -> str:
        if self.review:
            return "review is on: a method the model writes is shown for approval before it is installed"
        return (
            "review is off: generated methods are installed after vetting and trial "
            "(unless the daemon was started with --review)"
        )

    # -- helpers ------------------------------------------------------------------

    def _call(self, send: Callable[[EventCallback], dict[str, Any]]) -> dict[str, Any] | None:
        """Run one request with live progress; None if cancelled or the daemon is gone."""
        from batos_cli.progress import EventView
        from batos_core.protocol.errors import ProtocolError

        try:
            with EventView(self.env) as view:

                def on_event(message: dict[str, Any]) -> None:
                    if message.get("kind") == "proposal":
                        # Review (`:review on`, or a daemon started with --review):
                        # show the code and ask, as `batos send` does.
                        from batos_cli.commands.review import ReviewEvents

                        ReviewEvents(self.env, view).on_event(message)
                    else:
                        view.on_event(message)

                return send(on_event)
        except KeyboardInterrupt:
            if self.remote.cancel():
                self.display.error("cancelled", "the daemon stopped the request; nothing it did is kept")
            else:
                self.display.error("cancelled", "stopped waiting; the daemon may still finish the request")
        except ProtocolError as exc:
            self.remote.cancel()
            self.display.error(type(exc).__name__, str(exc))
        return None

    def _failed(self, reply: dict[str, Any], source: str) -> bool:
        if reply.get("type") != "error_reply":
            return False
        self.last_traceback = str(reply.get("traceback", ""))
        self.display.remote_error(reply, source)
        return True

    def _target(self, receiver: str) -> str | None:
        """An object reference for `receiver`: mapped client-side when simple, else evaluated.
        A receiver that evaluates to a plain value is shown and gives None."""
        target = receiver_target(receiver, self.variables)
        if target is not None:
            return target
        if receiver in self.variables:
            self.display.value(self.variables[receiver])
            return None
        value = self.run_source_quietly(receiver)
        if value is _FAILED:
            return None
        oid = ref_oid(value)
        if oid is None:
            self.display.value(value)
        return oid

    def run_source_quietly(self, source: str) -> Any:
        """Evaluate `source` for its value without showing it (errors are shown)."""
        from batos_core.selfsyntax import SelfSyntaxError, parse

        try:
            parse(source)
        except SelfSyntaxError as exc:
            self.display.source_error(exc)
            return _FAILED
        reply = self._call(
            lambda on_event: self.remote.evaluate(source, self.variables, on_event, review=self.review)
        )
        if reply is None or self._failed(reply, source):
            return _FAILED
        self.variables = dict(reply["variables"])
        return reply["result"]

    def _show_result(self, result: Any) -> None:
        oid = ref_oid(result)
        if oid is None:
            self.display.value(result)
            return
        reply = self._inspect_reply(oid)
        if reply is None or reply.get("type") == "error_reply":
            self.display.value(result)
        else:
            self.display.object(reply)

    def _inspect_reply(self, target: str) -> dict[str, Any] | None:
        return self._call(lambda _: self.remote.inspect(target))

    def _source_reply(self, target: str, selector: str) -> dict[str, Any] | None:
        return self._call(lambda _: self.remote.source(target, selector))

    def _method_holder(self, target: str, selector: str) -> tuple[str, int] | None:
        """(oid, version) of the object on `target`'s parent chain that holds the method.

        Walks the first parent of each object (inspect_request). None, with the
        error shown, if no object on the chain has it.
        """
        from batos_core.selectors import self_to_python

        try:
            python_name = self_to_python(selector)
        except ValueError:
            python_name = selector
        seen: set[str] = set()
        current: str | None = target
        while current is not None and current not in seen and len(seen) < _MAX_PARENT_WALK:
            seen.add(current)
            reply = self._inspect_reply(current)
            if reply is None or self._failed(reply, ""):
                return None
            seen.add(str(reply["oid"]))
            for method in reply["methods"]:
                if method["selector"] == python_name:
                    return str(reply["oid"]), int(method["version"])
            parents = [ref_oid(s["value"]) for s in reply["slots"] if s["kind"] == "parent"]
            current = next((p for p in parents if p is not None), None)
        self.display.error("MethodNotFound", f"{target} has no method {selector}, own or inherited")
        return None


_SOURCE_FALLBACK_CODES = frozenset({"unknown_type", "method_not_found", "object_not_found"})
_FAILED = object()
