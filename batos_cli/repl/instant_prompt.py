"""The instant prompt: ``batos> `` on the terminal while prompt_toolkit loads.

Importing prompt_toolkit (asyncio comes with it) is most of the REPL's
start-up: about 230 of 300 ms on the 2-core machines this project runs on,
and not something batos can make smaller. So as soon as the daemon answers,
the prompt is drawn by hand and the terminal is told to hold what is typed:
echo and line editing off, exactly what prompt_toolkit's raw mode sets a
moment later (signals stay on, so Ctrl-C still interrupts). When the prompt
session is built, `hand_over` puts the terminal back as it was and returns
the cursor to the start of the line; prompt_toolkit's first render erases
from there and draws the same prompt in the same place, and the keys typed
meanwhile, still waiting in the terminal, are the first input it reads.
Nothing typed is lost and nothing is echoed twice. zsh users know the idea
as powerlevel10k's "instant prompt".

It is drawn only when stdin and stdout are both a terminal and ``TERM`` is
set and not ``dumb``, and never when ``BATOS_INSTANT_PROMPT`` is
``0``/``off``/``no``/``false``.
"""

from __future__ import annotations

import os
from typing import IO, Any

#: The REPL's prompt text; prompt_toolkit draws it bold (lexer.STYLE), and so does this.
PROMPT = "batos> "
_BOLD, _PLAIN = "\x1b[1m", "\x1b[0m"

_OFF = {"0", "off", "no", "false"}


class InstantPrompt:
    """A prompt drawn before prompt_toolkit runs, and the terminal mode to undo."""

    def __init__(self, fd: int, saved: list[Any], stdout: IO[str]) -> None:
        self._fd = fd
        self._saved = saved
        self._stdout = stdout
        self._done = False

    @classmethod
    def show(cls, stdin: IO[str], stdout: IO[str], text: str = PROMPT) -> InstantPrompt | None:
        """Draw `text` and hold typed keys; None (nothing done) when stdin is not a
        terminal whose mode can be read and set, or when it is switched off."""
        if os.environ.get("BATOS_INSTANT_PROMPT", "").strip().lower() in _OFF:
            return None
        if not (_isatty(stdin) and _isatty(stdout)) or os.environ.get("TERM", "dumb") == "dumb":
            return None
        try:
            import termios
        except ImportError:  # not a POSIX terminal
            return None
        try:
            fd = stdin.fileno()
            saved = termios.tcgetattr(fd)
            held = [*saved[:6], list(saved[6])]  # a copy, control characters included
            held[3] &= ~(termios.ECHO | termios.ICANON)  # lflag: no echo, bytes not lines
            held[6][termios.VMIN] = 1
            held[6][termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, held)  # TCSANOW: keep what was typed
        except (OSError, ValueError, termios.error):
            return None
        stdout.write(f"{_BOLD}{text}{_PLAIN}")
        stdout.flush()
        return cls(fd, saved, stdout)

    def hand_over(self) -> None:
        """The real prompt is about to be drawn: restore the terminal, cursor to column 0."""
        self._end("\r")

    def withdraw(self) -> None:
        """No real prompt will follow (an error): restore the terminal and erase the prompt."""
        self._end("\r\x1b[K")

    def _end(self, cursor: str) -> None:
        if self._done:
            return
        self._done = True
        import termios

        try:
            termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)
        except (OSError, termios.error):
            pass  # the terminal went away; nothing to restore
        try:
            self._stdout.write(cursor)
            self._stdout.flush()
        except (OSError, ValueError):
            pass


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
