"""`batos send` and `batos inspect`: messages to objects and looking at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from batos_cli import connect, render, state
from batos_cli.commands import review
from batos_cli.env import current
from batos_cli.progress import EventView
from batos_cli.status import CliError, ExitStatus
from batos_cli.values import parse_word, split_keyword_send


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(inspect)


def send(
    receiver: Annotated[str, typer.Argument(help="Lobby name (genesis) or oid (0x1a).")],
    message: Annotated[
        list[str],
        typer.Argument(
            help="Selector and arguments: printString | greet: Ada | setSlot:value: x 3 | at: 1 put: 2."
        ),
    ],
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
    """
    from batos_core.protocol.builders import send_request
    from batos_core.protocol.client import raise_for_error

    env = current()
    try:
        selector, words = split_keyword_send(message)
    except ValueError as exc:
        raise CliError(str(exc), ExitStatus.BAD_INPUT) from None
    request = send_request(receiver, selector, [parse_word(w) for w in words], review=review)
    reply = _request(request, quiet=json_out)
    if json_out:
        render.print_json(env, reply)
        raise_for_error(reply)
        return
    raise_for_error(reply)
    result = reply["result"]
    if isinstance(result, dict) and result.get("ui") == "display_yourself":
        _open_ui(receiver, result, screenshot)
        return
    render.print_value(env, result)


def _open_ui(receiver: str, result: dict[str, Any], screenshot: Path | None) -> None:
    """The UI method exists (or was just written): show it in its own process."""
    from batos_cli.commands.ui import launch_ui
    from batos_core.gui.display import HOW_TO_VIEW, has_display

    env = current()
    env.notice(f"{receiver} display_yourself is version {result.get('version')}; opening the UI")
    if screenshot is None and not has_display():
        env.notice(HOW_TO_VIEW)
        return
    launch_ui(receiver, screenshot=screenshot)


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
    env = current()
    target = state.target()
    with connect.client(target, env.notice) as client, EventView(env, enabled=not quiet) as view:
        # A daemon in review mode may stop to ask for approval (batos_cli/commands/review.py).
        return client.request(request, on_event=review.ReviewEvents(env, view).on_event)
