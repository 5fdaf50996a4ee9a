"""The body of `batos send` (and of `batos send --expr`), shared by the typer command
and the fast path (no typer here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batos_cli import connect, render, state
from batos_cli.env import Environment
from batos_cli.progress import EventView
from batos_cli.status import CliError, ExitStatus
from batos_cli.values import parse_word, split_keyword_send
from batos_core.ui_contract import UI_SELECTOR, is_ui_send_result


def send_message(
    receiver: str,
    message: list[str],
    *,
    json_out: bool = False,
    review: bool = False,
    screenshot: Path | None = None,
    env: Environment,
) -> int:
    """Send `message` (selector and argument words) to `receiver`; print the result.

    Raises CliError for a malformed message and RemoteError for an error reply
    (after printing it as JSON when asked), like every command.
    """
    from batos_core.protocol.builders import send_request
    from batos_core.protocol.client import raise_for_error

    try:
        selector, words = split_keyword_send(message)
    except ValueError as exc:
        raise CliError(str(exc), ExitStatus.BAD_INPUT) from None
    request = send_request(receiver, selector, [parse_word(w) for w in words], review=review)
    reply = request_with_progress(request, env, quiet=json_out)
    if json_out:
        render.print_json(env, reply)
    raise_for_error(reply)
    if json_out:
        return 0
    result = reply["result"]
    if is_ui_send_result(result):
        open_ui(receiver, result, screenshot, env)
        return 0
    env.stdout.write(render.value_text(result) + "\n")
    return 0


def evaluate_source(source: str, *, json_out: bool = False, review: bool = False, env: Environment) -> int:
    """Evaluate Self-syntax `source` (statements separated by ``.``) in one
    transaction, as a REPL input without variables; print the last value.

    A syntax error is reported with a caret before anything is sent (no daemon
    is started for it); errors the daemon reports raise RemoteError as usual.
    """
    from batos_core.protocol.builders import eval_request
    from batos_core.protocol.client import raise_for_error
    from batos_core.selfsyntax import SelfSyntaxError, parse

    if not source.strip():
        raise CliError("--expr needs Self source, e.g. --expr '3 + 4'", ExitStatus.USAGE)
    try:
        parse(source)
    except SelfSyntaxError as exc:
        first, *caret = exc.render().split("\n")
        raise CliError(f"syntax error: {first}", ExitStatus.BAD_INPUT, hint="\n".join(caret)) from None
    reply = request_with_progress(eval_request(source, review=review), env, quiet=json_out)
    if json_out:
        render.print_json(env, reply)
    raise_for_error(reply)
    if not json_out:
        env.stdout.write(render.value_text(reply["result"]) + "\n")
    return 0


def request_with_progress(request: Any, env: Environment, *, quiet: bool) -> dict[str, Any]:
    """Send `request` to the image's daemon (started if needed), showing progress events."""
    target = state.target()
    with connect.client(target, env.notice) as client, EventView(env, enabled=not quiet) as view:

        def on_event(message: dict[str, Any]) -> None:
            if message.get("kind") == "proposal":
                # A daemon in review mode asks for approval (batos_cli/commands/review.py);
                # imported only then, since it brings in typer.
                from batos_cli.commands.review import ReviewEvents

                ReviewEvents(env, view).on_event(message)
            else:
                view.on_event(message)

        reply: dict[str, Any] = client.request(request, on_event=on_event)
        return reply


def open_ui(receiver: str, result: dict[str, Any], screenshot: Path | None, env: Environment) -> None:
    """The UI method exists (or was just written): show it in its own process."""
    from batos_cli.commands.ui import launch_ui
    from batos_core.gui.display import HOW_TO_VIEW, has_display

    env.notice(f"{receiver} {UI_SELECTOR} is version {result.get('version')}; opening the UI")
    if screenshot is None and not has_display():
        env.notice(HOW_TO_VIEW)
        return
    launch_ui(receiver, screenshot=screenshot)
