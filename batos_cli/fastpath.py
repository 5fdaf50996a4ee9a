"""Hot paths that skip building the typer app.

Importing typer, click and rich costs more than the whole round trip of a
message, and `batos send` is what scripts call in loops. These paths handle
the plain forms of three invocations with the same modules the typer
commands use; anything else (an option, `--help` of a command, a negative
number) goes to the typer app, which stays the single definition of the
command line (help, completions, validation).

* ``batos`` / ``batos --help``: the top-level help, pre-rendered by
  ``make completions`` into ``generated/help.txt`` (a test keeps it equal to
  what typer prints);
* ``batos send RECEIVER MESSAGE... [--json]``;
* ``batos repl``.
"""

from __future__ import annotations

from pathlib import Path

from batos_cli.env import Environment

HELP_FILE = Path(__file__).with_name("generated") / "help.txt"


def try_run(args: list[str], env: Environment) -> int | None:
    """Run `args` here if it is a hot path; None means: use the typer app."""
    if args in ([], ["--help"], ["-h"]):
        return _help(env)
    if args == ["repl"]:
        return _repl()
    if len(args) >= 3 and args[0] == "send" and _plain_words(args[1:]):
        return _send(args[1:], env)
    return None


def _plain_words(words: list[str]) -> bool:
    return all(not w.startswith("-") or w == "--json" for w in words) and words.count("--json") <= 1


def _help(env: Environment) -> int | None:
    try:
        text = HELP_FILE.read_text()
    except OSError:
        return None  # not generated: typer renders it
    env.stdout.write(text)
    return 0


def _repl() -> int:
    from batos_cli.repl.entry import run_repl

    run_repl()
    return 0


def _send(words: list[str], env: Environment) -> int:
    from batos_cli.commands.send_core import send_message

    json_out = "--json" in words
    words = [w for w in words if w != "--json"]
    return send_message(words[0], words[1:], json_out=json_out, env=env)
