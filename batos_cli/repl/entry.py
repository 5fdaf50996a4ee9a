"""Starting a REPL session: shared by `batos repl` and the CLI's fast path (no typer here)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from batos_cli import connect, state
from batos_cli.env import current
from batos_cli.repl.instant_prompt import InstantPrompt

if TYPE_CHECKING:
    from batos_cli.repl.remote import Remote
    from batos_cli.repl.session import ReplSession


def run_repl() -> None:
    """Connect to the image's daemon (starting it if needed) and run the REPL until EOF."""
    from batos_cli.repl.remote import Remote

    env = current()
    target = state.target()
    info = connect.ensure(target, env.notice)
    quiet_client_log()
    remote = Remote(info, timeout=target.settings.timeout)
    # Drawn now, while prompt_toolkit loads; the session hands over to its real prompt.
    instant = InstantPrompt.show(env.stdin, env.stdout) if env.interactive else None
    try:
        session = _session(remote)
        if env.interactive:
            session.run(instant)
        else:
            session.run_lines(env.stdin)
    finally:
        if instant is not None:
            instant.withdraw()  # only if the session never handed over (an error)
        remote.close()


def _session(remote: Remote) -> ReplSession:
    from prompt_toolkit.history import FileHistory

    from batos_cli.repl.history import history_path
    from batos_cli.repl.session import ReplSession

    env = current()
    return ReplSession(remote, env, history=FileHistory(str(history_path())) if env.interactive else None)


def quiet_client_log() -> None:
    """The client's retry warnings would garble the prompt; the REPL reports failures itself."""
    logging.getLogger("batos_core.protocol.client").setLevel(logging.ERROR)
