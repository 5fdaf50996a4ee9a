"""REPL commands that start with ':' (``:help``, ``:inspect X``, ``:quit``...).

Each command is a small function taking the session and the rest of the
line; the table below is the single list that help and completion read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batos_cli.repl.session import ReplSession


@dataclass(frozen=True)
class MetaCommand:
    """One ':' command: its usage line, a one-line help, and what it does.

    `run` returns False when the REPL should end.
    """

    name: str
    usage: str
    help: str
    run: Callable[[ReplSession, str], bool]


def _help(session: ReplSession, rest: str) -> bool:
    lines = [
        "[bold]Self-style messages[/bold], e.g. [cyan]genesis printString[/cyan], "
        "[cyan]a := genesis clone[/cyan], [cyan]a setSlot: 'x' value: 3[/cyan],",
        "[cyan](| x <- 1. parent* = genesis |)[/cyan]. Enter runs the input once brackets "
        "and strings are closed; Esc Enter runs it as it is.",
        "[cyan]obj?[/cyan] inspects an object, [cyan]obj selector??[/cyan] shows a method's source.",
        "Tab completes, Ctrl-R searches history, Ctrl-C cancels, Ctrl-D exits.",
        "",
    ]
    lines += [f"  [magenta]{c.usage:<20}[/magenta] {c.help}" for c in COMMANDS.values()]
    session.display.markup("\n".join(lines))
    return True


def _inspect(session: ReplSession, rest: str) -> bool:
    if not rest.strip():
        session.display.error("usage", ":inspect EXPRESSION")
    else:
        session.inspect(rest.strip())
    return True


def _source(session: ReplSession, rest: str) -> bool:
    receiver, _, selector = rest.strip().rpartition(" ")
    if not receiver.strip() or not selector:
        session.display.error("usage", ":source RECEIVER SELECTOR")
    else:
        session.show_source(receiver.strip(), selector)
    return True


def _python(session: ReplSession, rest: str) -> bool:
    receiver, _, selector = rest.strip().rpartition(" ")
    if not receiver.strip() or not selector:
        session.display.error("usage", ":python RECEIVER SELECTOR")
    else:
        session.show_source(receiver.strip(), selector, python=True)
    return True


def _history(session: ReplSession, rest: str) -> bool:
    count = int(rest) if rest.strip().isdigit() else 20
    entries = session.history_entries()[-count:]
    for number, entry in enumerate(entries, start=1):
        session.display.note(f"{number:>4}  " + entry.replace("\n", "\n      "))
    if not entries:
        session.display.note("history is empty")
    return True


def _review(session: ReplSession, rest: str) -> bool:
    choice = rest.strip().lower()
    if choice in ("on", "off"):
        session.review = choice == "on"
    elif choice:
        session.display.error("usage", ":review on|off")
        return True
    session.display.note(session.review_note())
    return True


def _traceback(session: ReplSession, rest: str) -> bool:
    session.display.traceback(session.last_traceback)
    return True


def _quit(session: ReplSession, rest: str) -> bool:
    return False


COMMANDS: dict[str, MetaCommand] = {
    c.name: c
    for c in (
        MetaCommand(":help", ":help", "this text", _help),
        MetaCommand(":inspect", ":inspect X", "slots, parents and methods of X (same as X?)", _inspect),
        MetaCommand(":source", ":source X sel", "source of method sel of X (same as X sel??)", _source),
        MetaCommand(":python", ":python X sel", "the Python a Self method sel of X was compiled to", _python),
        MetaCommand(":history", ":history [N]", "the last N inputs (default 20)", _history),
        MetaCommand(":review", ":review on|off", "approve generated methods before install", _review),
        MetaCommand(":tb", ":tb", "the traceback of the last error", _traceback),
        MetaCommand(":quit", ":quit", "leave the REPL (or Ctrl-D)", _quit),
    )
}


def run_meta_command(session: ReplSession, line: str) -> bool:
    """Run the ':' command on `line`; False means quit. An unknown one is reported."""
    name, _, rest = line.strip().partition(" ")
    command = COMMANDS.get(name)
    if command is None:
        session.display.error("unknown command", f"{name} (try :help)")
        return True
    return command.run(session, rest)
