"""`batos repl` (the interactive Self-style REPL) and the hidden `batos __complete-names`."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from batos_cli import connect, state
from batos_cli.env import current

#: Longest wait for a shell completion's daemon round trip (seconds).
NAMES_TIMEOUT_S = 0.3


def register(app: typer.Typer) -> None:
    app.command()(repl)
    app.command("__complete-names", hidden=True)(complete_names)


def repl() -> None:
    """Interactive Self-style message REPL (Tab completes, :help lists commands).

    Reads from a pipe too: `echo "3 + 4" | batos repl` runs each input and exits.
    """
    from batos_cli.repl.entry import run_repl

    run_repl()


def complete_names(
    prefix: Annotated[str, typer.Argument(help="Only names starting with this.")] = "",
) -> None:
    """Lobby names of the running daemon, one per line, for shell completion.

    Never starts a daemon and never fails: no daemon, a silent one or an
    error reply all print nothing.
    """
    from batos_core.protocol.builders import complete_request
    from batos_core.protocol.client import Client
    from batos_core.protocol.errors import ProtocolError

    env = current()
    info = connect.running(state.target().config())
    if info is None:
        return
    _quiet_client_log()
    try:
        with Client.from_connection_info(info, timeout=NAMES_TIMEOUT_S, retries=0) as client:
            reply = client.request(complete_request("", prefix))
    except (ProtocolError, OSError):
        return
    for name in reply.get("selectors", []) if reply.get("type") == "complete_reply" else []:
        env.stdout.write(f"{name}\n")


def _quiet_client_log() -> None:
    # A completion that times out is expected; the client's warning would land
    # in the middle of the prompt or the shell's completion output.
    logging.getLogger("batos_core.protocol.client").addHandler(logging.NullHandler())
