"""`batos send` and `batos inspect`: messages to objects and looking at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from batos_cli import render
from batos_cli.commands.send_core import evaluate_source, request_with_progress, send_message
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(inspect)


def send(
    receiver: Annotated[
        str | None, typer.Argument(help="Lobby name (genesis) or oid (0x1a).", show_default=False)
    ] = None,
    message: Annotated[
        list[str] | None,
        typer.Argument(
            help="Selector and arguments: printString | greet: Ada | setSlot:value: x 3 | at: 1 put: 2.",
            show_default=False,
        ),
    ] = None,
    expr: Annotated[
        str | None,
        typer.Option(
            "--expr",
            "-e",
            help="Evaluate Self source instead, as the REPL does: "
            "'genesis setSlot: #x value: 3 + 4. genesis x'.",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    review: Annotated[
        bool, typer.Option("--review", help="Approve a generated method before it is installed.")
    ] = False,
    screenshot: Annotated[
        Path | None,
        typer.Option("--screenshot", help="display_yourself only: render offscreen and save the UI as PNG."),
    ] = None,
) -> None:
    """Send a message to an object; a selector it does not understand is written by the model.

    Arguments: numbers, nil/true/false, 0x1a or @name for objects, anything else is text.
    With --expr, the source runs in one transaction and its last value is printed.
    """
    if expr is not None:
        if receiver is not None or message:
            raise CliError("give RECEIVER MESSAGE... or --expr SOURCE, not both", ExitStatus.USAGE)
        if screenshot is not None:
            raise CliError("--screenshot goes with RECEIVER display_yourself, not --expr", ExitStatus.USAGE)
        evaluate_source(expr, json_out=json_out, review=review, env=current())
        return
    if receiver is None or not message:
        missing = "MESSAGE" if receiver is not None else "RECEIVER and MESSAGE"
        raise CliError(
            f"missing {missing} (or --expr SOURCE)",
            ExitStatus.USAGE,
            hint="e.g. batos send genesis printString, or batos send --expr '3 + 4'",
        )
    send_message(receiver, message, json_out=json_out, review=review, screenshot=screenshot, env=current())


def inspect(
    target: Annotated[str, typer.Argument(help="Lobby name (genesis) or oid (0x1a).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Show an object's slots, parents and methods (with version and provenance)."""
    from batos_core.protocol.builders import inspect_request
    from batos_core.protocol.client import raise_for_error

    env = current()
    reply = _request(inspect_request(target), quiet=True)
    raise_for_error(reply)
    if json_out:
        render.print_json(env, reply)
    else:
        render.print_inspect(env, reply)


def _request(request: Any, *, quiet: bool) -> dict[str, Any]:
    return request_with_progress(request, current(), quiet=quiet)
