"""The instant prompt on a real pty: drawn, keys held (not echoed, not lost), terminal restored."""

from __future__ import annotations

import io
import os
import pty
import select
import termios
from collections.abc import Iterator
from typing import IO

import pytest

from batos_cli.repl.instant_prompt import PROMPT, InstantPrompt


class Terminal:
    """A pty pair: the program's side as text streams, the terminal's side as a raw fd."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.stdin: IO[str] = open(self.slave, encoding="utf-8", closefd=False)
        self.stdout: IO[str] = open(self.slave, "w", encoding="utf-8", closefd=False)

    def drawn(self, wait: float = 0.5) -> bytes:
        """What the program has written to the terminal so far."""
        out = b""
        while select.select([self.master], [], [], wait)[0]:
            out += os.read(self.master, 4096)
            wait = 0.05
        return out

    def typed_and_waiting(self) -> bytes:
        """Bytes waiting for the program to read (non-blocking)."""
        if not select.select([self.slave], [], [], 0.2)[0]:
            return b""
        return os.read(self.slave, 4096)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    monkeypatch.delenv("BATOS_INSTANT_PROMPT", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    term = Terminal()
    yield term
    term.close()


def test_draws_the_prompt_and_holds_keys_without_echo(terminal: Terminal) -> None:
    before = termios.tcgetattr(terminal.slave)
    instant = InstantPrompt.show(terminal.stdin, terminal.stdout)
    assert instant is not None
    assert terminal.drawn() == b"\x1b[1m" + PROMPT.encode() + b"\x1b[0m"  # bold, as prompt_toolkit draws it
    held = termios.tcgetattr(terminal.slave)
    assert not held[3] & termios.ECHO and not held[3] & termios.ICANON
    assert held[3] & termios.ISIG  # Ctrl-C still interrupts while prompt_toolkit loads

    os.write(terminal.master, b"3 + 4")
    assert terminal.drawn(0.2) == b""  # not echoed: prompt_toolkit draws it later

    instant.hand_over()
    assert termios.tcgetattr(terminal.slave) == before
    assert terminal.drawn() == b"\r"  # back to column 0: the real prompt is drawn over this one
    # What was typed is still there for prompt_toolkit to read first.
    termios.tcsetattr(terminal.slave, termios.TCSANOW, _raw(before))
    assert terminal.typed_and_waiting() == b"3 + 4"


def test_withdraw_erases_the_prompt_and_restores_the_terminal(terminal: Terminal) -> None:
    before = termios.tcgetattr(terminal.slave)
    instant = InstantPrompt.show(terminal.stdin, terminal.stdout)
    assert instant is not None
    terminal.drawn()
    instant.withdraw()
    instant.withdraw()  # once only
    instant.hand_over()
    assert terminal.drawn() == b"\r\x1b[K"
    assert termios.tcgetattr(terminal.slave) == before


def test_not_drawn_without_a_terminal() -> None:
    out = io.StringIO()
    assert InstantPrompt.show(io.StringIO("3 + 4\n"), out) is None
    assert out.getvalue() == ""


def test_not_drawn_when_only_stdout_is_a_terminal(terminal: Terminal) -> None:
    read_end, write_end = os.pipe()
    with open(read_end, encoding="utf-8") as piped_stdin:
        assert InstantPrompt.show(piped_stdin, terminal.stdout) is None
    os.close(write_end)
    assert terminal.drawn(0.1) == b""


def test_not_drawn_on_a_dumb_terminal(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert InstantPrompt.show(terminal.stdin, terminal.stdout) is None
    assert terminal.drawn(0.1) == b""


@pytest.mark.parametrize("value", ["0", "off", "No", "false"])
def test_switched_off_by_the_environment(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BATOS_INSTANT_PROMPT", value)
    before = termios.tcgetattr(terminal.slave)
    assert InstantPrompt.show(terminal.stdin, terminal.stdout) is None
    assert terminal.drawn(0.1) == b""
    assert termios.tcgetattr(terminal.slave) == before


def _raw(attrs: list[object]) -> list[object]:
    """`attrs` with line editing off, as prompt_toolkit sets it when it starts reading."""
    raw = list(attrs)
    lflag = raw[3]
    assert isinstance(lflag, int)
    raw[3] = lflag & ~(termios.ICANON | termios.ECHO)
    return raw
