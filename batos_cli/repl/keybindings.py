"""Key bindings of the REPL input: Enter runs complete input, else opens a new line.

Ctrl-R (reverse search), up-arrow prefix search, Ctrl-C (discard the line)
and Ctrl-D (exit on an empty line) are prompt_toolkit's own bindings; only
Enter needs the language's notion of "complete" (`continuation.is_complete`).
Escape then Enter (Meta-Enter) always runs the input as it is.
"""

from __future__ import annotations

from prompt_toolkit.filters import has_completions, has_focus
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

from batos_cli.repl.continuation import is_complete


def repl_key_bindings() -> KeyBindings:
    """The bindings added on top of prompt_toolkit's defaults."""
    bindings = KeyBindings()

    @bindings.add(Keys.Enter, filter=has_focus("DEFAULT_BUFFER"))
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            # Enter on a highlighted completion takes it, as in a shell.
            buffer.apply_completion(state.current_completion)
            return
        if is_complete(buffer.text) and not buffer.document.text_after_cursor.strip():
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add(Keys.Escape, Keys.Enter, filter=~has_completions)
    def _force(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    return bindings
